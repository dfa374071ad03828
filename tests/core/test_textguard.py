"""Text no database can store: a clear 422 everywhere, a repaired answer on the autosave path."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Form, Request

from waa_ads.core.textguard import BadText, TextInputMiddleware, check_json, check_urlencoded
from waa_ads.main import CANDIDATE_ANSWER_PATHS, create_app

NUL_JSON = b'{"name": "a\\u0000b"}'
SURROGATE_JSON = b'{"name": "a\\ud800b"}'


def _probe_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> Any:
        return await request.json()

    @app.put("/api/v1/attempts/{attempt}/responses/{ref}")
    async def save(request: Request) -> Any:
        return {"received": await request.json(), "length": request.headers["content-length"]}

    @app.post("/form")
    async def form(username: str = Form()) -> Any:
        return {"username": username}

    @app.get("/search")
    async def search(q: str = "") -> Any:
        return {"q": q}

    app.add_middleware(TextInputMiddleware, keep_answer_paths=CANDIDATE_ANSWER_PATHS)
    return app


@pytest_asyncio.fixture
async def probe() -> Any:
    transport = httpx.ASGITransport(app=_probe_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


def _problem(response: httpx.Response, where: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/invalid-text")
    assert body["invalid_params"][0]["name"] == where
    assert where in body["detail"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (NUL_JSON, "body.name"),
        (SURROGATE_JSON, "body.name"),
        (b'{"t": NaN}', "body"),
        (b'{"t": -Infinity}', "body"),
        (b'{"events": [{"data": {"x\\u0000": 1}}]}', "body.events[0].data (a key)"),
    ],
)
@pytest.mark.asyncio
async def test_unstorable_json_is_a_422_naming_where(
    probe: httpx.AsyncClient, body: bytes, where: str
) -> None:
    response = await probe.post("/echo", content=body, headers={"content-type": "application/json"})
    _problem(response, where)


@pytest.mark.asyncio
async def test_ordinary_and_escaped_json_passes_untouched(probe: httpx.AsyncClient) -> None:
    body = {"name": "NaN and Infinity are words here", "emoji": "\U0001f600", "n": 1.5}
    response = await probe.post("/echo", json=body)
    assert response.status_code == 200
    assert response.json() == body
    escaped = b'{"emoji": "\\ud83d\\ude00"}'  # a valid surrogate pair, escaped
    response = await probe.post(
        "/echo", content=escaped, headers={"content-type": "application/json"}
    )
    assert response.json() == {"emoji": "\U0001f600"}


@pytest.mark.asyncio
async def test_a_candidates_answer_is_repaired_and_kept(probe: httpx.AsyncClient) -> None:
    body = b'{"seq": 3, "value": {"RESPONSE": "line one\\u0000 and \\udc00 two"}}'
    response = await probe.put(
        "/api/v1/attempts/a1/responses/Q1",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    received = response.json()["received"]
    assert received == {"seq": 3, "value": {"RESPONSE": "line one and \ufffd two"}}
    assert int(response.json()["length"]) == len(json.dumps(received, ensure_ascii=False).encode())
    # NaN is still no number, even in an answer.
    refused = await probe.put(
        "/api/v1/attempts/a1/responses/Q1",
        content=b'{"seq": 4, "value": NaN}',
        headers={"content-type": "application/json"},
    )
    _problem(refused, "body")


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("q=%00", "query parameter 'q'"),
        ("q=a%ED%A0%80b", "query parameter 'q'"),
        ("q=%FF", "query parameter 'q'"),
        ("%00=1", "query parameter name"),
    ],
)
@pytest.mark.asyncio
async def test_unstorable_query_text_is_a_422(
    probe: httpx.AsyncClient, query: str, where: str
) -> None:
    _problem(await probe.get(f"/search?{query}"), where)


@pytest.mark.asyncio
async def test_unicode_queries_and_forms_pass(probe: httpx.AsyncClient) -> None:
    response = await probe.get("/search", params={"q": "Zürich 東京 +1"})
    assert response.json() == {"q": "Zürich 東京 +1"}
    response = await probe.post("/form", data={"username": "zoë@example.org"})
    assert response.json() == {"username": "zoë@example.org"}


@pytest.mark.asyncio
async def test_form_fields_and_paths_are_checked(probe: httpx.AsyncClient) -> None:
    response = await probe.post(
        "/form",
        content=b"username=admin%00",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    _problem(response, "form parameter 'username'")
    _problem(await probe.get("/search%00"), "the path")


@pytest.mark.asyncio
async def test_the_real_app_refuses_before_any_route(client: httpx.AsyncClient) -> None:
    for path in (
        "/api/v1/items?q=%00",
        "/api/v1/candidates?q=%00",
        "/api/v1/audit/events?action=%00",
    ):
        _problem(await client.get(path), "query parameter " + repr(path.split("?")[1][:-4]))
    token = await client.post(
        "/api/v1/auth/token",
        content=b"username=a%00b&password=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    _problem(token, "form parameter 'username'")


def test_the_answer_path_pattern_matches_the_real_autosave_route() -> None:
    paths = create_app().openapi()["paths"]
    saves = [p for p, ops in paths.items() if "put" in ops and p.endswith("/responses/{item_ref}")]
    assert saves, "no autosave route found"
    concrete = re.sub(r"\{[^}]+\}", "x-1", saves[0])
    assert any(re.search(p, concrete) for p in CANDIDATE_ANSWER_PATHS)
    assert not any(re.search(p, concrete + "/file") for p in CANDIDATE_ANSWER_PATHS)


def test_checks_directly() -> None:
    assert check_json(b'{"a": "plain"}', keep=False) is None
    assert check_json(b"not json \\u0000", keep=False) is None  # the route reports bad JSON
    with pytest.raises(BadText):
        check_urlencoded(b"a=%00", "query")
    check_urlencoded(b"a=%C3%A9", "query")
