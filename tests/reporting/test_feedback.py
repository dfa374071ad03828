"""A rated essay's feedback on the scorecard: the rubric's names for the levels given, the
item score and the rater's comment to the candidate, once the rating released the result."""

from __future__ import annotations

import io

import httpx
import pytest
from fastapi import FastAPI
from pypdf import PdfReader

from tests.rating.world import levels, rating_world
from tests.support.exams import wait_for_state
from tests.support.factories import Factory

pytestmark = pytest.mark.asyncio


async def test_a_rated_essay_shows_its_feedback(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, candidates=1, raters=1)
    await rw.plan()
    lease = await rw.next(rw.rater_headers[0])
    rated = await rw.rate(
        rw.rater_headers[0],
        lease["lease_id"],
        levels("good", "fluent"),
        comment="A clear case; answer the counter-argument too.",
    )
    assert rated.status_code in (200, 201), rated.text
    attempt = rw.attempts[0]
    assert await wait_for_state(app, attempt, "released") == "released"

    pdf = await client.get(f"/api/v1/reports/attempts/{attempt}/scorecard.pdf", headers=rw.admin)
    assert pdf.status_code == 200, pdf.text
    text = " ".join(
        " ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf.content)).pages
    )
    assert "Feedback" in text
    assert "Essay (rated) 4 / 6" in text  # content 2 + language 0.5 x 4
    assert "Content Relevant and developed." in text
    assert "Language Fluent." in text
    assert "Comment: A clear case; answer the counter-argument too." in text
