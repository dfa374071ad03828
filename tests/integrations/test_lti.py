"""LTI 1.3 end to end against a platform simulator the test runs (its own keys, JWKS,
token endpoint, AGS line item and NRPS service): registration, login, deep linking, a
learner's launch that starts the attempt without an access code, score passback after
release and after a new released revision, roster provisioning, and forged or replayed
launches refused with the check that failed."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.support.exams import exam, wait_for_state
from tests.support.factories import Factory, login
from tests.support.lti_platform import INSTRUCTOR, LEARNER, Platform, rsa_key
from tests.support.receivers import receiver
from tests.support.settings import make_settings
from waa_ads.auth.models import Role
from waa_ads.core.settings import Settings
from waa_ads.integrations import lti_router
from waa_ads.integrations.lti import binding_signature, state_cookie_name

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings() -> Settings:
    return make_settings(integrations_allow_private_urls=True)


@pytest.fixture
def platform() -> Iterator[Platform]:
    with receiver() as r:
        yield Platform(r)


async def oidc_login(client: httpx.AsyncClient, platform: Platform) -> tuple[str, str]:
    """The platform starts a login; the tool redirects to the platform's authorization
    endpoint with a state and nonce: those two."""
    response = await client.get(
        "/lti/login",
        params={
            "iss": platform.issuer,
            "login_hint": "user-hint",
            "target_link_uri": "https://testserver/lti/launch",
            "lti_message_hint": "msg",
        },
    )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == platform.issuer + "/authorize"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["client_id"] == platform.client_id
    assert query["redirect_uri"] == "https://testserver/lti/launch"
    assert (query["response_type"], query["response_mode"], query["scope"]) == (
        "id_token",
        "form_post",
        "openid",
    )
    assert query["login_hint"] == "user-hint" and query["lti_message_hint"] == "msg"
    return query["state"], query["nonce"]


def data_attribute(page: str, name: str) -> str:
    found = re.search(rf'data-{name}="([^"]*)"', page)
    assert found, page
    return html.unescape(found.group(1))


async def launch(client: httpx.AsyncClient, platform: Platform, **token: Any) -> httpx.Response:
    state, nonce = await oidc_login(client, platform)
    return await client.post(
        "/lti/launch", data={"id_token": platform.id_token(nonce, **token), "state": state}
    )


async def test_a_course_links_a_test_learners_take_it_and_grades_flow_back(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, platform: Platform
) -> None:
    ex = await exam(client, make, candidates=1)
    headers = ex.world.headers
    administration_id = ex.administration["id"]
    registered = await client.post(
        "/api/v1/integrations/lti/registrations", json=platform.registration(), headers=headers
    )
    assert registered.status_code == 201, registered.text
    tool = (await client.get("/api/v1/integrations/lti/tool", headers=headers)).json()
    assert tool["jwks_url"] == "https://testserver/lti/jwks"
    platform.tool_jwks = (await client.get("/lti/jwks")).json()
    assert [k["kid"] for k in platform.tool_jwks["keys"]] == [tool["current_kid"]]

    # The instructor deep-links: picks the administration, gets a signed response back.
    picker = await launch(
        client, platform, sub="teacher-1", roles=[INSTRUCTOR], message_type="LtiDeepLinkingRequest"
    )
    assert picker.status_code == 200, picker.text
    assert ex.administration["title"] in picker.text
    assert "script-src 'self'" in picker.headers["content-security-policy"]
    token = re.search(r'name="token" value="([^"]+)"', picker.text)
    assert token
    chosen = await client.post(
        "/lti/deep-link", data={"token": token.group(1), "administration_id": administration_id}
    )
    assert chosen.status_code == 200, chosen.text
    assert f'action="{platform.issuer}/deep-link-return"' in chosen.text
    response_jwt = re.search(r'name="JWT" value="([^"]+)"', chosen.text)
    assert response_jwt
    key = jwt.PyJWKSet.from_dict(platform.tool_jwks)[tool["current_kid"]].key
    answer = jwt.decode(response_jwt.group(1), key, algorithms=["RS256"], audience=platform.issuer)
    assert answer["iss"] == platform.client_id
    lti = "https://purl.imsglobal.org/spec/lti"
    assert answer[f"{lti}/claim/message_type"] == "LtiDeepLinkingResponse"
    assert answer[f"{lti}/claim/deployment_id"] == platform.deployment_id
    assert answer[f"{lti}-dl/claim/data"] == "opaque-platform-data"
    (item,) = answer[f"{lti}-dl/claim/content_items"]
    assert item["type"] == "ltiResourceLink"
    assert item["custom"]["administration_id"] == administration_id
    assert set(item["custom"]) == {"administration_id", "administration_signature"}

    # The learner launches the link: no access code, an attempt started.
    custom = item["custom"]
    first = await launch(client, platform, custom=custom)
    assert first.status_code == 200, first.text
    attempt_id = data_attribute(first.text, "attempt")
    credential = {"X-Attempt-Token": data_attribute(first.text, "credential")}
    seen = await client.get(f"/api/v1/attempts/{attempt_id}", headers=credential)
    assert seen.status_code == 200 and seen.json()["attempt"]["state"] == "in_progress"
    again = await launch(client, platform, custom=custom)
    assert data_attribute(again.text, "attempt") == attempt_id  # resumed, not a second one

    await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=credential)
    assert await wait_for_state(app, attempt_id, "scored") == "scored"
    released = await client.post(f"/api/v1/results/{attempt_id}/release", headers=headers)
    assert released.status_code == 200, released.text
    runner = app.state.background.runner
    await client.post("/api/v1/integrations/dispatch", headers=headers)
    await runner.wait_idle()
    (score,) = platform.scores()
    assert score["userId"] == "learner-1"
    assert (score["activityProgress"], score["gradingProgress"]) == ("Completed", "FullyGraded")
    assert score["scoreMaximum"] == 3 and 0 <= score["scoreGiven"] <= 3
    assert platform.tokens_issued[0]["scope"].endswith("/scope/score")

    # A new revision, released by itself (a person's review), is passed back again.
    revised = await client.post(
        f"/api/v1/results/{attempt_id}/items/Q1/score",
        json={"score": 1, "reason": "appeal upheld"},
        headers=headers,
    )
    assert revised.status_code == 200, revised.text
    await client.post("/api/v1/integrations/dispatch", headers=headers)
    await runner.wait_idle()
    assert len(platform.scores()) == 2
    log = (
        await client.get(
            "/api/v1/integrations/deliveries", params={"channel": "lti_ags"}, headers=headers
        )
    ).json()["items"]
    assert [(d["status"], d["response_status"]) for d in log] == [("succeeded", 200)] * 2

    # The course roster fills the administration's roster (learners only).
    platform.members = [
        {"user_id": "learner-1", "roles": [LEARNER], "status": "Active", "name": "One"},
        {"user_id": "learner-2", "roles": [LEARNER], "status": "Active", "name": "Two"},
        {"user_id": "gone", "roles": [LEARNER], "status": "Inactive"},
        {"user_id": "teacher-1", "roles": [INSTRUCTOR], "status": "Active"},
    ]
    (link,) = (await client.get("/api/v1/integrations/lti/links", headers=headers)).json()
    assert link["administration_id"] == administration_id
    # A worker does it: the request answers at once with the queued sync to poll.
    queued = await client.post(
        f"/api/v1/integrations/lti/links/{link['id']}/roster-sync", headers=headers
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] in ("queued", "running", "succeeded")
    await runner.wait_idle()
    synced = await client.get(
        f"/api/v1/integrations/lti/roster-syncs/{queued.json()['id']}", headers=headers
    )
    assert synced.status_code == 200, synced.text
    job = synced.json()
    assert (job["status"], job["members"], job["done"], job["added"]) == ("succeeded", 2, 2, 1)
    assert job["started_at"] and job["finished_at"] and job["error"] is None
    roster = await client.get(
        f"/api/v1/administrations/{administration_id}/roster", headers=headers
    )
    assert len(roster.json()) == 3  # the exam's candidate and the two learners

    # A platform that is down: the sync fails, saying why, and nothing is added.
    platform.receiver.handle("/memberships", lambda _: (503, b"maintenance", "text/plain"))
    failing = await client.post(
        f"/api/v1/integrations/lti/links/{link['id']}/roster-sync", headers=headers
    )
    await runner.wait_idle()
    history = (
        await client.get(
            f"/api/v1/integrations/lti/links/{link['id']}/roster-syncs", headers=headers
        )
    ).json()
    assert [h["id"] for h in history] == [failing.json()["id"], job["id"]]
    assert history[0]["status"] == "failed" and "503" in history[0]["error"], history[0]
    other = await make.organization()
    other_headers = await login(client, await make.user(other, Role.admin))
    hidden = await client.get(
        f"/api/v1/integrations/lti/roster-syncs/{job['id']}", headers=other_headers
    )
    assert hidden.status_code == 404
    assert hidden.json()["type"].endswith("lti-roster-sync-not-found")


async def test_a_launch_page_is_in_the_language_the_platform_names(
    client: httpx.AsyncClient, make: Factory, platform: Platform
) -> None:
    ex = await exam(client, make, candidates=1)
    registered = await client.post(
        "/api/v1/integrations/lti/registrations",
        json=platform.registration(),
        headers=ex.world.headers,
    )
    assert registered.status_code == 201, registered.text
    kinds: dict[str, Any] = {
        "sub": "teacher-1",
        "roles": [INSTRUCTOR],
        "message_type": "LtiDeepLinkingRequest",
    }
    presentation = {
        "https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {"locale": "fr-CA"}
    }
    french = await launch(client, platform, **kinds, extra=presentation)
    assert french.status_code == 200, french.text
    assert french.headers["content-language"] == "fr"
    assert '<html lang="fr" dir="ltr">' in french.text
    assert "<h1>Choisissez un test</h1>" in french.text
    assert "Test à lier dans le cours" in french.text and "Lier ce test" in french.text
    english = await launch(client, platform, **kinds)
    assert "<h1>Choose a test</h1>" in english.text
    assert english.headers["content-language"] == "en"


async def test_forged_expired_and_replayed_launches_are_refused(
    client: httpx.AsyncClient, make: Factory, platform: Platform
) -> None:
    org = await make.organization()
    headers = await login(client, await make.user(org, Role.admin))
    await client.post(
        "/api/v1/integrations/lti/registrations", json=platform.registration(), headers=headers
    )
    stranger_pem, _ = rsa_key()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"key": (stranger_pem, platform.jwk["kid"])}, "signature"),
        ({"exp_in": -120}, "expired"),
        ({"iat_offset": 600}, "issued-at"),
        ({"deployment_id": "somewhere-else"}, "deployment"),
        ({"aud": "another-tool"}, "audience"),
        ({"extra": {"azp": "another-tool"}}, "claims"),
        ({"extra": {"https://purl.imsglobal.org/spec/lti/claim/version": "1.1"}}, "claims"),
    ]
    for token, reason in cases:
        refused = await launch(client, platform, **token)
        assert refused.status_code == 401, (reason, refused.text)
        assert refused.json()["reason"] == reason, refused.json()
        assert refused.json()["type"].endswith("lti-launch-refused")

    # Within the clock skew is fine (it fails later only for lack of a bound test).
    skewed = await launch(client, platform, exp_in=-30)
    assert skewed.status_code == 404 and "not bound to a test" in skewed.json()["detail"]

    # A nonce that is not the login's, an unknown state, a replayed launch.
    state, nonce = await oidc_login(client, platform)
    wrong = await client.post(
        "/lti/launch", data={"id_token": platform.id_token("other-nonce"), "state": state}
    )
    assert wrong.json()["reason"] == "nonce"
    unknown = await client.post(
        "/lti/launch", data={"id_token": platform.id_token(nonce), "state": "made-up"}
    )
    assert unknown.json()["reason"] == "state"
    state, nonce = await oidc_login(client, platform)
    instructor = platform.id_token(nonce, roles=[INSTRUCTOR])
    first = await client.post("/lti/launch", data={"id_token": instructor, "state": state})
    assert first.status_code == 200, first.text
    replay = await client.post("/lti/launch", data={"id_token": instructor, "state": state})
    assert (replay.status_code, replay.json()["reason"]) == (401, "replayed")

    unknown_issuer = await client.get(
        "/lti/login",
        params={"iss": "https://nowhere.example", "login_hint": "x", "target_link_uri": "y"},
    )
    assert unknown_issuer.json()["reason"] == "unknown-issuer"
    assert (await client.post("/lti/launch", data={"state": "s"})).json()["reason"] == "malformed"


async def test_a_link_binds_only_to_the_test_the_tool_signed_for_it(
    client: httpx.AsyncClient, make: Factory, platform: Platform, settings: Settings
) -> None:
    """The platform hands custom parameters back unsigned: a link is bound on its first
    launch only with the tool's signature of the administration, for this platform and
    deployment (as the deep-linking response gave it); anything else is refused."""
    ex = await exam(client, make, candidates=1)
    headers = ex.world.headers
    registered = await client.post(
        "/api/v1/integrations/lti/registrations", json=platform.registration(), headers=headers
    )
    reg_id = uuid.UUID(registered.json()["id"])
    target = ex.administration["id"]
    other = await ex.world.administration(ex.administration["assessment_version_id"])
    forged: list[dict[str, str]] = [
        {"administration_id": target},
        {"administration_id": target, "administration_signature": "0" * 64},
        # signed for another administration, another platform, another deployment
        {
            "administration_id": target,
            "administration_signature": binding_signature(
                settings, reg_id, platform.deployment_id, other["id"]
            ),
        },
        {
            "administration_id": target,
            "administration_signature": binding_signature(
                settings, uuid.uuid4(), platform.deployment_id, target
            ),
        },
        {
            "administration_id": target,
            "administration_signature": binding_signature(settings, reg_id, "elsewhere", target),
        },
    ]
    for custom in forged:
        refused = await launch(client, platform, custom=custom)
        assert refused.status_code == 401, (custom, refused.text)
        assert refused.json()["reason"] == "link-binding", refused.json()
        assert "deep linking" in refused.json()["detail"]
    links = await client.get("/api/v1/integrations/lti/links", headers=headers)
    assert links.json() == []  # nothing half-written

    signed = {
        "administration_id": target,
        "administration_signature": binding_signature(
            settings, reg_id, platform.deployment_id, target
        ),
    }
    started = await launch(client, platform, custom=signed)
    assert started.status_code == 200, started.text
    (link,) = (await client.get("/api/v1/integrations/lti/links", headers=headers)).json()
    assert link["administration_id"] == target
    # Bound once: later custom values do not move it.
    again = await launch(client, platform, sub="learner-2", custom={"administration_id": "x"})
    assert again.status_code == 200, again.text


async def test_a_launch_needs_the_browser_that_started_the_login(
    client: httpx.AsyncClient, make: Factory, platform: Platform
) -> None:
    """The login sets a cookie naming its state (Secure, SameSite=None: the platform's
    form post is cross-site); a launch posted from a browser without it is refused, so an
    attacker cannot push their own launch into someone else's browser."""
    org = await make.organization()
    headers = await login(client, await make.user(org, Role.admin))
    await client.post(
        "/api/v1/integrations/lti/registrations", json=platform.registration(), headers=headers
    )
    response = await client.get(
        "/lti/login",
        params={"iss": platform.issuer, "login_hint": "h", "target_link_uri": "https://x/"},
    )
    cookie = response.headers["set-cookie"].lower()
    for part in ("httponly", "secure", "samesite=none", "path=/lti", "max-age=600"):
        assert part in cookie, cookie
    state = parse_qs(urlsplit(response.headers["location"]).query)["state"][0]
    nonce = parse_qs(urlsplit(response.headers["location"]).query)["nonce"][0]
    instructor = platform.id_token(nonce, roles=[INSTRUCTOR])
    client.cookies.clear()  # another browser
    refused = await client.post("/lti/launch", data={"id_token": instructor, "state": state})
    assert (refused.status_code, refused.json()["reason"]) == (401, "browser"), refused.text
    assert "browser that started the login" in refused.json()["detail"]
    # The cookie of another login does not stand in for this one's.
    other_state, _ = await oidc_login(client, platform)
    assert other_state != state
    refused = await client.post("/lti/launch", data={"id_token": instructor, "state": state})
    assert refused.json()["reason"] == "browser"
    # The login is still unused: the browser that has its cookie launches, and the cookie
    # is cleared.
    client.cookies.set(state_cookie_name(state), state, path="/lti")
    ok = await client.post("/lti/launch", data={"id_token": instructor, "state": state})
    assert ok.status_code == 200, ok.text
    assert "max-age=0" in ok.headers["set-cookie"].lower()


async def test_logins_are_rate_limited_per_client(
    client: httpx.AsyncClient, make: Factory, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await make.organization()
    headers = await login(client, await make.user(org, Role.admin))
    await client.post(
        "/api/v1/integrations/lti/registrations", json=platform.registration(), headers=headers
    )
    monkeypatch.setattr(lti_router, "LOGINS_PER_MINUTE", 3)
    for _ in range(3):
        await oidc_login(client, platform)
    limited = await client.post(
        "/lti/login",
        data={"iss": platform.issuer, "login_hint": "h", "target_link_uri": "https://x/"},
    )
    assert limited.status_code == 429, limited.text
    assert limited.json()["type"].endswith("lti-login-rate-limited")
    assert int(limited.headers["retry-after"]) > 0
