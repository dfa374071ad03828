"""Portable custom interactions, beyond their modules: module configuration files
(``primary-configuration``, ``fallback-configuration``) read from the package, the
template and context variables a PCI is given, and the refusal of custom interactions
that cannot be delivered."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest

import waa_ads.scoring.engine  # noqa: F401  (installs the template evaluator)
from tests.support.banks import admin_bank, import_upload
from tests.support.factories import Factory
from tests.support.pci_items import LIKERT_JS, likert_item
from waa_ads.content import transfer
from waa_ads.content.interchange.qti.package import build_package
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.interchange.qti.writer import write_item
from waa_ads.content.item.definition import BaseType, Cardinality, ItemDefinition, ItemFormatError
from waa_ads.content.item.templates import instantiate
from waa_ads.content.render.candidate import candidate_view
from waa_ads.content.render.pci import variable
from waa_ads.content.schemas import CandidatePci, CandidatePciVariable

MODULES = '<qti-interaction-module id="likert" primary-path="../media/likert.js"/>'


def configured_item(
    identifier: str = "PCI-CONF",
    *,
    primary: str | None = "modules/config.json",
    fallback: str | None = None,
    module: str = '<qti-interaction-module id="likert"/>',
) -> str:
    """The Likert item whose module names no path: its configuration files map it."""
    attrs = "".join(
        f' {name}="{value}"'
        for name, value in (
            ("primary-configuration", primary),
            ("fallback-configuration", fallback),
        )
        if value
    )
    return likert_item(identifier).replace(
        f"<qti-interaction-modules>\n        {MODULES}",
        f"<qti-interaction-modules{attrs}>\n        {module}",
    )


def config(**paths: str) -> bytes:
    return json.dumps({"waitSeconds": 30, "paths": paths}).encode()


def read(identifier: str, xml: str, files: dict[str, bytes]) -> transfer.ImportCandidate:
    """The candidate the import makes of a package of the item and ``files``; a file the
    package builder would refuse (a configuration that is not JSON) is put in after."""
    placeholder = {p: (config() if p.endswith(".json") else d) for p, d in files.items()}
    built = build_package([(identifier, xml.encode())], placeholder)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(built)) as source, zipfile.ZipFile(out, "w") as target:
        for entry in source.infolist():
            target.writestr(entry, files.get(entry.filename, source.read(entry)))
    (candidate,) = transfer.candidates_from_bytes("pci.zip", out.getvalue())
    return candidate


# --- module configuration files ------------------------------------------------------------


def test_a_module_takes_its_path_from_the_primary_configuration() -> None:
    candidate = read(
        "PCI-CONF",
        configured_item(fallback="modules/fallback.json"),
        {
            "items/modules/config.json": config(likert="modules/likert"),
            "items/modules/fallback.json": config(likert="modules/other"),
            "items/modules/likert.js": LIKERT_JS,
        },
    )
    assert candidate.error is None, candidate.error
    assert candidate.item is not None
    (interaction,) = candidate.item.interactions
    assert interaction.pci is not None
    assert interaction.pci.primary_configuration == "modules/config.json"
    assert interaction.pci.fallback_configuration == "modules/fallback.json"
    (module,) = interaction.pci.modules
    assert (module.primary_path, module.fallback_path) == (
        "modules/likert.js",
        "modules/other",
    )
    # The configuration files the package holds are kept as the item's media; the
    # fallback's module file, absent, is not tried (the primary one is there).
    assert set(candidate.media) == {
        "items/modules/config.json",
        "items/modules/fallback.json",
        "items/modules/likert.js",
    }


def test_the_fallback_configuration_serves_when_the_primary_one_is_missing() -> None:
    # As in 1EdTech's fractions_deps_2: the primary configuration is deliberately wrong;
    # the fallback one is a .js file holding JSON.
    candidate = read(
        "PCI-FALL",
        configured_item("PCI-FALL", primary="modules/gone.js", fallback="modules/resolve.js"),
        {
            "items/modules/resolve.js": config(likert="modules/lib/likert.js"),
            "items/modules/lib/likert.js": LIKERT_JS,
        },
    )
    assert candidate.error is None, candidate.error
    assert candidate.item is not None
    (interaction,) = candidate.item.interactions
    assert interaction.pci is not None
    (module,) = interaction.pci.modules
    assert (module.primary_path, module.fallback_path) == (None, "modules/lib/likert.js")
    assert set(candidate.media) == {"items/modules/resolve.js", "items/modules/lib/likert.js"}
    # The frame is sent the module file only, never a configuration.
    view = candidate_view(candidate.item, shuffle_seed=None, resolve_media=lambda p: f"/m/{p}")
    (described,) = view["interactions"]
    assert described["pci"]["modules"] == [{"id": "likert", "urls": ["/m/modules/lib/likert.js"]}]


def test_a_module_path_of_its_own_wins_over_the_configuration() -> None:
    own = '<qti-interaction-module id="likert" primary-path="../media/likert.js"/>'
    candidate = read(
        "PCI-OWN",
        configured_item("PCI-OWN", module=own),
        {
            "items/modules/config.json": config(likert="modules/elsewhere"),
            "media/likert.js": LIKERT_JS,
        },
    )
    assert candidate.item is not None, candidate.error
    (interaction,) = candidate.item.interactions
    assert interaction.pci is not None
    assert interaction.pci.modules[0].primary_path == "../media/likert.js"


@pytest.mark.parametrize(
    ("primary", "files", "reason"),
    [
        (
            "https://cdn.example.com/config.json",
            {"items/modules/likert.js": LIKERT_JS},
            "PCI module configuration 'https://cdn.example.com/config.json' is outside the "
            "package; a module configuration must be a file of the package",
        ),
        (
            "../../config.json",
            {"items/modules/likert.js": LIKERT_JS},
            "PCI module configuration '../../config.json' is outside the package",
        ),
        (
            "modules/config.json",
            {"items/modules/config.json": config(likert="https://cdn.example.com/likert")},
            "PCI module 'likert' is loaded from 'https://cdn.example.com/likert', outside the "
            "package; a module must be a file of the package",
        ),
        (
            "modules/config.json",
            {"items/modules/config.json": config(likert="modules/gone")},
            "PCI module 'likert': its file 'modules/gone' is not in the package",
        ),
        (
            "modules/config.json",
            {"items/modules/config.json": b"define({paths: {}})"},
            "PCI module configuration 'items/modules/config.json' is not JSON",
        ),
        (
            "modules/config.json",
            {"items/modules/config.json": b'{"paths": ["modules/likert"]}'},
            "PCI module configuration 'items/modules/config.json' has no \"paths\" object",
        ),
        (
            "modules/config.json",
            {"items/modules/config.json": config(other="modules/likert")},
            "PCI module 'likert' names no file, and no module configuration of the package "
            "maps it to one",
        ),
        (
            "modules/gone.json",
            {"items/modules/likert.js": LIKERT_JS},
            "PCI module 'likert' names no file, and no module configuration of the package "
            "maps it to one",
        ),
    ],
)
def test_a_configuration_or_module_outside_or_missing_refuses_the_item(
    primary: str, files: dict[str, bytes], reason: str
) -> None:
    candidate = read("PCI-BAD", configured_item("PCI-BAD", primary=primary), files)
    assert candidate.item is None
    assert reason in (candidate.error or ""), candidate.error


@pytest.mark.asyncio
async def test_import_keeps_the_configuration_and_export_names_it_again(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "pci-conf")
    configuration = config(likert="modules/likert")
    data = build_package(
        [("PCI-CONF", configured_item().encode())],
        {"items/modules/config.json": configuration, "items/modules/likert.js": LIKERT_JS},
    )
    response = await import_upload(client, headers, bank_id, "conf.zip", data)
    assert response.status_code == 201, response.text
    media = (await client.get("/api/v1/media", headers=headers)).json()
    assert sorted(m["content_type"] for m in media) == ["application/json", "text/javascript"]
    items = (await client.get("/api/v1/items", params={"bank_id": bank_id}, headers=headers)).json()
    (listed,) = items["items"]
    version = (await client.get(f"/api/v1/items/{listed['id']}/versions/1", headers=headers)).json()
    definition = version["definition"]

    exported = await client.get(
        f"/api/v1/banks/{bank_id}/export", params={"format": "qti3"}, headers=headers
    )
    assert exported.status_code == 200, exported.text
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    assert archive.read("media/likert.js") == LIKERT_JS
    # The configuration travels with the item and maps the module to where it is now.
    assert json.loads(archive.read("media/config.json")) == {
        "waitSeconds": 30,
        "paths": {"likert": "../media/likert.js"},
    }
    written = archive.read("items/PCI-CONF.xml").decode()
    assert 'primary-configuration="../media/config.json"' in written
    assert 'primary-path="../media/likert.js"' in written

    other = (
        await client.post(
            "/api/v1/banks", json={"slug": "pci-conf-2", "name": "Again"}, headers=headers
        )
    ).json()
    again = await import_upload(client, headers, other["id"], "export.zip", exported.content)
    assert again.status_code == 201, again.text
    items = (
        await client.get("/api/v1/items", params={"bank_id": other["id"]}, headers=headers)
    ).json()
    (copy,) = items["items"]
    copied = (await client.get(f"/api/v1/items/{copy['id']}/versions/1", headers=headers)).json()
    (first,) = definition["interactions"]
    (second,) = copied["definition"]["interactions"]
    # The same interaction, its files named where the exported package holds them.
    assert first["pci"].pop("modules") == [{"id": "likert", "primary_path": "modules/likert.js"}]
    assert second["pci"].pop("modules") == [{"id": "likert", "primary_path": "../media/likert.js"}]
    assert first["pci"].pop("primary_configuration") == "modules/config.json"
    assert second["pci"].pop("primary_configuration") == "../media/config.json"
    assert first == second


# --- template and context variables -------------------------------------------------------

TEMPLATE_DECLARATIONS = """
  <qti-context-declaration identifier="REGION" cardinality="single" base-type="identifier">
    <qti-default-value><qti-value>coast</qti-value></qti-default-value>
  </qti-context-declaration>
  <qti-template-declaration identifier="LEVELS" cardinality="single" base-type="integer">
    <qti-default-value><qti-value>5</qti-value></qti-default-value>
  </qti-template-declaration>
  <qti-template-declaration identifier="TICKS" cardinality="multiple" base-type="integer">
    <qti-default-value><qti-value>1</qti-value><qti-value>3</qti-value></qti-default-value>
  </qti-template-declaration>
  <qti-template-processing>
    <qti-set-template-value identifier="LEVELS">
      <qti-random-integer min="3" max="9"/>
    </qti-set-template-value>
    <qti-set-correct-response identifier="RESPONSE">
      <qti-subtract>
        <qti-variable identifier="LEVELS"/>
        <qti-base-value base-type="integer">1</qti-base-value>
      </qti-subtract>
    </qti-set-correct-response>
  </qti-template-processing>
"""

VARIABLES = (
    '<qti-context-variable identifier="REGION"/>'
    '<qti-template-variable template-identifier="LEVELS" pci-identifier="levels"/>'
    '<qti-template-variable template-identifier="TICKS"/>'
)


def variable_item(variables: str = VARIABLES) -> str:
    xml = likert_item("PCI-VARS", correct=4)
    xml = xml.replace("  <qti-item-body>", TEMPLATE_DECLARATIONS + "  <qti-item-body>", 1)
    return xml.replace(
        "</qti-interaction-modules>", "</qti-interaction-modules>\n      " + variables, 1
    )


def test_the_pci_is_given_the_variables_it_names_in_the_json_binding() -> None:
    item = parse_item(variable_item())
    (interaction,) = item.interactions
    assert interaction.pci is not None
    assert [(v.identifier, v.pci_identifier) for v in interaction.pci.template_variables] == [
        ("LEVELS", "levels"),
        ("TICKS", None),
    ]
    assert [v.identifier for v in interaction.pci.context_variables] == ["REGION"]
    seen = set()
    for seed in range(6):
        instance = instantiate(item, seed)
        view = candidate_view(instance, shuffle_seed=None, resolve_media=lambda p: f"/m/{p}")
        (described,) = view["interactions"]
        pci = described["pci"]
        levels = instance.template_declaration("LEVELS")
        assert levels is not None
        # This candidate's value of the cloned item, under the PCI's own name for it.
        assert pci["template_variables"] == [
            {
                "name": "levels",
                "cardinality": "single",
                "base_type": "integer",
                "value": levels.default_value,
            },
            {"name": "TICKS", "cardinality": "multiple", "base_type": "integer", "value": [1, 3]},
        ]
        assert pci["context_variables"] == [
            {"name": "REGION", "cardinality": "single", "base_type": "identifier", "value": "coast"}
        ]
        # The closed reply model of the player holds it as it is.
        assert CandidatePci.model_validate(pci).model_dump(exclude_unset=True) == pci
        # The correct response (computed from LEVELS) is nowhere in what the frame gets.
        assert "correct" not in json.dumps(described).lower()
        assert "RESPONSE" not in json.dumps(pci)
        seen.add(levels.default_value)
    assert len(seen) > 1


@pytest.mark.parametrize(
    ("variables", "reason"),
    [
        (
            '<qti-template-variable template-identifier="RESPONSE"/>',
            "template-identifier 'RESPONSE' names no template variable",
        ),
        (
            '<qti-template-variable template-identifier="SCORE"/>',
            "template-identifier 'SCORE' names no template variable",
        ),
        (
            '<qti-context-variable identifier="LEVELS"/>',
            "the PCI is given context variable 'LEVELS', which the item does not declare as a "
            "context variable",
        ),
        (
            '<qti-template-variable template-identifier="LEVELS" pci-identifier="x"/>'
            '<qti-template-variable template-identifier="TICKS" pci-identifier="x"/>',
            "the PCI is given two template variables named 'x'",
        ),
        ("<qti-template-variable/>", "a template variable of a PCI names no identifier"),
        (
            '<qti-template-variable identifier="RESPONSE"/>',
            "the PCI is given template variable 'RESPONSE', which the item does not declare "
            "as a template variable",
        ),
    ],
)
def test_only_template_and_context_variables_reach_the_pci(variables: str, reason: str) -> None:
    with pytest.raises(ItemFormatError, match=reason):
        parse_item(variable_item(variables))


def test_the_variables_and_configurations_are_written_back() -> None:
    item = parse_item(
        variable_item().replace(
            "<qti-interaction-modules>",
            (
                '<qti-interaction-modules primary-configuration="modules/a.json" '
                'fallback-configuration="modules/b.json">'
            ),
        )
    )
    written = write_item(item)
    text = written.decode() if isinstance(written, bytes) else str(written)
    assert '<qti-template-variable template-identifier="LEVELS" pci-identifier="levels"/>' in text
    assert '<qti-context-variable identifier="REGION"/>' in text
    again = parse_item(written)
    assert again.interactions == item.interactions
    native = ItemDefinition.model_validate(item.model_dump(mode="json"))
    assert native.interactions == item.interactions


def test_qti22_configuration_and_variables_are_read_as_qti3() -> None:
    xml = """<?xml version="1.0" encoding="UTF-8"?>
    <assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p2" identifier="p22"
        title="Scale" adaptive="false" timeDependent="false">
      <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="integer"/>
      <templateDeclaration identifier="N" cardinality="single" baseType="integer">
        <defaultValue><value>7</value></defaultValue>
      </templateDeclaration>
      <itemBody>
        <portableCustomInteraction responseIdentifier="RESPONSE" module="likert"
            customInteractionTypeIdentifier="urn:x:likert">
          <interactionModules primaryConfiguration="modules/a.json"
              secondaryConfiguration="modules/b.json">
            <interactionModule id="likert" primaryPath="modules/likert.js"/>
          </interactionModules>
          <templateVariable templateIdentifier="N" pciIdentifier="levels"/>
          <interactionMarkup><div>Scale</div></interactionMarkup>
        </portableCustomInteraction>
      </itemBody>
    </assessmentItem>"""
    (interaction,) = parse_item(xml).interactions
    assert interaction.pci is not None
    assert interaction.pci.primary_configuration == "modules/a.json"
    assert interaction.pci.fallback_configuration == "modules/b.json"
    assert [(v.identifier, v.pci_identifier) for v in interaction.pci.template_variables] == [
        ("N", "levels")
    ]


# --- the PCI's own style sheets -------------------------------------------------------------

LIKERT_CSS = b".likert-host { border: 3px solid rgb(0, 90, 160); }\n"


def styled_item(identifier: str = "PCI-CSS", href: str = "../media/likert.css") -> str:
    return likert_item(identifier).replace(
        "</qti-interaction-modules>",
        f'</qti-interaction-modules>\n      <qti-stylesheet href="{href}" type="text/css"/>',
    )


def test_a_pci_style_sheet_is_stored_and_given_to_its_frame_only() -> None:
    candidate = read(
        "PCI-CSS",
        styled_item(),
        {"media/likert.js": LIKERT_JS, "media/likert.css": LIKERT_CSS},
    )
    assert candidate.item is not None, candidate.error
    assert candidate.media == {"media/likert.js": LIKERT_JS, "media/likert.css": LIKERT_CSS}
    (interaction,) = candidate.item.interactions
    assert interaction.pci is not None
    assert [s.href for s in interaction.pci.stylesheets] == ["../media/likert.css"]

    def resolve(path: str) -> str:
        return "/signed/" + path.rsplit("/", 1)[-1] if path.startswith("../media/") else path

    view = candidate_view(candidate.item, shuffle_seed=None, resolve_media=resolve)
    (described,) = view["interactions"]
    assert described["pci"]["frame_stylesheets"] == ["/signed/likert.css"]
    # The page itself never links it: it styles the frame only.
    assert "likert.css" not in view["html"]
    written = write_item(candidate.item)
    assert b'<qti-stylesheet href="../media/likert.css" type="text/css"/>' in written
    assert parse_item(written).interactions == candidate.item.interactions


@pytest.mark.parametrize(
    ("href", "files", "reason"),
    [
        (
            "https://cdn.example.com/likert.css",
            {},
            "PCI style sheet 'https://cdn.example.com/likert.css' is outside the package",
        ),
        ("../../likert.css", {}, "PCI style sheet '../../likert.css' is outside the package"),
        (
            "../media/gone.css",
            {},
            "PCI style sheet '../media/gone.css' ('media/gone.css' in the "
            "package) is not in the package",
        ),
        ("../media/likert.js", {}, "PCI style sheet '../media/likert.js' is not a .css file"),
    ],
)
def test_a_pci_style_sheet_outside_or_missing_refuses_the_item(
    href: str, files: dict[str, bytes], reason: str
) -> None:
    candidate = read("PCI-CSS", styled_item(href=href), {"media/likert.js": LIKERT_JS, **files})
    assert candidate.item is None
    assert reason in (candidate.error or ""), candidate.error


def test_a_style_sheet_of_another_type_or_origin_never_reaches_the_frame() -> None:
    with pytest.raises(ItemFormatError, match="is of type 'text/xsl'"):
        parse_item(styled_item().replace('type="text/css"', 'type="text/xsl"'))
    item = parse_item(styled_item(href="https://cdn.example.com/x.css"))
    (described,) = candidate_view(item, shuffle_seed=None, resolve_media=lambda p: p)[
        "interactions"
    ]
    assert described["pci"]["frame_stylesheets"] == []


@pytest.mark.asyncio
async def test_a_pci_style_sheet_travels_with_the_item_on_export(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "pci-css")
    data = build_package(
        [("PCI-CSS", styled_item().encode())],
        {"media/likert.js": LIKERT_JS, "media/likert.css": LIKERT_CSS},
    )
    response = await import_upload(client, headers, bank_id, "css.zip", data)
    assert response.status_code == 201, response.text
    media = (await client.get("/api/v1/media", headers=headers)).json()
    assert sorted(m["content_type"] for m in media) == ["text/css", "text/javascript"]
    exported = await client.get(
        f"/api/v1/banks/{bank_id}/export", params={"format": "qti3"}, headers=headers
    )
    assert exported.status_code == 200, exported.text
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    assert archive.read("media/likert.css") == LIKERT_CSS
    written = archive.read("items/PCI-CSS.xml").decode()
    assert '<qti-stylesheet href="../media/likert.css" type="text/css"/>' in written


@pytest.mark.parametrize(
    ("value", "cardinality", "base_type", "expected"),
    [
        (None, Cardinality.SINGLE, BaseType.INTEGER, {"base_type": "integer", "value": None}),
        ([3, 4], Cardinality.SINGLE, BaseType.POINT, {"base_type": "point", "value": [3, 4]}),
        ([], Cardinality.ORDERED, BaseType.IDENTIFIER, {"base_type": "identifier", "value": None}),
        (
            [["A", "B"]],
            Cardinality.MULTIPLE,
            BaseType.PAIR,
            {"base_type": "pair", "value": [["A", "B"]]},
        ),
        (
            {"x": 1.5, "who": "me"},
            Cardinality.RECORD,
            None,
            {
                "base_type": None,
                "value": None,
                "fields": [
                    {"name": "x", "base_type": "float", "value": 1.5},
                    {"name": "who", "base_type": "string", "value": "me"},
                ],
            },
        ),
    ],
)
def test_each_cardinality_fits_the_closed_reply(
    value: object, cardinality: Cardinality, base_type: BaseType | None, expected: dict[str, object]
) -> None:
    sent = variable("V", value, cardinality, base_type)
    assert sent == {"name": "V", "cardinality": cardinality.value, **expected}
    CandidatePciVariable.model_validate(sent)


def test_a_template_variable_that_is_the_correct_response_is_never_given_to_the_pci() -> None:
    """LEVELS becoming the key as it is: the frame, in the candidate's browser, would hold
    the answer. (A key computed from it, above, is the question's own number.)"""
    computed = """<qti-subtract>
        <qti-variable identifier="LEVELS"/>
        <qti-base-value base-type="integer">1</qti-base-value>
      </qti-subtract>"""
    xml = variable_item()
    assert computed in xml
    with pytest.raises(ItemFormatError) as refused:
        parse_item(xml.replace(computed, '<qti-variable identifier="LEVELS"/>'))
    assert "template variable 'LEVELS', which becomes the correct response" in (
        refused.value.detail
    )
