"""Trying an adaptive item attempt by attempt, and a seed for ``random``, from the command
line (``waa-ads score-item --attempt``) and the API (``attempts`` and ``seed``)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.support.factories import Factory, login
from waa_ads.auth.models import Role
from waa_ads.cli import app

ITEMS = Path(__file__).parent.parent / "fixtures" / "items" / "processing"
ADAPTIVE = ITEMS / "adaptive.v2p1.xml"
RANDOM = ITEMS / "random_response.v3p0.xml"
runner = CliRunner()


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["score-item", *args])
    return result.exit_code, result.output


def test_the_cli_processes_each_attempt_of_an_adaptive_item() -> None:
    code, output = _cli(str(ADAPTIVE), "-a", '"sydney"', "-a", '"canberra"', "-a", '"sydney"')
    assert code == 0, output
    printed = json.loads(output)
    assert [a["outcomes"]["FEEDBACK"] for a in printed["attempts"]] == ["hint", "right"]
    assert printed["outcomes"] == {
        "SCORE": 1.0,
        "MAXSCORE": 2.0,
        "FEEDBACK": "right",
        "TRIES": 2,
        "completionStatus": "completed",
    }
    code, output = _cli(str(ADAPTIVE), "-r", '"sydney"')
    assert code == 0, output
    assert json.loads(output)["outcomes"]["completionStatus"] == "incomplete"


def test_the_cli_seed_chooses_what_random_draws() -> None:
    drawn = set()
    for seed in range(12):
        code, output = _cli(str(RANDOM), "-r", '"blue"', "--seed", str(seed))
        assert code == 0, output
        praise = json.loads(output)["outcomes"]["PRAISE"]
        assert _cli(str(RANDOM), "-r", '"blue"', "--seed", str(seed))[1] == output
        drawn.add(praise)
    assert len(drawn) > 1 and drawn <= {"well_done", "excellent", "great", "superb"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give either --response or one --attempt per attempt"),
        (("-r", '"a"', "-a", '"b"'), "give either --response or one --attempt per attempt"),
        (("-a", "{nope"), "--attempt is not JSON"),
    ],
)
def test_the_cli_wants_responses_or_attempts(args: tuple[str, ...], message: str) -> None:
    code, output = _cli(str(ADAPTIVE), *args)
    assert code == 2
    assert message in output


@pytest.mark.asyncio
async def test_the_api_tries_attempts_and_a_seed(client: httpx.AsyncClient, make: Factory) -> None:
    org = await make.organization()
    headers = await login(client, await make.user(org, Role.author, Role.admin))
    bank = await client.post("/api/v1/banks", json={"slug": "try", "name": "Try"}, headers=headers)
    urls = {}
    for path in (ADAPTIVE, RANDOM):
        created = await client.post(
            f"/api/v1/banks/{bank.json()['id']}/items",
            json={"source": {"format": "qti", "content": path.read_text()}},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        urls[path] = f"/api/v1/items/{created.json()['item']['id']}/versions/1/score"

    tried = await client.post(
        urls[ADAPTIVE],
        json={"attempts": [{"RESPONSE": "melbourne"}, {"RESPONSE": "sydney"}]},
        headers=headers,
    )
    assert tried.status_code == 200, tried.text
    body = tried.json()
    assert [a["outcomes"]["completionStatus"] for a in body["attempts"]] == [
        "incomplete",
        "completed",
    ]
    assert body["outcomes"]["FEEDBACK"] == "answer"
    once = await client.post(
        urls[ADAPTIVE], json={"responses": {"RESPONSE": "canberra"}}, headers=headers
    )
    assert once.json()["attempts"] is None
    assert once.json()["outcomes"]["SCORE"] == 2.0

    praises = set()
    for seed in range(12):
        body = {"responses": {"RESPONSE": "blue"}, "seed": seed}
        first = await client.post(urls[RANDOM], json=body, headers=headers)
        second = await client.post(urls[RANDOM], json=body, headers=headers)
        assert first.json() == second.json()
        praises.add(first.json()["outcomes"]["PRAISE"])
    assert len(praises) > 1

    bad_bodies: list[dict[str, object]] = [{"attempts": []}, {"seed": -1}, {"seed": 2**31}]
    for bad in bad_bodies:
        refused = await client.post(urls[RANDOM], json=bad, headers=headers)
        assert refused.status_code == 422, (bad, refused.text)
