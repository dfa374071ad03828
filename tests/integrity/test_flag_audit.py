"""A flag raised by the analysis is written to the audit chain as ``integrity.flag_raised``
(ids, rule and severity only), once per flag: analysing again keeps the flag and its id,
and a rule that starts firing raises one flag more. The chain still verifies."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.integrity.test_review_api import POLICY, _setup, _sit, _summary_of
from tests.support.exams import wait_for_state
from tests.support.factories import Factory
from waa_ads.audit.models import AuditEvent

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]


async def _raised(app: FastAPI, attempt_id: str) -> list[tuple[str, str | None, Any]]:
    """The attempt's ``integrity.flag_raised`` events: actor, target and data."""
    async with app.state.db.transaction(write=False) as session:
        rows = (
            await session.execute(
                select(AuditEvent.actor_id, AuditEvent.target_type, AuditEvent.canonical)
                .where(
                    AuditEvent.action == "integrity.flag_raised",
                    AuditEvent.target_id == attempt_id,
                )
                .order_by(AuditEvent.seq)
            )
        ).all()
    return [(r.actor_id, r.target_type, json.loads(r.canonical)["data"]) for r in rows]


async def test_a_raised_flag_is_audited_once_with_ids_rule_and_severity(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    setup = await _setup(client, make, candidates=1)
    admin = setup.world.headers
    events = ["focus_lost", "focus_regained", "focus_lost", "focus_regained", "paste", "copy"]
    attempt_id, _ = await _sit(client, setup.codes[0], {"Q1": "B"}, events)
    assert await wait_for_state(app, attempt_id, "scored") == "scored"
    summary = await _summary_of(client, attempt_id, admin)
    ids = {f["rule"]: f["id"] for f in summary["flags"]}
    assert set(ids) == {"left-often", "pasted"} and all(uuid.UUID(i) for i in ids.values())

    raised = await _raised(app, attempt_id)
    assert sorted(raised, key=lambda r: r[2]["rule"]) == [
        (
            "integrity",
            "attempt",
            {
                "flag_id": ids["left-often"],
                "attempt_id": attempt_id,
                "rule": "left-often",
                "severity": "high",
            },
        ),
        (
            "integrity",
            "attempt",
            {
                "flag_id": ids["pasted"],
                "attempt_id": attempt_id,
                "rule": "pasted",
                "severity": "low",
            },
        ),
    ]

    # Analysing again raises nothing: the same flags, with the same ids.
    again = await client.post(f"/api/v1/integrity/attempts/{attempt_id}/analyse", headers=admin)
    assert again.status_code == 200, again.text
    assert {f["rule"]: f["id"] for f in again.json()["flags"]} == ids
    assert len(await _raised(app, attempt_id)) == 2

    # A rule that starts firing raises one flag more.
    wider = POLICY + (
        "  - id: copied\n    when: copy_count >= 1\n    severity: medium\n    reason: Copied text\n"
    )
    saved = await client.put(
        "/api/v1/integrity/policies/strict", json={"source": wider}, headers=admin
    )
    assert saved.status_code == 200, saved.text
    third = await client.post(f"/api/v1/integrity/attempts/{attempt_id}/analyse", headers=admin)
    flags = {f["rule"]: f["id"] for f in third.json()["flags"]}
    assert set(flags) == {"left-often", "pasted", "copied"}
    assert {k: v for k, v in flags.items() if k != "copied"} == ids
    *_, (_, _, newest) = await _raised(app, attempt_id)
    assert newest == {
        "flag_id": flags["copied"],
        "attempt_id": attempt_id,
        "rule": "copied",
        "severity": "medium",
    }
    assert len(await _raised(app, attempt_id)) == 3

    verified = await client.get("/api/v1/audit/verify", headers=admin)
    assert verified.status_code == 200 and verified.json()["ok"] is True, verified.text
