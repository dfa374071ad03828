"""The pure hash chain: every kind of tampering is found at the right link."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waa_ads.audit.chain import (
    GENESIS,
    ChainState,
    StoredLink,
    build_event,
    canonicalize,
    format_time,
    link_hash,
    verify_links,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_chain(n: int, chain: str = "c") -> list[StoredLink]:
    links: list[StoredLink] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        doc = build_event(
            chain=chain,
            seq=seq,
            occurred_at=T0 + timedelta(seconds=seq),
            action="thing.done",
            actor_type="user",
            actor_id=f"u{seq % 3}",
            target_type="thing",
            target_id=f"t{seq}",
            data={"n": seq, "note": "é ✓"},
            prev_hash=prev,
        )
        text = canonicalize(doc)
        digest = link_hash(prev, text)
        links.append(StoredLink(seq, text, prev, digest))
        prev = digest
    return links


def test_an_untouched_chain_verifies() -> None:
    state = ChainState(chain="c")
    assert verify_links(state, make_chain(50)) is None
    assert state.checked == 50


def test_verification_can_continue_across_batches() -> None:
    links = make_chain(30)
    state = ChainState(chain="c")
    for start in range(0, 30, 7):
        assert verify_links(state, links[start : start + 7]) is None
    assert state.checked == 30


def test_canonical_json_is_rfc8785() -> None:
    assert canonicalize({"b": 1, "a": [1.0, "x"], "c": {"z": None, "y": True}}) == (
        '{"a":[1,"x"],"b":1,"c":{"y":true,"z":null}}'
    )
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.000006Z"
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        format_time(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("mutate", "broken_at", "reason"),
    [
        (
            lambda ls: ls.__setitem__(
                4, replace(ls[4], canonical=ls[4].canonical.replace('"n":5', '"n":6'))
            ),
            5,
            "hash does not match",
        ),
        (lambda ls: ls.__setitem__(4, replace(ls[4], hash="f" * 64)), 5, "hash does not match"),
        (lambda ls: ls.pop(4), 6, "expected sequence 5"),
        (lambda ls: ls.insert(3, ls.pop(4)), 5, "expected sequence 4"),
        (lambda ls: ls.__setitem__(0, replace(ls[0], prev_hash="1" * 64)), 1, "prev_hash"),
    ],
    ids=["edited-text", "edited-hash", "deleted", "reordered", "edited-genesis"],
)
def test_tampering_is_reported_at_the_first_broken_link(
    mutate: object, broken_at: int, reason: str
) -> None:
    links = make_chain(10)
    mutate(links)  # type: ignore[operator]
    broken = verify_links(ChainState(chain="c"), links)
    assert broken is not None
    assert broken.seq == broken_at
    assert reason in broken.reason


def test_a_recomputed_hash_does_not_hide_an_edit() -> None:
    """Editing an event and recomputing its own hash still breaks the next link."""
    links = make_chain(6)
    edited = links[2].canonical.replace('"n":3', '"n":33')
    links[2] = replace(links[2], canonical=edited, hash=link_hash(links[2].prev_hash, edited))
    broken = verify_links(ChainState(chain="c"), links)
    assert broken is not None
    assert broken.seq == 4


def test_an_event_moved_to_another_chain_is_reported() -> None:
    links = make_chain(3, chain="other")
    broken = verify_links(ChainState(chain="c"), links)
    assert broken is not None
    assert broken.seq == 1


@given(st.integers(min_value=1, max_value=40), st.data())
def test_any_single_byte_edit_is_detected(n: int, data: st.DataObject) -> None:
    links = make_chain(n)
    index = data.draw(st.integers(0, n - 1))
    text = links[index].canonical
    pos = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda c: c != text[pos]))
    links[index] = replace(links[index], canonical=text[:pos] + replacement + text[pos + 1 :])
    broken = verify_links(ChainState(chain="c"), links)
    assert broken is not None
    assert broken.seq == index + 1
