"""Items' languages and their translations over HTTP: the language read from QTI
``xml:lang`` (or the organization's default), kept through export and import; a
translation added as a linked variant of its item, and every way one is refused."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from tests.support.factories import Factory, login
from tests.support.items import choice_item
from tests.support.problems import problem
from tests.support.translations import french_choice, text_entry_item
from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Organization, Role
from waa_ads.content import schemas, service
from waa_ads.content.interchange.qti.reader import parse_item as read_item
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.content.item.variants import variant_mismatch
from waa_ads.content.models import Item
from waa_ads.content.service import language_code
from waa_ads.core.db import Database

pytestmark = pytest.mark.asyncio


async def _bank(
    client: httpx.AsyncClient, make: Factory
) -> tuple[Organization, dict[str, str], str]:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    headers = await login(client, admin)
    bank = await client.post(
        "/api/v1/banks", json={"slug": "langs", "name": "Languages"}, headers=headers
    )
    assert bank.status_code == 201, bank.text
    return org, headers, bank.json()["id"]


async def _add(
    client: httpx.AsyncClient, headers: dict[str, str], bank_id: str, xml: str, **extra: object
) -> httpx.Response:
    return await client.post(
        f"/api/v1/banks/{bank_id}/items",
        json={"source": {"format": "qti", "content": xml}, **extra},
        headers=headers,
    )


async def _translate(
    client: httpx.AsyncClient, headers: dict[str, str], item_id: str, xml: str, **extra: object
) -> httpx.Response:
    return await client.post(
        f"/api/v1/items/{item_id}/translations",
        json={"source": {"format": "qti", "content": xml}, **extra},
        headers=headers,
    )


async def test_language_tags_name_the_product_languages() -> None:
    assert language_code("fr") == "fr"
    assert language_code("FR-ca") == "fr"
    assert language_code("en_US") == "en"
    assert language_code("en-xa") == "en-XA"
    assert language_code("de") is None
    assert language_code(None) is None


async def test_a_variant_must_be_answered_as_its_source() -> None:
    source = read_item(choice_item("Q1", "Greek").encode())
    assert variant_mismatch(source, read_item(french_choice("Q1").encode())) is None
    other_choices = french_choice("Q1").replace('identifier="C"', 'identifier="D"')
    assert "choice identifiers" in str(variant_mismatch(source, read_item(other_choices.encode())))
    multiple = french_choice("Q1").replace('cardinality="single"', 'cardinality="multiple"', 1)
    assert "multiple" in str(variant_mismatch(source, read_item(multiple.encode())))
    text = read_item(text_entry_item("T", lang="fr", prompt="?", answer="x").encode())
    assert variant_mismatch(source, text) is not None
    assert isinstance(source, ItemDefinition)


async def test_an_items_language_comes_from_xml_lang_and_survives_export_and_import(
    client: httpx.AsyncClient, make: Factory, db_session: AsyncSession
) -> None:
    org, headers, bank_id = await _bank(client, make)
    french = await _add(client, headers, bank_id, french_choice("F1"))
    assert french.status_code == 201, french.text
    assert french.json()["item"]["language"] == "fr"
    assert french.json()["item"]["translation_of"] is None
    assert french.json()["version"]["language"] == "fr"
    # a regional tag is the product's language; no tag: the organization's default
    regional = await _add(
        client,
        headers,
        bank_id,
        choice_item("R1", "R").replace('xml:lang="en"', 'xml:lang="fr-CA"'),
    )
    assert regional.json()["item"]["language"] == "fr"
    untagged = choice_item("U1", "U").replace(' xml:lang="en"', "")
    assert (await _add(client, headers, bank_id, untagged)).json()["item"]["language"] == "en"
    await db_session.execute(
        update(Organization).where(Organization.id == org.id).values(default_locale="fr")
    )
    untagged2 = untagged.replace('identifier="U1"', 'identifier="U2"')
    assert (await _add(client, headers, bank_id, untagged2)).json()["item"]["language"] == "fr"
    # an explicit language wins, and must be one the product speaks
    explicit = await _add(client, headers, bank_id, choice_item("E1", "E"), language="en-XA")
    assert explicit.json()["item"]["language"] == "en-XA"
    assert explicit.json()["version"]["definition"]["language"] == "en-XA"  # its xml:lang
    refused = await _add(client, headers, bank_id, choice_item("E2", "E"), language="de")
    assert (refused.status_code, problem(refused)) == (422, "language-not-supported")
    changed = await client.patch(
        f"/api/v1/items/{explicit.json()['item']['id']}", json={"language": "fr"}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["item"]["language"] == "fr"
    bad_change = await client.patch(
        f"/api/v1/items/{explicit.json()['item']['id']}", json={"language": "xx"}, headers=headers
    )
    assert (bad_change.status_code, problem(bad_change)) == (422, "language-not-supported")

    # the QTI document of a version says its language, and imports back into it
    item_id = french.json()["item"]["id"]
    qti = await client.get(f"/api/v1/items/{item_id}/versions/1/qti", headers=headers)
    assert 'xml:lang="fr"' in qti.text
    _, headers2, bank2 = await _bank(client, make)
    imported = await client.post(
        f"/api/v1/banks/{bank2}/import",
        files={"file": ("F1.xml", qti.text.encode(), "application/xml")},
        headers=headers2,
    )
    assert imported.status_code == 201, imported.text
    again = await client.get(f"/api/v1/items?bank_id={bank2}", headers=headers2)
    assert [(i["identifier"], i["language"]) for i in again.json()["items"]] == [("F1", "fr")]


async def test_a_translation_is_a_linked_variant_of_its_item(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, headers, bank_id = await _bank(client, make)
    source = await _add(
        client, headers, bank_id, choice_item("Q1", "Greek"), metadata={"tags": ["g"]}
    )
    source_id = source.json()["item"]["id"]

    created = await _translate(client, headers, source_id, french_choice("anything"), publish=True)
    assert created.status_code == 201, created.text
    variant = created.json()["item"]
    assert variant["translation_of"] == source_id
    assert variant["language"] == "fr"
    assert variant["identifier"] == "Q1.fr"
    assert variant["status"] == "published"
    assert variant["tags"] == []  # drawn through its source, never on its own
    assert created.json()["version"]["definition"]["language"] == "fr"

    listed = await client.get(f"/api/v1/items/{source_id}/translations", headers=headers)
    assert [(t["id"], t["language"]) for t in listed.json()] == [(variant["id"], "fr")]
    from_variant = await client.get(f"/api/v1/items/{variant['id']}/translations", headers=headers)
    assert [t["id"] for t in from_variant.json()] == [variant["id"]]
    # searches list items, not their translations
    found = await client.get(f"/api/v1/items?bank_id={bank_id}", headers=headers)
    assert [i["identifier"] for i in found.json()["items"]] == ["Q1"]

    # refusals, each with its problem code, and nothing stored
    again = await _translate(client, headers, source_id, french_choice("Q1"))
    assert (again.status_code, problem(again)) == (409, "translation-exists")
    own = await _translate(client, headers, source_id, choice_item("Q1", "Greek"))
    assert (own.status_code, problem(own)) == (409, "translation-exists")
    unspoken = await _translate(client, headers, source_id, french_choice("Q1"), language="de")
    assert (unspoken.status_code, problem(unspoken)) == (422, "language-not-supported")
    nested = await _translate(client, headers, variant["id"], french_choice("Q1"), language="en-XA")
    assert (nested.status_code, problem(nested)) == (409, "item-is-translation")
    assert nested.json()["source_item_id"] == source_id
    mismatched = await _translate(
        client,
        headers,
        source_id,
        french_choice("Q1").replace('identifier="C"', 'identifier="D"'),
        language="en-XA",
    )
    assert (mismatched.status_code, problem(mismatched)) == (422, "translation-mismatch")
    assert "choice identifiers" in mismatched.json()["detail"]
    text_entry = await _translate(
        client,
        headers,
        source_id,
        text_entry_item("Q1", lang="fr", prompt="?", answer="b"),
        language="en-XA",
    )
    assert (text_entry.status_code, problem(text_entry)) == (422, "translation-mismatch")
    listed = await client.get(f"/api/v1/items/{source_id}/translations", headers=headers)
    assert len(listed.json()) == 1

    # an edit of the translation must still answer as its source; its language stays
    edited = await client.patch(
        f"/api/v1/items/{variant['id']}",
        json={
            "source": {
                "format": "qti",
                "content": french_choice("Q1.fr").replace("Choisissez-en une", "Une seule"),
            }
        },
        headers=headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["item"]["language"] == "fr"
    broken = await client.patch(
        f"/api/v1/items/{variant['id']}",
        json={
            "source": {
                "format": "qti",
                "content": french_choice("Q1.fr").replace('identifier="C"', 'identifier="D"'),
            }
        },
        headers=headers,
    )
    assert (broken.status_code, problem(broken)) == (422, "translation-mismatch")
    # the source cannot move into its translation's language
    clash = await client.patch(
        f"/api/v1/items/{source_id}", json={"language": "fr"}, headers=headers
    )
    assert (clash.status_code, problem(clash)) == (409, "translation-exists")

    # deleting the source takes its translations with it
    deleted = await client.delete(f"/api/v1/items/{source_id}", headers=headers)
    assert deleted.status_code == 204, deleted.text
    gone = await client.get(f"/api/v1/items/{variant['id']}", headers=headers)
    assert gone.status_code == 404


async def test_the_command_line_adds_a_translation_from_a_file(
    live_app: FastAPI, live_make: Factory, fresh_database: Database, tmp_path: Path
) -> None:
    from waa_ads.cli import app as cli

    org = await live_make.organization(slug="cli-translations")
    async with live_app.state.db.transaction() as session:
        principal = Principal.system(org.id)
        bank = await service.create_bank(
            session, principal, schemas.BankCreate(slug="greek", name="Greek")
        )
        source, _ = await service.create_item(
            session,
            principal,
            bank.id,
            read_item(choice_item("Q1", "Greek")),
            metadata=schemas.ItemMetadata(),
        )
    env = {"WAA_DATABASE_URL": fresh_database.url, "WAA_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()
    french = tmp_path / "q1-fr.xml"
    french.write_text(french_choice("Q1"))
    done = await asyncio.to_thread(
        runner.invoke, cli, ["bank", "translate", "greek", "Q1", str(french), "--publish"], env=env
    )
    assert done.exit_code == 0, done.output
    assert "translation Q1.fr" in done.output and "published" in done.output
    async with live_app.state.db.transaction(write=False) as session:
        variant = (
            await session.execute(select(Item).where(Item.translation_of == source.id))
        ).scalar_one()
    assert (variant.identifier, variant.language) == ("Q1.fr", "fr")

    mismatched = tmp_path / "q1-xa.xml"
    mismatched.write_text(french_choice("Q1").replace('identifier="C"', 'identifier="D"'))
    refused = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["bank", "translate", "greek", "Q1", str(mismatched), "--language", "en-XA"],
        env=env,
    )
    assert refused.exit_code == 2
    assert "choice identifiers" in refused.output
    unspoken = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["bank", "translate", "greek", "Q1", str(french), "--language", "de"],
        env=env,
    )
    assert unspoken.exit_code == 2


async def test_a_native_export_keeps_the_link_of_a_translation_to_its_item(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, headers, bank_id = await _bank(client, make)
    source = await _add(client, headers, bank_id, choice_item("Q1", "Greek"))
    created = await _translate(client, headers, source.json()["item"]["id"], french_choice("Q1"))
    assert created.json()["version"]["definition"]["metadata"]["translation_of"] == "Q1"
    exported = await client.get(
        f"/api/v1/banks/{bank_id}/export", params={"format": "native"}, headers=headers
    )
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    assert sorted(archive.namelist()) == ["items/Q1.fr.json", "items/Q1.json"]

    async def import_into(bank: str, name: str) -> httpx.Response:
        reply = await client.post(
            f"/api/v1/banks/{bank}/import",
            files={
                "file": (name.rsplit("/", maxsplit=1)[-1], archive.read(name), "application/json")
            },
            headers=headers,
        )
        assert reply.status_code == 201, reply.text
        return reply

    other = await client.post("/api/v1/banks", json={"slug": "copy", "name": "C"}, headers=headers)
    await import_into(other.json()["id"], "items/Q1.json")
    await import_into(other.json()["id"], "items/Q1.fr.json")
    items = (
        await client.get(f"/api/v1/items?bank_id={other.json()['id']}", headers=headers)
    ).json()
    assert [i["identifier"] for i in items["items"]] == ["Q1"]
    linked = await client.get(
        f"/api/v1/items/{items['items'][0]['id']}/translations", headers=headers
    )
    assert [(t["identifier"], t["language"]) for t in linked.json()] == [("Q1.fr", "fr")]

    # without its item in the bank, a translation is imported as an item of its own
    third = await client.post("/api/v1/banks", json={"slug": "alone", "name": "A"}, headers=headers)
    alone = await import_into(third.json()["id"], "items/Q1.fr.json")
    assert any("not linked as a translation of 'Q1'" in w for w in alone.json()["warnings"])
    items = (
        await client.get(f"/api/v1/items?bank_id={third.json()['id']}", headers=headers)
    ).json()
    assert [(i["identifier"], i["translation_of"]) for i in items["items"]] == [("Q1.fr", None)]
