"""The audit hash chain, as pure functions (no I/O).

Each event is stored as RFC 8785 canonical JSON text. Its hash is
``sha256(prev_hash_hex + canonical_text)`` in lowercase hex; the first event of a chain has
``prev_hash = GENESIS``. Changing, removing or reordering any stored event breaks every hash
after it, which :func:`verify_links` reports as the first broken link.

A third party can check an exported chain with nothing but the standard library; see
``docs/audit.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"


def format_time(moment: datetime) -> str:
    """UTC at a fixed microsecond precision, e.g. ``2026-01-02T03:04:05.000006Z``."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonicalize(event: Mapping[str, Any]) -> str:
    """RFC 8785 canonical JSON text of an event."""
    return rfc8785.dumps(dict(event)).decode("utf-8")


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
