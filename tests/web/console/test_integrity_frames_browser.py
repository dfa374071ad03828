"""Webcam stills and the fairness report in the console, in a real browser: an attempt's
stills with their thumbnails and findings beside the flag that counted them, the stills in
the timeline, and the fairness report with its CSV download; axe on each page and
screenshots (console-integrity-frames-*.png)."""

from __future__ import annotations

import secrets
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from playwright.sync_api import expect

from tests.support.browser import check_axe, shot
from tests.support.live_exams import ok
from tests.web.console.conftest import Site
from tests.web.console.test_integrity_browser import _analysed, _exam
from tests.web.console.test_results_browser import api_as
from waa_ads.integrity import evalset

pytestmark = [pytest.mark.browser, pytest.mark.slow]

POLICY = """\
format: 1
camera: {frames: true, interval_s: 30}
rules:
  - id: others-present
    when: frame_several_faces_count >= 1
    severity: high
    reason: Another face in {frame_several_faces_count} stills
"""


def _jpeg(image: np.ndarray) -> bytes:
    done, data = cv2.imencode(".jpg", image)
    assert done
    return bytes(data.tobytes())


def test_stills_on_the_review_page_and_the_fairness_report(site: Site, admin_page: Any) -> None:
    page = admin_page
    api = api_as(site.one, site.admin)
    policy = f"camera-{secrets.token_hex(3)}"
    ok(api.put(f"/api/v1/integrity/policies/{policy}", json={"source": POLICY}))
    administration, codes = _exam(api, policy, ["Cam Person"])
    face = evalset.one_face()
    head = face[20:280, 180:440]
    two = np.full((480, 640, 3), 90, np.uint8)
    two[110:370, 30:290] = head
    two[110:370, 350:610] = head[:, ::-1]
    with httpx.Client(base_url=site.one, timeout=30) as player:
        started = ok(player.post("/api/v1/attempts", json={"access_code": codes[0]}))
        attempt_id = str(started["attempt"]["id"])
        headers = {"X-Attempt-Token": started["credential"]}
        ok(
            player.post(
                f"/api/v1/integrity/candidate/attempts/{attempt_id}/camera",
                json={"consent": "given"},
                headers=headers,
            )
        )
        for image in (face, two):
            ok(
                player.post(
                    f"/api/v1/integrity/candidate/attempts/{attempt_id}/frames",
                    content=_jpeg(image),
                    headers={**headers, "Content-Type": "image/jpeg"},
                )
            )
        ok(player.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers))
    for _ in range(400):
        listed = ok(api.get(f"/api/v1/integrity/attempts/{attempt_id}/frames"))
        if all(f["analysed_at"] for f in listed):
            break
    _analysed(api, attempt_id)
    api.close()

    page.goto(f"{site.one}/console/integrity/attempts/{attempt_id}")
    page.get_by_role("heading", level=1, name="Integrity review: Cam Person").wait_for()
    flag = page.locator(".integrity-flag").first
    expect(flag).to_contain_text("Another face in 1 stills")
    expect(flag.get_by_role("link", name="still 2")).to_be_visible()
    stills = page.locator(".integrity-frame")
    expect(stills).to_have_count(2)
    expect(stills.nth(1)).to_contain_text("2 faces; several faces")
    picture = page.get_by_role("img", name="Still 2: several faces")
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.complete && img.naturalWidth === 160")
    expect(page.locator(".integrity-timeline")).to_contain_text("Webcam still 1")
    check_axe(page, "integrity attempt with stills")
    shot(page, "console-integrity-frames-01-attempt")

    page.goto(f"{site.one}/console/integrity")
    page.get_by_role("link", name="Fairness report").click()
    page.get_by_role("heading", level=1, name="Fairness report").wait_for()
    page.get_by_label("Administration", exact=True).select_option(administration["id"])
    page.get_by_role("button", name="Show").click()
    groups = page.get_by_role("table", name="Analysed attempts per group")
    expect(groups).to_contain_text("no group")
    conditions = page.get_by_role("table", name="Error rates of the face analysis per condition")
    expect(conditions).to_contain_text("very dark")
    check_axe(page, "fairness report")
    shot(page, "console-integrity-frames-02-fairness")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV").click()
    text = open(download.value.path(), encoding="utf-8").read()  # noqa: SIM115
    assert text.startswith("section,name,count,accuracy")
    assert "condition,very_dark," in text
