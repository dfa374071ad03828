"""Autosave in one statement (PostgreSQL): once a process knows an attempt's form, a save is
one statement that commits on its own. The rules stay those of the general path: the
highest seq wins, every save is kept in the history, a revoked or forged credential finds
no attempt, a paused attempt keeps the save as paused, and a save racing the end of the
attempt is either in what the scoring reads or refused as late."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from tests.support.exams import begin, exam
from tests.support.factories import Factory
from waa_ads.delivery import service as delivery
from waa_ads.delivery.models import Attempt, Response, ResponseEvent

pytestmark = pytest.mark.asyncio


async def _history(app: FastAPI, attempt_id: str) -> list[tuple[str, int, str]]:
    async with app.state.db.transaction(write=False) as session:
        rows = await session.execute(
            select(ResponseEvent.item_ref, ResponseEvent.seq, ResponseEvent.status)
            .where(ResponseEvent.attempt_id == uuid.UUID(attempt_id))
            .order_by(ResponseEvent.id)
        )
        return [(r.item_ref, r.seq, r.status) for r in rows]


async def _stored(app: FastAPI, attempt_id: str) -> dict[str, tuple[int, bool]]:
    async with app.state.db.transaction(write=False) as session:
        rows = await session.execute(
            select(Response.item_ref, Response.seq, Response.flagged).where(
                Response.attempt_id == uuid.UUID(attempt_id)
            )
        )
        return {r.item_ref: (r.seq, r.flagged) for r in rows}


async def test_warm_saves_keep_every_rule(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    ex = await exam(live_client, live_make, candidates=1)
    attempt_id, headers = await begin(live_client, ex.codes[0])

    async def put(seq: int, value: object, **extra: object) -> httpx.Response:
        return await live_client.put(
            f"/api/v1/attempts/{attempt_id}/responses/Q1",
            json={"seq": seq, "value": value, **extra},
            headers=headers,
        )

    assert (await put(1, "A", flagged=True)).json() == {
        "accepted": True,
        "seq": 1,
        "current_seq": 1,
    }
    db, settings = live_app.state.db, live_app.state.settings
    # The first save taught this process the form; the next ones are one statement.
    direct = await delivery.save_response_at_once(
        db, settings, uuid.UUID(attempt_id), headers["X-Attempt-Token"], "Q1", seq=2, value="B"
    )
    if db.dialect_name == "postgresql":
        assert direct is not None and direct.accepted and direct.current_seq == 2
    else:
        assert direct is None  # SQLite always goes the general way
        assert (await put(2, "B")).json()["accepted"] is True
    assert (await put(5, "C")).json() == {"accepted": True, "seq": 5, "current_seq": 5}
    assert (await put(4, "A")).json() == {"accepted": False, "seq": None, "current_seq": 5}
    assert (await put(5, "B")).json() == {"accepted": False, "seq": None, "current_seq": 5}
    invalid = await put(6, ["A", "B"])
    assert invalid.status_code == 422
    assert await _stored(live_app, attempt_id) == {"Q1": (5, True)}  # flag kept when not sent
    assert await _history(live_app, attempt_id) == [
        ("Q1", 1, "accepted"),
        ("Q1", 2, "accepted"),
        ("Q1", 5, "accepted"),
        ("Q1", 4, "stale"),
        ("Q1", 5, "stale"),
    ]


async def test_a_revoked_or_forged_credential_finds_nothing_when_warm(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    ex = await exam(live_client, live_make, candidates=2)
    attempt_id, headers = await begin(live_client, ex.codes[0])
    _, other_headers = await begin(live_client, ex.codes[1])
    url = f"/api/v1/attempts/{attempt_id}/responses/Q1"
    assert (await live_client.put(url, json={"seq": 1, "value": "A"}, headers=headers)).json()[
        "accepted"
    ]
    token = headers["X-Attempt-Token"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (forged, other_headers["X-Attempt-Token"], f"{attempt_id}.0.x", ""):
        refused = await live_client.put(
            url, json={"seq": 2, "value": "B"}, headers={"X-Attempt-Token": bad}
        )
        assert refused.status_code == 404, bad
    async with live_app.state.db.transaction() as session:
        await session.execute(
            update(Attempt)
            .where(Attempt.id == uuid.UUID(attempt_id))
            .values(credential_epoch=Attempt.credential_epoch + 1)
        )
    revoked = await live_client.put(url, json={"seq": 3, "value": "C"}, headers=headers)
    assert revoked.status_code == 404
    assert await _history(live_app, attempt_id) == [("Q1", 1, "accepted")]


async def test_a_paused_attempt_keeps_a_warm_save_as_paused(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    ex = await exam(live_client, live_make, candidates=1)
    attempt_id, headers = await begin(live_client, ex.codes[0])
    url = f"/api/v1/attempts/{attempt_id}/responses/Q1"
    assert (await live_client.put(url, json={"seq": 1, "value": "A"}, headers=headers)).json()[
        "accepted"
    ]
    async with live_app.state.db.transaction() as session:
        await session.execute(
            update(Attempt).where(Attempt.id == uuid.UUID(attempt_id)).values(state="paused")
        )
    paused = await live_client.put(url, json={"seq": 2, "value": "B"}, headers=headers)
    assert paused.status_code == 409
    assert paused.json()["current_seq"] == 1
    assert await _history(live_app, attempt_id) == [("Q1", 1, "accepted"), ("Q1", 2, "paused")]


async def test_saves_racing_the_submit_are_read_by_the_scoring_or_refused(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    """Whatever the interleaving, a save answered ``accepted`` committed before the submit
    did: a read right after the submit's reply (what the scoring does) sees it."""
    ex = await exam(live_client, live_make, candidates=4)
    attempts = [await begin(live_client, code) for code in ex.codes]
    for attempt_id, headers in attempts:  # warm: the next saves are one statement each
        await live_client.put(
            f"/api/v1/attempts/{attempt_id}/responses/Q1",
            json={"seq": 1, "value": "A"},
            headers=headers,
        )

    async def saving(attempt_id: str, headers: dict[str, str]) -> int:
        last_accepted = 1
        for seq in range(2, 40):
            reply = await live_client.put(
                f"/api/v1/attempts/{attempt_id}/responses/Q1",
                json={"seq": seq, "value": "ABC"[seq % 3]},
                headers=headers,
            )
            if reply.status_code == 200 and reply.json()["accepted"]:
                last_accepted = seq
            else:
                assert reply.status_code in (409, 410), reply.text
        return last_accepted

    async def submit(attempt_id: str, headers: dict[str, str]) -> int:
        await asyncio.sleep(0.05)
        done = await live_client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
        assert done.status_code == 200
        return (await _stored(live_app, attempt_id))["Q1"][0]

    for attempt_id, headers in attempts:
        last_accepted, seen_after_submit = await asyncio.gather(
            saving(attempt_id, headers), submit(attempt_id, headers)
        )
        assert seen_after_submit == last_accepted
        statuses = [s for _, _, s in await _history(live_app, attempt_id)]
        assert statuses == sorted(statuses, key=lambda s: s != "accepted")  # late ones last
        assert len(statuses) == 39


async def test_the_short_way_leaves_every_other_answer_to_the_route(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    """Bodies the route's model refuses, other media types, malformed ids and unknown items
    are answered by the route itself, as they always were; a save's reply carries the
    request id like any other."""
    ex = await exam(live_client, live_make, candidates=1)
    attempt_id, headers = await begin(live_client, ex.codes[0])
    url = f"/api/v1/attempts/{attempt_id}/responses/Q1"
    saved = await live_client.put(
        url, json={"seq": 1, "value": "A"}, headers={**headers, "X-Request-ID": "req-1"}
    )
    assert saved.status_code == 200
    assert saved.headers["x-request-id"] == "req-1"
    assert saved.headers["content-type"] == "application/json"
    assert saved.json() == {"accepted": True, "seq": 1, "current_seq": 1}
    for body in (b'{"seq": 0, "value": "A"}', b'{"value": "A"}', b"[1]", b"{"):
        refused = await live_client.put(
            url, content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert refused.status_code == 422, body
    as_text = await live_client.put(
        url, content=b'{"seq": 2, "value": "B"}', headers={**headers, "Content-Type": "text/plain"}
    )
    assert as_text.status_code == 422
    not_an_id = await live_client.put(
        "/api/v1/attempts/not-a-uuid/responses/Q1", json={"seq": 2, "value": "B"}, headers=headers
    )
    assert not_an_id.status_code == 422
    unknown = await live_client.put(
        f"/api/v1/attempts/{attempt_id}/responses/NOPE",
        json={"seq": 2, "value": "B"},
        headers=headers,
    )
    assert (unknown.status_code, unknown.json()["type"].rsplit("/", 1)[-1]) == (
        422,
        "item-not-on-form",
    )
    assert await _history(live_app, attempt_id) == [("Q1", 1, "accepted")]
