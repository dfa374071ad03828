"""Cohort reports and exports of an administration: the same figures in JSON, HTML and PDF;
CSV and XLSX; another organization sees nothing."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.reporting import pdfua
from tests.reporting.conftest import released_cohort
from tests.support.factories import Factory, login
from tests.support.problems import problem
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


async def test_the_cohort_report_and_exports(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    cohort = await released_cohort(app, client, make)
    base = f"/api/v1/reports/administrations/{cohort.administration_id}"
    data = (await client.get(f"{base}/cohort", headers=cohort.admin)).json()
    # Raw 3, 2, 2, 1, 1, 0 -> scaled 500, 400, 400, 300, 300, 200; pass from 400.
    assert data["scaled_scores"] == [200.0, 300.0, 300.0, 400.0, 400.0, 500.0]
    assert (data["attempts"], data["scored"], data["released"]) == (6, 6, 6)
    assert (data["passed"], data["failed"], data["pass_rate"]) == (3, 3, 0.5)
    assert data["mean"] == pytest.approx(350.0)
    assert data["median"] == pytest.approx(350.0)
    assert [(b["band"], b["count"]) for b in data["bands"]] == [
        ("Below standard", 3),
        ("Standard", 3),
    ]
    assert sorted(i["item"] for i in data["items"]) == ["Q1", "Q2", "Q3"]
    facility = {i["item"]: i["facility"] for i in data["items"]}
    assert facility == pytest.approx({"Q1": 4 / 6, "Q2": 3 / 6, "Q3": 2 / 6})
    assert data["reliability"]["persons"] == 6
    # distractors from the stored responses: Q1's A was chosen by the totals 0 and one of
    # the two 1s, B by everyone else, C by nobody. Fifths of six persons are 1.2 each, the
    # tied ones shared out: group 1 = the 0 + 0.1 of each 1, group 2 = 0.6 of each 1,
    # group 3 = 0.3 of each 1 + 0.3 of each 2.
    q1 = {o["option"]: o for o in next(i for i in data["items"] if i["item"] == "Q1")["options"]}
    assert (q1["B"]["key"], q1["A"]["key"], q1["C"]["share"]) == (True, False, 0.0)
    assert q1["A"]["groups"] == pytest.approx([1.1 / 1.2, 0.5, 0.25, 0.0, 0.0])
    assert q1["A"]["upper"] == 0.0 and q1["A"]["lower"] > 0.5
    chart = await client.get(f"{base}/charts/distractors-Q1.png", headers=cohort.admin)
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    assert data["integrity"]["analysed"] >= 0

    html = await client.get(f"{base}/cohort.html", headers=cohort.admin)
    assert html.status_code == 200
    assert "<caption>Item statistics</caption>" in html.text
    assert "50%" in html.text  # the pass rate
    assert "<caption>Options of Q1</caption>" in html.text
    assert 'alt="Distractor plot of Q1: share of each score group' in html.text
    pdf = await client.get(f"{base}/cohort.pdf", headers=cohort.admin)
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Pass rate 50%" in " ".join(text.split())
    assert "Q3" in text
    flat = " ".join(text.split())
    assert "Distractors" in flat and "Item Q1" in flat and "G5" in flat
    tagged: Any = PdfReader(io.BytesIO(pdf.content)).root_object
    elements = tagged["/StructTreeRoot"]["/K"][0].get_object()["/K"]
    alts = [str(e.get_object().get("/Alt", "")) for e in elements]
    assert any(a.startswith("Distractor plot of Q1: share of each score group") for a in alts)
    assert pdfua.problems(pdf.content) == []

    # A reader whose language is French gets the same report in French.
    french = {**cohort.admin, "Accept-Language": "fr-FR,fr;q=0.9"}
    html = await client.get(f"{base}/cohort.html", headers=french)
    assert html.headers["content-language"] == "fr"
    assert '<html lang="fr" dir="ltr">' in html.text
    assert "<caption>Statistiques des items</caption>" in html.text
    assert "50\u00a0%" in html.text  # the pass rate, as French writes it
    assert 'alt="Graphique des distracteurs de Q1\u00a0: part de chaque groupe' in html.text
    pdf = await client.get(f"{base}/cohort.pdf", headers=french)
    assert pdf.headers["content-language"] == "fr"
    assert str(PdfReader(io.BytesIO(pdf.content)).root_object["/Lang"]) == "fr"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    flat = " ".join(text.split())
    assert "Taux de réussite 50 %" in flat and "Distracteurs" in flat and "Item Q1" in flat
    assert "Pass rate" not in flat

    rows = list(
        csv.reader(
            io.StringIO((await client.get(f"{base}/results.csv", headers=cohort.admin)).text)
        )
    )
    assert rows[0][:3] == ["attempt_id", "candidate_id", "external_id"]
    assert sorted(float(r[9]) for r in rows[1:]) == [200, 300, 300, 400, 400, 500]
    book = load_workbook(
        io.BytesIO((await client.get(f"{base}/items.xlsx", headers=cohort.admin)).content)
    )
    sheet = book.active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "item"
    assert sorted(str(v[0]) for v in values[1:]) == ["Q1", "Q2", "Q3"]
    # each choice item's key and the shares of its options, from the stored responses
    q1 = dict(zip(values[0], next(v for v in values[1:] if v[0] == "Q1"), strict=True))
    assert (q1["key"], q1["option_share"]) == ("B", "A=0.3333 B=0.6667 C=0")
    assert q1["option_upper"] == "A=0 B=1 C=0"

    bad = await client.get(f"{base}/cohort.docx", headers=cohort.admin)
    assert (bad.status_code, problem(bad)) == (422, "report-format-unsupported")

    other = await make.organization(slug="elsewhere")
    stranger = await login(client, await make.user(other, Role.admin))
    hidden = await client.get(f"{base}/cohort", headers=stranger)
    assert (hidden.status_code, problem(hidden)) == (404, "administration-not-found")
    card = await client.get(
        f"/api/v1/reports/attempts/{cohort.attempts[0]}/scorecard.pdf", headers=stranger
    )
    assert (card.status_code, problem(card)) == (404, "attempt-not-found")
