"""The console's rating pages: the rater's queue and scoring form (no candidate identity,
shortcuts documented, refusals beside the fields), the lead's page with adjudication, and
who may not see them."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import update

from tests.rating.world import UPLOADED, rating_world
from tests.support.console import console_sign_in, csrf_of, field_errors, post_form
from tests.support.factories import Account, Factory
from waa_ads.auth.models import Role
from waa_ads.core.db import utcnow
from waa_ads.rating.models import RatingLease, RatingTask

pytestmark = pytest.mark.asyncio

_LEASE = re.compile(r'action="/console/rating/leases/([0-9a-f-]+)"')


@pytest_asyncio.fixture
async def browser_like(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A second cookie jar: the console signs in with cookies, the world is built with
    bearer headers on ``client``."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


async def _take(c: httpx.AsyncClient, account: Account, plan_id: str) -> tuple[str, str, str]:
    csrf = await console_sign_in(c, account)
    queue = await c.get("/console/rating")
    assert queue.status_code == 200, queue.text
    assert f'action="/console/rating/plans/{plan_id}/next"' in queue.text
    page = await post_form(c, f"/console/rating/plans/{plan_id}/next", csrf)
    assert page.status_code == 200, page.text
    found = _LEASE.search(page.text)
    assert found, page.text
    return page.text, found.group(1), csrf_of(page.text)


async def test_a_rater_scores_without_seeing_the_candidate_and_refusals_sit_beside_fields(
    app: FastAPI, client: httpx.AsyncClient, browser_like: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, candidates=1)
    plan = (await rw.plan(double_share=1.0))["plan"]
    await client.post(f"/api/v1/rating/plans/{plan['id']}/sync", headers=rw.admin)
    page, lease_id, csrf = await _take(browser_like, rw.raters[0], plan["id"])
    # The response and the rubric; never who wrote it.
    assert "Homework builds habits, says writer 0." in page
    assert "Writer 0" not in page
    assert rw.attempts[0] not in page
    assert 'name="level-content"' in page and 'name="level-language"' in page
    assert "Well developed." in page  # a level's descriptor
    assert "Keyboard shortcuts" in page and "<kbd>1 to 9</kbd>" in page
    assert "data-lease-expires=" in page
    # A missing criterion and a level outside the rubric: each beside its criterion.
    refused = await post_form(
        browser_like,
        f"/console/rating/leases/{lease_id}",
        csrf,
        {"plan_id": plan["id"], "level-content": "superb", "comment": "Kept", "then": "next"},
    )
    assert refused.status_code == 422, refused.text
    errors = field_errors(refused.text)
    assert "level-content" in errors and "level-language" in errors, errors
    assert _LEASE.search(refused.text).group(1) == lease_id  # type: ignore[union-attr]
    assert ">Kept</textarea>" in refused.text
    bad_note = await post_form(
        browser_like,
        f"/console/rating/leases/{lease_id}",
        csrf,
        {"plan_id": plan["id"], "annotations": "40-12: backwards", "then": "next"},
    )
    assert "annotations" in field_errors(bad_note.text)
    # Saved: nothing else waits for this rater (the other rating is another rater's).
    saved = await post_form(
        browser_like,
        f"/console/rating/leases/{lease_id}",
        csrf,
        {
            "plan_id": plan["id"],
            "level-content": "strong",
            "level-language": "fluent",
            "annotations": "0-8: good opening\nclear",
            "comment": "Well argued.",
            "then": "next",
        },
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == "/console/rating"
    mine = await browser_like.get("/console/rating")
    assert "Your ratings" in mine.text
    again = await post_form(
        browser_like,
        f"/console/rating/leases/{lease_id}",
        csrf,
        {"plan_id": plan["id"], "level-content": "strong", "level-language": "fluent"},
    )
    assert again.status_code in (303, 409), again.text


async def test_the_lead_sees_the_disagreement_and_adjudicates_with_the_same_form(
    app: FastAPI, client: httpx.AsyncClient, browser_like: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, candidates=1)
    plan = (await rw.plan(double_share=1.0, disagreement_rule="exact"))["plan"]
    await client.post(f"/api/v1/rating/plans/{plan['id']}/sync", headers=rw.admin)
    for headers, chosen in zip(
        rw.rater_headers,
        ({"content": "absent", "language": "weak"}, {"content": "excellent", "language": "fluent"}),
        strict=True,
    ):
        lease = await rw.next(headers, plan["id"])
        assert (await rw.rate(headers, lease["lease_id"], chosen)).status_code == 201
    assert rw.lead is not None and rw.adjudicator is not None
    lead_csrf = await console_sign_in(browser_like, rw.lead)
    page = await browser_like.get(f"/console/rating/plans/{plan['id']}")
    assert page.status_code == 200, page.text
    assert "Disagreements waiting for adjudication" in page.text
    assert "waiting" in page.text and "QWK" in page.text
    assert f"/api/v1/rating/plans/{plan['id']}/export.csv" in page.text
    rater = str(rw.raters[0].user.id)
    paused = await post_form(
        browser_like, f"/console/rating/plans/{plan['id']}/raters/{rater}/pause", lead_csrf
    )
    assert paused.status_code == 303
    assert "paused" in (await browser_like.get(f"/console/rating/plans/{plan['id']}")).text
    # The adjudicator: the same form, the raters' levels beside it, unnamed.
    adj = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")
    async with adj:
        form, lease_id, csrf = await _take(adj, rw.adjudicator, plan["id"])
        assert "Adjudicate: E1" in form and "Rater 2" in form
        done = await post_form(
            adj,
            f"/console/rating/leases/{lease_id}",
            csrf,
            {"plan_id": plan["id"], "level-content": "good", "level-language": "fair"},
        )
        assert done.status_code == 303, done.text
    result = await client.get(f"/api/v1/results/{rw.attempts[0]}", headers=rw.admin)
    assert result.json()["latest"]["complete"] is True


async def test_a_proctor_gets_the_problem_page(
    browser_like: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    proctor = await make.user(org, Role.proctor)
    await console_sign_in(browser_like, proctor)
    page = await browser_like.get("/console/rating")
    assert page.status_code == 403
    assert "rater role" in page.text
    assert 'href="/console/rating"' not in (await browser_like.get("/console")).text


async def test_an_admin_makes_a_plan_and_refusals_sit_beside_their_fields(
    app: FastAPI, client: httpx.AsyncClient, browser_like: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, candidates=1)
    admin = await make.user(rw.world.org, Role.admin)
    csrf = await console_sign_in(browser_like, admin)
    form = await browser_like.get("/console/rating/plans/new")
    assert form.status_code == 200, form.text
    assert rw.administration_id in form.text
    assert str(rw.raters[0].user.id) in form.text  # offered as a rater
    chosen = {
        "administration_id": rw.administration_id,
        "title": "Essays by hand",
        "double_share": "150",
        "disagreement_rule": "adjacent",
        "resolution": "adjudicator",
        "raters": [str(r.user.id) for r in rw.raters],
        "leads": [str(admin.user.id)],
    }
    refused = await post_form(browser_like, "/console/rating/plans", csrf, chosen)
    assert refused.status_code == 422, refused.text
    assert "double_share" in field_errors(refused.text)
    assert 'value="Essays by hand"' in refused.text
    made = await post_form(
        browser_like, "/console/rating/plans", csrf, {**chosen, "double_share": "100"}
    )
    assert made.status_code == 303, made.text
    lead = await browser_like.get(made.headers["location"])
    assert lead.status_code == 200
    assert "Essays by hand" in lead.text and "100% of responses" in lead.text
    assert "E1" in lead.text  # the waiting response was queued when the plan was made
    again = await post_form(
        browser_like, "/console/rating/plans", csrf, chosen | {"double_share": "50"}
    )
    assert again.status_code == 409
    assert "has a rating plan" in again.text


async def test_a_lease_that_ran_out_is_said_beside_the_lease_line(
    app: FastAPI, client: httpx.AsyncClient, browser_like: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, candidates=1)
    plan = (await rw.plan(double_share=0.0))["plan"]
    _, lease_id, csrf = await _take(browser_like, rw.raters[0], plan["id"])
    async with app.state.db.transaction() as session:
        past = utcnow() - timedelta(seconds=1)
        await session.execute(
            update(RatingLease).where(RatingLease.id == uuid.UUID(lease_id)).values(expires_at=past)
        )
        await session.execute(
            update(RatingTask)
            .where(RatingTask.lease_id == uuid.UUID(lease_id))
            .values(lease_expires_at=past)
        )
    late = await post_form(
        browser_like,
        f"/console/rating/leases/{lease_id}",
        csrf,
        {"plan_id": plan["id"], "level-content": "good", "level-language": "fair"},
    )
    assert late.status_code == 410, late.text
    assert "ran out" in field_errors(late.text)["lease"]
    # The response went back to the queue and this rater holds it again, on a new lease.
    found = _LEASE.search(late.text)
    assert found and found.group(1) != lease_id
    assert "Homework builds habits" in late.text


async def test_an_uploaded_answer_is_a_link_to_the_file(
    app: FastAPI, client: httpx.AsyncClient, browser_like: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, candidates=1, upload=True)
    plan = (await rw.plan(double_share=0.0))["plan"]
    page, lease_id, _ = await _take(browser_like, rw.raters[0], plan["id"])
    assert "An uploaded file: <strong>work.txt</strong>" in page
    link = f'href="/api/v1/rating/leases/{lease_id}/file"'
    assert link in page
    opened = await browser_like.get(f"/api/v1/rating/leases/{lease_id}/file")
    assert opened.status_code == 200
    assert opened.content == UPLOADED


async def test_a_lead_changes_the_plan_from_the_version_shown(
    app: FastAPI, client: httpx.AsyncClient, browser_like: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, candidates=1)
    plan = (await rw.plan(double_share=1.0))["plan"]
    assert rw.lead is not None
    csrf = await console_sign_in(browser_like, rw.lead)
    # A lead who is no admin reads the raters by name, not by id.
    lead = await browser_like.get(f"/console/rating/plans/{plan['id']}")
    assert rw.raters[0].user.email in lead.text and "Version 1" in lead.text
    form = await browser_like.get(f"/console/rating/plans/{plan['id']}/edit")
    assert form.status_code == 200, form.text
    assert 'name="expected_version" value="1"' in form.text
    assert 'value="Essays"' in form.text and rw.raters[1].user.email in form.text
    chosen = {
        "expected_version": "1",
        "title": "Essays, second sitting",
        "double_share": "50",
        "disagreement_rule": "adjacent",
        "resolution": "adjudicator",
        "lease_seconds": "600",
        "agreement_threshold": "70",
        "score_unanswered": "on",
        "raters": [str(rw.raters[0].user.id)],
        "adjudicators": [str(rw.adjudicator.user.id)] if rw.adjudicator else [],
        "leads": [str(rw.lead.user.id)],
    }
    changed = await post_form(
        browser_like, f"/console/rating/plans/{plan['id']}/edit", csrf, chosen
    )
    assert changed.status_code == 303, changed.text
    page = await browser_like.get(changed.headers["location"])
    assert "Essays, second sitting" in page.text and "50% of responses" in page.text
    assert "Version 2" in page.text
    # The same form posted again (from version 1): refused, shown again from version 2
    # with what was typed, nothing written.
    stale = await post_form(
        browser_like, f"/console/rating/plans/{plan['id']}/edit", csrf, chosen | {"title": "Lost"}
    )
    assert stale.status_code == 409, stale.text
    assert "changed meanwhile" in stale.text or "version 2" in stale.text
    assert 'name="expected_version" value="2"' in stale.text and 'value="Lost"' in stale.text
    detail = await client.get(f"/api/v1/rating/plans/{plan['id']}", headers=rw.admin)
    assert detail.json()["plan"]["title"] == "Essays, second sitting"
    # A rater may not open it.
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")
    async with other:
        await console_sign_in(other, rw.raters[0])
        assert (await other.get(f"/console/rating/plans/{plan['id']}/edit")).status_code == 403


async def test_an_admin_sets_the_banks_each_rater_rates(
    app: FastAPI, client: httpx.AsyncClient, browser_like: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, candidates=1)
    plan = (await rw.plan())["plan"]
    admin = await make.user(rw.world.org, Role.admin)
    csrf = await console_sign_in(browser_like, admin)
    form = await browser_like.get(f"/console/rating/plans/{plan['id']}/edit")
    assert form.status_code == 200, form.text
    first, second = (str(r.user.id) for r in rw.raters)
    assert f'name="banks-{first}"' in form.text
    chosen = {
        "expected_version": "1",
        "title": "Essays",
        "double_share": "0",
        "disagreement_rule": "adjacent",
        "resolution": "adjudicator",
        "lease_seconds": "900",
        "agreement_threshold": "70",
        "score_unanswered": "on",
        "raters": [first, second],
        "leads": [str(rw.lead.user.id)] if rw.lead else [],
        "banks_offered": "1",
        f"banks-{first}": [rw.world.bank_id],
    }
    changed = await post_form(
        browser_like, f"/console/rating/plans/{plan['id']}/edit", csrf, chosen
    )
    assert changed.status_code == 303, changed.text
    detail = (await client.get(f"/api/v1/rating/plans/{plan['id']}", headers=rw.admin)).json()
    assert {m["user_id"]: m["bank_ids"] for m in detail["members"] if m["role"] == "rater"} == {
        first: [rw.world.bank_id],
        second: [],
    }
    page = await browser_like.get(changed.headers["location"])
    assert "1 bank" in page.text
