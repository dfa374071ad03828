"""Scoring a whole administration at once gives what scoring each attempt gives: the same
result revision (totals, band, release), item scores, states and audit events; on PostgreSQL
through the bulk path, elsewhere attempt by attempt."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from tests.support.exams import exam, submit_answers, wait_for_state
from tests.support.factories import Factory
from waa_ads.assessments.definition import Band, ScoringPolicy
from waa_ads.audit import service as audit
from waa_ads.audit.models import AuditEvent
from waa_ads.delivery.models import Attempt
from waa_ads.scoring import service as scoring
from waa_ads.scoring.bulk import totals_many, uuid7_bytes
from waa_ads.scoring.models import AttemptResult, ItemScore
from waa_ads.scoring.policy import ScoredItem, totals

RESULT_FIELDS = (
    "revision", "reason", "complete", "raw", "max_raw", "weighted", "max_weighted", "scaled",
    "band", "passed", "sections", "pending_items", "created_by", "released_by", "withheld",
)  # fmt: skip
SCORING_ACTIONS = [
    "attempt.begin_scoring",
    "attempt.finish_scoring",
    "attempt.release",
    "result.released",
]
ITEM_FIELDS = (
    "item_ref", "item_version_id", "section", "weight", "score", "max_score", "method",
    "scorer", "confidence", "outcomes", "notes",
)  # fmt: skip


async def _snapshot(app: FastAPI, attempt_ids: list[uuid.UUID]) -> dict[str, Any]:
    async with app.state.db.transaction(write=False) as session:
        results = (
            await session.execute(
                select(AttemptResult)
                .where(AttemptResult.attempt_id.in_(attempt_ids))
                .order_by(AttemptResult.attempt_id)
            )
        ).scalars()
        items = (
            await session.execute(
                select(ItemScore)
                .where(ItemScore.attempt_id.in_(attempt_ids))
                .order_by(ItemScore.attempt_id, ItemScore.item_ref)
            )
        ).scalars()
        states = (
            await session.execute(
                select(Attempt.id, Attempt.state)
                .where(Attempt.id.in_(attempt_ids))
                .order_by(Attempt.id)
            )
        ).all()
        events = (
            await session.execute(
                select(AuditEvent.target_id, AuditEvent.action, AuditEvent.actor_id)
                .where(AuditEvent.target_id.in_([str(a) for a in attempt_ids]))
                .where(AuditEvent.action.in_(SCORING_ACTIONS))
                .order_by(AuditEvent.seq)
            )
        ).all()
        return {
            "results": [
                (r.attempt_id, *(getattr(r, f) for f in RESULT_FIELDS), r.released_at is None)
                for r in results
            ],
            "items": [(i.attempt_id, *(getattr(i, f) for f in ITEM_FIELDS)) for i in items],
            "states": [tuple(s) for s in states],
            "events": sorted(tuple(e) for e in events),
        }


@pytest.mark.asyncio
async def test_scoring_an_administration_gives_what_scoring_each_attempt_gives(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    client = live_client
    ex = await exam(client, live_make, candidates=6, scoring={"release": "immediately"})
    answers = [("B", "B", "B"), ("A", "B", None), (None, None, None), ("C", "A", "B"),
               ("B", None, "A"), ("B", "B", "C")]  # fmt: skip
    attempt_ids = [
        await submit_answers(client, code, dict(zip(("Q1", "Q2", "Q3"), chosen, strict=True)))
        for code, chosen in zip(ex.codes, answers, strict=True)
    ]
    for attempt_id in attempt_ids:
        assert await wait_for_state(live_app, attempt_id, "released") == "released"
    ids = [uuid.UUID(a) for a in attempt_ids]
    one_by_one = await _snapshot(live_app, ids)
    assert len(one_by_one["results"]) == 6 and len(one_by_one["items"]) == 18

    # The same attempts, ended again and not yet scored.
    db = live_app.state.db
    async with db.transaction() as session:
        await session.execute(delete(AttemptResult).where(AttemptResult.attempt_id.in_(ids)))
        await session.execute(update(Attempt).where(Attempt.id.in_(ids)).values(state="submitted"))
    organization_id = ex.world.org.id
    administration_id = uuid.UUID(ex.administration["id"])
    scored = await scoring.score_administration(db, organization_id, administration_id, chunk=4)
    assert scored == 6
    at_once = await _snapshot(live_app, ids)
    assert at_once["results"] == one_by_one["results"]
    assert at_once["items"] == one_by_one["items"]
    assert at_once["states"] == one_by_one["states"]
    # Each attempt's events twice over: once per scoring.
    assert at_once["events"] == sorted(one_by_one["events"] * 2)
    async with db.transaction(write=False) as session:
        chain = await audit.verify_chain(session, audit.chain_for(organization_id))
    assert chain.ok

    # Nothing is waiting any more: running it again scores nothing and writes nothing.
    assert await scoring.score_administration(db, organization_id, administration_id) == 0
    assert await _snapshot(live_app, ids) == at_once


sections = st.sampled_from(["a", "b", "c"])
floats = st.sampled_from([0.0, -0.0, 0.1, 0.2, 0.3, 0.7, 1.0, 2.5, 1 / 3, 1e-17, 1e16])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(sections, st.none() | floats, floats, st.sampled_from([1.0, 0.5, 2.0, 0.1])),
            max_size=12,
        ),
        min_size=1,
        max_size=6,
    ),
    st.dictionaries(sections, st.sampled_from([1.0, 2.0, 0.3]), max_size=2),
    st.sampled_from([1.0, 0.5, 3.3]),
    st.sampled_from([0.0, 10.0, -0.1]),
)
def test_totals_of_many_attempts_are_totals_of_each(
    attempts: list[list[tuple[str, float | None, float, float]]],
    section_weights: dict[str, float],
    slope: float,
    intercept: float,
) -> None:
    policy = ScoringPolicy(
        scale_slope=slope,
        scale_intercept=intercept,
        bands=[Band(name="low", min_score=0), Band(name="high", min_score=1.5, passed=True)],
    )
    names = ["a", "b", "c"]
    rows = [(a, row) for a, rows in enumerate(attempts) for row in rows]
    computed = totals_many(
        np.array([a for a, _ in rows], dtype=np.int64),
        names,
        np.array([names.index(r[0]) for _, r in rows], dtype=np.int64),
        np.array([np.nan if r[1] is None else r[1] for _, r in rows], dtype=np.float64),
        np.array([r[2] for _, r in rows], dtype=np.float64),
        np.array([r[3] for _, r in rows], dtype=np.float64),
        [section_weights] * len(attempts),
        [policy] * len(attempts),
    )
    for a, items in enumerate(attempts):
        expected = totals([ScoredItem(*row) for row in items], section_weights, policy)
        got = (
            float(computed.raw[a]), float(computed.max_raw[a]), float(computed.weighted[a]),
            float(computed.max_weighted[a]), float(computed.scaled[a]), computed.band[a],
            computed.passed[a], computed.sections[a], int(computed.pending[a]),
        )  # fmt: skip
        want = (
            expected.raw, expected.max_raw, expected.weighted, expected.max_weighted,
            expected.scaled, expected.band, expected.passed, expected.sections,
            expected.pending,
        )  # fmt: skip
        assert repr(got) == repr(want)  # repr: -0.0 and 0.0 differ, bit for bit
        assert list(computed.sections[a]) == list(expected.sections)


def test_bulk_ids_are_version_7() -> None:
    for raw in uuid7_bytes(50):
        value = uuid.UUID(bytes=bytes(raw))
        assert value.version == 7 and value.variant == uuid.RFC_4122


@pytest.mark.asyncio
async def test_an_answer_key_correction_writes_revisions_as_one_attempt_at_a_time_would(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    """The same observable revisions on both backends (PostgreSQL writes them in bulk,
    SQLite attempt by attempt): totals, the corrected key's version, withholding carried over,
    a person's score left standing, releases and events."""
    from tests.support.items import choice_item

    client = live_client
    ex = await exam(client, live_make, candidates=4, scoring={"release": "immediately"})
    world = ex.world
    attempt_ids = [
        await submit_answers(client, code, {"Q1": answer, "Q2": "B"})
        for code, answer in zip(ex.codes, ["A", "B", "C", "A"], strict=True)
    ]
    for attempt_id in attempt_ids:
        assert await wait_for_state(live_app, attempt_id, "released") == "released"
    withheld = await client.post(
        f"/api/v1/results/{attempt_ids[0]}/withhold",
        json={"reason": "under review"},
        headers=world.headers,
    )
    assert withheld.status_code == 200, withheld.text
    manual = await client.post(
        f"/api/v1/results/{attempt_ids[3]}/items/Q1/score",
        json={"score": 0.5, "reason": "partly right"},
        headers=world.headers,
    )
    assert manual.status_code == 200, manual.text
    fixed = await client.patch(
        f"/api/v1/items/{world.items['Q1']}",
        json={"source": {"format": "qti", "content": choice_item("Q1", "Q1", correct="A")}},
        headers=world.headers,
    )
    assert fixed.status_code == 200, fixed.text
    await client.post(f"/api/v1/items/{world.items['Q1']}/publish", headers=world.headers)
    version_2 = (
        await client.get(f"/api/v1/items/{world.items['Q1']}/versions/2", headers=world.headers)
    ).json()["id"]
    ids = [uuid.UUID(a) for a in attempt_ids]
    before = await _snapshot(live_app, ids)

    report = await client.post(
        "/api/v1/rescore",
        json={"item_id": world.items["Q1"], "from_version": 1, "to_version": 2, "reason": "key"},
        headers=world.headers,
    )
    assert report.status_code == 200, report.text
    changes = {c["attempt_id"]: c for c in report.json()["changes"]}
    assert set(changes) == {attempt_ids[0], attempt_ids[1]}
    assert changes[attempt_ids[0]]["item_score"] == {"before": 0.0, "after": 1.0}
    assert changes[attempt_ids[0]]["scaled"] == {"before": 1.0, "after": 2.0}
    assert changes[attempt_ids[1]]["item_score"] == {"before": 1.0, "after": 0.0}

    after = await _snapshot(live_app, ids)
    new_results = [r for r in after["results"] if r not in before["results"]]
    by_attempt = {r[0]: dict(zip(("attempt_id", *RESULT_FIELDS, "unreleased"), r, strict=True))
                  for r in new_results}  # fmt: skip
    assert set(by_attempt) == {ids[0], ids[1]}
    first = by_attempt[ids[0]]
    assert first["revision"] == 2 and first["reason"] == "answer key corrected (key)"
    assert (first["raw"], first["max_raw"], first["complete"]) == (2.0, 3.0, True)
    assert first["withheld"] is True and first["unreleased"] is False
    assert first["sections"] == {"s": {"raw": 2.0, "max_raw": 3.0, "weighted": 2.0}}
    assert by_attempt[ids[1]]["withheld"] is False and by_attempt[ids[1]]["raw"] == 1.0
    async with live_app.state.db.transaction(write=False) as session:
        latest = await scoring.latest_result(session, ids[0])
        assert latest is not None
        rows = {r.item_ref: r for r in await scoring.item_scores(session, latest.id)}
        assert str(rows["Q1"].item_version_id) == version_2
        assert (rows["Q1"].score, rows["Q1"].method) == (1.0, "objective")
        assert rows["Q2"].score == 1.0 and rows["Q3"].score == 0.0
        events = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.actor_type)
                .where(AuditEvent.target_id == attempt_ids[0])
                .order_by(AuditEvent.seq.desc())
                .limit(2)
            )
        ).all()
        chain = await audit.verify_chain(session, audit.chain_for(world.org.id))
    assert [(e.action, e.actor_type) for e in reversed(events)] == [
        ("result.revised", "user"),
        ("result.released", "system"),
    ]
    assert chain.ok
    # The person's score stands: no new revision for the fourth attempt.
    assert [r for r in after["results"] if r[0] == ids[3]] == [
        r for r in before["results"] if r[0] == ids[3]
    ]


@pytest.mark.asyncio
async def test_admins_queue_an_administration_for_scoring(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    from tests.support.factories import login
    from tests.support.problems import problem
    from waa_ads.auth.models import Role

    client = live_client
    ex = await exam(client, live_make, candidates=2, scoring={"release": "immediately"})
    attempt_ids = [await submit_answers(client, code, {"Q1": "B"}) for code in ex.codes]
    for attempt_id in attempt_ids:
        assert await wait_for_state(live_app, attempt_id, "released") == "released"
    ids = [uuid.UUID(a) for a in attempt_ids]
    async with live_app.state.db.transaction() as session:
        await session.execute(delete(AttemptResult).where(AttemptResult.attempt_id.in_(ids)))
        await session.execute(update(Attempt).where(Attempt.id.in_(ids)).values(state="submitted"))

    body = {"administration_id": ex.administration["id"]}
    queued = await client.post(
        "/api/v1/results/score-administration", json=body, headers=ex.world.headers
    )
    assert queued.status_code == 202, queued.text
    assert queued.json() == {
        "administration_id": ex.administration["id"],
        "waiting": 2,
        "task": "scoring.score_administration",
    }
    for attempt_id in attempt_ids:
        assert await wait_for_state(live_app, attempt_id, "released") == "released"
    detail = (
        await client.get(f"/api/v1/results/{attempt_ids[0]}", headers=ex.world.headers)
    ).json()
    assert detail["latest"]["raw"] == 1.0

    rater = await login(client, await live_make.user(ex.world.org, Role.rater))
    refused = await client.post("/api/v1/results/score-administration", json=body, headers=rater)
    assert (refused.status_code, problem(refused)) == (403, "role-required")
    other = await live_make.organization()
    foreign = await login(client, await live_make.user(other, Role.admin))
    hidden = await client.post("/api/v1/results/score-administration", json=body, headers=foreign)
    assert (hidden.status_code, problem(hidden)) == (404, "administration-not-found")


def test_copy_text_fields_read_back_as_written() -> None:
    from waa_ads.scoring.bulk import _copy_text

    # COPY's text format writes a backslash as \\ and control characters as \n, \t...
    assert _copy_text(b'{"RESPONSE": "a\\\\\\\\b"}') == '{"RESPONSE": "a\\\\b"}'
    assert _copy_text(b"tab\\there\\nnew line\\r\\\\") == "tab\there\nnew line\r\\"
    assert _copy_text("caf\u00e9 \u2713".encode()) == "caf\u00e9 \u2713"
