"""Scorecards through the API: the printed figures, the receipt and its verification,
determinism, tampering, refusals and previews."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import uuid

import httpx
import pytest
from fastapi import FastAPI
from pypdf import PdfReader, PdfWriter
from sqlalchemy.ext.asyncio import AsyncSession

from tests.reporting.conftest import released_cohort
from tests.support.factories import Factory
from tests.support.problems import problem
from waa_ads.auth.models import Candidate
from waa_ads.core.settings import Settings
from waa_ads.delivery.models import Attempt
from waa_ads.reporting import service
from waa_ads.reporting.pdf import scorecard_pdf

pytestmark = pytest.mark.asyncio


def _text(pdf: bytes) -> str:
    return " ".join((p.extract_text() or "") for p in PdfReader(io.BytesIO(pdf)).pages)


def _receipt(pdf: bytes) -> dict[str, object]:
    found = PdfReader(io.BytesIO(pdf)).attachments["receipt.json"]
    body: dict[str, object] = json.loads(found[0])
    return body


def _swap_receipt(pdf: bytes, change: dict[str, str]) -> bytes:
    """The PDF with its embedded receipt rewritten (a figure's value changed)."""
    body = json.loads(PdfReader(io.BytesIO(pdf)).attachments["receipt.json"][0])
    for figure in body["figures"]:
        if figure["name"] in change:
            figure["value"] = change[figure["name"]]
    return _with_receipt(pdf, json.dumps(body).encode())


def _with_receipt(pdf: bytes, receipt: bytes) -> bytes:
    """The PDF with its embedded receipt replaced by ``receipt``."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer._root_object.pop("/Names", None)
    writer._root_object.pop("/AF", None)
    writer.add_attachment("receipt.json", receipt)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def _attempt(session: AsyncSession, attempt_id: str) -> Attempt:
    row = await session.get(Attempt, uuid.UUID(attempt_id))
    assert row is not None
    return row


@pytest.mark.sqlite_too  # the embedded default issues and verifies receipts too
async def test_a_released_scorecard_prints_its_figures_and_verifies(
    app: FastAPI,
    client: httpx.AsyncClient,
    make: Factory,
    db_session: AsyncSession,
    settings: Settings,
) -> None:
    cohort = await released_cohort(app, client, make)
    top = cohort.attempts[0]  # 3 of 3: scaled 500, passed
    url = f"/api/v1/reports/attempts/{top}/scorecard.pdf"
    first = await client.get(url, headers=cohort.admin)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/pdf"
    text = _text(first.content)
    for expected in ("Outcome: Pass", "Raw score", "3 / 3", "Scaled score", "500", "Standard",
                     "Percentile", "Cand 0", "Verification code"):  # fmt: skip
        assert expected in text, expected
    meta = PdfReader(io.BytesIO(first.content)).metadata
    assert meta is not None
    assert meta.title == "Score report: Placement test"
    receipt = _receipt(first.content)
    figures = {f["name"]: f["value"] for f in receipt["figures"]}  # type: ignore[attr-defined]
    assert figures["scaled"] == "500"
    assert figures["outcome"] == "Pass"
    # Six released results: the top one is above 5 of them and level with none.
    assert figures["percentile"] == "92 (of 6 candidates)"

    again = await client.get(url, headers=cohort.admin)
    assert hashlib.sha256(again.content).digest() == hashlib.sha256(first.content).digest()

    code = str(receipt["code"])
    verified = await client.get(f"/api/v1/reports/verify/{code.lower()}")
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert (body["status"], body["valid"], body["revision"]) == ("valid", True, 1)
    assert {f["name"]: f["value"] for f in body["figures"]}["scaled"] == "500"

    ok = await client.post("/api/v1/reports/verify", content=first.content)
    assert ok.json()["ok"] is True, ok.json()

    forged = _swap_receipt(first.content, {"scaled": "900"})
    altered = (await client.post("/api/v1/reports/verify", content=forged)).json()
    assert altered["ok"] is False
    assert altered["status"] == "altered"
    assert "Scaled score reads '900'; the released value is '500'" in altered["difference"]

    # Repainted: the page prints another scaled score, the embedded receipt is the original.
    built = await service.build_scorecard(
        db_session, settings, None, await _attempt(db_session, top)
    )
    repainted = scorecard_pdf(dataclasses.replace(built.card, scaled=900.0))
    repainted = _with_receipt(repainted, json.dumps(receipt).encode())
    verdict = (await client.post("/api/v1/reports/verify", content=repainted)).json()
    assert verdict["ok"] is False
    assert verdict["difference"] == (
        "the printed Scaled score reads '900'; the released value is '500'"
    )


async def test_a_french_candidates_scorecard_is_in_french_and_verifies(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    """A candidate whose language is French gets the scorecard in French (labels, numbers,
    date, /Lang) from staff and in bulk alike; its receipt keeps the English figures, and
    the file verifies, or names what was changed on its page, as an English one does."""
    cohort = await released_cohort(app, client, make)
    top = cohort.attempts[0]
    async with app.state.db.transaction(write=True) as session:
        attempt = await _attempt(session, top)
        candidate = await session.get(Candidate, attempt.candidate_id)
        assert candidate is not None
        candidate.locale = "fr"
    first = await client.get(f"/api/v1/reports/attempts/{top}/scorecard.pdf", headers=cohort.admin)
    assert first.status_code == 200, first.text
    assert first.headers["content-language"] == "fr"
    reader = PdfReader(io.BytesIO(first.content))
    assert str(reader.root_object["/Lang"]) == "fr"
    assert reader.metadata is not None
    assert reader.metadata.title == "Relevé de résultats\u00a0: Placement test"
    text = " ".join(_text(first.content).split())
    for expected in ("Résultat : Réussi", "Score brut 3 / 3", "Score étalonné 500",
                     "Centile 92 (sur 6 candidats)", "Code de vérification"):  # fmt: skip
        assert expected in text, expected
    assert "Scaled score" not in text
    figures = {f["name"]: f["value"] for f in _receipt(first.content)["figures"]}  # type: ignore[attr-defined]
    assert (figures["outcome"], figures["percentile"]) == ("Pass", "92 (of 6 candidates)")

    ok = (await client.post("/api/v1/reports/verify", content=first.content)).json()
    assert ok["ok"] is True, ok
    forged = _swap_receipt(first.content, {"scaled": "900"})
    altered = (await client.post("/api/v1/reports/verify", content=forged)).json()
    assert (altered["ok"], altered["status"]) == (False, "altered")


async def test_unreleased_results_are_refused_unless_previewed(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    cohort = await released_cohort(
        app, client, make, release="manual", answers=[{"Q1": "B", "Q2": "B", "Q3": "A"}]
    )
    attempt = cohort.attempts[0]
    refused = await client.get(
        f"/api/v1/reports/attempts/{attempt}/scorecard.pdf", headers=cohort.admin
    )
    assert (refused.status_code, problem(refused)) == (409, "result-not-released-for-report")

    preview = await client.get(
        f"/api/v1/reports/attempts/{attempt}/scorecard.pdf?preview=true", headers=cohort.admin
    )
    assert preview.status_code == 200, preview.text
    text = _text(preview.content)
    assert "NOT RELEASED" in text
    assert "no verification code" in text
    assert not PdfReader(io.BytesIO(preview.content)).attachments

    unknown = await client.get("/api/v1/reports/verify/ABCD-EFGH-JKMN-PQRS")
    assert (unknown.status_code, problem(unknown)) == (404, "receipt-not-found")
    page = await client.get("/verify/ABCD-EFGH-JKMN-PQRS")
    assert page.status_code == 404
    assert "Unknown verification code" in page.text


async def test_a_candidate_downloads_only_their_own_released_scorecard(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    answers = [{"Q1": "B", "Q2": "B", "Q3": "A"}, {"Q1": "A", "Q2": "B", "Q3": "A"}]
    cohort = await released_cohort(app, client, make, release="manual", answers=answers)
    mine, theirs = cohort.attempts
    code = cohort.exam.codes[0]
    url = "/api/v1/reports/candidate/scorecard.pdf"

    before = await client.post(url, json={"access_code": code, "attempt_id": mine})
    assert (before.status_code, problem(before)) == (409, "result-not-released-for-report")
    released = await client.post(f"/api/v1/results/{mine}/release", headers=cohort.admin)
    assert released.status_code == 200, released.text

    card = await client.post(url, json={"access_code": code, "attempt_id": mine})
    assert card.status_code == 200, card.text
    assert card.headers["content-type"] == "application/pdf"
    assert "attachment" in card.headers["content-disposition"]
    text = _text(card.content)
    assert "2 / 3" in text and "Verification" in text
    assert "Q1" not in text  # no item, response or key is printed
    # the same file as the staff download (the receipt was issued by the first one)
    staff = await client.get(f"/api/v1/reports/attempts/{mine}/scorecard.pdf", headers=cohort.admin)
    assert staff.content == card.content

    # another candidate's attempt, with my code: not found, whoever's it is
    other = await client.post(url, json={"access_code": code, "attempt_id": theirs})
    assert (other.status_code, problem(other)) == (404, "attempt-not-found")
    unknown = await client.post(url, json={"access_code": "NOPE-NOPE", "attempt_id": mine})
    assert (unknown.status_code, problem(unknown)) == (404, "access-code-invalid")
    bad = await client.post(url, json={"access_code": code, "attempt_id": mine, "preview": True})
    assert bad.status_code == 422


async def test_verification_is_rate_limited_per_client(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    statuses = [
        (await client.get(f"/api/v1/reports/verify/ABCD-EFGH-JKMN-{n:04d}")).status_code
        for n in range(60)
    ]
    assert set(statuses) == {404}
    limited = await client.get("/api/v1/reports/verify/ABCD-EFGH-JKMN-PQRS")
    assert (limited.status_code, problem(limited)) == (429, "verify-rate-limited")
    assert int(limited.headers["retry-after"]) > 0


def _from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 4321))
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


@pytest.mark.sqlite_too
async def test_candidate_scorecards_are_limited_per_address_and_per_code(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    answers = [{"Q1": "B", "Q2": "B", "Q3": "A"}, {"Q1": "A", "Q2": "B", "Q3": "A"}]
    cohort = await released_cohort(app, client, make, answers=answers)
    (mine, theirs), (my_code, their_code) = cohort.attempts, cohort.exam.codes
    url = "/api/v1/reports/candidate/scorecard.pdf"
    app.state.settings.access_code_max_failures_per_client = 2
    app.state.settings.candidate_scorecards_per_hour = 2

    async with _from(app, "203.0.113.9") as guesser, _from(app, "198.51.100.30") as home:
        # unknown codes count against the address (the same counter as the lookup's)
        for n in range(2):
            guess = {"access_code": f"ZZZZ-ZZZZ-ZZZZ-{n:04d}", "attempt_id": mine}
            refused = await guesser.post(url, json=guess)
            assert (refused.status_code, problem(refused)) == (404, "access-code-invalid")
        limited = await guesser.post(url, json={"access_code": my_code, "attempt_id": mine})
        assert (limited.status_code, problem(limited)) == (429, "access-code-rate-limited")
        assert int(limited.headers["retry-after"]) > 0
        looked = await guesser.post("/api/v1/attempts/lookup", json={"access_code": my_code})
        assert (looked.status_code, problem(looked)) == (429, "access-code-rate-limited")

        # the candidate at home is not affected, up to the code's downloads in the hour
        body = {"access_code": my_code, "attempt_id": mine}
        first, second = [await home.post(url, json=body) for _ in range(2)]
        assert first.status_code == second.status_code == 200, first.text
        assert first.content == second.content
        third = await home.post(url, json=body)
        assert (third.status_code, problem(third)) == (429, "scorecard-rate-limited")
        assert 3000 < int(third.headers["retry-after"]) <= 3600
        assert third.json()["title"] == "Too many scorecard downloads"
        # another candidate's code, from the same address, still gets theirs
        other = await home.post(url, json={"access_code": their_code, "attempt_id": theirs})
        assert other.status_code == 200, other.text
        assert other.headers["content-type"] == "application/pdf"
