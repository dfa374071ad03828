"""The audit hash chain, as pure functions (no I/O).

Each event is stored as RFC 8785 canonical JSON text. Its hash is
``sha256(prev_hash_hex + canonical_text)`` in lowercase hex; the first event of a chain has
``prev_hash = GENESIS``. Changing, removing or reordering any stored event breaks every hash
after it, which :func:`verify_links` reports as the first broken link.

A third party can check an exported chain with nothing but the standard library; see
``docs/audit.md``.

Speed: the canonical text of an event is assembled around its ``data`` (fixed keys in their
canonical order) and ``data`` goes through the C JSON encoder when it holds only values on
which that encoder and RFC 8785 agree (strings, safe integers, booleans, null, lists,
objects with ASCII keys); anything else (floats, big integers, other key characters) goes
through the ``rfc8785`` package. Verification checks the stored text against the same
assembly from the row's columns, so it parses only ``data``. Both fast paths are checked
against the plain definitions by property tests (``tests/audit/test_chain.py``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

import rfc8785

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"

#: RFC 8785 numbers are IEEE doubles: integers beyond this are refused by ``rfc8785``.
_SAFE_INT = 2**53 - 1
_encode_data = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


def format_time(moment: datetime) -> str:
    """UTC at a fixed microsecond precision, e.g. ``2026-01-02T03:04:05.000006Z``."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    utc = moment.astimezone(UTC)
    if utc.year >= 1000:  # isoformat is several times faster; it pads years, strftime not
        return utc.isoformat(timespec="microseconds")[:26] + "Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonicalize_reference(value: Any) -> str:
    """RFC 8785 canonical JSON text by the ``rfc8785`` package (the definition)."""
    return rfc8785.dumps(value).decode("utf-8")


def _plain(value: Any) -> bool:
    """Whether the C encoder writes ``value`` exactly as RFC 8785 does: exact built-in
    types only (no subclasses: ``rfc8785`` and ``json`` read those differently), integers
    within the double's exact range, no floats (ECMAScript number formatting differs from
    Python's), object keys in ASCII (RFC 8785 sorts keys by UTF-16 code units, Python by
    code points; they agree on ASCII)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE_INT <= value <= _SAFE_INT)
    if kind is dict:
        return all(type(k) is str and k.isascii() and _plain(v) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_plain(v) for v in value)
    return False


def canonical_json(value: Any) -> str:
    """RFC 8785 canonical JSON text of ``value``, identical to :func:`canonicalize_reference`
    (the same text, or the same error)."""
    if _plain(value):
        text = _encode_data(value)
        if text.isascii():
            return text
        try:
            # The C encoder lets lone surrogates through; RFC 8785 text is UTF-8.
            text.encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            return text
    return canonicalize_reference(value)


def canonicalize(event: Mapping[str, Any]) -> str:
    """RFC 8785 canonical JSON text of an event (any JSON object; see :func:`canonical_json`)."""
    return canonical_json(dict(event))


def _json_string_or_null(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def event_text_head(action: str, actor_type: str, actor_id: str | None, chain: str) -> str:
    """The canonical text of an event up to its ``data`` value: ``{"action":...,"data":``."""
    return (
        f'{{"action":{encode_basestring(action)},"actor":{{"id":{_json_string_or_null(actor_id)},'
        f'"type":{encode_basestring(actor_type)}}},"chain":{encode_basestring(chain)},"data":'
    )


def event_text_tail(
    occurred_at: str, prev_hash: str, seq: int, target_type: str | None, target_id: str | None
) -> str:
    """The canonical text of an event after its ``data`` value, ``occurred_at`` already
    formatted (:func:`format_time`)."""
    return (
        f',"occurred_at":{encode_basestring(occurred_at)},'
        f'"prev_hash":{encode_basestring(prev_hash)},"seq":{seq},'
        f'"target":{{"id":{_json_string_or_null(target_id)},'
        f'"type":{_json_string_or_null(target_type)}}}}}'
    )


def event_text_prefix(
    chain: str, action: str, actor_type: str, actor_id: str | None, data: Mapping[str, Any] | None
) -> str | None:
    """The canonical text of an event up to the end of its ``data``, which does not depend
    on the event's place in the chain; None when the fast assembly does not apply (then
    :func:`canonical_event` asks the ``rfc8785`` package)."""
    try:
        data_text = canonical_json(dict(data or {}))
    except rfc8785.CanonicalizationError:
        return None
    text = event_text_head(action, actor_type, actor_id, chain) + data_text
    return text if text.isascii() or _utf8(text) else None


def canonical_event(
    *,
    chain: str,
    seq: int,
    occurred_at: datetime,
    action: str,
    actor_type: str,
    actor_id: str | None,
    target_type: str | None,
    target_id: str | None,
    data: Mapping[str, Any] | None,
    prev_hash: str,
    prefix: str | None = None,
) -> str:
    """``canonicalize(build_event(...))``, assembled without sorting the fixed keys.

    ``prefix``, when given, is :func:`event_text_prefix` of the same event (computed
    before its place in the chain was known)."""
    if prefix is None:
        prefix = event_text_prefix(chain, action, actor_type, actor_id, data)
    if prefix is not None and type(seq) is int and -_SAFE_INT <= seq <= _SAFE_INT:
        tail = event_text_tail(format_time(occurred_at), prev_hash, seq, target_type, target_id)
        if tail.isascii() or _utf8(tail):
            return prefix + tail
    # Out of RFC 8785's domain somewhere: the package reports it as it would have.
    return canonicalize(
        build_event(
            chain=chain,
            seq=seq,
            occurred_at=occurred_at,
            action=action,
            actor_type=actor_type,
            actor_id=actor_id,
            target_type=target_type,
            target_id=target_id,
            data=data,
            prev_hash=prev_hash,
        )
    )


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def link_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def build_event(
    *,
    chain: str,
    seq: int,
    occurred_at: datetime,
    action: str,
    actor_type: str,
    actor_id: str | None,
    target_type: str | None,
    target_id: str | None,
    data: Mapping[str, Any] | None,
    prev_hash: str,
) -> dict[str, Any]:
    """The JSON document that is canonicalized and hashed for one event.

    People appear by id only: ``data`` must not carry names or e-mail addresses, so that
    personal data can be erased without touching the chain.
    """
    return {
        "chain": chain,
        "seq": seq,
        "occurred_at": format_time(occurred_at),
        "action": action,
        "actor": {"type": actor_type, "id": actor_id},
        "target": {"type": target_type, "id": target_id},
        "data": dict(data or {}),
        "prev_hash": prev_hash,
    }


@dataclass(frozen=True, slots=True)
class StoredColumns:
    """The copies of hashed fields an event row keeps in columns of their own, so they can
    be queried; verification checks each against the hashed text."""

    organization_id: str | None
    occurred_at: datetime
    action: str
    actor_type: str
    actor_id: str | None
    target_type: str | None
    target_id: str | None

    def mismatch(self, document: Mapping[str, Any], chain: str | None) -> str | None:
        """The first column that differs from the hashed ``document``, or None."""
        expected_org = None if chain in (None, SYSTEM_CHAIN) else chain
        if chain is not None and self.organization_id != expected_org:
            return "organization_id"
        checks = (
            ("occurred_at", document.get("occurred_at"), format_time(self.occurred_at)),
            ("action", document.get("action"), self.action),
            ("actor_type", (document.get("actor") or {}).get("type"), self.actor_type),
            ("actor_id", (document.get("actor") or {}).get("id"), self.actor_id),
            ("target_type", (document.get("target") or {}).get("type"), self.target_type),
            ("target_id", (document.get("target") or {}).get("id"), self.target_id),
        )
        for name, hashed, stored in checks:
            if hashed != stored:
                return name
        return None


@dataclass(frozen=True, slots=True)
class StoredLink:
    seq: int
    canonical: str
    prev_hash: str
    hash: str
    #: The row's queryable copies of hashed fields, when the caller read them.
    columns: StoredColumns | None = None


@dataclass(frozen=True, slots=True)
class BrokenLink:
    seq: int
    reason: str


@dataclass(slots=True)
class ChainState:
    """Where a verification stands after the links seen so far; feed batches in order."""

    chain: str | None = None
    expected_seq: int = 1
    last_hash: str = GENESIS
    checked: int = 0
    #: The head texts the fast verification has built, by (action, actor_type, actor_id).
    heads: dict[tuple[str, str, str | None], str] = field(
        default_factory=dict, compare=False, repr=False
    )


def verify_links(state: ChainState, links: Iterable[StoredLink]) -> BrokenLink | None:
    """Check links in sequence order, continuing from ``state``; the first broken one, or None.

    A link is broken when its sequence number skips or repeats, its ``prev_hash`` is not the
    previous link's hash, its hash does not match its text, its text names another
    sequence number or previous hash than the row it is stored in, or (when the link carries
    them) a queryable column holds another value than the hashed text.
    """
    for link in links:
        if link.seq != state.expected_seq:
            return BrokenLink(link.seq, f"expected sequence {state.expected_seq}, found {link.seq}")
        if link.prev_hash != state.last_hash:
            return BrokenLink(link.seq, "prev_hash does not match the previous event's hash")
        if link_hash(link.prev_hash, link.canonical) != link.hash:
            return BrokenLink(link.seq, "hash does not match the event's canonical text")
        try:
            document = json.loads(link.canonical)
        except ValueError:
            return BrokenLink(link.seq, "canonical text is not JSON")
        if (
            not isinstance(document, dict)
            or document.get("seq") != link.seq
            or document.get("prev_hash") != link.prev_hash
            or (state.chain is not None and document.get("chain") != state.chain)
        ):
            return BrokenLink(link.seq, "canonical text does not name this chain position")
        if link.columns is not None:
            column = link.columns.mismatch(document, state.chain)
            if column is not None:
                return BrokenLink(
                    link.seq, f"stored column {column!r} does not match the hashed event"
                )
        state.expected_seq += 1
        state.last_hash = link.hash
        state.checked += 1
    return None


#: What the fast verification reads of each row, in this order: seq, canonical, prev_hash,
#: hash, occurred_at as :func:`format_time` writes it (None when the time is outside
#: :func:`fast_time`'s range or organization_id is not the chain's, see
#: :func:`organization_matches`: the plain check then judges the row), action, actor_type,
#: actor_id, target_type, target_id.
FastRow = Sequence[Any]

# A JSON object of scalars (strings without escapes, integers, true, false, null): what
# ``data`` nearly always is. Whatever matches is one valid JSON value; anything else is
# parsed by ``json.loads``.
_STRING = r'"[^"\\\x00-\x1f]*"'
_SCALAR = rf"(?:{_STRING}|-?(?:0|[1-9][0-9]*)|true|false|null)"
_FLAT_OBJECT = re.compile(rf"\{{(?:{_STRING}:{_SCALAR}(?:,{_STRING}:{_SCALAR})*)?\}}")


def organization_matches(organization_id: str | None, chain: str) -> bool:
    """The stored-column rule of :meth:`StoredColumns.mismatch` for ``organization_id``."""
    return organization_id == (None if chain == SYSTEM_CHAIN else chain)


def fast_time(moment: datetime) -> str | None:
    """``format_time(moment)`` for the times the fast verification takes (timezone-aware,
    years 1000-9999: there ``format_time`` is a fixed 27-character layout, which PostgreSQL
    writes identically with ``to_char``); None for any other (the plain check judges it)."""
    if moment.tzinfo is None or moment.astimezone(UTC).year < 1000:
        return None
    return format_time(moment)


def fast_row(link: StoredLink, chain: str) -> tuple[Any, ...]:
    """A link read with its columns, in the shape :func:`verify_rows` takes."""
    columns = link.columns
    if columns is None:
        raise ValueError("the fast verification needs the row's stored columns")
    return (
        link.seq,
        link.canonical,
        link.prev_hash,
        link.hash,
        fast_time(columns.occurred_at)
        if organization_matches(columns.organization_id, chain)
        else None,
        columns.action,
        columns.actor_type,
        columns.actor_id,
        columns.target_type,
        columns.target_id,
    )


def verify_rows(
    state: ChainState, rows: Sequence[FastRow], start: int = 0, end: int | None = None
) -> int | None:
    """Check ``rows[start:end]`` in order, continuing from ``state``, the fast way; None when
    all are good, else the index of the first row this cannot vouch for (``state`` stands
    just before it), which the caller checks with :func:`verify_links` (that row may still
    be good: text that is valid but not in canonical layout, a year before 1000).

    A row passes when its seq and prev_hash continue the chain, its hash is
    ``sha256(prev_hash + canonical)``, its time is given (so its organization matches),
    and its text is exactly
    ``event_text_head(columns) + D + event_text_tail(columns)`` where ``D`` is one JSON
    value. That makes the text a JSON object whose fields equal the row's columns, seq,
    prev_hash and chain, which is everything :func:`verify_links` checks, so a row passing
    here passes there (``tests/audit/test_chain.py`` checks this on random tampering).

    The loop does only what each row needs: one SHA-256, the head text (built once per
    distinct action and actor, kept in ``state``), the tail text, two comparisons and, for
    ``D``, a regular expression that matches flat objects in place (``json.loads`` for
    anything else).
    """
    chain = state.chain
    stop = len(rows) if end is None else min(end, len(rows))
    if chain is None:
        return start if start < stop else None
    first = expected = state.expected_seq
    last = state.last_hash
    heads = state.heads
    sha256 = hashlib.sha256
    flat = _FLAT_OBJECT.fullmatch
    quote = encode_basestring
    broken = False
    for (
        seq,
        canonical,
        prev_hash,
        digest,
        moment,
        action,
        actor_type,
        actor_id,
        target_type,
        target_id,
    ) in rows[start:stop]:
        if (
            seq != expected
            or prev_hash != last
            or moment is None
            or sha256((prev_hash + canonical).encode()).hexdigest() != digest
        ):
            broken = True
            break
        key = (action, actor_type, actor_id)
        head = heads.get(key)
        if head is None:
            if len(heads) >= 4096:
                heads.clear()
            head = heads[key] = event_text_head(action, actor_type, actor_id, chain)
        # prev_hash is the previous hash (hexadecimal) and moment format_time's layout:
        # neither needs escaping.
        tail = (
            f',"occurred_at":"{moment}","prev_hash":"{prev_hash}","seq":{seq},"target":{{"id":'
            f'{"null" if target_id is None else quote(target_id)},"type":'
            f"{'null' if target_type is None else quote(target_type)}}}}}"
        )
        data_start = len(head)
        data_end = len(canonical) - len(tail)
        if data_end <= data_start or not canonical.endswith(tail) or not canonical.startswith(head):
            broken = True
            break
        if flat(canonical, data_start, data_end) is None:
            try:
                json.loads(canonical[data_start:data_end])
            except ValueError:
                broken = True
                break
        expected += 1
        last = digest
    state.checked += expected - first
    state.expected_seq = expected
    state.last_hash = last
    return start + (expected - first) if broken else None


def verify_links_fast(state: ChainState, links: Sequence[StoredLink]) -> BrokenLink | None:
    """:func:`verify_links` for links read with their columns, by way of :func:`verify_rows`
    (what ``verify_chain`` does on SQLite, and the property tests compare)."""
    if state.chain is None:
        return verify_links(state, links)
    rows = [fast_row(link, state.chain) for link in links]
    start = 0
    while True:
        stop = verify_rows(state, rows, start)
        if stop is None:
            return None
        broken = verify_links(state, [links[stop]])
        if broken is not None:
            return broken
        start = stop + 1
