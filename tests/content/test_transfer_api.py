"""Import and export through the API and the CLI: all or nothing, round trips, hostile zips."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select as sa_select
from typer.testing import CliRunner

from tests.support.banks import admin_bank, import_upload
from tests.support.factories import Factory, login
from tests.support.items import choice_item, figure_item, package
from tests.support.media import png
from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Role
from waa_ads.content import schemas, service
from waa_ads.content.interchange.qti.package import build_package
from waa_ads.content.models import Item, ItemVersion
from waa_ads.core.db import Database

pytestmark = pytest.mark.asyncio

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


async def test_package_import_stores_items_and_media_then_exports_and_reimports(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "imports")
    response = await import_upload(
        client, headers, bank_id, "pkg.zip", package("P1", "P2"), publish="true"
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["imported"] == 2
    assert {i["status"] for i in report["items"]} == {"imported"}
    listed = (
        await client.get("/api/v1/items", params={"status": "published"}, headers=headers)
    ).json()
    assert {i["identifier"] for i in listed["items"]} == {"P1", "P2"}
    media = (await client.get("/api/v1/media", headers=headers)).json()
    assert len(media) == 1  # the same figure is stored once

    exported = await client.get(
        f"/api/v1/banks/{bank_id}/export", params={"format": "qti3"}, headers=headers
    )
    assert exported.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    assert "imsmanifest.xml" in names
    assert any(n.endswith(".png") for n in names)

    other = (
        await client.post("/api/v1/banks", json={"slug": "again", "name": "Again"}, headers=headers)
    ).json()
    again = await import_upload(client, headers, other["id"], "export.zip", exported.content)
    assert again.status_code == 201, again.text
    originals: dict[str, list[object]] = {}
    for bank in (bank_id, other["id"]):
        items = (
            await client.get("/api/v1/items", params={"bank_id": bank}, headers=headers)
        ).json()["items"]
        for it in items:
            version = (
                await client.get(f"/api/v1/items/{it['id']}/versions/1", headers=headers)
            ).json()
            definition = version["definition"]
            definition.get("metadata", {}).pop("media", None)
            originals.setdefault(it["identifier"], []).append(definition)
    for identifier, (first, second) in originals.items():
        assert first == second, identifier


async def test_native_export_reimports_unchanged(client: httpx.AsyncClient, make: Factory) -> None:
    headers, bank_id = await admin_bank(client, make, "imports")
    await import_upload(client, headers, bank_id, "one.xml", choice_item("N1", "Native").encode())
    exported = await client.get(
        f"/api/v1/banks/{bank_id}/export", params={"format": "native"}, headers=headers
    )
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    assert archive.namelist() == ["items/N1.json"]
    other = (
        await client.post("/api/v1/banks", json={"slug": "copy", "name": "Copy"}, headers=headers)
    ).json()
    response = await import_upload(
        client, headers, other["id"], "N1.json", archive.read("items/N1.json")
    )
    assert response.status_code == 201, response.text


async def test_one_bad_item_means_nothing_is_imported(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "imports")
    bad = choice_item("B2", "Broken").replace("qti-choice-interaction", "qti-warp-interaction")
    data = build_package([("B1", choice_item("B1", "Fine").encode()), ("B2", bad.encode())], {})
    response = await import_upload(client, headers, bank_id, "mixed.zip", data)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/import-rejected")
    statuses = {i["identifier"] or i["source"]: i["status"] for i in problem["report"]["items"]}
    assert statuses["B1"] == "not_imported"
    rejected = [i for i in problem["report"]["items"] if i["status"] == "rejected"]
    assert len(rejected) == 1
    assert "warp" in rejected[0]["reason"]
    assert (await client.get("/api/v1/items", headers=headers)).json()["items"] == []


async def test_reimporting_an_identifier_makes_a_new_version(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "imports")
    first = build_package([("D1", choice_item("D1", "First").encode())], {})
    stored = await import_upload(client, headers, bank_id, "d.zip", first, publish="true")
    assert stored.status_code == 201, stored.text
    (outcome,) = stored.json()["items"]
    assert (outcome["status"], outcome["version"]) == ("imported", 1)

    second = build_package([("D1", choice_item("D1", "Second").encode())], {})
    for mode in ("all", "partial"):
        again = await import_upload(client, headers, bank_id, "d.zip", second, mode=mode)
        assert again.status_code == 201, again.text
        report = again.json()
        assert (report["imported"], report["new_versions"], report["rejected"]) == (0, 1, 0)
        (outcome,) = report["items"]
        assert outcome["status"] == "new_version"
        assert outcome["item_id"] == stored.json()["items"][0]["item_id"]
        assert "D1" in outcome["reason"]
    versions = (
        await client.get(f"/api/v1/items/{outcome['item_id']}/versions", headers=headers)
    ).json()
    # The published version 1 is kept; the re-import is a new draft (replaced in place the
    # second time, as an edit of a draft is).
    assert [(v["version"], v["status"], v["title"]) for v in versions] == [
        (1, "published", "First"),
        (2, "draft", "Second"),
    ]
    listed = (await client.get("/api/v1/items", headers=headers)).json()["items"]
    assert len(listed) == 1


QTI22 = "http://www.imsglobal.org/xsd/imsqti_v2p2"
CUSTOM_22 = f"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="{QTI22}" identifier="CUSTOM" title="Custom" adaptive="false"
    timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string"/>
  <itemBody>
    <customInteraction responseIdentifier="RESPONSE"/>
  </itemBody>
</assessmentItem>"""


async def test_partial_import_stores_what_it_can_and_names_each_refusal(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "imports")
    warp = choice_item("P2", "Broken").replace("qti-choice-interaction", "qti-warp-interaction")
    missing = choice_item("P3", "Picture").replace(
        "<qti-prompt>Pick one</qti-prompt>",
        '<qti-prompt><img src="../media/absent.png" alt="a chart"/></qti-prompt>',
    )
    data = build_package(
        [
            ("P1", choice_item("P1", "Fine").encode()),
            ("P2", warp.encode()),
            ("P3", missing.encode()),
        ],
        {},
    )
    # All or nothing (the default): nothing is stored, and each refusal is named.
    refused = await import_upload(client, headers, bank_id, "mixed.zip", data)
    assert refused.status_code == 422
    by_source = {i["source"]: i for i in refused.json()["report"]["items"]}
    assert by_source["mixed.zip:items/P1.xml"]["status"] == "not_imported"
    assert "qti-warp-interaction" in by_source["mixed.zip:items/P2.xml"]["reason"]
    absent = by_source["mixed.zip:items/P3.xml"]
    assert absent["status"] == "rejected"
    assert "'P3'" in absent["reason"] and "../media/absent.png" in absent["reason"]
    assert (await client.get("/api/v1/items", headers=headers)).json()["items"] == []

    partial = await import_upload(client, headers, bank_id, "mixed.zip", data, mode="partial")
    assert partial.status_code == 201, partial.text
    report = partial.json()
    assert (report["ok"], report["mode"], report["imported"], report["rejected"]) == (
        False,
        "partial",
        1,
        2,
    )
    statuses = {i["source"]: i["status"] for i in report["items"]}
    assert statuses == {
        "mixed.zip:items/P1.xml": "imported",
        "mixed.zip:items/P2.xml": "rejected",
        "mixed.zip:items/P3.xml": "rejected",
    }
    listed = (await client.get("/api/v1/items", headers=headers)).json()["items"]
    assert [i["identifier"] for i in listed] == ["P1"]

    # Nothing importable is still a refusal, and a QTI 2.2 element is named as written.
    only_bad = await import_upload(
        client, headers, bank_id, "custom.xml", CUSTOM_22.encode(), mode="partial"
    )
    assert only_bad.status_code == 422
    (custom,) = only_bad.json()["report"]["items"]
    assert "<customInteraction>" in custom["reason"]
    assert "qti-custom" not in custom["reason"]

    bad_mode = await import_upload(
        client, headers, bank_id, "custom.xml", CUSTOM_22.encode(), mode="some"
    )
    assert bad_mode.status_code == 422


async def test_hostile_packages_are_refused(client: httpx.AsyncClient, make: Factory) -> None:
    headers, bank_id = await admin_bank(client, make, "imports")
    traversal = io.BytesIO()
    with zipfile.ZipFile(traversal, "w") as archive:
        archive.writestr("imsmanifest.xml", "<manifest/>")
        archive.writestr("../../etc/evil.xml", "<x/>")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "imsmanifest.xml", b"<manifest>" + b" " * (40 * 1024 * 1024) + b"</manifest>"
        )
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" '
        'identifier="X" title="&e;"/>'
    )
    for name, data in (
        ("traversal.zip", traversal.getvalue()),
        ("bomb.zip", bomb.getvalue()),
        ("xxe.xml", xxe.encode()),
        ("notes.txt", b"hello"),
    ):
        response = await import_upload(client, headers, bank_id, name, data)
        assert response.status_code == 422, (name, response.text)
        assert "root:" not in response.text
    assert (await client.get("/api/v1/items", headers=headers)).json()["items"] == []


async def test_cli_import_and_export(
    live_app: FastAPI, live_make: Factory, fresh_database: Database, tmp_path: Path
) -> None:
    from waa_ads.cli import app as cli

    org = await live_make.organization(slug="cli-content")
    async with live_app.state.db.transaction() as session:
        await service.create_bank(
            session, Principal.system(org.id), schemas.BankCreate(slug="main", name="Main")
        )
    folder = tmp_path / "items"
    folder.mkdir()
    (folder / "a.xml").write_text(choice_item("CLI1", "From a file"))
    (folder / "pkg.zip").write_bytes(package("CLI2", "CLI3"))
    env = {
        "WAA_DATABASE_URL": fresh_database.url,
        "WAA_DATA_DIR": str(tmp_path / "data"),
        "WAA_BLOB_DIR": str(live_app.state.settings.resolved_blob_dir),
    }
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke, cli, ["import", str(folder), "--publish"], env=env
    )
    assert result.exit_code == 0, result.output
    assert '"imported": 3' in result.output

    out = tmp_path / "out"
    exported = await asyncio.to_thread(
        runner.invoke, cli, ["export", "--out", str(out), "--status", "published"], env=env
    )
    assert exported.exit_code == 0, exported.output
    archive = zipfile.ZipFile(out / "cli-content-main-qti3.zip")
    assert sum(n.startswith("items/") for n in archive.namelist()) == 3

    broken = tmp_path / "broken.xml"
    broken.write_text("<qti-assessment-item")
    failed = await asyncio.to_thread(runner.invoke, cli, ["import", str(broken)], env=env)
    assert failed.exit_code == 2
    assert "rejected" in failed.output

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "broken.xml").write_text("<qti-assessment-item")
    (mixed / "again.xml").write_text(choice_item("CLI1", "From a file, again"))
    (mixed / "new.xml").write_text(choice_item("CLI4", "New"))
    partial = await asyncio.to_thread(
        runner.invoke, cli, ["import", str(mixed), "--partial"], env=env
    )
    assert partial.exit_code == 0, partial.output
    assert '"imported": 1' in partial.output and '"new_versions": 1' in partial.output
    assert "refused broken.xml:" in partial.output


async def test_preview_resolves_media_and_hides_the_key(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "imports")
    await import_upload(client, headers, bank_id, "pkg.zip", package("V1"))
    item = (await client.get("/api/v1/items", headers=headers)).json()["items"][0]
    preview = await client.get(
        f"/api/v1/items/{item['id']}/versions/1/preview", params={"seed": 7}, headers=headers
    )
    assert preview.status_code == 200, preview.text
    payload = preview.json()
    assert "/api/v1/media/sha256/" in payload["html"]
    assert "correct" not in preview.text.lower()
    src = payload["html"].split("/api/v1/media/sha256/")[1].split('"')[0]
    image = await client.get(f"/api/v1/media/sha256/{src}", headers=headers)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"


NATIVE_TAGGED = """format: waa-ads/item@1
identifier: {identifier}
title: Tagged {identifier}
body: "{{{{RESPONSE}}}}"
interactions:
  - type: choice
    choices:
      - {{id: a, content: A}}
      - {{id: b, content: B}}
    correct: a
scoring: match_correct
metadata:
  tags: [fractions, grade-5]
  subject: mathematics
  origin: workshop
"""


async def test_cli_import_keeps_native_tags_and_subject_for_search_and_selection(
    live_app: FastAPI,
    live_make: Factory,
    live_client: httpx.AsyncClient,
    fresh_database: Database,
    tmp_path: Path,
) -> None:
    from waa_ads.cli import app as cli

    org = await live_make.organization(slug="cli-tags")
    admin = await live_make.user(org, Role.admin)
    folder = tmp_path / "native"
    folder.mkdir()
    for identifier in ("T1", "T2"):
        (folder / f"{identifier}.yaml").write_text(NATIVE_TAGGED.format(identifier=identifier))
    env = {
        "WAA_DATABASE_URL": fresh_database.url,
        "WAA_DATA_DIR": str(tmp_path / "data"),
        "WAA_BLOB_DIR": str(live_app.state.settings.resolved_blob_dir),
    }
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["import", str(folder), "--bank", "tagged", "--create-bank", "--publish"],
        env=env,
    )
    assert result.exit_code == 0, result.output

    headers = await login(live_client, admin)
    found = (
        await live_client.get("/api/v1/items", params={"tag": "fractions"}, headers=headers)
    ).json()["items"]
    assert {i["identifier"] for i in found} == {"T1", "T2"}
    assert {i["subject"] for i in found} == {"mathematics"}
    assert all(sorted(i["tags"]) == ["fractions", "grade-5"] for i in found)

    definition = {
        "title": "Drawn by tag",
        "sections": [
            {
                "identifier": "drawn",
                "title": "Drawn",
                "selection": {
                    "bank_id": found[0]["bank_id"],
                    "count": 2,
                    "tags": ["fractions"],
                    "subject": "mathematics",
                },
            }
        ],
    }
    created = await live_client.post(
        "/api/v1/assessments", json={"slug": "by-tag", "definition": definition}, headers=headers
    )
    assert created.status_code == 201, created.text
    published = await live_client.post(
        f"/api/v1/assessments/{created.json()['assessment']['id']}/publish", headers=headers
    )
    assert published.status_code == 200, published.text


async def test_cli_import_of_item_files_brings_their_pictures_or_names_the_missing_one(
    live_app: FastAPI, live_make: Factory, fresh_database: Database, tmp_path: Path
) -> None:
    from waa_ads.cli import app as cli

    org = await live_make.organization(slug="cli-media")
    content = tmp_path / "content"
    (content / "items").mkdir(parents=True)
    (content / "media").mkdir()
    (content / "media" / "dot.png").write_bytes(png(3, 3))
    (content / "items" / "shown.xml").write_text(figure_item("SHOWN"))
    (content / "items" / "broken.xml").write_text(
        figure_item("BROKEN").replace("../media/dot.png", "../media/gone.png")
    )
    env = {
        "WAA_DATABASE_URL": fresh_database.url,
        "WAA_DATA_DIR": str(tmp_path / "data"),
        "WAA_BLOB_DIR": str(live_app.state.settings.resolved_blob_dir),
    }
    runner = CliRunner()
    args = ["import", str(content / "items"), "--bank", "pics", "--create-bank"]
    refused = await asyncio.to_thread(runner.invoke, cli, args, env=env)
    assert refused.exit_code == 2
    assert "item 'BROKEN' refers to '../media/gone.png'" in refused.output

    partial = await asyncio.to_thread(runner.invoke, cli, [*args, "--partial"], env=env)
    assert partial.exit_code == 0, partial.output
    assert "refused broken.xml: item 'BROKEN' refers to '../media/gone.png'" in partial.output
    async with live_app.state.db.transaction(write=False) as session:
        definition = (
            await session.execute(
                sa_select(ItemVersion.definition)
                .join(Item, Item.id == ItemVersion.item_id)
                .where(Item.identifier == "SHOWN", Item.organization_id == org.id)
            )
        ).scalar_one()
    assert list(definition["metadata"]["media"]) == ["../media/dot.png"]


ESSAY = """<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
    identifier="E1" title="Essay" adaptive="false" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <qti-extended-text-interaction response-identifier="RESPONSE" expected-lines="10">
      <qti-prompt>Argue for or against school uniforms.</qti-prompt>
    </qti-extended-text-interaction>
  </qti-item-body>
</qti-assessment-item>"""


async def test_a_new_version_refused_by_its_item_is_one_refusal_in_partial_mode(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "imports")
    rubric = (
        await client.post(
            "/api/v1/rubrics",
            json={
                "slug": "essay",
                "yaml": (FIXTURES / "rubrics" / "argumentative-essay.yaml").read_text(),
            },
            headers=headers,
        )
    ).json()
    essay = await client.post(
        f"/api/v1/banks/{bank_id}/items",
        json={
            "source": {"format": "qti", "content": ESSAY},
            "rubric_version_id": rubric["version"]["id"],
        },
        headers=headers,
    )
    assert essay.status_code == 201, essay.text
    # E1 again, now a choice item: its rubric cannot stay on it.
    data = build_package(
        [
            ("E1", choice_item("E1", "No longer an essay").encode()),
            ("N1", choice_item("N1", "New").encode()),
        ],
        {},
    )
    refused = await import_upload(client, headers, bank_id, "again.zip", data)
    assert refused.status_code == 422
    statuses = {i["identifier"]: i["status"] for i in refused.json()["report"]["items"]}
    assert statuses == {"E1": "rejected", "N1": "not_imported"}
    assert [
        i["identifier"]
        for i in (await client.get("/api/v1/items", headers=headers)).json()["items"]
    ] == ["E1"]

    partial = await import_upload(client, headers, bank_id, "again.zip", data, mode="partial")
    assert partial.status_code == 201, partial.text
    by_id = {i["identifier"]: i for i in partial.json()["items"]}
    assert by_id["N1"]["status"] == "imported"
    assert by_id["E1"]["status"] == "rejected"
    assert "extended-text" in by_id["E1"]["reason"]
    versions = (
        await client.get(f"/api/v1/items/{essay.json()['item']['id']}/versions", headers=headers)
    ).json()
    assert [v["title"] for v in versions] == ["Essay"]


async def test_reading_a_package_and_writing_exports_run_off_the_event_loop(
    client: httpx.AsyncClient, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading or zipping thousands of items takes seconds of CPU: done on the event loop,
    it would hold up every other request of the process (candidates' saves) meanwhile."""
    import threading

    from waa_ads.content import transfer

    loop_thread = threading.get_ident()
    ran_on: dict[str, int] = {}

    def recorded(name: str, real: object) -> object:
        def run(*args: object, **kwargs: object) -> object:
            ran_on[name] = threading.get_ident()
            return real(*args, **kwargs)  # type: ignore[operator]

        return run

    for name in ("candidates_from_bytes", "build_package", "export_native"):
        monkeypatch.setattr(transfer, name, recorded(name, getattr(transfer, name)))
    headers, bank_id = await admin_bank(client, make, "threads")
    response = await import_upload(client, headers, bank_id, "pkg.zip", package("T1", "T2"))
    assert response.status_code == 201, response.text
    for export_format in ("qti3", "native"):
        exported = await client.get(
            f"/api/v1/banks/{bank_id}/export", params={"format": export_format}, headers=headers
        )
        assert exported.status_code == 200, exported.text
    assert set(ran_on) == {"candidates_from_bytes", "build_package", "export_native"}
    assert loop_thread not in ran_on.values(), ran_on
