"""The delivery caches stay bounded however many attempts a process serves."""

from __future__ import annotations

import uuid

from waa_ads.delivery import service


def test_lru_keeps_at_most_its_size_and_the_most_recent_entries() -> None:
    cache = service._Lru(3)
    for n in range(10):
        cache.put(n, str(n))
    assert list(cache) == [7, 8, 9]
    assert cache.get(8) == "8"
    cache.put(7, "seven")  # put again: now the most recent
    cache.put(10, "10")
    assert list(cache) == [9, 7, 10]
    assert cache[7] == "seven"


def test_per_attempt_caches_have_small_ceilings() -> None:
    assert service._payloads.size == service.PAYLOADS_CACHED <= 1024
    assert service._form_rows.size == service.FORM_ROWS_CACHED <= 50_000


def test_form_rows_of_many_attempts_stay_bounded() -> None:
    rows = service._Lru(service.FORM_ROWS_CACHED)
    item_version_id = uuid.uuid4()
    for _ in range(service.FORM_ROWS_CACHED // 20 + 50):  # more attempts than fit
        attempt_id = uuid.uuid4()
        for position in range(20):
            rows.put((attempt_id, f"item-{position}"), service.FormRow(item_version_id, position))
    assert len(rows) == service.FORM_ROWS_CACHED
