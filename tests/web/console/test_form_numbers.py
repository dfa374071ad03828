"""Numbers typed into console forms: crafted digits go to the API as typed (for a field
error), never into int() (a 500)."""

from __future__ import annotations

from waa_ads.web.console.sections.proctor import _action_body
from waa_ads.web.console.sections.results import _int_or_text


def test_extra_minutes_in_whole_ascii_digits_become_seconds_and_others_stay_text() -> None:
    assert _action_body("extend", {"minutes": " 5 ", "reason": "r"})["extra_s"] == 300
    for crafted in ("²", "5²", "٣", "-1", "1.5", ""):
        assert _action_body("extend", {"minutes": crafted})["extra_s"] == crafted.strip()


def test_result_numbers_in_ascii_digits_only() -> None:
    assert _int_or_text(" 42 ") == 42
    for crafted in ("²", "4²", "٣", "1e3"):
        assert _int_or_text(crafted) == crafted
