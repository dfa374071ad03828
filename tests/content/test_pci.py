"""Portable custom interactions: read from a package with their module files (stored as the
item's media), written back as QTI 3.0, refused when a module comes from outside the
package, and scored by the item's response processing."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from tests.support.banks import admin_bank, import_upload
from tests.support.factories import Factory
from tests.support.pci_items import LIKERT_JS, TYPE_IDENTIFIER, likert_item, likert_package
from waa_ads.content import transfer
from waa_ads.content.interchange.qti.package import build_package
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.interchange.qti.writer import write_item
from waa_ads.content.item.definition import InteractionType, ItemDefinition, ItemFormatError
from waa_ads.content.media.check import content_address
from waa_ads.content.render.candidate import candidate_view
from waa_ads.scoring.engine import evaluate

QTI22 = "http://www.imsglobal.org/xsd/imsqti_v2p2"


def test_the_reader_keeps_modules_markup_and_configuration() -> None:
    item = parse_item(likert_item())
    (interaction,) = item.interactions
    assert interaction.type is InteractionType.PORTABLE_CUSTOM
    pci = interaction.pci
    assert pci is not None
    assert pci.type_identifier == TYPE_IDENTIFIER
    assert pci.module == "likert"
    assert [(m.id, m.primary_path) for m in pci.modules] == [("likert", "../media/likert.js")]
    assert pci.properties == {
        "levels": "5",
        "label": "How sure are you",
        "low": "not sure",
        "high": "very sure",
    }
    assert "Choose a point." in pci.markup
    assert not any(name.startswith("data-") for name in interaction.attributes)
    again = parse_item(write_item(item))
    assert again.interactions == item.interactions
    assert ItemDefinition.from_dict(item.to_dict()) == item


def test_a_qti22_portable_custom_interaction_is_read_as_qti3() -> None:
    xml = f"""<assessmentItem xmlns="{QTI22}" identifier="L22" title="Likert 2.2"
        adaptive="false" timeDependent="false">
      <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="integer"/>
      <itemBody>
        <portableCustomInteraction responseIdentifier="RESPONSE" module="likert"
            customInteractionTypeIdentifier="{TYPE_IDENTIFIER}" data-levels="7">
          <interactionModules>
            <interactionModule id="likert" primaryPath="modules/likert.js"/>
          </interactionModules>
          <interactionMarkup><div>Scale</div></interactionMarkup>
        </portableCustomInteraction>
      </itemBody>
    </assessmentItem>"""
    (interaction,) = parse_item(xml).interactions
    assert interaction.pci is not None
    assert interaction.pci.properties == {"levels": "7"}
    assert interaction.pci.modules[0].primary_path == "modules/likert.js"
    assert "Scale" in interaction.pci.markup


def test_module_configuration_files_are_kept_and_modules_without_a_file_refused() -> None:
    configured = likert_item().replace(
        "<qti-interaction-modules>",
        '<qti-interaction-modules primary-configuration="modules/config.js">',
    )
    (interaction,) = parse_item(configured).interactions
    assert interaction.pci is not None
    assert interaction.pci.primary_configuration == "modules/config.js"
    with pytest.raises(ItemFormatError, match="no module configuration of the package maps it"):
        parse_item(configured.replace(' primary-path="../media/likert.js"', ""))
    nameless = likert_item().replace(' primary-path="../media/likert.js"', "")
    with pytest.raises(ItemFormatError, match="'likert' names no file"):
        parse_item(nameless)


def test_the_candidate_view_runs_it_in_a_frame_without_the_key() -> None:
    item = parse_item(likert_item(correct=4))
    view = candidate_view(item, shuffle_seed=1, resolve_media=lambda p: f"/m/{p}")
    (described,) = view["interactions"]
    assert described["type"] == "portable_custom"
    assert described["cardinality"] == "single" and described["base_type"] == "integer"
    pci = described["pci"]
    assert pci["type_identifier"] == TYPE_IDENTIFIER
    assert pci["modules"] == [{"id": "likert", "urls": ["/m/../media/likert.js"]}]
    assert pci["properties"]["levels"] == "5"
    assert 'sandbox="allow-scripts"' in view["html"]
    assert "allow-same-origin" not in view["html"]
    assert 'aria-labelledby="' in view["html"]
    assert "qti-correct-response" not in view["html"]
    assert "correct" not in str(described).lower()


def test_the_pci_response_is_scored_by_the_items_processing() -> None:
    item = parse_item(likert_item(correct=4))
    assert evaluate(item, {"RESPONSE": 4}).outcomes["SCORE"] == 1
    assert evaluate(item, {"RESPONSE": 2}).outcomes["SCORE"] == 0


@pytest.mark.asyncio
async def test_import_stores_the_module_and_export_brings_it_back(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "pci")
    response = await import_upload(client, headers, bank_id, "likert.zip", likert_package())
    assert response.status_code == 201, response.text
    media = (await client.get("/api/v1/media", headers=headers)).json()
    assert [(m["sha256"], m["content_type"]) for m in media] == [
        (content_address(LIKERT_JS), "text/javascript")
    ]
    items = (await client.get("/api/v1/items", params={"bank_id": bank_id}, headers=headers)).json()
    (listed,) = items["items"]
    version = (await client.get(f"/api/v1/items/{listed['id']}/versions/1", headers=headers)).json()
    definition = version["definition"]
    assert definition["metadata"]["media"] == {"media/likert.js": content_address(LIKERT_JS)}

    exported = await client.get(
        f"/api/v1/banks/{bank_id}/export", params={"format": "qti3"}, headers=headers
    )
    assert exported.status_code == 200, exported.text
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    assert archive.read("media/likert.js") == LIKERT_JS
    written = archive.read("items/PCI-LIKERT.xml").decode()
    assert 'primary-path="../media/likert.js"' in written
    assert 'custom-interaction-type-identifier="urn:waa-ads:test:likert"' in written
    assert 'data-levels="5"' in written

    other = (
        await client.post("/api/v1/banks", json={"slug": "pci-2", "name": "Again"}, headers=headers)
    ).json()
    again = await import_upload(client, headers, other["id"], "export.zip", exported.content)
    assert again.status_code == 201, again.text
    items = (
        await client.get("/api/v1/items", params={"bank_id": other["id"]}, headers=headers)
    ).json()
    (copy,) = items["items"]
    copied = (await client.get(f"/api/v1/items/{copy['id']}/versions/1", headers=headers)).json()
    assert copied["definition"]["interactions"] == definition["interactions"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("primary", "fallback"),
    [
        ("https://cdn.example.com/likert.js", None),
        ("../../outside/likert.js", None),
        ("../media/likert.js", "//cdn.example.com/likert.js"),
    ],
)
async def test_a_module_from_outside_the_package_is_refused_naming_it(
    client: httpx.AsyncClient, make: Factory, primary: str, fallback: str | None
) -> None:
    headers, bank_id = await admin_bank(client, make, "pci-outside")
    data = build_package(
        [("PCI-OUT", likert_item("PCI-OUT", primary=primary, fallback=fallback).encode())],
        {"media/likert.js": LIKERT_JS},
    )
    response = await import_upload(client, headers, bank_id, "out.zip", data)
    assert response.status_code == 422, response.text
    (rejected,) = [i for i in response.json()["report"]["items"] if i["status"] == "rejected"]
    assert "PCI module 'likert'" in rejected["reason"]
    assert "outside the package" in rejected["reason"]


@pytest.mark.asyncio
async def test_a_module_the_package_lacks_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "pci-missing")
    data = build_package([("PCI-GONE", likert_item("PCI-GONE").encode())], {})
    response = await import_upload(client, headers, bank_id, "gone.zip", data)
    assert response.status_code == 422, response.text
    (rejected,) = [i for i in response.json()["report"]["items"] if i["status"] == "rejected"]
    assert "PCI module 'likert'" in rejected["reason"]
    assert "not in the package" in rejected["reason"]


@pytest.mark.asyncio
async def test_the_host_page_is_sandboxed_by_its_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/player/pci-frame")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "sandbox allow-scripts" in policy
    assert "allow-same-origin" not in policy
    assert "connect-src 'none'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'self'" in policy
    assert '<script src="/player/pci-frame/pci-frame.js">' in page.text
    script = await client.get("/player/pci-frame/pci-frame.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert (await client.get("/player/pci-frame/player.js")).status_code == 404


def test_a_pci_that_lists_no_modules_takes_them_from_the_package_resolution() -> None:
    listed = likert_item("PCI-RES").split("<qti-interaction-modules>")
    without = listed[0] + listed[1].split("</qti-interaction-modules>")[1]
    resolution = b'{"paths": {"likert": "modules/likert", "other": "https://cdn.example.com/x"}}'
    data = build_package(
        [("PCI-RES", without.encode())],
        {
            "items/modules/module_resolution.js": resolution,
            "items/modules/likert.js": LIKERT_JS,
        },
    )
    (candidate,) = transfer.candidates_from_bytes("res.zip", data)
    assert candidate.error is None, candidate.error
    assert candidate.item is not None
    (interaction,) = candidate.item.interactions
    assert interaction.pci is not None
    assert [(m.id, m.primary_path) for m in interaction.pci.modules] == [
        ("likert", "modules/likert.js")
    ]
    assert candidate.media == {"items/modules/likert.js": LIKERT_JS}

    outside = without.replace('module="likert"', 'module="other"')
    data = build_package(
        [("PCI-RES", outside.encode())],
        {"items/modules/module_resolution.js": resolution},
    )
    (refused,) = transfer.candidates_from_bytes("res.zip", data)
    assert refused.item is None
    assert "PCI module 'other'" in (refused.error or "")
    assert "outside the package" in (refused.error or "")


def test_the_frame_is_only_sent_module_files_the_item_holds() -> None:
    item = parse_item(likert_item(primary="modules/gone.js", fallback="../media/likert.js"))

    def resolve(path: str) -> str:
        return "/signed/likert" if path.endswith("media/likert.js") else path

    (described,) = candidate_view(item, shuffle_seed=None, resolve_media=resolve)["interactions"]
    assert described["pci"]["modules"] == [{"id": "likert", "urls": ["/signed/likert"]}]


def test_a_module_path_without_its_extension_names_the_file_with_it() -> None:
    data = build_package(
        [("PCI-BARE", likert_item("PCI-BARE", primary="../media/likert").encode())],
        {"media/likert.js": LIKERT_JS},
    )
    (candidate,) = transfer.candidates_from_bytes("bare.zip", data)
    assert candidate.item is not None, candidate.error
    (interaction,) = candidate.item.interactions
    assert interaction.pci is not None
    assert interaction.pci.modules[0].primary_path == "../media/likert.js"
    assert candidate.media == {"media/likert.js": LIKERT_JS}
