"""The candidate's player in a real browser (Debian's Chromium driven by Playwright).

One server (uvicorn in a subprocess, SQLite in a temporary directory, the demo loaded) serves
every test; each test takes the demo assessment as a different demo candidate. Screenshots
of each page go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import check_axe, shot
from tests.support.player_browser import demo_principal, publish_and_open
from tests.support.services import require_chromium
from tests.support.settings import make_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GRACE_S = 1


@dataclass
class Server:
    url: str
    data_dir: Path
    codes: list[str]
    named: dict[str, str]

    def code(self, n: int) -> str:
        return self.codes[n]

    def code_of(self, name: str) -> str:
        """The access code of a candidate added for one test (see ``EXTRA``)."""
        return self.named[name]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
    env.update(
        {
            "WAA_ENV": "test",
            "WAA_DATA_DIR": str(data_dir),
            # The demo was loaded with the test settings; access codes depend on the secret.
            "WAA_SECRET_KEY": make_settings().secret_key,
            "WAA_SAVE_GRACE_S": str(GRACE_S),
            "WAA_EXPIRY_SWEEP_INTERVAL_S": "1",
            "WAA_LOG_LEVEL": "WARNING",
        }
    )
    return env


# Candidates added for single tests: name -> (external id, assessment): "demo", "short" (the
# three-item quiz, no breaks) or "breaks" (the same quiz allowing two breaks).
EXTRA = {
    "Pia Point": ("extra-point", "demo"),
    "Dan Drag": ("extra-drag", "demo"),
    "Bea Break": ("extra-break", "breaks"),
    "Hal Header": ("extra-header", "demo"),
    "Ed Exhausted": ("extra-exhausted", "short"),
    "Wes Welcome": ("extra-welcome", "short"),
    "Dev Device": ("extra-device", "demo"),
    "Gil Graphic": ("extra-graphic", "demo"),
    "Cleo Clone": ("extra-clone", "demo"),
}

# The break policy of the "breaks" quiz.
BREAK_POLICY = {"allowed": True, "count_against_time": False, "max_breaks": 2, "max_break_s": 600}


def _load_demo(data_dir: Path) -> tuple[list[str], dict[str, str]]:
    from waa_ads.auth.service import build_auth
    from waa_ads.core import migrate
    from waa_ads.core.db import database_from_settings
    from waa_ads.core.storage import blob_store_from_settings
    from waa_ads.demo.loader import load_demo

    settings = make_settings(data_dir=data_dir)
    migrate.upgrade(settings.resolved_database_url)

    async def go() -> tuple[list[str], dict[str, str]]:
        db = database_from_settings(settings)
        blobs = blob_store_from_settings(settings)
        try:
            result = await load_demo(db, blobs, build_auth(settings, db, None))
            assert result.administration
            short, short_administration = await _short_assessment(db, settings)
            _, breaks_administration = await _short_assessment(
                db, settings, slug="short-breaks", breaks=BREAK_POLICY, external_id="short-2"
            )
            administrations = {
                "demo": result.administration,
                "short": short_administration,
                "breaks": breaks_administration,
            }
            named = {
                name: await _add_candidate(db, settings, administrations[which], name, external_id)
                for name, (external_id, which) in EXTRA.items()
            }
            named["Ada Adaptive"] = await _adaptive_assessment(db, settings)
        finally:
            await blobs.aclose()
            await db.dispose()
        return [code for _, code in result.candidates] + [short], named

    return asyncio.run(go())


async def _add_candidate(
    db: Any, settings: Any, administration_id: Any, full_name: str, external_id: str
) -> str:
    """A new candidate on the roster of an administration of the demo organization; the code."""
    import uuid

    from sqlalchemy import select

    from waa_ads.assessments import schemas as a_schemas
    from waa_ads.assessments import service as a_service
    from waa_ads.audit.service import Actor
    from waa_ads.auth import schemas as auth_schemas
    from waa_ads.auth import service as auth_service
    from waa_ads.auth.deps import Principal
    from waa_ads.auth.models import Organization

    async with db.transaction() as session:
        org = (
            await session.execute(select(Organization).where(Organization.slug == "demo"))
        ).scalar_one()
        candidate = await auth_service.create_candidate(
            session,
            org.id,
            auth_schemas.CandidateCreate(full_name=full_name, external_id=external_id),
            actor=Actor("system", "test"),
        )
        (issued,) = await a_service.add_to_roster(
            session,
            settings,
            Principal.system(org.id, via="test"),
            uuid.UUID(str(administration_id)),
            [a_schemas.RosterAdd(candidate_id=candidate.id)],
        )
        assert issued.code
        return str(issued.code)


SHORT_ITEMS = [
    "sample-choice-synonym-rapid",
    "sample-inline-grammar-goes",
    "sample-tf-sound-vacuum",
]


async def _short_assessment(
    db: Any,
    settings: Any,
    *,
    slug: str = "short-quiz",
    breaks: dict[str, Any] | None = None,
    external_id: str = "short-1",
    integrity_policy: str | None = None,
) -> tuple[str, Any]:
    """A published three-item assessment with only automatically scored items (so its
    result is released at once), an open administration and one candidate; the code and
    the administration's id. ``breaks``: its break policy (none by default);
    ``integrity_policy``: the name of a saved integrity policy it names."""
    from sqlalchemy import select

    from waa_ads.assessments import schemas as a_schemas
    from waa_ads.assessments import service as a_service
    from waa_ads.audit.service import Actor
    from waa_ads.auth import schemas as auth_schemas
    from waa_ads.auth import service as auth_service
    from waa_ads.content.models import Item

    async with db.transaction() as session:
        principal = await demo_principal(session)
        items = {
            i.identifier: i
            for i in (
                await session.execute(select(Item).where(Item.identifier.in_(SHORT_ITEMS)))
            ).scalars()
        }
        administration_id = await publish_and_open(
            session,
            principal,
            {
                "title": "Short quiz",
                "description": "Answer each question as well as you can.\n\n"
                "Read every question to the end before you answer.",
                **({"breaks": breaks} if breaks else {}),
                **({"integrity_policy": integrity_policy} if integrity_policy else {}),
                "sections": [
                    {
                        "identifier": "s",
                        "title": "Quiz",
                        "items": [{"item_id": str(items[i].id)} for i in SHORT_ITEMS],
                    }
                ],
                "time_limit_s": 600,
                "scoring": {"release": "immediately"},
            },
            slug=slug,
            title="Short quiz",
        )
        candidate = await auth_service.create_candidate(
            session,
            principal.organization_id,
            auth_schemas.CandidateCreate(full_name="Fay Short", external_id=external_id),
            actor=Actor("system", "test"),
        )
        (issued,) = await a_service.add_to_roster(
            session,
            settings,
            principal,
            administration_id,
            [a_schemas.RosterAdd(candidate_id=candidate.id)],
        )
        assert issued.code
        return issued.code, administration_id


ADAPTIVE_ITEMS = [
    "sample-choice-largest-planet",
    "sample-choice-percent-of",
    "sample-tf-odd-sum",
    "sample-tf-sound-vacuum",
]


async def _adaptive_assessment(db: Any, settings: Any) -> str:
    """A published adaptive test of 2 to 3 items from four choice items given 2PL
    parameters (as a calibration stores them), open now, with one candidate; the code."""
    from sqlalchemy import select, update

    from waa_ads.content.models import Item, ItemVersion

    async with db.transaction() as session:
        principal = await demo_principal(session)
        items = list(
            (await session.execute(select(Item).where(Item.identifier.in_(ADAPTIVE_ITEMS))))
            .scalars()
            .all()
        )
        for k, item in enumerate(sorted(items, key=lambda i: i.identifier)):
            await session.execute(
                update(ItemVersion)
                .where(ItemVersion.item_id == item.id)
                .values(irt={"model": "2pl", "a": 1.0 + 0.2 * k, "d": 1.0 - 0.6 * k})
            )
        administration_id = await publish_and_open(
            session,
            principal,
            {
                "title": "Adaptive quiz",
                "navigation": "linear",
                "allow_review": False,
                "sections": [
                    {
                        "identifier": "cat",
                        "title": "Adaptive",
                        "items": [{"item_id": str(i.id)} for i in items],
                        "adaptive": {
                            "se_target": None,
                            "min_items": 2,
                            "max_items": 3,
                            "scale": {"slope": 100, "intercept": 500},
                        },
                    }
                ],
                "time_limit_s": 600,
                "scoring": {"release": "immediately"},
            },
            slug="adaptive",
            title="Adaptive quiz",
        )
    return await _add_candidate(db, settings, administration_id, "Ada Adaptive", "extra-cat")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_chromium()
    data_dir = tmp_path_factory.mktemp("player")
    codes, named = _load_demo(data_dir)
    port = _free_port()
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "waa_ads.main:app_from_env",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=_env(data_dir), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((data_dir / "server.log").read_text())
            time.sleep(0.2)
        yield Server(url, data_dir, codes, named)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


# ``browser`` and ``page``: the fixtures of tests/web/conftest.py.


# --- helpers ------------------------------------------------------------------------------


def enter_code(page: Any, server: Server, code: str) -> None:
    """Open the player and enter an access code: the welcome page (nothing started)."""
    from playwright.sync_api import expect

    page.goto(f"{server.url}/take")
    expect(page.locator("#system-check li")).to_have_count(4)
    page.get_by_label("Access code").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#welcome-heading")).to_be_focused()


def sign_in(page: Any, server: Server, code: str, *, questions: int = 52, at: int = 1) -> None:
    """Enter the code and start (or resume) the test; question ``at`` opens."""
    from playwright.sync_api import expect

    enter_code(page, server, code)
    page.locator("#welcome-start").click()
    expect(page.locator("#item-heading")).to_have_text(f"Question {at} of {questions}")


def go(page: Any, position: int, questions: int = 52) -> Any:
    """Open question ``position`` from the question list; the item form."""
    from playwright.sync_api import expect

    page.locator("#question-list li").nth(position - 1).get_by_role("button").click()
    expect(page.locator("#item-heading")).to_have_text(f"Question {position} of {questions}")
    return page.locator("#item-form")


def eventually(read: Any, expected: Any, timeout: float = 5.0) -> None:
    """``read()`` comes to equal ``expected`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (value := read()) != expected:
        assert time.monotonic() < deadline, f"{value!r} != {expected!r}"
        time.sleep(0.1)


def lookup(server: Server, code: str) -> dict[str, Any]:
    """What the code opens, as the server says (starts nothing)."""
    response = httpx.post(f"{server.url}/api/v1/attempts/lookup", json={"access_code": code})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def wait_saved(page: Any) -> None:
    from playwright.sync_api import expect

    page.locator("#item-heading").focus()  # moving focus commits text being typed
    expect(page.locator("#save-state")).to_have_text("Saved")


def session(page: Any) -> dict[str, str]:
    raw = page.evaluate("sessionStorage.getItem('waa-player:session')")
    assert raw
    data: dict[str, str] = json.loads(raw)
    return data


def stored(server: Server, page: Any) -> dict[str, Any]:
    """The attempt as the server has it (through the candidate API)."""
    s = session(page)
    response = httpx.get(
        f"{server.url}/api/v1/attempts/{s['attemptId']}",
        headers={"X-Attempt-Token": s["credential"]},
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def responses(server: Server, page: Any) -> dict[int, Any]:
    return {
        i["position"]: i["response"]["value"]
        for i in stored(server, page)["items"]
        if i["response"] is not None
    }


def click_picture(form: Any, across: float, down: float) -> None:
    """Click an item's picture at a share of its width and height."""
    picture = form.locator(".waa-graphic img")
    box = picture.bounding_box()
    assert box is not None
    picture.click(position={"x": box["width"] * across, "y": box["height"] * down})


def about(template: str, *percents: int) -> re.Pattern[str]:
    """``template`` with each ``{}`` one of ``percent - 1 .. percent + 1`` (a pointer lands
    on whole screen pixels, so a click is up to a pixel off)."""
    parts = [f"({'|'.join(str(p + d) for d in (-1, 0, 1))})" for p in percents]
    return re.compile("^" + re.escape(template).replace(r"\{\}", "{}").format(*parts) + "$")


def near(point: Any, expected: list[int], within: int = 2) -> bool:
    """Whether a saved point is within ``within`` pixels of the expected one (a pointer
    lands on whole screen pixels, which the picture may scale)."""
    return len(point) == 2 and all(
        abs(a - b) <= within for a, b in zip(point, expected, strict=True)
    )


def png_bytes() -> bytes:
    """A valid 2x2 PNG, written here."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


# --- the tests -----------------------------------------------------------------------------


def test_security_headers_on_player_pages(server: Server) -> None:
    for path in ("/", "/take", "/static/player/player.js", "/static/player/player.css"):
        response = httpx.get(server.url + path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "img-src 'self' data:" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert httpx.get(server.url + "/static/player/nothing.js").status_code == 404
    assert httpx.get(server.url + "/static/player/..%2Fplayer.css").status_code == 404
    html = httpx.get(server.url + "/take").text
    assert "<script>" not in html and "style=" not in html


def test_candidate_answers_every_type_and_submits(server: Server, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/take")
    expect(page.locator("#system-check li.ok")).to_have_count(4)
    shot(page, "01-access")
    check_axe(page, "access screen")
    page.get_by_label("Access code").fill("NOPE-NOPE-NOPE-NOPE")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#access-error")).to_contain_text("not valid")
    results_asked: list[str] = []
    page.on("request", lambda r: results_asked.append(r.url) if r.url.endswith("/result") else None)

    sign_in(page, server, server.code(0))
    expect(page.locator("#timer")).to_contain_text("Time left")
    check_axe(page, "test screen")

    form = go(page, 1)  # choice, single
    form.get_by_label("quick").check()
    form = go(page, 2)  # inline choice
    form.get_by_label("Blank 1").select_option("goes")
    form = go(page, 3)  # hot text, multiple
    form.get_by_label("tired").check()
    form.get_by_label("muddy").check()
    form = go(page, 5)  # associate
    form.get_by_label("Pair 1, item 1").select_option("expand")
    form.get_by_label("Pair 1, item 2").select_option("shrink")
    form.get_by_label("Pair 2, item 1").select_option("generous")
    form.get_by_label("Pair 2, item 2").select_option("selfish")
    check_axe(page, "associate item")
    form = go(page, 8)  # numeric entry
    form.locator("input[type=text]").fill("6")
    form = go(page, 12)  # order
    for choice, rank in (
        ("two-fifths", "1"),
        ("half", "2"),
        ("point65", "3"),
        ("three-quarters", "4"),
    ):
        form.locator(f"select[data-choice='{choice}']").select_option(rank)
    check_axe(page, "order item")
    form = go(page, 14)  # select point: a click on the picture places a marker
    click_picture(form, 0.75, 0.52)
    expect(form.get_by_role("slider", name="Point 1")).to_have_text(
        about("Point 1: {}% across, {}% down", 75, 52)
    )
    form = go(page, 15)  # select point, two points: the keyboard
    handle = form.get_by_role("slider", name="Point 1")
    handle.press("ArrowRight")  # placed in the middle first
    handle.press("Shift+ArrowRight")
    handle.press("Shift+ArrowUp")
    expect(handle).to_have_attribute("aria-valuetext", "60% across, 40% down")
    handle = form.get_by_role("slider", name="Point 2")
    handle.press("ArrowDown")
    for _ in range(3):
        handle.press("ArrowLeft")
    expect(handle).to_have_attribute("aria-valuetext", "47% across, 50% down")
    form = go(page, 16)  # hotspot: click inside area R
    picture = form.locator(".waa-graphic img")
    box = picture.bounding_box()
    assert box is not None
    picture.click(position={"x": box["width"] * 320 / 640, "y": box["height"] * 100 / 240})
    expect(form.get_by_label("R", exact=True)).to_be_checked()
    check_axe(page, "hotspot item")
    form = go(page, 17)  # slider
    form.locator("input[type=range]").fill("55")
    expect(form.locator("output")).to_have_text("55")
    form = go(page, 21)  # gap match
    form.get_by_label("Gap 1").select_option("earth")
    form.get_by_label("Gap 2").select_option("sun")
    form = go(page, 22)  # true/false, boolean
    form.get_by_label("False").check()
    form = go(page, 23)  # text entry
    form.locator("input[type=text]").fill("Na")
    form = go(page, 26)  # match
    form.get_by_role("checkbox", name="Salmon Fish").check()
    form.get_by_role("checkbox", name="Lizard Reptile").check()
    check_axe(page, "match item")
    form = go(page, 29)  # several responses in one item
    form.locator("#waa-sample-negative-body-facts-S1").get_by_label("True").check()
    form.locator("#waa-sample-negative-body-facts-S2").get_by_label("False").check()
    form = go(page, 40)  # extended text; what is typed stays text
    essay = "The axis is tilted <b>so</b> sunlight is more direct in summer."
    form.locator("textarea").fill(essay)
    form = go(page, 44)  # upload
    form.locator("input[type=file]").set_input_files(
        {"name": "working.png", "mimeType": "image/png", "buffer": png_bytes()}
    )
    expect(form.locator(".upload-state")).to_have_text("Uploaded: working.png")
    check_axe(page, "upload item")
    form = go(page, 7)
    page.get_by_label("Flag this question for review").check()
    wait_saved(page)
    shot(page, "02-test")

    saved = responses(server, page)
    assert saved[1] == "quick"
    assert saved[2] == "goes"
    assert sorted(saved[3]) == ["muddy", "tired"]
    assert sorted(saved[5]) == ["expand shrink", "generous selfish"]
    assert saved[8] == "6"
    assert saved[12] == ["two-fifths", "half", "point65", "three-quarters"]
    assert near(saved[14], [450, 62])
    assert saved[15] == [[192, 128], [151, 160]]  # 320 x 320 picture: 1% is 3.2 pixels
    assert saved[16] == "R"
    assert saved[17] == 55
    assert sorted(saved[21]) == ["earth g1", "sun g2"]
    assert saved[22] is False
    assert saved[23] == "Na"
    assert sorted(saved[26]) == ["lizard reptile", "salmon fish"]
    assert saved[29] == {"S1": True, "S2": False}
    assert saved[40] == essay
    assert saved[44]["name"] == "working.png" and saved[44]["size"] == len(png_bytes())
    flagged = {
        i["position"] for i in stored(server, page)["items"] if (i["response"] or {}).get("flagged")
    }
    assert flagged == {7}
    assert page.locator("#item-form b").count() == 0  # typed markup never became HTML

    page.get_by_role("button", name="Review answers").click()
    expect(page.locator("#review-summary")).to_have_text(
        "17 of 52 questions answered; 1 flagged for review."
    )
    shot(page, "03-review")
    check_axe(page, "review screen")
    page.locator("#review-submit").click()
    dialog = page.get_by_role("dialog", name="Submit the test?")
    expect(dialog).to_contain_text("You answered 17 of 52 questions and 1 is flagged")
    shot(page, "04-confirm")
    check_axe(page, "confirm dialog")
    dialog.get_by_role("button", name="Submit now").click()
    expect(page.locator("#done-message")).to_have_text("Your answers were submitted.")
    # Answered essays wait for a rater, so this result is not released yet.
    expect(page.locator("#result")).to_contain_text("Your result is not released yet")
    s = session(page)
    headers = {"X-Attempt-Token": s["credential"]}
    result = httpx.get(f"{server.url}/api/v1/attempts/{s['attemptId']}/result", headers=headers)
    attempt = httpx.get(f"{server.url}/api/v1/attempts/{s['attemptId']}", headers=headers).json()
    assert result.status_code == 404
    assert attempt["attempt"]["state"] == "scoring"
    shot(page, "05-result-later")
    check_axe(page, "result screen")
    page.get_by_role("button", name="Check for my result").click()
    expect(page.locator("#result")).to_contain_text("not released yet")
    # Every attempt of the code, with how it ended and "not released yet".
    page.get_by_role("button", name="See all your attempts").click()
    rows = page.locator("#welcome-attempt-rows tr")
    expect(rows.last).to_contain_text("Submitted")
    expect(rows.last).to_contain_text("Not released yet")
    expect(page.get_by_role("button", name="Check for my result")).to_be_visible()
    shot(page, "05b-welcome-result-pending")
    check_axe(page, "welcome page with a result pending")
    assert results_asked == []  # the result route (404 until released) is never polled


def test_offline_answers_are_kept_and_sent_when_back(server: Server, page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, server.code(1))
    go(page, 1).get_by_label("quick").check()
    wait_saved(page)

    page.context.set_offline(True)
    go(page, 2).get_by_label("Blank 1").select_option("gone")
    go(page, 23).locator("input[type=text]").fill("Na")
    go(page, 40).locator("textarea").fill("Written while offline.")
    go(page, 1).get_by_label("deep").check()
    page.locator("#item-heading").focus()
    expect(page.locator("#save-state")).to_have_text("Offline — 4 answers waiting")
    expect(page.locator("#offline-banner")).to_contain_text("4 answers are kept on this device")
    queued = json.loads(
        page.evaluate(f"localStorage.getItem('waa-player:queue:{session(page)['attemptId']}')")
    )
    assert [q["value"] for q in queued] == ["gone", "Na", "Written while offline.", "deep"]
    shot(page, "06-offline")
    check_axe(page, "offline banner")

    page.context.set_offline(False)
    expect(page.locator("#save-state")).to_have_text("Saved")
    expect(page.locator("#offline-banner")).to_be_hidden()
    saved = responses(server, page)
    assert saved == {1: "deep", 2: "gone", 23: "Na", 40: "Written while offline."}
    seqs = {
        i["position"]: i["response"]["seq"] for i in stored(server, page)["items"] if i["response"]
    }
    assert seqs[1] == 2  # two edits of question 1, in order


def test_another_tab_wins_and_new_edits_go_past_it(server: Server, page: Any) -> None:

    sign_in(page, server, server.code(1))  # the same candidate again: resumes the attempt
    s = session(page)
    ref = "sample-choice-synonym-rapid"
    other = httpx.put(
        f"{server.url}/api/v1/attempts/{s['attemptId']}/responses/{ref}",
        headers={"X-Attempt-Token": s["credential"]},
        json={"seq": 50, "value": "cold"},
    )
    assert other.json()["accepted"] is True
    go(page, 1).get_by_label("quiet").check()  # an older seq than the other tab's 50
    wait_saved(page)
    assert responses(server, page)[1] == "cold"
    go(page, 1).get_by_label("quick").check()
    wait_saved(page)
    items = {i["position"]: i["response"] for i in stored(server, page)["items"]}
    assert items[1]["value"] == "quick" and items[1]["seq"] == 51


def test_reload_resumes_where_it_was(server: Server, page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, server.code(2))
    go(page, 1).get_by_label("quick").check()
    go(page, 12).locator("select[data-choice='half']").select_option("1")
    go(page, 26).get_by_role("checkbox", name="Frog Amphibian").check()
    form = go(page, 23)
    form.locator("input[type=text]").fill("Na")
    wait_saved(page)

    page.reload()  # the question that was open opens again
    expect(page.locator("#item-heading")).to_have_text("Question 23 of 52")
    expect(page.locator("#item-form input[type=text]")).to_have_value("Na")
    assert stored(server, page)["current_position"] == 23
    expect(go(page, 1).get_by_label("quick")).to_be_checked()
    expect(go(page, 12).locator("select[data-choice='half']")).to_have_value("1")
    expect(go(page, 26).get_by_role("checkbox", name="Frog Amphibian")).to_be_checked()
    expect(page.locator("#question-list li").nth(0).get_by_role("button")).to_have_accessible_name(
        "Question 1, answered"
    )
    shot(page, "07-resumed")


def test_another_device_opens_the_same_question(server: Server, browser: Any, page: Any) -> None:
    """The question open is recorded as the candidate moves, so the same code on another
    device (another browser context: no shared storage) opens it, with the answers."""
    from playwright.sync_api import expect

    code = server.code_of("Dev Device")
    sign_in(page, server, code)
    # Recording the position is best-effort: a failed call disturbs nothing.
    positions = "**/api/v1/attempts/*/position"
    page.route(positions, lambda route: _problem(route, 503, "unavailable", "down"))
    go(page, 2).get_by_label("Blank 1").select_option("goes")
    wait_saved(page)
    page.wait_for_timeout(800)  # the position was sent (and refused) by now
    expect(page.locator("#item-error")).to_have_text("")
    assert stored(server, page)["current_position"] == 1
    page.route(positions, lambda route: route.abort())  # and without a network
    go(page, 3)
    page.wait_for_timeout(800)
    expect(page.locator("#item-error")).to_have_text("")
    page.unroute(positions)
    assert responses(server, page) == {2: "goes"}
    go(page, 8).locator("input[type=text]").fill("6")
    go(page, 31)
    wait_saved(page)
    eventually(lambda: stored(server, page)["current_position"], 31)

    other = browser.new_context(viewport={"width": 1024, "height": 800})
    try:
        device = other.new_page()
        enter_code(device, server, code)
        expect(device.locator("#welcome-start")).to_have_text("Resume the test")
        expect(device.locator("#welcome-start-note")).to_contain_text("in progress")
        shot(device, "07b-welcome-resume")
        check_axe(device, "welcome page to resume")
        device.locator("#welcome-start").click()
        expect(device.locator("#item-heading")).to_have_text("Question 31 of 52")
        expect(go(device, 8).locator("input[type=text]")).to_have_value("6")
        go(device, 12)
        # The move on the other device is recorded too: a reload here follows it.
        eventually(lambda: stored(server, page)["current_position"], 12)
    finally:
        other.close()
    page.reload()
    expect(page.locator("#item-heading")).to_have_text("Question 12 of 52")


def _move_deadline(server: Server, attempt_id: str, seconds: float) -> None:
    import uuid

    from sqlalchemy import update

    from waa_ads.core.db import database_from_settings, utcnow
    from waa_ads.delivery.models import Attempt

    settings = make_settings(data_dir=server.data_dir)

    async def go() -> None:
        db = database_from_settings(settings)
        try:
            async with db.transaction() as session:
                await session.execute(
                    update(Attempt)
                    .where(Attempt.id == uuid.UUID(attempt_id))
                    .values(deadline_at=utcnow() + timedelta(seconds=seconds))
                )
        finally:
            await db.dispose()

    # Playwright's sync API keeps an event loop running in this thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, go()).result()


def test_time_running_out_expires_and_scores(server: Server, page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, server.code(5), questions=3)  # the short quiz
    page.locator("#item-form").get_by_label("quick").check()
    wait_saved(page)
    s = session(page)
    _move_deadline(server, s["attemptId"], 3)
    page.reload()
    expect(page.locator("#timer")).to_have_text(re.compile(r"Time left 0:0[0-3]"))
    expect(page.locator("#timer")).to_have_class("timer low")
    expect(page.locator("#announcer")).to_have_text("1 minute left.")
    shot(page, "08-time-low")
    expect(page.locator("#done-message")).to_have_text(
        "Time is up. The answers you saved were submitted for you.", timeout=15_000
    )
    # Scored at once (every item is scored automatically) and released: the page shows it.
    expect(page.locator("#result")).to_contain_text("Score1 out of 3", timeout=15_000)
    shot(page, "09-expired-result")
    check_axe(page, "result screen")
    headers = {"X-Attempt-Token": s["credential"]}
    attempt = httpx.get(f"{server.url}/api/v1/attempts/{s['attemptId']}", headers=headers).json()
    assert attempt["attempt"]["state"] == "released"
    result = httpx.get(f"{server.url}/api/v1/attempts/{s['attemptId']}/result", headers=headers)
    assert result.json()["raw"] == 1


def test_a_code_opens_the_welcome_page_and_shows_results_when_it_comes_back(
    server: Server, browser: Any, page: Any
) -> None:
    """Entering a code starts nothing: the welcome page says who, what, how long, how many
    questions, the breaks and the attempts; "Start the test" starts the clock. Once the
    attempt ends, the finished screen and the code entered again later show its result."""
    from playwright.sync_api import expect

    code = server.code_of("Wes Welcome")  # the short quiz: released at once, one attempt
    enter_code(page, server, code)
    card = page.locator("#screen-welcome")
    expect(page.locator("#welcome-org")).to_have_text("Demo Academy")
    expect(page.locator("#welcome-heading")).to_have_text("Short quiz")
    expect(page.locator("#welcome-candidate")).to_have_text("Welcome, Wes Welcome.")
    expect(page.locator("#welcome-instructions p")).to_have_text(
        ["Answer each question as well as you can.",
         "Read every question to the end before you answer."]
    )  # fmt: skip
    facts = page.locator("#welcome-facts")
    for said in ("10 minutes.", "3 questions.", "any order", "review all your answers",
                 "This test has no breaks.", "You have used 0 of 1 attempt."):  # fmt: skip
        expect(facts).to_contain_text(said)
    expect(page.locator("#welcome-start-note")).to_have_text(
        "The clock starts when you press Start the test."
    )
    expect(page.locator("#welcome-attempts")).to_be_hidden()  # none yet
    expect(page.get_by_role("banner")).to_contain_text("Wes Welcome")
    expect(page.locator("#timer")).to_be_hidden()
    assert lookup(server, code)["attempts_used"] == 0  # nothing started
    shot(page, "21-welcome")
    check_axe(page, "welcome page")
    page.keyboard.press("Tab")  # from the heading, the keyboard reaches the start button
    expect(page.locator("#welcome-start")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#item-heading")).to_have_text("Question 1 of 3")
    assert lookup(server, code)["attempts_used"] == 1

    page.locator("#item-form").get_by_label("quick").check()
    wait_saved(page)
    page.get_by_role("button", name="Submit the test").click()
    page.get_by_role("dialog", name="Submit the test?").get_by_role(
        "button", name="Submit now"
    ).click()
    expect(page.locator("#result")).to_contain_text("Score1 out of 3", timeout=15_000)
    expect(page.get_by_role("button", name="Check for my result")).to_be_hidden()
    shot(page, "22-finished-with-result")

    # Coming back later, on another device: the code shows the attempt and its result,
    # and no button, since the one attempt allowed is used.
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        later = other.new_page()
        enter_code(later, server, code)
        row = later.locator("#welcome-attempt-rows tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Attempt 1")
        expect(row).to_contain_text("Submitted")
        expect(row).to_contain_text("1 out of 3")
        expect(later.locator("#welcome-start")).to_be_hidden()
        expect(later.locator("#welcome-blocked")).to_contain_text("as many times as allowed")
        expect(later.get_by_role("button", name="Check for my result")).to_be_hidden()
        shot(later, "23-welcome-with-result")
        check_axe(later, "welcome page with a result")
        later.set_viewport_size({"width": 390, "height": 844})
        assert later.evaluate("document.documentElement.scrollWidth") <= 390
        shot(later, "24-phone-welcome")
        check_axe(later, "welcome page at a phone's width")
    finally:
        other.close()
    expect(card).to_be_hidden()


def test_expired_credential_returns_to_sign_in_and_keeps_the_queue(
    server: Server, page: Any
) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, server.code(4))
    attempt_id = session(page)["attemptId"]
    # The server stops accepting the credential (as it does for a wrong or revoked one).
    page.route(
        "**/api/v1/attempts/*/responses/*",
        lambda route: route.fulfill(
            status=404,
            content_type="application/problem+json",
            body=json.dumps({"title": "Not found", "status": 404, "detail": "no such attempt"}),
        ),
    )
    go(page, 2).get_by_label("Blank 1").select_option("goes")
    expect(page.locator("#access-error")).to_contain_text("enter your access code again")
    expect(page.locator("#save-state")).to_be_hidden()  # nothing is saved until sign-in
    assert page.evaluate("sessionStorage.getItem('waa-player:session')") is None
    queue = json.loads(page.evaluate(f"localStorage.getItem('waa-player:queue:{attempt_id}')"))
    assert [q["value"] for q in queue] == ["goes"]
    shot(page, "10-signin-again")
    page.unroute("**/api/v1/attempts/*/responses/*")
    page.get_by_label("Access code").fill(server.code(4))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Resume the test").click()
    expect(page.locator("#save-state")).to_have_text("Saved")
    assert responses(server, page) == {2: "goes"}


def _problem(route: Any, status: int, code: str, detail: str) -> None:
    from waa_ads.core.errors import PROBLEM_TYPE_BASE

    route.fulfill(
        status=status,
        content_type="application/problem+json",
        body=json.dumps(
            {"type": PROBLEM_TYPE_BASE + code, "title": code, "status": status, "detail": detail}
        ),
    )


def test_refused_saves_are_told_apart_by_their_code(server: Server, page: Any) -> None:
    """A paused attempt keeps the save queued and locks the item; a closed item drops the
    save and says why. The player reads the problem's code, never its sentence."""
    from playwright.sync_api import expect

    sign_in(page, server, server.code(3))
    attempt_id = session(page)["attemptId"]
    queue_key = f"waa-player:queue:{attempt_id}"
    saves = "**/api/v1/attempts/*/responses/*"

    def paused_view(route: Any) -> None:
        body = route.fetch().json()
        body["attempt"].update(state="paused", paused=True)
        route.fulfill(json=body)

    page.route(saves, lambda route: _problem(route, 409, "attempt-paused", "any sentence"))
    page.route(lambda url: url.endswith(f"/api/v1/attempts/{attempt_id}"), paused_view)
    go(page, 2).get_by_label("Blank 1").select_option("goes")
    expect(page.locator("#item-error")).to_have_text(
        "The test is paused. The clock is stopped; please wait."
    )
    assert page.locator("#item-form").evaluate("form => form.inert") is True
    queued = json.loads(page.evaluate(f"localStorage.getItem('{queue_key}')"))
    assert [q["value"] for q in queued] == ["goes"]

    page.unroute_all()
    page.evaluate("window.dispatchEvent(new Event('online'))")  # re-reads the attempt
    expect(page.locator("#save-state")).to_have_text("Saved")
    expect(page.locator("#item-error")).to_have_text("")
    assert page.locator("#item-form").evaluate("form => form.inert") is False
    assert responses(server, page) == {2: "goes"}

    page.route(saves, lambda route: _problem(route, 409, "item-closed", "a sentence for people"))
    go(page, 1).get_by_label("quick").check()
    expect(page.locator("#item-error")).to_have_text(
        "This question is closed, so this change was not saved. "
        "Only the current question can be answered."
    )
    expect(page.locator("body")).not_to_contain_text("a sentence for people")
    expect(page.locator("#save-state")).to_have_text("Saved")
    assert json.loads(page.evaluate(f"localStorage.getItem('{queue_key}')")) == []
    assert responses(server, page) == {2: "goes"}


def test_an_address_refused_for_guessing_codes_is_told_to_wait(server: Server, page: Any) -> None:
    """The server's answer to an address that tried too many unknown codes (429
    ``access-code-rate-limited``) reads as a sentence for the candidate, not the generic one."""
    from playwright.sync_api import expect

    page.route(
        "**/api/v1/attempts/lookup",
        lambda route: _problem(route, 429, "access-code-rate-limited", "a sentence for people"),
    )
    page.goto(f"{server.url}/take")
    page.get_by_label("Access code").fill(server.code(4))
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#access-error")).to_have_text(
        "Too many access codes that are not valid were tried from this network. "
        "Please wait a few minutes, check your code and try again."
    )
    expect(page.locator("body")).not_to_contain_text("a sentence for people")


# --- answering with the pointer and the keyboard -------------------------------------------


def test_select_point_draws_markers_and_says_where_in_words(server: Server, page: Any) -> None:
    """A click places a numbered marker where it landed and says so in words; a marker is
    dragged to move its point; the arrow keys place and move a point, Delete removes it.
    No pixel numbers are shown: the hidden fields hold them for the response."""
    from playwright.sync_api import expect

    sign_in(page, server, server.code_of("Pia Point"))
    form = go(page, 15)  # two points on a 320 x 320 grid
    expect(form.locator(".waa-point-mark")).to_have_count(2)
    expect(form.locator(".waa-point-mark:visible")).to_have_count(0)
    click_picture(form, 0.25, 0.75)
    marker = form.locator(".waa-point-mark").nth(0)
    expect(marker).to_be_visible()
    picture = form.locator(".waa-graphic img").bounding_box()
    box = marker.bounding_box()
    assert picture is not None and box is not None
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert abs(centre[0] - (picture["x"] + picture["width"] * 0.25)) <= 2
    assert abs(centre[1] - (picture["y"] + picture["height"] * 0.75)) <= 2
    expect(form.get_by_role("status")).to_have_text(
        about("Point 1 set at {}% across, {}% down.", 25, 75)
    )
    click_picture(form, 0.5, 0.5)  # the second point
    expect(form.locator(".waa-point-mark:visible")).to_have_count(2)
    expect(form.get_by_role("slider", name="Point 2")).to_have_attribute(
        "aria-valuetext", about("{}% across, {}% down", 50, 50)
    )
    wait_saved(page)
    saved = responses(server, page)[15]
    assert near(saved[0], [80, 240]) and near(saved[1], [160, 160])
    assert not re.search(r"\b(80|240|160)\b", form.inner_text())  # no pixels on screen
    shot(page, "11-select-point-markers")
    check_axe(page, "select point with markers")

    # Drag the first marker to 40% across, 20% down with the pointer.
    box = marker.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(picture["x"] + picture["width"] * 0.3, picture["y"] + picture["height"] * 0.5)
    page.mouse.move(picture["x"] + picture["width"] * 0.4, picture["y"] + picture["height"] * 0.2)
    page.mouse.up()
    expect(form.get_by_role("status")).to_have_text(
        about("Point 1 set at {}% across, {}% down.", 40, 20)
    )
    wait_saved(page)
    saved = responses(server, page)[15]
    assert near(saved[0], [128, 64]) and near(saved[1], [160, 160])

    # The keyboard: remove point 2, place it again and move it.
    handle = form.get_by_role("slider", name="Point 2")
    handle.focus()
    handle.press("Delete")
    expect(handle).to_have_text("Point 2: not placed")
    expect(form.locator(".waa-point-mark:visible")).to_have_count(1)
    handle.press("ArrowUp")  # the first arrow places it in the middle
    handle.press("Shift+ArrowLeft")
    handle.press("ArrowDown")
    expect(handle).to_have_attribute("aria-valuetext", "40% across, 51% down")
    expect(handle).to_have_text("Point 2: 40% across, 51% down")
    wait_saved(page)
    saved = responses(server, page)[15]
    assert near(saved[0], [128, 64]) and saved[1] == [128, 163]

    form.get_by_role("button", name="Remove point 1").click()
    expect(form.get_by_role("status")).to_have_text("Point 1 removed.")
    wait_saved(page)
    assert responses(server, page)[15] == [[128, 163]]

    page.reload()  # the markers come back where they were
    form = go(page, 15)
    expect(form.get_by_role("slider", name="Point 1")).to_have_text("Point 1: 40% across, 51% down")
    expect(form.locator(".waa-point-mark:visible")).to_have_count(1)


def _drag(page: Any, source: Any, target: Any, *, shot_as: str | None = None) -> None:
    """Press on ``source``, move over ``target`` in steps (as a hand does) and release."""
    start = source.bounding_box()
    end = target.bounding_box()
    assert start is not None and end is not None
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    if shot_as:
        shot(page, shot_as)
    page.mouse.up()


def test_gap_match_and_associate_take_drag_and_drop_and_the_keyboard(
    server: Server, page: Any
) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, server.code_of("Dan Drag"))
    form = go(page, 21)  # gap match: each word used at most once
    expect(form.locator(".waa-dnd-hint")).to_have_text(
        "Drag a word into a gap, or choose it from the gap's list."
    )
    earth = form.locator("li[data-choice=earth]")
    gap1, gap2 = form.get_by_label("Gap 1"), form.get_by_label("Gap 2")
    _drag(page, earth, gap2, shot_as="12-gap-match-dragging")
    expect(gap2).to_have_value("earth")
    expect(earth).to_have_class(re.compile(r"\bplaced\b"))
    _drag(page, earth, gap1)  # moved: a word used once leaves its other gap
    expect(gap1).to_have_value("earth")
    expect(gap2).to_have_value("")
    _drag(page, form.locator("li[data-choice=mars]"), gap2)
    expect(gap2).to_have_value("mars")
    gap2.focus()  # the keyboard way: the gap's own list
    gap2.select_option("sun")
    wait_saved(page)
    assert sorted(responses(server, page)[21]) == ["earth g1", "sun g2"]
    shot(page, "13-gap-match-placed")
    check_axe(page, "gap match after drag and drop")

    form = go(page, 5)  # associate: options dragged onto the sides of a pair
    _drag(page, form.locator("li[data-choice=expand]"), form.get_by_label("Pair 1, item 1"))
    _drag(page, form.locator("li[data-choice=shrink]"), form.get_by_label("Pair 1, item 2"))
    form.get_by_label("Pair 2, item 1").select_option("generous")
    form.get_by_label("Pair 2, item 2").select_option("selfish")
    wait_saved(page)
    assert sorted(responses(server, page)[5]) == ["expand shrink", "generous selfish"]
    # A press that does not move is no drag: nothing changes.
    form.locator("li[data-choice=modern]").click()
    expect(form.get_by_label("Pair 3, item 1")).to_have_value("")
    # Nowhere does a question ask to drag what cannot be dragged.
    for position in range(1, 53):
        form = go(page, position)
        if "drag" in form.inner_text().lower():
            assert form.locator(".waa-chip, .waa-point-mark, .waa-area-mark").count() > 0, position


def _at(box: Any, across: float, down: float) -> tuple[float, float]:
    """The page point at a share of an element's width and height."""
    return box["x"] + box["width"] * across, box["y"] + box["height"] * down


def _drag_to(page: Any, source: Any, point: tuple[float, float], *, shot_as: str = "") -> None:
    """Press on ``source``, move to ``point`` in steps and release."""
    start = source.bounding_box()
    assert start is not None
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(*point, steps=8)
    if shot_as:
        shot(page, shot_as)
    page.mouse.up()


def test_pictures_sound_and_passing_by_pointer_and_keyboard(server: Server, page: Any) -> None:
    """Graphic gap match, graphic order and graphic associate (on the picture with a pointer,
    and with each area's own list from the keyboard), a recording played within its limit,
    and a question passed with its end attempt button."""
    from playwright.sync_api import expect

    sign_in(page, server, server.code_of("Gil Graphic"))
    form = go(page, 46)  # graphic gap match: labels dragged onto a 360 x 400 picture
    picture = form.locator(".waa-area-stage img")
    flower = form.locator("li[data-choice=flower]")
    _drag_to(page, flower, _at(picture.bounding_box(), 180 / 360, 92 / 400), shot_as="20-labels")
    expect(form.get_by_label("Top of the plant")).to_have_value("flower")
    expect(flower).to_have_class(re.compile(r"\bplaced\b"))
    expect(form.locator(".waa-area-mark[data-area=top]")).to_have_text("flower")
    middle = form.get_by_label("Middle of the stem")
    _drag_to(page, form.locator("li[data-choice=leaf]"), _at(middle.bounding_box(), 0.5, 0.5))
    expect(middle).to_have_value("leaf")
    soil = form.get_by_label("In the soil")  # the keyboard: the area's own list
    soil.focus()
    soil.select_option("root")
    wait_saved(page)
    assert sorted(responses(server, page)[46]) == ["flower top", "leaf middle", "root bottom"]
    check_axe(page, "graphic gap match")

    form = go(page, 47)  # graphic order: clicks on a 520 x 340 picture give the next number
    picture = form.locator(".waa-area-stage img")
    for x, y in ((95, 100), (172, 168), (300, 240)):
        page.mouse.click(*_at(picture.bounding_box(), x / 520, y / 340))
    expect(form.locator("select[data-choice=meander]")).to_have_value("3")
    page.mouse.click(*_at(picture.bounding_box(), 300 / 520, 240 / 340))  # again: taken out
    expect(form.locator("select[data-choice=meander]")).to_have_value("")
    expect(form.locator(".waa-area-mark[data-area=waterfall]")).to_have_text("2")
    form.get_by_label("Meander").select_option("3")
    form.get_by_label("Estuary").select_option("4")
    wait_saved(page)
    assert responses(server, page)[47] == ["source", "waterfall", "meander", "estuary"]
    shot(page, "21-graphic-order")
    check_axe(page, "graphic order")

    form = go(page, 48)  # graphic associate: a drag joins two places, so do two clicks
    picture = form.locator(".waa-area-stage img")
    page.mouse.move(*_at(picture.bounding_box(), 80 / 480, 260 / 320))  # grass
    page.mouse.down()
    page.mouse.move(*_at(picture.bounding_box(), 80 / 480, 150 / 320), steps=8)  # rabbit
    page.mouse.up()
    expect(form.get_by_label("Pair 1, area 1")).to_have_value("grass")
    expect(form.get_by_label("Pair 1, area 2")).to_have_value("rabbit")
    page.mouse.click(*_at(picture.bounding_box(), 80 / 480, 45 / 320))  # fox
    page.mouse.click(*_at(picture.bounding_box(), 80 / 480, 150 / 320))  # rabbit
    expect(form.get_by_label("Pair 2, area 2")).to_have_value("rabbit")
    expect(form.locator(".waa-area-lines line")).to_have_count(2)
    form.get_by_label("Pair 3, area 1").select_option("mouse")  # the keyboard
    form.get_by_label("Pair 3, area 2").select_option("seeds")
    wait_saved(page)
    assert sorted(responses(server, page)[48]) == ["fox rabbit", "grass rabbit", "mouse seeds"]
    shot(page, "22-graphic-associate")
    check_axe(page, "graphic associate")

    form = go(page, 49)  # end attempt: pass the question from the keyboard
    form.get_by_label("The Congo").check()
    passing = form.get_by_role("button", name="Pass this question")
    passing.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#item-heading")).to_have_text("Question 50 of 52")  # moved on
    form = go(page, 49)
    expect(form.get_by_role("button", name="Pass this question")).to_have_attribute(
        "aria-pressed", "true"
    )
    # the question is over: its choices no longer take input
    expect(form.locator("fieldset[data-interaction-type=choice]")).to_have_js_property(
        "inert", True
    )
    assert responses(server, page)[49] == {"RESPONSE": "congo", "PASS": True}
    check_axe(page, "passed question")

    form = go(page, 50)  # media: a recording played twice at most
    play = form.get_by_role("button", name="Play")
    note = form.locator(".waa-media-plays")
    expect(note).to_have_text("Played 0 times of 2. 2 times left.")
    play.click()
    expect(note).to_have_text("Played 1 time of 2. 1 time left.")
    expect(form.locator("button.waa-media-play")).to_have_text("Play", timeout=10_000)
    form.locator("button.waa-media-play").click()
    expect(note).to_have_text("Played 2 times of 2. No plays left.")
    expect(form.locator("button.waa-media-play")).to_have_text("No plays left", timeout=10_000)
    expect(form.locator("button.waa-media-play")).to_be_disabled()
    form.get_by_label("3", exact=True).check()
    wait_saved(page)
    assert responses(server, page)[50] == {"PLAYS": 2, "RESPONSE": "three"}
    shot(page, "23-media")
    check_axe(page, "media")

    form = go(page, 51)  # drawing: a stroke with the mouse, one with the keyboard pen
    canvas = form.get_by_role("application")
    box = canvas.bounding_box()
    page.mouse.move(*_at(box, 0.6, 0.25))
    page.mouse.down()
    page.mouse.move(*_at(box, 0.8, 0.25), steps=6)
    page.mouse.move(*_at(box, 0.8, 0.5), steps=6)
    page.mouse.up()
    canvas.focus()
    canvas.press("Space")
    expect(form.locator(".waa-drawing-state")).to_have_text("Pen down at 50% across, 50% down.")
    for _ in range(3):
        canvas.press("ArrowRight")
    canvas.press("Shift+ArrowDown")
    expect(form.locator(".waa-drawing-state")).to_have_text("Pen down at 56% across, 60% down.")
    canvas.press("Space")
    form.get_by_role("button", name="Save drawing").click()
    expect(form.locator(".waa-drawing-state")).to_have_text("Your drawing is saved.")
    drawn = responses(server, page)[51]
    assert (drawn["name"], drawn["content_type"]) == ("drawing.png", "image/png")
    assert drawn["size"] > 1000
    shot(page, "24-drawing")
    check_axe(page, "drawing")

    form = go(page, 52)  # position object: the boat placed on the stage, then moved by keys
    stage = form.locator(".waa-point-stage img")
    page.mouse.click(*_at(stage.bounding_box(), 500 / 520, 300 / 340))
    handle = form.get_by_role("slider", name="Point 1")
    expect(handle).to_have_text(about("Point 1: {}% across, {}% down", 96, 88))
    handle.press("Shift+ArrowLeft")
    wait_saved(page)
    assert near(responses(server, page)[52], [448, 300])
    shot(page, "25-position-object")
    check_axe(page, "position object")


# --- what the candidate is told ------------------------------------------------------------


def test_refusals_are_told_in_the_candidates_words(server: Server, page: Any) -> None:
    """The server's sentences (``detail``) never reach the candidate: each known problem code
    has a sentence of its own, and anything else a general one with the request's reference."""
    from playwright.sync_api import expect

    code = server.code_of("Ed Exhausted")  # the short quiz: one attempt allowed
    sign_in(page, server, code, questions=3)
    expect(page.get_by_role("button", name="Take a break")).to_be_hidden()  # none allowed

    page.route(
        "**/api/v1/attempts/*/submit",
        lambda route: _problem(
            route, 409, "attempt-paused", "a paused attempt cannot be submitted; resume it first"
        ),
    )
    page.get_by_role("button", name="Submit the test").click()
    dialog = page.get_by_role("dialog", name="Submit the test?")
    dialog.get_by_role("button", name="Submit now").click()
    expect(dialog).to_contain_text(
        "The test is paused, so it cannot be submitted now. Please wait until it continues."
    )
    expect(dialog).not_to_contain_text("resume it first")
    page.unroute("**/api/v1/attempts/*/submit")
    dialog.get_by_role("button", name="Submit now").click()
    expect(page.locator("#done-message")).to_have_text("Your answers were submitted.")

    # The code again, once every attempt is used: no button, and why in the candidate's
    # words (the server's sentence, "all 1 attempts allowed have been used", never shows).
    page.evaluate("sessionStorage.clear()")
    enter_code(page, server, code)
    expect(page.locator("#welcome-blocked")).to_have_text(
        "You have already taken this test as many times as allowed, so a new attempt cannot "
        "be started. If you think this is wrong, contact the organizer of your test."
    )
    expect(page.locator("#welcome-start")).to_be_hidden()
    expect(page.locator("#welcome-facts")).to_contain_text("You have used 1 of 1 attempt.")
    expect(page.locator("body")).not_to_contain_text("attempts allowed have been used")
    shot(page, "14-attempts-used")
    check_axe(page, "welcome page with no attempt left")

    # A problem the player does not know: a general sentence and the reference for support.
    def failing(route: Any) -> None:
        route.fulfill(
            status=500,
            content_type="application/problem+json",
            headers={"X-Request-ID": "3f9c2e1d7a"},
            body=json.dumps({"type": "about:blank", "title": "Internal Server Error",
                             "status": 500, "detail": "KeyError: 'roster'"}),
        )  # fmt: skip

    page.route("**/api/v1/attempts/lookup", failing)
    page.get_by_role("button", name="Use another access code").click()
    page.get_by_label("Access code").fill(code)
    page.get_by_role("button", name="Continue").click()
    error = page.locator("#access-error")
    expect(error).to_have_text(
        "The test server had a problem and could not do this. Please try again in a moment. "
        "If it keeps happening, tell your test supervisor and give them this reference: "
        "3f9c2e1d7a."
    )
    expect(page.locator("body")).not_to_contain_text("KeyError")


# --- breaks --------------------------------------------------------------------------------


def _with(fields: dict[str, Any], attempt_id: str) -> Any:
    """A route handler that changes ``fields`` of the attempt's reply and passes everything
    else through."""

    def handle(route: Any) -> None:
        body = route.fetch().json()
        body.update(fields)
        route.fulfill(json=body)

    return (lambda url: url.endswith(f"/api/v1/attempts/{attempt_id}")), handle


def test_a_break_hides_the_questions_stops_the_clock_and_resumes(server: Server, page: Any) -> None:
    from playwright.sync_api import expect

    # The quiz allows two breaks of up to 10 minutes that stop the clock: the welcome page
    # says so before the start, and the attempt's reply offers the button.
    enter_code(page, server, server.code_of("Bea Break"))
    expect(page.locator("#welcome-facts")).to_contain_text(
        "You may take up to 2 breaks of up to 10 minutes each. The clock stops during a break."
    )
    page.locator("#welcome-start").click()
    expect(page.locator("#item-heading")).to_have_text("Question 1 of 3")
    assert stored(server, page)["breaks"] == {
        "allowed": True, "remaining": 2, "max_break_s": 600, "count_against_time": False
    }  # fmt: skip
    page.locator("#item-form").get_by_label("quick").check()
    page.get_by_role("button", name="Take a break").click()
    dialog = page.get_by_role("dialog", name="Take a break?")
    expect(dialog).to_contain_text(
        "You can take 2 more breaks. The clock stops during the break. A break may last up "
        "to 10 minutes."
    )
    shot(page, "15-break-confirm")
    check_axe(page, "break dialog")
    dialog.get_by_role("button", name="Start the break").click()

    expect(page.get_by_role("heading", name="You are on a break")).to_be_focused()
    expect(page.locator("#screen-test")).to_be_hidden()
    expect(page.locator("#timer")).to_have_class(re.compile(r"\bstopped\b"))
    attempt = stored(server, page)
    assert attempt["attempt"]["pause_kind"] == "break" and attempt["items"] == []
    assert responses_of(attempt) == {}  # paused: the server shows no items
    left = page.locator("#timer .timer-value").inner_text()
    page.wait_for_timeout(2100)
    expect(page.locator("#timer .timer-value")).to_have_text(left)  # the clock holds
    shot(page, "16-on-a-break")
    check_axe(page, "break screen")

    page.reload()  # still on the break, with no questions in the reply
    expect(page.get_by_role("heading", name="You are on a break")).to_be_visible()
    page.get_by_role("button", name="Resume the test").click()
    expect(page.locator("#item-heading")).to_be_focused()
    expect(page.locator("#item-form").get_by_label("quick")).to_be_checked()
    assert stored(server, page)["attempt"]["state"] == "in_progress"
    assert responses(server, page) == {1: "quick"}
    assert stored(server, page)["breaks"]["remaining"] == 1
    page.get_by_role("button", name="Take a break").click()
    expect(dialog).to_contain_text("You can take 1 more break.")
    dialog.get_by_role("button", name="Keep working").click()


def test_a_proctors_pause_waits_without_a_resume_button(server: Server, page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, server.code_of("Bea Break"), questions=3)
    s = session(page)
    paused = {"attempt": {**stored(server, page)["attempt"], "state": "paused", "paused": True,
                          "pause_kind": "proctor"}, "items": []}  # fmt: skip
    page.route(*_with(paused, s["attemptId"]))
    page.reload()
    expect(page.get_by_role("heading", name="Your test is paused")).to_be_visible()
    expect(page.locator("#pause-message")).to_contain_text("Your test supervisor has paused")
    expect(page.get_by_role("button", name="Resume the test")).to_be_hidden()
    shot(page, "17-paused-by-proctor")
    check_axe(page, "pause screen")
    page.unroute_all()  # the proctor resumes: the page notices on its own
    expect(page.locator("#item-heading")).to_have_text("Question 1 of 3", timeout=10_000)


# --- the page around the questions ---------------------------------------------------------


def test_header_names_the_organization_and_candidate_from_the_lookup(
    server: Server, page: Any
) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, server.code_of("Hal Header"))
    header = page.get_by_role("banner")
    expect(header).to_contain_text("Demo placement test")
    expect(page.locator("#candidate-name")).to_have_text("Candidate: Hal Header")
    expect(page.locator("#org-name")).to_have_text("Demo Academy")
    picture = go(page, 14).locator(".waa-graphic img").get_attribute("src")
    assert picture and picture.startswith("/api/v1/media/signed/")
    page.reload()  # the names are kept in this tab's session: the attempt's reply has none
    expect(page.locator("#candidate-name")).to_have_text("Candidate: Hal Header")
    expect(page.locator("#org-name")).to_have_text("Demo Academy")
    expect(page.locator("#org-logo")).to_have_count(0)  # the lookup names no logo yet

    # A logo, where the lookup names one (any same-origin picture will do).
    def with_logo(route: Any) -> None:
        body = route.fetch().json()
        body["organization_logo_url"] = picture
        route.fulfill(json=body)

    page.route("**/api/v1/attempts/lookup", with_logo)
    page.evaluate("sessionStorage.clear()")
    sign_in(page, server, server.code_of("Hal Header"), at=14)
    go(page, 1)
    expect(page.locator("#org-logo")).to_be_visible()
    assert page.locator("#org-logo").evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page).to_have_title("Test \u2013 Demo placement test")
    expect(page.locator("#progress-label")).to_have_text("0 of 52 answered")
    shot(page, "18-header-with-names")

    # A phone: one column, nothing wider than the screen, every control still reachable.
    page.set_viewport_size({"width": 390, "height": 844})
    form = go(page, 21)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    _drag(page, form.locator("li[data-choice=sun]"), form.get_by_label("Gap 2"))
    expect(form.get_by_label("Gap 2")).to_have_value("sun")
    shot(page, "19-phone-gap-match")
    check_axe(page, "phone width")
    go(page, 15)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "20-phone-select-point")


def responses_of(attempt: dict[str, Any]) -> dict[int, Any]:
    return {i["position"]: i["response"]["value"] for i in attempt["items"] if i["response"]}


def test_a_candidate_takes_a_short_adaptive_test(server: Server, page: Any) -> None:
    """Each next question is chosen by the server once the candidate moves on: the heading
    gives no total while more may come, there is no going back, and after the third question
    the test stops and is submitted with its scaled ability as the score."""
    from playwright.sync_api import expect

    sign_in_code = server.code_of("Ada Adaptive")
    enter_code(page, server, sign_in_code)
    page.locator("#welcome-start").click()
    seen = []
    for n in (1, 2, 3):
        expect(page.locator("#item-heading")).to_have_text(f"Question {n}")
        expect(page.get_by_role("button", name="Previous")).to_be_hidden()
        seen.append(page.locator("#item-form").inner_text())
        page.locator("#item-form").get_by_role("radio").first.check()
        wait_saved(page)
        if n == 1:
            shot(page, "60-adaptive-question")
            check_axe(page, "adaptive question")
        page.get_by_role("button", name="Next").click()
    expect(page.locator("#item-heading")).to_have_text("Question 3 of 3")
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    assert len(set(seen)) == 3  # three different questions
    page.get_by_role("button", name="Submit the test").click()
    page.get_by_role("dialog", name="Submit the test?").get_by_role(
        "button", name="Submit now"
    ).click()
    # one adaptive section: the score is its scaled ability estimate (100 theta + 500)
    expect(page.locator("#result")).to_contain_text("standard error", timeout=15_000)
    shot(page, "61-adaptive-finished")


def _drawn_values(server: Server, attempt_id: str, identifier: str) -> tuple[int, dict[str, Any]]:
    """The position of the demo item ``identifier`` on the attempt's form and the template
    values the attempt's seed draws for it, computed from the stored rows (not the page)."""
    import sqlite3
    import uuid

    from waa_ads.content.item import templates
    from waa_ads.content.item.definition import ItemDefinition
    from waa_ads.scoring import engine  # noqa: F401  (installs template processing)

    database = make_settings(data_dir=server.data_dir).resolved_database_url
    with sqlite3.connect(database.split("///", 1)[1]) as connection:
        key = uuid.UUID(attempt_id).hex
        seed, position, ref, definition = connection.execute(
            "SELECT a.seed, ai.position, ai.ref, v.definition FROM attempt a"
            " JOIN attempt_item ai ON ai.attempt_id = a.id"
            " JOIN item_version v ON v.id = ai.item_version_id"
            " WHERE a.id IN (?, ?) AND v.definition LIKE ?",
            (key, attempt_id, f'%"identifier": "{identifier}"%'),
        ).fetchone()
    item = ItemDefinition.from_dict(json.loads(definition))
    instance = templates.instance_for(item, int(seed), ref)
    return int(position), {d.identifier: d.default_value for d in instance.template_declarations}


def test_a_cloned_item_shows_the_candidate_their_own_numbers(server: Server, page: Any) -> None:
    """The demo's train question is a cloned item: the candidate reads the distance and the
    time their attempt drew (not the item's defaults, 150 km in 2 hours), answers with
    their own speed, and the page holds no key."""
    from playwright.sync_api import expect

    sign_in(page, server, server.code_of("Cleo Clone"))
    position, values = _drawn_values(
        server, session(page)["attemptId"], "sample-numeric-train-speed"
    )
    form = go(page, position)
    sentence = f"A train travels {values['DISTANCE']} km in {values['HOURS']} hours"
    expect(form).to_contain_text(sentence)
    shot(page, "cloned-item-own-numbers")
    check_axe(page, "cloned item")
    html = form.inner_html()
    assert "qti-printed-variable" not in html and "template" not in html.lower()
    form.locator("input[type=text]").fill(str(values["SPEED"]))
    wait_saved(page)
    assert responses(server, page)[position] == str(values["SPEED"])
    # A reload shows the same numbers.
    page.reload()
    form = go(page, position)
    expect(form).to_contain_text(sentence)
    expect(form.locator("input[type=text]")).to_have_value(str(values["SPEED"]))
