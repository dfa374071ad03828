"""A test built over a running server's API with a synchronous client (browser tests):
items published in a new bank, a test of them published and opened now, candidates
rostered."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


def ok(reply: httpx.Response) -> Any:
    """The reply's JSON, once it is a success."""
    assert reply.is_success, reply.text
    return reply.json()


def open_exam(
    api: httpx.Client,
    *,
    bank: str,
    slug: str,
    sources: Sequence[str],
    title: str,
    section: str,
    administration_title: str,
    definition: dict[str, Any] | None = None,
    names: list[str],
) -> tuple[dict[str, Any], list[str], list[str]]:
    """Publish ``sources`` (QTI) in a new bank named ``bank``, publish a test ``title`` of
    them in one section (``definition`` adds the rest: scoring, policy), open it now for
    three hours and roster a candidate of each name: the administration, the item ids and
    the access codes. Names and slugs end in a random tag."""
    tag = secrets.token_hex(3)
    created_bank = ok(
        api.post("/api/v1/banks", json={"slug": f"{bank.lower()}-{tag}", "name": f"{bank} {tag}"})
    )
    item_ids = []
    for source in sources:
        item = ok(
            api.post(
                f"/api/v1/banks/{created_bank['id']}/items",
                json={"source": {"format": "qti", "content": source}},
            )
        )["item"]
        ok(api.post(f"/api/v1/items/{item['id']}/publish"))
        item_ids.append(item["id"])
    body = {
        "title": f"{title} {tag}",
        **(definition or {}),
        "sections": [
            {"identifier": "s", "title": section, "items": [{"item_id": i} for i in item_ids]}
        ],
    }
    created = ok(
        api.post("/api/v1/assessments", json={"slug": f"{slug}-{tag}", "definition": body})
    )
    version = ok(api.post(f"/api/v1/assessments/{created['assessment']['id']}/publish"))
    now = datetime.now(UTC)
    administration = ok(
        api.post(
            "/api/v1/administrations",
            json={
                "assessment_version_id": version["version"]["id"],
                "title": f"{administration_title} {tag}",
                "opens_at": (now - timedelta(minutes=1)).isoformat(),
                "closes_at": (now + timedelta(hours=3)).isoformat(),
            },
        )
    )
    people = [ok(api.post("/api/v1/candidates", json={"full_name": n})) for n in names]
    roster = ok(
        api.post(
            f"/api/v1/administrations/{administration['id']}/roster",
            json={"entries": [{"candidate_id": p["id"]} for p in people]},
        )
    )
    return administration, item_ids, [e["access_code"] for e in roster]
