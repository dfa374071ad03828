"""``waa-ads report ...`` on a database of its own: a scorecard written and verified (exit
0), a tampered one (exit 1, naming the figure), a file that is no scorecard (exit 2), the
cohort report as HTML, bulk scorecards with their ZIP."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pypdf import PdfReader, PdfWriter
from typer.testing import CliRunner

from tests.reporting.conftest import released_cohort
from tests.support.cli import without_logs
from tests.support.factories import Factory
from tests.support.settings import TEST_SECRET
from waa_ads.core.db import Database

pytestmark = pytest.mark.asyncio


async def test_report_commands(
    live_app: FastAPI,
    live_client: httpx.AsyncClient,
    live_make: Factory,
    fresh_database: Database,
    tmp_path: Path,
) -> None:
    from waa_ads.cli import app as cli

    cohort = await released_cohort(live_app, live_client, live_make)
    env = {
        "WAA_DATABASE_URL": fresh_database.url,
        "WAA_DATA_DIR": str(tmp_path),
        "WAA_SECRET_KEY": TEST_SECRET,
        "WAA_BROKER_URL": "",
    }
    runner = CliRunner()

    async def run(*args: str) -> tuple[int, str]:
        result = await asyncio.to_thread(runner.invoke, cli, ["report", *args], env=env)
        return result.exit_code, without_logs(result.output)

    card = tmp_path / "card.pdf"
    code, out = await run("scorecard", "--attempt", cohort.attempts[1], "--out", str(card))
    assert code == 0, out
    assert "verification code" in out
    code, out = await run("verify", str(card))
    assert (code, out.split(":")[0]) == (0, "verified"), out

    reader = PdfReader(io.BytesIO(card.read_bytes()))
    body = json.loads(reader.attachments["receipt.json"][0])
    for figure in body["figures"]:
        if figure["name"] == "raw":
            figure["value"] = "3 / 3"
    writer = PdfWriter(clone_from=reader)
    writer._root_object.pop("/Names", None)
    writer.add_attachment("receipt.json", json.dumps(body).encode())
    forged = tmp_path / "forged.pdf"
    with forged.open("wb") as handle:
        writer.write(handle)
    code, out = await run("verify", str(forged))
    assert code == 1, out
    assert "Raw score reads '3 / 3'; the released value is '2 / 3'" in " ".join(out.split())

    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.4\nnot really\n")
    code, out = await run("verify", str(junk))
    assert code == 2
    assert "error:" in out
    assert "Traceback" not in out
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(b"hello")
    code, out = await run("verify", str(plain))
    assert (code, "not a PDF" in out) == (2, True)

    page = tmp_path / "cohort.html"
    code, out = await run(
        "cohort", "--administration", cohort.administration_id, "--out", str(page)
    )
    assert code == 0, out
    assert "Cohort report" in page.read_text()

    archive = tmp_path / "all.zip"
    code, out = await run(
        "scorecards", "--administration", cohort.administration_id, "--out", str(archive)
    )
    assert code == 0, out
    assert "done: 6 scorecards, 0 skipped" in out
    with zipfile.ZipFile(archive) as z:
        names = sorted(z.namelist())
        assert len(names) == 6
        # The scorecard written in bulk is the one written alone: same bytes.
        assert z.read(f"scorecard-{cohort.attempts[1]}.pdf") == card.read_bytes()
