"""The pure hash chain: every kind of tampering is found at the right link."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from waa_ads.audit.chain import (
    GENESIS,
    SYSTEM_CHAIN,
    ChainState,
    StoredColumns,
    StoredLink,
    build_event,
    canonical_event,
    canonical_json,
    canonicalize,
    canonicalize_reference,
    event_text_prefix,
    fast_row,
    fast_time,
    format_time,
    link_hash,
    verify_links,
    verify_links_fast,
    verify_rows,
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


# --- The fast paths against their definitions -------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats()
    | st.text()
    | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)  # lone surrogates
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=6), children, max_size=4)
        | st.dictionaries(st.integers(0, 3), children, min_size=1, max_size=2)
    ),
    max_leaves=12,
)


def _outcome(fn: Callable[[], str]) -> tuple[str, str]:
    try:
        return ("text", fn())
    except rfc8785.CanonicalizationError as exc:
        return ("refused", type(exc).__name__)
    except UnicodeEncodeError:
        return ("refused", "UnicodeEncodeError")


@given(JSON_VALUES)
def test_canonical_json_is_the_rfc8785_package_text_or_error(value: object) -> None:
    assert _outcome(lambda: canonical_json(value)) == _outcome(
        lambda: canonicalize_reference(value)
    )


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1.0, "b": [1e21, 1e-7, -0.0, 0.1]},
        {"big": 2**53, "edge": 2**53 - 1, "neg": -(2**53) + 1},
        {"\U0001f600": 1, "\uffff": 2, "z": 3},  # RFC 8785 orders keys by UTF-16 units
        {"s": '\x00\x1f\x7f"\\/\u2028é✓\U0001f600', "t": True, "n": None},
        {1: "non-string key"},
        {"lone": "\ud800"},
        [],
        {},
    ],
)
def test_canonical_json_edge_cases(value: object) -> None:
    assert _outcome(lambda: canonical_json(value)) == _outcome(
        lambda: canonicalize_reference(value)
    )


EVENT_TEXT = st.text(max_size=12)
EVENT_ID = st.none() | st.text(max_size=12)


@given(
    chain=st.sampled_from(["system", "0194a1b2-0000-7000-8000-000000000001"]) | EVENT_TEXT,
    seq=st.integers(min_value=1, max_value=2**53 + 5),
    occurred_at=st.datetimes(timezones=st.timezones()),
    action=EVENT_TEXT,
    actor_type=EVENT_TEXT,
    actor_id=EVENT_ID,
    target_type=EVENT_ID,
    target_id=EVENT_ID,
    data=st.none() | st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4),
    prev_hash=st.sampled_from([GENESIS, "ab" * 32]),
)
def test_canonical_event_is_the_canonical_text_of_the_built_event(
    chain: str,
    seq: int,
    occurred_at: datetime,
    action: str,
    actor_type: str,
    actor_id: str | None,
    target_type: str | None,
    target_id: str | None,
    data: dict[str, object] | None,
    prev_hash: str,
) -> None:
    fields = {
        "chain": chain,
        "seq": seq,
        "occurred_at": occurred_at,
        "action": action,
        "actor_type": actor_type,
        "actor_id": actor_id,
        "target_type": target_type,
        "target_id": target_id,
        "data": data,
        "prev_hash": prev_hash,
    }
    expected = _outcome(lambda: canonicalize_reference(build_event(**fields)))  # type: ignore[arg-type]
    assert _outcome(lambda: canonical_event(**fields)) == expected  # type: ignore[arg-type]
    # As the appender makes it: the part before the event's place first, the rest later.
    prefix = event_text_prefix(chain, action, actor_type, actor_id, data)
    if prefix is not None:
        assert _outcome(lambda: canonical_event(**fields, prefix=prefix)) == expected  # type: ignore[arg-type]


@given(st.datetimes(timezones=st.timezones()))
def test_format_time_is_strftime(moment: datetime) -> None:
    assert format_time(moment) == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_stored_chain(
    n: int, chain: str, data: list[object], *, start: datetime = T0
) -> list[StoredLink]:
    """A chain read back with its stored columns, as ``verify_chain`` reads it."""
    links: list[StoredLink] = []
    prev = GENESIS
    org = None if chain == SYSTEM_CHAIN else chain
    for seq in range(1, n + 1):
        moment = start + timedelta(seconds=seq, microseconds=seq * 7)
        actor_id = None if seq % 5 == 0 else f"u{seq % 3}"
        target = (None, None) if seq % 4 == 0 else ("thing", f"t{seq}")
        text = canonical_event(
            chain=chain,
            seq=seq,
            occurred_at=moment,
            action="thing.done",
            actor_type="user",
            actor_id=actor_id,
            target_type=target[0],
            target_id=target[1],
            data={"v": data[seq % len(data)]} if data else None,
            prev_hash=prev,
        )
        digest = link_hash(prev, text)
        columns = StoredColumns(org, moment, "thing.done", "user", actor_id, *target)
        links.append(StoredLink(seq, text, prev, digest, columns))
        prev = digest
    return links


def _same_verdict(chain: str, links: list[StoredLink]) -> None:
    plain, fast = ChainState(chain=chain), ChainState(chain=chain)
    expected = verify_links(plain, links)
    assert verify_links_fast(fast, links) == expected
    assert fast == plain


COLUMN_EDITS: list[tuple[str, object]] = [
    ("action", "forged.action"),
    ("actor_type", "system"),
    ("actor_id", None),
    ("actor_id", "u9"),
    ("target_type", None),
    ("target_id", "t0"),
    ("occurred_at", T0),
    ("organization_id", "0194a1b2-0000-7000-8000-000000000002"),
    ("organization_id", None),
]
TEXT_EDITS: list[Callable[[str], str]] = [
    lambda t: t.replace('"data":{', '"data":{"x":1,', 1),  # data edited (hash breaks)
    lambda t: t.replace('"data":{"v":', '"data":{"v":[1,', 1).replace(
        '},"occurred_at"', ']},"occurred_at"', 1
    ),
    lambda t: t.replace('{"action":', '{ "action":', 1),  # valid JSON, not the canonical layout
    lambda t: t.replace('"data":', '"action":"forged","data":', 1),  # a duplicate key
    lambda t: t[:-1],  # no longer JSON
    lambda t: t.replace('"seq":', '"seq":1', 1),
    lambda t: t.replace('"chain":"', '"chain":"x', 1),
]


@given(
    chain=st.sampled_from(["0194a1b2-0000-7000-8000-000000000001", SYSTEM_CHAIN]),
    n=st.integers(min_value=1, max_value=12),
    data=st.lists(
        JSON_VALUES.filter(lambda v: _outcome(lambda: canonical_json(v))[0] == "text"), max_size=3
    ),
    edit=st.data(),
)
def test_fast_verification_gives_the_plain_verdict(
    chain: str, n: int, data: list[object], edit: st.DataObject
) -> None:
    """Whatever is tampered with (the text with or without a recomputed hash, any queryable
    column), the fast verification reports the same first broken link, for the same reason,
    and leaves the same state as the plain one; an untouched chain passes both."""
    links = make_stored_chain(n, chain, data)
    _same_verdict(chain, links)
    untouched = ChainState(chain=chain)
    assert verify_rows(untouched, [fast_row(link, chain) for link in links]) is None
    assert untouched.checked == n
    index = edit.draw(st.integers(0, n - 1))
    link = links[index]
    assert link.columns is not None
    if edit.draw(st.booleans()):
        column, value = edit.draw(st.sampled_from(COLUMN_EDITS))
        changes: dict[str, Any] = {column: value}
        links[index] = replace(link, columns=replace(link.columns, **changes))
    else:
        text = edit.draw(st.sampled_from(TEXT_EDITS))(link.canonical)
        rehash = edit.draw(st.booleans())
        links[index] = replace(
            link, canonical=text, hash=link_hash(link.prev_hash, text) if rehash else link.hash
        )
        if rehash and index + 1 < n:  # the forger fixes the next link too
            nxt = links[index + 1]
            links[index + 1] = replace(nxt, prev_hash=links[index].hash)
    _same_verdict(chain, links)


def test_fast_verification_takes_the_plain_way_for_what_it_cannot_vouch_for() -> None:
    """A valid event outside the fast layout (a year before 1000, spaces in the text) still
    verifies, by the plain check of that one link."""
    chain = "0194a1b2-0000-7000-8000-000000000001"
    links = make_stored_chain(3, chain, [1], start=datetime(999, 1, 1, tzinfo=UTC))
    state = ChainState(chain=chain)
    assert verify_links_fast(state, links) is None
    assert state.checked == 3

    links = make_stored_chain(3, chain, [1])
    spaced = links[1].canonical.replace('"data":{"v":1}', '"data": {"v": 1}')
    links[1] = replace(links[1], canonical=spaced, hash=link_hash(links[1].prev_hash, spaced))
    links[2] = replace(links[2], prev_hash=links[1].hash)
    links[2] = replace(links[2], hash=link_hash(links[2].prev_hash, links[2].canonical))
    state = ChainState(chain=chain)
    assert verify_links(state, [links[0], links[1]]) is None
    # links[2] names its old prev_hash inside its text: the plain check says so too.
    _same_verdict(chain, links)


def test_fast_time_is_format_time_where_the_server_writes_the_same() -> None:
    """The fast check takes times of years 1000-9999 in UTC, written as ``format_time``
    writes them (and PostgreSQL's ``to_char``); any other time is left to the plain check."""
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert fast_time(moment) == format_time(moment) == "2026-01-02T03:04:05.000006Z"
    assert fast_time(datetime(1000, 1, 1, tzinfo=UTC)) == "1000-01-01T00:00:00.000000Z"
    assert fast_time(datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC)) is None
    assert fast_time(datetime(1000, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))) is None
    assert fast_time(datetime(2026, 1, 1)) is None  # no time zone


def test_fast_verification_in_slices_is_the_whole() -> None:
    chain = "0194a1b2-0000-7000-8000-000000000001"
    links = make_stored_chain(20, chain, [1, "é", {"a": [1.5]}])
    rows = [fast_row(link, chain) for link in links]
    whole, sliced = ChainState(chain=chain), ChainState(chain=chain)
    assert verify_rows(whole, rows) is None
    for start in range(0, 20, 3):
        assert verify_rows(sliced, rows, start, start + 3) is None
    assert sliced == whole
    assert sliced.checked == 20
    forged = list(rows)
    forged[13] = (*rows[13][:5], "forged.action", *rows[13][6:])
    state = ChainState(chain=chain)
    assert verify_rows(state, forged, 0, 10) is None
    assert verify_rows(state, forged, 10, 20) == 13
    assert state.checked == 13
