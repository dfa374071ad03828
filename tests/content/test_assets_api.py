"""Media uploads and rubrics over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.factories import Factory, login
from tests.support.items import QTI3, choice_item
from tests.support.media import png as make_png
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio

RUBRICS = Path(__file__).resolve().parents[1] / "fixtures" / "rubrics"


async def _admin(client: httpx.AsyncClient, make: Factory) -> dict[str, str]:
    org = await make.organization()
    return await login(client, await make.user(org, Role.admin))


async def test_media_is_sniffed_deduplicated_and_served(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers = await _admin(client, make)
    png = make_png(4, 3)
    first = await client.post(
        "/api/v1/media", files={"file": ("dot.png", png, "image/png")}, headers=headers
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["content_type"] == "image/png"
    assert (body["width"], body["height"]) == (4, 3)
    again = await client.post(
        "/api/v1/media", files={"file": ("copy.png", png, "image/png")}, headers=headers
    )
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    content = await client.get(f"/api/v1/media/{body['id']}/content", headers=headers)
    assert content.content == png
    assert content.headers["content-type"] == "image/png"
    assert content.headers["x-content-type-options"] == "nosniff"


async def test_mislabelled_or_unknown_media_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers = await _admin(client, make)
    png = make_png(2, 2)
    cases = [
        ("photo.jpg", png, "image/jpeg"),
        ("notes.png", b"just some text, not an image", "image/png"),
        (
            "evil.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
        ),
    ]
    for name, data, declared in cases:
        response = await client.post(
            "/api/v1/media", files={"file": (name, data, declared)}, headers=headers
        )
        assert response.status_code == 422, (name, response.text)
        assert "/media-" in response.json()["type"], name
        assert response.json()["detail"]
    assert (await client.get("/api/v1/media", headers=headers)).json() == []


async def test_rubrics_are_validated_versioned_and_attach_to_essays_only(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers = await _admin(client, make)
    analytic = (RUBRICS / "argumentative-essay.yaml").read_text()
    created = await client.post(
        "/api/v1/rubrics", json={"slug": "essay", "yaml": analytic}, headers=headers
    )
    assert created.status_code == 201, created.text
    rubric = created.json()
    assert rubric["rubric"]["kind"] == "analytic"
    assert rubric["version"]["max_points"] > 0

    broken = await client.post(
        "/api/v1/rubrics",
        json={"slug": "broken", "yaml": "kind: analytic\ncriteria: []\n"},
        headers=headers,
    )
    assert broken.status_code == 422
    assert broken.json()["type"].endswith("/rubric-invalid")
    holistic = (RUBRICS / "photosynthesis-short-answer.yaml").read_text()
    wrong_kind = await client.post(
        f"/api/v1/rubrics/{rubric['rubric']['id']}/versions",
        json={"yaml": holistic},
        headers=headers,
    )
    assert wrong_kind.status_code == 409
    assert wrong_kind.json()["type"].endswith("/rubric-kind-changed")
    v2 = await client.post(
        f"/api/v1/rubrics/{rubric['rubric']['id']}/versions",
        json={"yaml": analytic},
        headers=headers,
    )
    assert v2.json()["version"]["version"] == 2
    schema = await client.get("/api/v1/rubrics/schema")
    assert schema.json()["type"] == "object"

    bank = (
        await client.post(
            "/api/v1/banks", json={"slug": "essays", "name": "Essays"}, headers=headers
        )
    ).json()
    on_choice = await client.post(
        f"/api/v1/banks/{bank['id']}/items",
        json={
            "source": {"format": "qti", "content": choice_item("C1", "Not an essay")},
            "rubric_version_id": rubric["version"]["id"],
        },
        headers=headers,
    )
    assert on_choice.status_code == 422
    assert on_choice.json()["type"].endswith("/rubric-needs-extended-text")
    essay = f"""<qti-assessment-item xmlns="{QTI3}" identifier="E1" title="Essay"
        adaptive="false" time-dependent="false">
      <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string"/>
      <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
      <qti-item-body>
        <qti-extended-text-interaction response-identifier="RESPONSE" expected-lines="10">
          <qti-prompt>Argue for or against school uniforms.</qti-prompt>
        </qti-extended-text-interaction>
      </qti-item-body>
    </qti-assessment-item>"""
    on_essay = await client.post(
        f"/api/v1/banks/{bank['id']}/items",
        json={
            "source": {"format": "qti", "content": essay},
            "rubric_version_id": rubric["version"]["id"],
        },
        headers=headers,
    )
    assert on_essay.status_code == 201, on_essay.text
    assert on_essay.json()["version"]["rubric_version_id"] == rubric["version"]["id"]
