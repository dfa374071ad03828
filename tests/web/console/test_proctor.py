"""The proctor's live view, in process: what the page shows (read through the API), the
actions through the API's proctor routes (and their refusals next to the fields), who may
see it, and the live socket: its authorization (the API's own rule) and what it carries,
together with the candidate's socket, which hears of the proctor's changes."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.support.console import console_sign_in, field_errors, post_form
from tests.support.exams import begin, exam
from tests.support.factories import Account, Factory
from tests.support.settings import make_settings
from waa_ads.auth.models import Role
from waa_ads.main import create_app


def _row(html: str, attempt_id: str) -> str:
    found = re.search(rf'<tr id="attempt-{attempt_id}".*?</tr>', html, re.S)
    assert found, f"no row for {attempt_id}"
    return found.group(0)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@pytest.mark.asyncio
async def test_the_page_shows_each_attempt_and_acts_through_the_api(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, proctor=True)
    administration = ex.administration["id"]
    attempt_id, headers = await begin(client, ex.codes[0])
    moved = await client.put(
        f"/api/v1/attempts/{attempt_id}/position", json={"position": 2}, headers=headers
    )
    assert moved.status_code == 200
    sent = await client.post(
        f"/api/v1/attempts/{attempt_id}/events",
        json={"events": [{"kind": "focus_lost", "client_time": "t", "data": {}}]},
        headers=headers,
    )
    assert sent.status_code == 200
    csrf = await console_sign_in(client, ex.world.proctor)
    url = f"/console/administrations/{administration}/live"

    page = await client.get(url)
    assert page.status_code == 200, page.text
    row = _text(_row(page.text, attempt_id))
    assert "Cand 0 attempt 1" in row
    assert "in progress" in row
    assert "2 of 3" in row
    assert re.search(r"\b(29|30):\d\d\b", row), row  # the 30-minute limit, counting down
    assert "Cand 0, attempt 1: left the test window" in _text(page.text)
    assert f'data-live-url="{url}"' in page.text
    assert page.headers["cache-control"] == "no-store"

    # A refusal comes back next to its field, with what was typed.
    no_number = await post_form(
        client, f"{url}/attempts/{attempt_id}/extend", csrf, {"minutes": "ten", "reason": "fire"}
    )
    assert no_number.status_code == 422
    assert f"extend-minutes-{attempt_id}" in field_errors(no_number.text)
    assert 'value="fire"' in no_number.text
    no_reason = await post_form(
        client, f"{url}/attempts/{attempt_id}/terminate", csrf, {"reason": ""}
    )
    assert no_reason.status_code == 422
    assert f"terminate-reason-{attempt_id}" in field_errors(no_reason.text)

    paused = await post_form(
        client, f"{url}/attempts/{attempt_id}/pause", csrf, {"reason": "fire alarm"}
    )
    assert paused.status_code == 303
    assert paused.headers["location"] == f"{url}#attempt-{attempt_id}"
    view = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)).json()
    assert view["attempt"]["paused"] is True
    assert view["attempt"]["pause_kind"] == "proctor"
    page = await client.get(url)
    assert "Cand 0, attempt 1: paused." in page.text
    assert "Resume" in _row(page.text, attempt_id)

    before = view["remaining_s"]
    extended = await post_form(
        client, f"{url}/attempts/{attempt_id}/extend", csrf, {"minutes": "10", "reason": "alarm"}
    )
    assert extended.status_code == 303
    after = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)).json()
    assert after["remaining_s"] >= before + 600 - 2
    resumed = await post_form(
        client, f"{url}/attempts/{attempt_id}/resume", csrf, {"reason": "all clear"}
    )
    assert resumed.status_code == 303
    ended = await post_form(
        client, f"{url}/attempts/{attempt_id}/terminate", csrf, {"reason": "phone on the desk"}
    )
    assert ended.status_code == 303
    page = await client.get(url)
    row = _text(_row(page.text, attempt_id))
    assert "terminated" in row
    assert "terminated by a proctor: phone on the desk" in row
    assert "Actions" not in row

    fragment = await client.get(f"{url}/rows/{attempt_id}")
    assert fragment.status_code == 200
    assert fragment.text.strip().startswith(f'<tr id="attempt-{attempt_id}"')
    every = await client.get(f"{url}/rows")
    assert every.status_code == 200
    assert every.text.count("<tr ") == 1
    assert (await client.get(f"{url}/rows/{administration}")).status_code == 404


@pytest.mark.asyncio
async def test_only_its_proctors_and_admins_see_the_page(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, proctor=True)
    url = f"/console/administrations/{ex.administration['id']}/live"
    admin_csrf = await console_sign_in(client, ex.world.admin)
    assert admin_csrf
    assert (await client.get(url)).status_code == 200
    client.cookies.clear()
    for account in [
        await make.user(ex.world.org, Role.proctor),  # not assigned to it
        await make.user(ex.world.org, Role.author),
        await make.user(await make.organization(), Role.admin),  # another organization
    ]:
        await console_sign_in(client, account)
        refused = await client.get(url)
        assert refused.status_code == 404, refused.text
        assert "administration-not-found" in refused.text or "not found" in refused.text.lower()
        client.cookies.clear()


# --- the live sockets ---------------------------------------------------------------------------


def _sign_in(tc: TestClient, account: Account) -> None:
    reply = tc.post(
        "/console/login",
        data={"email": account.email, "password": account.password, "next": "/console"},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text


def _receive(ws: Any, event: str) -> dict[str, Any]:
    """The next message of ``event`` (others, such as saves, may come between)."""
    for _ in range(20):
        message: dict[str, Any] = ws.receive_json()
        if message.get("event") == event:
            return message
    raise AssertionError(f"no {event} message")


ORIGIN = {"origin": "https://testserver"}


def _staff_headers(tc: TestClient, origin: str = "https://testserver") -> dict[str, str]:
    """The handshake a console page makes: its cookies (the test client sends secure
    cookies to https only, and its sockets are ws://) and its origin."""
    cookies = "; ".join(f"{name}={value}" for name, value in tc.cookies.items())
    return {"origin": origin, **({"cookie": cookies} if cookies else {})}


@pytest.mark.asyncio
async def test_the_socket_carries_the_news_and_the_candidate_hears_the_proctor(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    ex = await exam(live_client, live_make, proctor=True)
    administration = ex.administration["id"]
    code = ex.codes[0]
    proctor = ex.world.proctor

    def watch() -> list[dict[str, Any]]:
        # Everything on one app and its loop (the test client's), as one process would.
        other = create_app(make_settings(database_url=live_app.state.db.url))
        seen: list[dict[str, Any]] = []
        with TestClient(other, base_url="https://testserver") as tc:
            _sign_in(tc, proctor)
            with tc.websocket_connect(
                f"/console/administrations/{administration}/live/ws", headers=_staff_headers(tc)
            ) as staff:
                assert staff.receive_json() == {"event": "hello"}
                started = tc.post("/api/v1/attempts", json={"access_code": code}).json()
                attempt_id = started["attempt"]["id"]
                token = started["credential"]
                headers = {"X-Attempt-Token": token}
                seen.append(_receive(staff, "started"))
                for seq in (1, 2):  # two saves in a row: one "saved" news (coalesced)
                    saved = tc.put(
                        f"/api/v1/attempts/{attempt_id}/responses/Q1",
                        json={"seq": seq, "value": "B"},
                        headers=headers,
                    )
                    assert saved.json()["accepted"] is True
                seen.append(_receive(staff, "saved"))
                tc.put(
                    f"/api/v1/attempts/{attempt_id}/position", json={"position": 3}, headers=headers
                )
                seen.append(staff.receive_json())  # the second save made no news
                tc.post(
                    f"/api/v1/attempts/{attempt_id}/events",
                    json={"events": [{"kind": "copy", "client_time": "t", "data": {}}]},
                    headers=headers,
                )
                seen.append(_receive(staff, "integrity"))
                with tc.websocket_connect(
                    f"/api/v1/attempts/{attempt_id}/ws?token={token}"
                ) as player:
                    player.send_json({"kind": "paste", "client_time": "t", "data": {}})
                    assert player.receive_json() == {"ok": True}
                    seen.append(_receive(staff, "integrity"))
                    csrf = tc.cookies["waa_csrf"]
                    for action, body in [
                        ("pause", {"reason": "noise"}),
                        ("extend", {"reason": "noise", "extra_s": 300}),
                        ("resume", {"reason": "quiet"}),
                    ]:
                        done = tc.post(
                            f"/api/v1/attempts/{attempt_id}/{action}",
                            json=body,
                            headers={"X-CSRF-Token": csrf},
                        )
                        assert done.status_code == 200, done.text
                        seen.append(player.receive_json())
                        seen.append(_receive(staff, seen[-1]["event"]))
                    submitted = tc.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
                    assert submitted.status_code == 200
                    seen.append(player.receive_json())
                    seen.append(_receive(staff, "submitted"))
        return seen

    seen = await asyncio.to_thread(watch)
    started, saved, navigated, copy, paste = seen[:5]
    assert saved["attempt_id"] == started["attempt_id"]
    assert started["state"] == "in_progress"
    assert started["remaining_s"] in (1799, 1800)
    assert navigated["event"] == "navigated"
    assert navigated["current_position"] == 3
    assert copy["kinds"] == ["copy"]
    assert paste["kinds"] == ["paste"]
    to_player = seen[5::2]
    to_staff = seen[6::2]
    assert [m["event"] for m in to_player] == ["paused", "extended", "resumed", "submitted"]
    assert all(m["type"] == "attempt" for m in to_player)
    assert [m["state"] for m in to_player] == ["paused", "paused", "in_progress", "submitted"]
    assert to_player[1]["remaining_s"] >= to_player[0]["remaining_s"] + 299
    # The candidate is never told the proctor's reason.
    assert not any("noise" in str(m) or "quiet" in str(m) for m in to_player)
    assert [m["event"] for m in to_staff] == ["paused", "extended", "resumed", "submitted"]
    assert to_staff[0]["pause_kind"] == "proctor"


@pytest.mark.asyncio
async def test_the_socket_is_refused_to_anyone_the_api_refuses(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    ex = await exam(live_client, live_make, proctor=True)
    administration = ex.administration["id"]
    attempt_id, headers = await begin(live_client, ex.codes[0])
    stranger = await live_make.user(ex.world.org, Role.proctor)
    outsider = await live_make.user(await live_make.organization(), Role.proctor)
    url = f"/console/administrations/{administration}/live/ws"

    def close_code(tc: TestClient, **options: Any) -> int | str:
        """The close code a browser would see: a refusal after the handshake carries its
        code; one before it is a failed handshake ("handshake <code>", a browser's 1006)."""
        connection = tc.websocket_connect(url, **options)
        try:
            ws = connection.__enter__()
        except WebSocketDisconnect as refused:
            return f"handshake {refused.code}"
        try:
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        finally:
            connection.__exit__(None, None, None)
        return closed.value.code

    def attempts() -> dict[str, int | str]:
        other = create_app(make_settings(database_url=live_app.state.db.url))
        codes: dict[str, int | str] = {}
        with TestClient(other, base_url="https://testserver") as tc:
            # A candidate's credential is no staff session, in any form it may come.
            token = headers["X-Attempt-Token"]
            codes["no session"] = close_code(tc, headers=_staff_headers(tc))
            codes["candidate credential"] = close_code(
                tc, headers={**ORIGIN, "cookie": f"waa_session={token}"}
            )
            _sign_in(tc, stranger)
            codes["proctor not assigned"] = close_code(tc, headers=_staff_headers(tc))
            tc.cookies.clear()
            _sign_in(tc, outsider)
            codes["another organization"] = close_code(tc, headers=_staff_headers(tc))
            tc.cookies.clear()
            _sign_in(tc, ex.world.proctor)
            codes["another site"] = close_code(
                tc, headers=_staff_headers(tc, origin="https://evil.example")
            )
            with tc.websocket_connect(url, headers=_staff_headers(tc)) as ws:
                codes["assigned proctor"] = 1000 if ws.receive_json() == {"event": "hello"} else 0
            tc.cookies.clear()
            _sign_in(tc, ex.world.admin)
            with tc.websocket_connect(url, headers=_staff_headers(tc)) as ws:
                codes["admin"] = 1000 if ws.receive_json() == {"event": "hello"} else 0
        return codes

    assert attempt_id
    assert await asyncio.to_thread(attempts) == {
        "no session": 4401,
        "candidate credential": 4401,
        "proctor not assigned": 4403,
        "another organization": 4403,
        "another site": "handshake 4403",
        "assigned proctor": 1000,
        "admin": 1000,
    }
