"""Shared stimuli: imported with the items of a package, added and versioned through the
API, pinned by the item versions that refer to them, exported with them, and delivered
beside them to candidates (title and sanitized body, nothing else)."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lxml import etree
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from tests.support.banks import admin_bank, import_upload
from tests.support.exams import World, begin
from tests.support.factories import Factory, login
from tests.support.items import choice_item
from tests.support.media import png
from tests.support.qti3_schema import check_qti3
from tests.support.stimuli import (
    PASSAGE_ID,
    PASSAGE_SENTENCE,
    PASSAGE_TITLE,
    passage,
    stimulus_item,
    stimulus_package,
)
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Role
from waa_ads.content import schemas, service
from waa_ads.content.models import Stimulus, StimulusVersion
from waa_ads.core.db import Database

pytestmark = pytest.mark.asyncio


async def _item_id(
    client: httpx.AsyncClient, headers: dict[str, str], bank_id: str, identifier: str
) -> str:
    found = await client.get(
        "/api/v1/items", params={"bank_id": bank_id, "q": identifier}, headers=headers
    )
    (item,) = [i for i in found.json()["items"] if i["identifier"] == identifier]
    return str(item["id"])


async def _preview(
    client: httpx.AsyncClient, headers: dict[str, str], item_id: str, version: int = 1
) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/items/{item_id}/versions/{version}/preview", headers=headers)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def test_a_package_brings_its_shared_stimulus_once_and_items_are_shown_beside_it(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "reading")
    reply = await import_upload(client, headers, bank_id, "tide.zip", stimulus_package())
    assert reply.status_code == 201, reply.text
    report = reply.json()
    assert report["imported"] == 2
    (stimulus,) = report["stimuli"]
    assert stimulus["identifier"] == PASSAGE_ID
    assert stimulus["status"] == "imported"
    assert stimulus["version"] == 1
    assert stimulus["source"] == "tide.zip:passages/tide.xml"
    # What the sanitizer removed from the passage is reported against its file.
    assert any(
        w.startswith("tide.zip:passages/tide.xml: removed <script>") for w in report["warnings"]
    )

    listed = (await client.get(f"/api/v1/banks/{bank_id}/stimuli", headers=headers)).json()
    assert [s["identifier"] for s in listed["items"]] == [PASSAGE_ID]
    stored = (
        await client.get(f"/api/v1/stimuli/{stimulus['stimulus_id']}", headers=headers)
    ).json()
    assert stored["stimulus"]["title"] == PASSAGE_TITLE
    assert stored["stimulus"]["language"] == "en"
    body = stored["version"]["definition"]["body"]
    assert PASSAGE_SENTENCE in body
    assert "script" not in body and "onclick" not in body
    (sha,) = stored["version"]["definition"]["metadata"]["media"].values()

    shown = []
    for identifier in ("TIDE-1", "TIDE-2"):
        preview = await _preview(
            client, headers, await _item_id(client, headers, bank_id, identifier)
        )
        (beside,) = preview["stimuli"]
        assert set(beside) == {"identifier", "title", "language", "html"}
        assert beside["title"] == PASSAGE_TITLE
        assert PASSAGE_SENTENCE in beside["html"]
        assert f'src="/api/v1/media/sha256/{sha}"' in beside["html"]
        assert "<script" not in beside["html"]
        assert PASSAGE_SENTENCE not in preview["html"]  # beside the item, not in its body
        shown.append(beside)
    assert shown[0] == shown[1]

    # The same package again: the items get new versions, the stimulus is left as it is.
    again = (await import_upload(client, headers, bank_id, "tide.zip", stimulus_package())).json()
    assert again["new_versions"] == 2
    assert [(s["status"], s["version"]) for s in again["stimuli"]] == [("unchanged", 1)]


async def test_an_item_file_uses_a_stimulus_the_bank_holds_and_is_refused_naming_a_missing_one(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "reading")
    lone = stimulus_item("LONE-1").encode()
    refused = await import_upload(client, headers, bank_id, "LONE-1.xml", lone)
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/import-rejected")
    (outcome,) = refused.json()["report"]["items"]
    assert outcome["status"] == "rejected"
    assert f"shared stimulus {PASSAGE_ID!r}" in outcome["reason"]
    created = await client.post(
        f"/api/v1/banks/{bank_id}/items",
        json={"source": {"format": "qti", "content": stimulus_item("LONE-2")}},
        headers=headers,
    )
    assert created.status_code == 422
    assert created.json()["type"].endswith("/stimulus-missing")
    assert created.json()["missing"] == [PASSAGE_ID]

    added = await client.post(
        f"/api/v1/banks/{bank_id}/stimuli",
        json={"source": {"format": "qti", "content": passage()}},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    imported = await import_upload(client, headers, bank_id, "LONE-1.xml", lone)
    assert imported.status_code == 201, imported.text
    assert imported.json()["stimuli"] == []
    preview = await _preview(client, headers, await _item_id(client, headers, bank_id, "LONE-1"))
    assert [s["identifier"] for s in preview["stimuli"]] == [PASSAGE_ID]


async def test_a_package_whose_stimulus_picture_is_missing_is_refused_naming_it(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "reading")
    reply = await import_upload(
        client, headers, bank_id, "tide.zip", stimulus_package(with_picture=False)
    )
    assert reply.status_code == 422
    reasons = [i["reason"] for i in reply.json()["report"]["items"]]
    assert all("passages/images/pool.png" in r for r in reasons), reasons
    assert reply.json()["report"]["stimuli"] == []
    listed = (await client.get(f"/api/v1/banks/{bank_id}/stimuli", headers=headers)).json()
    assert listed["items"] == []


async def test_stimulus_versions_are_pinned_by_the_item_versions_that_use_them(
    client: httpx.AsyncClient, make: Factory, db_session: AsyncSession
) -> None:
    headers, bank_id = await admin_bank(client, make, "reading")
    first = await client.post(
        f"/api/v1/banks/{bank_id}/stimuli",
        json={"source": {"format": "qti", "content": passage()}, "change_note": "first"},
        headers=headers,
    )
    assert first.status_code == 201, first.text
    stimulus_id = first.json()["stimulus"]["id"]
    again = await client.post(
        f"/api/v1/banks/{bank_id}/stimuli",
        json={"source": {"format": "qti", "content": passage()}},
        headers=headers,
    )
    assert again.status_code == 409
    assert again.json()["type"].endswith("/stimulus-identifier-taken")
    malformed = await client.post(
        f"/api/v1/banks/{bank_id}/stimuli",
        json={"source": {"format": "qti", "content": "<qti-assessment-stimulus"}},
        headers=headers,
    )
    assert malformed.status_code == 422
    assert malformed.json()["type"].endswith("/stimulus-invalid")
    stored_form = await client.post(
        f"/api/v1/banks/{bank_id}/stimuli",
        json={
            "source": {
                "format": "definition",
                "content": {
                    "identifier": "forged",
                    "title": "Forged",
                    "body": "<p>Hi</p>",
                    "metadata": {"media": {"a.png": "0" * 64}},
                },
            }
        },
        headers=headers,
    )
    assert stored_form.status_code == 404
    assert stored_form.json()["type"].endswith("/media-not-found")
    with_interaction = passage().replace(
        "<h3>", '<qti-text-entry-interaction response-identifier="R"/><h3>'
    )
    refused = await client.post(
        f"/api/v1/banks/{bank_id}/stimuli",
        json={"source": {"format": "qti", "content": with_interaction.replace(PASSAGE_ID, "x")}},
        headers=headers,
    )
    assert refused.status_code == 422
    assert "cannot hold an interaction" in refused.json()["detail"]

    item = await client.post(
        f"/api/v1/banks/{bank_id}/items",
        json={"source": {"format": "qti", "content": stimulus_item("PIN-1")}},
        headers=headers,
    )
    assert item.status_code == 201, item.text
    item_id = item.json()["item"]["id"]
    published = await client.post(f"/api/v1/items/{item_id}/publish", headers=headers)
    assert published.status_code == 200

    changed = await client.put(
        f"/api/v1/stimuli/{stimulus_id}",
        json={"source": {"format": "qti", "content": passage(sentence="Once a day the sea")}},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["stimulus"]["latest_version"] == 2
    unchanged = await client.put(
        f"/api/v1/stimuli/{stimulus_id}",
        json={"source": {"format": "qti", "content": passage(sentence="Once a day the sea")}},
        headers=headers,
    )
    assert unchanged.json()["version"]["version"] == 2
    renamed = await client.put(
        f"/api/v1/stimuli/{stimulus_id}",
        json={"source": {"format": "qti", "content": passage(identifier="other")}},
        headers=headers,
    )
    assert renamed.status_code == 422
    old = await client.get(f"/api/v1/stimuli/{stimulus_id}/versions/1", headers=headers)
    assert PASSAGE_SENTENCE in old.json()["definition"]["body"]
    assert old.json()["change_note"] == "first"

    # The published version keeps the passage its candidates saw; the next takes the new one.
    (kept,) = (await _preview(client, headers, item_id, 1))["stimuli"]
    assert PASSAGE_SENTENCE in kept["html"]
    edited = await client.patch(
        f"/api/v1/items/{item_id}", json={"change_note": "new passage"}, headers=headers
    )
    assert edited.json()["version"]["version"] == 2
    (taken,) = (await _preview(client, headers, item_id, 2))["stimuli"]
    assert "Once a day the sea" in taken["html"]
    shown = await client.get(f"/api/v1/stimuli/{stimulus_id}/versions/2/preview", headers=headers)
    assert shown.json() == taken

    actions = (
        await db_session.execute(
            select(AuditEvent.action)
            .where(AuditEvent.target_id == stimulus_id)
            .order_by(AuditEvent.seq)
        )
    ).scalars()
    assert list(actions) == ["stimulus.created", "stimulus.version_created"]


async def test_another_organization_sees_no_stimulus(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "reading")
    added = await client.post(
        f"/api/v1/banks/{bank_id}/stimuli",
        json={"source": {"format": "qti", "content": passage()}},
        headers=headers,
    )
    stimulus_id = added.json()["stimulus"]["id"]
    other, _ = await admin_bank(client, make, "other")
    assert (await client.get(f"/api/v1/stimuli/{stimulus_id}", headers=other)).status_code == 404
    listed = await client.get(f"/api/v1/banks/{bank_id}/stimuli", headers=other)
    assert listed.status_code == 404
    put = await client.put(
        f"/api/v1/stimuli/{stimulus_id}",
        json={"source": {"format": "qti", "content": passage()}},
        headers=other,
    )
    assert put.status_code == 404


async def test_an_export_writes_the_stimulus_and_reads_back_with_its_items(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "reading")
    await import_upload(client, headers, bank_id, "tide.zip", stimulus_package())
    exported = await client.get(
        f"/api/v1/banks/{bank_id}/export", params={"format": "qti3"}, headers=headers
    )
    assert exported.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    names = archive.namelist()
    assert f"stimuli/{PASSAGE_ID}.xml" in names
    written = archive.read(f"stimuli/{PASSAGE_ID}.xml")
    check_qti3(written)
    assert b'src="../media/pool.png"' in written
    for identifier in ("TIDE-1", "TIDE-2"):
        item = archive.read(f"items/{identifier}.xml")
        check_qti3(item)
        ref = etree.fromstring(item).find(
            "{http://www.imsglobal.org/xsd/imsqtiasi_v3p0}qti-assessment-stimulus-ref"
        )
        assert ref is not None and ref.get("href") == f"../stimuli/{PASSAGE_ID}.xml"
    manifest = etree.fromstring(archive.read("imsmanifest.xml"))
    types = {r.get("href"): r.get("type") for r in manifest.iter("{*}resource")}
    assert types[f"stimuli/{PASSAGE_ID}.xml"] == "imsqti_stimulus_xmlv3p0"

    other_headers, other_bank = await admin_bank(client, make, "copy")
    back = await import_upload(client, other_headers, other_bank, "export.zip", exported.content)
    assert back.status_code == 201, back.text
    assert [s["status"] for s in back.json()["stimuli"]] == ["imported"]
    preview = await _preview(
        client, other_headers, await _item_id(client, other_headers, other_bank, "TIDE-2")
    )
    (beside,) = preview["stimuli"]
    assert PASSAGE_SENTENCE in beside["html"]
    assert "/api/v1/media/sha256/" in beside["html"]


async def test_a_candidate_receives_the_stimulus_beside_each_item_that_uses_it(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup(tagged={"Q1": []})
    reply = await import_upload(
        client, world.headers, world.bank_id, "tide.zip", stimulus_package(), publish="true"
    )
    assert reply.status_code == 201, reply.text
    items = [{"item_id": world.items["Q1"]}]
    for identifier in ("TIDE-1", "TIDE-2"):
        items.append({"item_id": await _item_id(client, world.headers, world.bank_id, identifier)})
    person = await make.candidate(world.org, name="Reader")
    _, (code,) = await world.open_administration(
        slug="reading",
        definition=world.definition(sections=[{"identifier": "s", "title": "S", "items": items}]),
        title="Reading now",
        candidate_ids=[person.id],
    )
    attempt_id, credential = await begin(client, code)
    view = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=credential)).json()
    by_ref = {entry["ref"]: entry["item"] for entry in view["items"]}
    assert "stimuli" not in by_ref["Q1"]
    for identifier in ("TIDE-1", "TIDE-2"):
        (beside,) = by_ref[identifier]["stimuli"]
        assert set(beside) == {"identifier", "title", "language", "html"}
        assert beside["identifier"] == PASSAGE_ID
        assert PASSAGE_SENTENCE in beside["html"]
        # Pictures behind the signed media route, as the item's own are.
        assert "/api/v1/media/signed/" in beside["html"]
    picture = beside["html"].split('src="')[1].split('"')[0].replace("&amp;", "&")
    fetched = await client.get(picture)
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "image/png"


async def test_cli_adds_lists_and_versions_a_stimulus_that_an_item_file_then_uses(
    live_app: FastAPI, live_make: Factory, fresh_database: Database, tmp_path: Path
) -> None:
    from waa_ads.cli import app as cli

    org = await live_make.organization(slug="cli-stimuli")
    async with live_app.state.db.transaction() as session:
        await service.create_bank(
            session, Principal.system(org.id), schemas.BankCreate(slug="reading", name="R")
        )
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "pool.png").write_bytes(png(4, 3))
    (tmp_path / "tide.xml").write_text(passage())
    (tmp_path / "items").mkdir()
    # Its stimulus is not beside it: it comes from the bank.
    (tmp_path / "items" / "T1.xml").write_text(stimulus_item("T1", href="../elsewhere/tide.xml"))
    env = {"WAA_DATABASE_URL": fresh_database.url, "WAA_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()

    async def run(*args: str, code: int = 0) -> str:
        result = await asyncio.to_thread(runner.invoke, cli, list(args), env=env)
        assert result.exit_code == code, result.output
        # Without the JSON log lines background work may print meanwhile.
        return "\n".join(
            line for line in result.output.splitlines() if not line.startswith('{"task"')
        )

    refused = await run("import", str(tmp_path / "items" / "T1.xml"), code=2)
    assert f"shared stimulus {PASSAGE_ID!r}" in refused
    added = await run("bank", "stimulus", "reading", str(tmp_path / "tide.xml"))
    assert added.startswith(f"added stimulus {PASSAGE_ID}") and "version 1" in added
    again = await run("bank", "stimulus", "reading", str(tmp_path / "tide.xml"))
    assert again.startswith(f"unchanged stimulus {PASSAGE_ID}")
    (tmp_path / "tide.xml").write_text(passage(sentence="Once a day the sea"))
    changed = await run("bank", "stimulus", "reading", str(tmp_path / "tide.xml"))
    assert changed.startswith(f"new version of stimulus {PASSAGE_ID}") and "version 2" in changed
    listed = await run("bank", "stimuli", "reading")
    assert listed.startswith(f"{PASSAGE_ID}\t") and f"\tv2\t{PASSAGE_TITLE}" in listed
    output = await run("import", str(tmp_path / "items" / "T1.xml"))
    imported, _ = json.JSONDecoder().raw_decode(output[output.index("{") :])
    assert imported["imported"] == 1
    (tmp_path / "tide.zip").write_bytes(stimulus_package())
    packaged = await run("import", str(tmp_path / "tide.zip"))
    assert f"shared stimulus {PASSAGE_ID}: new_version (version 3)" in packaged

    (tmp_path / "images" / "pool.png").unlink()
    missing = await run("bank", "stimulus", "reading", str(tmp_path / "tide.xml"), code=2)
    assert "images/pool.png" in missing
    broken = tmp_path / "broken.xml"
    broken.write_text("<qti-assessment-stimulus")
    assert "error:" in await run("bank", "stimulus", "reading", str(broken), code=2)


async def test_deleting_a_bank_deletes_its_stimuli(
    client: httpx.AsyncClient, make: Factory, db_session: AsyncSession
) -> None:
    headers, bank_id = await admin_bank(client, make, "reading")
    await import_upload(client, headers, bank_id, "tide.zip", stimulus_package())
    deleted = await client.delete(f"/api/v1/banks/{bank_id}", headers=headers)
    assert deleted.status_code == 204, deleted.text
    assert (await db_session.execute(select(Stimulus.id))).all() == []
    assert (await db_session.execute(select(StimulusVersion.id))).all() == []


async def test_cli_imports_a_folder_of_items_with_the_stimulus_file_beside_them(
    live_app: FastAPI, live_make: Factory, fresh_database: Database, tmp_path: Path
) -> None:
    from waa_ads.cli import app as cli

    org = await live_make.organization(slug="cli-folder-stimuli")
    async with live_app.state.db.transaction() as session:
        await service.create_bank(
            session, Principal.system(org.id), schemas.BankCreate(slug="reading", name="R")
        )
    folder = tmp_path / "unpacked"
    (folder / "items").mkdir(parents=True)
    (folder / "passages" / "images").mkdir(parents=True)
    (folder / "passages" / "images" / "pool.png").write_bytes(png(4, 3))
    (folder / "passages" / "tide.xml").write_text(passage())
    for identifier in ("F1", "F2"):
        (folder / "items" / f"{identifier}.xml").write_text(stimulus_item(identifier))
    env = {"WAA_DATABASE_URL": fresh_database.url, "WAA_DATA_DIR": str(tmp_path / "data")}
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["import", str(folder)], env=env)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if not line.startswith('{"task"')]
    output = "\n".join(lines)
    report, _ = json.JSONDecoder().raw_decode(output[output.index("{") :])
    assert report["imported"] == 2 and report["rejected"] == 0
    assert [(s["identifier"], s["status"]) for s in report["stimuli"]] == [(PASSAGE_ID, "imported")]
    async with live_app.state.db.transaction() as session:
        (stored,) = (await session.execute(select(StimulusVersion.definition))).scalars()
        assert list(stored["metadata"]["media"]) == ["images/pool.png"]

    # A stimulus file that is another stimulus than the item names refuses the item.
    (folder / "passages" / "tide.xml").write_text(passage(identifier="harbour"))
    refused = await asyncio.to_thread(
        CliRunner().invoke, cli, ["import", str(folder / "items" / "F1.xml")], env=env
    )
    assert refused.exit_code == 2
    assert "that file is the stimulus 'harbour'" in refused.output


async def test_two_requests_adding_the_same_stimulus_at_once_store_it_once(
    live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    org = await live_make.organization(slug="stimulus-race")
    headers = await login(live_client, await live_make.user(org, Role.admin))
    bank = await live_client.post(
        "/api/v1/banks", json={"slug": "race", "name": "Race"}, headers=headers
    )
    bank_id = bank.json()["id"]

    async def add() -> httpx.Response:
        return await live_client.post(
            f"/api/v1/banks/{bank_id}/stimuli",
            json={"source": {"format": "qti", "content": passage()}},
            headers=headers,
        )

    replies = await asyncio.gather(*(add() for _ in range(4)))
    assert sorted(r.status_code for r in replies) == [201, 409, 409, 409], [r.text for r in replies]
    assert {r.json()["type"].rsplit("/", 1)[1] for r in replies if r.status_code == 409} == {
        "stimulus-identifier-taken"
    }
    listed = await live_client.get(f"/api/v1/banks/{bank_id}/stimuli", headers=headers)
    assert [s["latest_version"] for s in listed.json()["items"]] == [1]


async def _stimulus_id(client: httpx.AsyncClient, headers: dict[str, str], bank_id: str) -> str:
    listed = await client.get(
        f"/api/v1/banks/{bank_id}/stimuli", params={"archived": "true"}, headers=headers
    )
    (stimulus,) = [s for s in listed.json()["items"] if s["identifier"] == PASSAGE_ID]
    return str(stimulus["id"])


async def test_a_stimulus_lists_the_items_using_it_and_is_archived_not_deleted_while_used(
    client: httpx.AsyncClient, make: Factory, db_session: AsyncSession
) -> None:
    headers, bank_id = await admin_bank(client, make, "reading")
    reply = await import_upload(client, headers, bank_id, "tide.zip", stimulus_package())
    assert reply.status_code == 201, reply.text
    plain = await client.post(
        f"/api/v1/banks/{bank_id}/items",
        json={"source": {"format": "qti", "content": choice_item("PLAIN", "Plain")}},
        headers=headers,
    )
    assert plain.status_code == 201, plain.text
    stimulus_id = await _stimulus_id(client, headers, bank_id)
    url = f"/api/v1/stimuli/{stimulus_id}"

    shown = await client.get(url, headers=headers)
    assert shown.status_code == 200, shown.text
    users = shown.json()["items"]
    assert [(u["identifier"], u["version"], u["archived"]) for u in users] == [
        ("TIDE-1", 1, False),
        ("TIDE-2", 1, False),
    ]
    tide_1 = await _item_id(client, headers, bank_id, "TIDE-1")
    assert users[0]["item_id"] == tide_1 and users[0]["title"] == "Tide question TIDE-1"

    # Items use it: deleting is refused, naming how many.
    refused = await client.delete(url, headers=headers)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert body["type"].endswith("/stimulus-in-use")
    assert body["items"] == 2
    assert "2 items use the shared stimulus" in body["detail"]
    assert (await client.get(url, headers=headers)).status_code == 200

    archived = await client.post(f"{url}/archive", headers=headers)
    assert archived.status_code == 200, archived.text
    assert archived.json()["archived_at"] is not None
    listed = await client.get(f"/api/v1/banks/{bank_id}/stimuli", headers=headers)
    assert listed.json()["items"] == []
    assert (await client.get(url, headers=headers)).json()["stimulus"]["archived_at"]

    # Not taken up by a new item...
    new = await client.post(
        f"/api/v1/banks/{bank_id}/items",
        json={"source": {"format": "qti", "content": stimulus_item("NEW-1")}},
        headers=headers,
    )
    assert new.status_code == 422, new.text
    assert new.json()["type"].endswith("/stimulus-archived")
    assert new.json()["archived"] == [PASSAGE_ID]
    # ...but the items that use it keep showing it, in their stored versions and new ones.
    preview = await _preview(client, headers, tide_1)
    assert [s["identifier"] for s in preview["stimuli"]] == [PASSAGE_ID]
    assert PASSAGE_SENTENCE in preview["stimuli"][0]["html"]
    changed = stimulus_item("TIDE-1", correct="C").encode()
    newer = await import_upload(client, headers, bank_id, "TIDE-1.xml", changed)
    assert newer.status_code == 201, newer.text
    (outcome,) = newer.json()["items"]
    assert outcome["status"] == "new_version", newer.text
    preview = await _preview(client, headers, tide_1, version=outcome["version"])
    assert [s["identifier"] for s in preview["stimuli"]] == [PASSAGE_ID]
    assert "correct" not in json.dumps(preview["stimuli"])
    users = (await client.get(url, headers=headers)).json()["items"]
    assert [u["identifier"] for u in users] == ["TIDE-1", "TIDE-2"]

    restored = await client.post(f"{url}/restore", headers=headers)
    assert restored.status_code == 200 and restored.json()["archived_at"] is None
    new = await client.post(
        f"/api/v1/banks/{bank_id}/items",
        json={"source": {"format": "qti", "content": stimulus_item("NEW-1")}},
        headers=headers,
    )
    assert new.status_code == 201, new.text

    # A stimulus no item uses is deleted, with its versions.
    spare = await client.post(
        f"/api/v1/banks/{bank_id}/stimuli",
        json={"source": {"format": "qti", "content": passage(identifier="spare")}},
        headers=headers,
    )
    assert spare.status_code == 201, spare.text
    spare_id = spare.json()["stimulus"]["id"]
    assert (await client.get(f"/api/v1/stimuli/{spare_id}", headers=headers)).json()["items"] == []
    deleted = await client.delete(f"/api/v1/stimuli/{spare_id}", headers=headers)
    assert deleted.status_code == 204, deleted.text
    assert (await client.get(f"/api/v1/stimuli/{spare_id}", headers=headers)).status_code == 404
    actions = (
        await db_session.execute(
            select(AuditEvent.action).where(AuditEvent.target_id.in_([stimulus_id, spare_id]))
        )
    ).scalars()
    assert {"stimulus.archived", "stimulus.restored", "stimulus.deleted"} <= set(actions)


async def test_a_proctor_may_not_archive_or_delete_a_stimulus(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await login(client, await make.user(org, Role.admin))
    bank = await client.post("/api/v1/banks", json={"slug": "reading", "name": "R"}, headers=admin)
    bank_id = bank.json()["id"]
    added = await client.post(
        f"/api/v1/banks/{bank_id}/stimuli",
        json={"source": {"format": "qti", "content": passage()}},
        headers=admin,
    )
    stimulus_id = added.json()["stimulus"]["id"]
    proctor = await login(client, await make.user(org, Role.proctor))
    for method, path in (("POST", "/archive"), ("DELETE", "")):
        reply = await client.request(
            method, f"/api/v1/stimuli/{stimulus_id}{path}", headers=proctor
        )
        assert reply.status_code in (403, 404), reply.text
    assert (await client.get(f"/api/v1/stimuli/{stimulus_id}", headers=admin)).status_code == 200


async def test_cli_lists_the_items_using_a_stimulus_archives_and_deletes_it(
    live_app: FastAPI, live_make: Factory, fresh_database: Database, tmp_path: Path
) -> None:
    from waa_ads.cli import app as cli

    org = await live_make.organization(slug="cli-stimulus-users")
    async with live_app.state.db.transaction() as session:
        await service.create_bank(
            session, Principal.system(org.id), schemas.BankCreate(slug="reading", name="R")
        )
    (tmp_path / "tide.zip").write_bytes(stimulus_package("U1"))
    (tmp_path / "spare.xml").write_text(passage(identifier="spare"))
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "pool.png").write_bytes(png(4, 3))
    env = {"WAA_DATABASE_URL": fresh_database.url, "WAA_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()

    async def run(*args: str, code: int = 0) -> str:
        result = await asyncio.to_thread(runner.invoke, cli, list(args), env=env)
        assert result.exit_code == code, result.output
        return "\n".join(
            line for line in result.output.splitlines() if not line.startswith('{"task"')
        )

    await run("import", str(tmp_path / "tide.zip"))
    await run("bank", "stimulus", "reading", str(tmp_path / "spare.xml"))
    users = await run("bank", "stimulus-items", "reading", PASSAGE_ID)
    (line,) = users.splitlines()
    assert line.startswith("U1\t") and "\tv1\tdraft\tTide question U1" in line
    assert (await run("bank", "stimulus-items", "reading", "spare")).startswith(
        "no item uses stimulus spare"
    )
    refused = await run("bank", "stimulus-delete", "reading", PASSAGE_ID, code=2)
    assert "1 item uses the shared stimulus" in refused and "archive it instead" in refused
    assert "no shared stimulus 'nothing'" in await run(
        "bank", "stimulus-archive", "reading", "nothing", code=2
    )
    archived = await run("bank", "stimulus-archive", "reading", PASSAGE_ID)
    assert archived.startswith(f"archived stimulus {PASSAGE_ID}")
    assert PASSAGE_ID not in await run("bank", "stimuli", "reading")
    every = await run("bank", "stimuli", "reading", "--archived")
    assert any(
        line.startswith(f"{PASSAGE_ID}\t") and line.endswith("\tarchived")
        for line in every.splitlines()
    )
    restored = await run("bank", "stimulus-archive", "reading", PASSAGE_ID, "--restore")
    assert restored.startswith(f"restored stimulus {PASSAGE_ID}")
    assert PASSAGE_ID in await run("bank", "stimuli", "reading")
    assert (await run("bank", "stimulus-delete", "reading", "spare")).startswith(
        "deleted stimulus spare"
    )
    assert "spare" not in await run("bank", "stimuli", "reading", "--archived")
