"""Import that copes with real packages: every response-processing template URL the
specifications and 1EdTech's examples use, ``templateLocation`` never silently dropped,
string values indented like the rest of the document, a key no candidate can give
reported, unpacked package folders, and every change the reader makes in the report's
warnings (API and CLI)."""

from __future__ import annotations

import asyncio
import json
import os
import zipfile
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from tests.support.factories import Factory, login
from tests.support.items import choice_item, package
from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Role
from waa_ads.content import schemas, service
from waa_ads.content.interchange.qti.package import UnsafePackage
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.interchange.qti.writer import write_item
from waa_ads.content.item.definition import ItemFormatError
from waa_ads.content.item.processing import template_name
from waa_ads.content.transfer import candidates_from_path
from waa_ads.core.db import Database
from waa_ads.scoring.engine import evaluate

TEMPLATE_URLS = [
    ("https://www.imsglobal.org/question/qti_v3p0/rptemplates/match_correct.xml", "match_correct"),
    ("https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml", "match_correct"),
    ("https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct", "match_correct"),
    ("http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct", "match_correct"),
    ("http://www.imsglobal.org/question/qti_v2p1/rptemplates/map_response.xml", "map_response"),
    ("http://www.imsglobal.org/question/qti_v2p0/rptemplates/match_correct", "match_correct"),
    (
        "http://www.imsglobal.org/question/qti_v2p2/rptemplates/map_response_point",
        "map_response_point",
    ),
    ("https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/CC2_match_basic.xml", "CC2_match_basic"),
    ("http://imsglobal.org/question/qti_v2p1/rptemplates/cc2_map_response.xml", "CC2_map_response"),
]


@pytest.mark.parametrize(("url", "name"), TEMPLATE_URLS)
def test_every_published_template_url_form_is_known(url: str, name: str) -> None:
    assert template_name(url) == name


def test_an_item_with_the_qti3_examples_template_url_imports_and_scores() -> None:
    xml = choice_item("T1", "Template").replace(
        "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml",
        "https://www.imsglobal.org/question/qti_v3p0/rptemplates/match_correct.xml",
    )
    assert "www.imsglobal.org/question/qti_v3p0" in xml
    item = parse_item(xml)
    assert evaluate(item, {"RESPONSE": "B"}).outcomes["SCORE"] == 1


@pytest.mark.parametrize(
    "url",
    ["http://example.org/rptemplates/match_correct.xml", "https://www.imsglobal.org/other/x.xml"],
)
def test_other_template_urls_stay_unknown(url: str) -> None:
    assert template_name(url) is None


def _with_processing(processing: str) -> str:
    xml = choice_item("L1", "Location")
    start = xml.index("<qti-response-processing")
    end = xml.index("</qti-assessment-item>")
    return xml[:start] + processing + "\n" + xml[end:]


MATCH_RULES = """<qti-response-condition><qti-response-if>
  <qti-match><qti-variable identifier="RESPONSE"/><qti-correct identifier="RESPONSE"/></qti-match>
  <qti-set-outcome-value identifier="SCORE"><qti-base-value base-type="float">2</qti-base-value></qti-set-outcome-value>
</qti-response-if></qti-response-condition>"""


def test_template_location_is_noted_when_a_template_or_rules_score_the_item() -> None:
    known = parse_item(
        _with_processing(
            '<qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/'
            'rptemplates/match_correct.xml" template-location="/rptemplates/match_correct.xml"/>'
        )
    )
    assert known.response_processing is not None
    assert known.response_processing.template == "match_correct"
    assert any(
        "ignored templateLocation '/rptemplates/match_correct.xml'" in n
        and "standard template match_correct" in n
        for n in known.import_notes
    )
    ruled = parse_item(
        _with_processing(
            '<qti-response-processing template-location="rules/custom.xml">'
            f"{MATCH_RULES}</qti-response-processing>"
        )
    )
    assert any("the item's own rules score it" in n for n in ruled.import_notes)
    assert evaluate(ruled, {"RESPONSE": "B"}).outcomes["SCORE"] == 2


def test_a_standard_template_given_only_as_its_location_is_that_template() -> None:
    item = parse_item(
        _with_processing(
            '<qti-response-processing template-location="http://www.imsglobal.org/question/'
            'qti_v2p1/rptemplates/match_correct.xml"/>'
        )
    )
    assert item.response_processing is not None
    assert item.response_processing.template == "match_correct"
    assert evaluate(item, {"RESPONSE": "B"}).outcomes["SCORE"] == 1


def test_external_rules_given_only_by_location_are_refused() -> None:
    with pytest.raises(ItemFormatError, match=r"only a templateLocation .*not fetched"):
        parse_item(_with_processing('<qti-response-processing template-location="rp/x.xml"/>'))


TEXT_ITEM = """<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="W1" title="Capital"
    adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string">
    <correctResponse>
      <value>
        Paris
      </value>
    </correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <itemBody><p>Capital of France: <textEntryInteraction responseIdentifier="RESPONSE"/></p></itemBody>
  <responseProcessing>
    <responseCondition>
      <responseIf>
        <match><variable identifier="RESPONSE"/><correct identifier="RESPONSE"/></match>
        <setOutcomeValue identifier="SCORE"><baseValue baseType="float">1</baseValue></setOutcomeValue>
      </responseIf>
      <responseElseIf>
        <stringMatch caseSensitive="false"><variable identifier="RESPONSE"/><baseValue baseType="string">
          paris, france
        </baseValue></stringMatch>
        <setOutcomeValue identifier="SCORE"><baseValue baseType="float">1</baseValue></setOutcomeValue>
      </responseElseIf>
      <responseElseIf>
        <match><variable identifier="RESPONSE"/><baseValue baseType="string"> Lutetia </baseValue></match>
        <setOutcomeValue identifier="SCORE"><baseValue baseType="float">0.5</baseValue></setOutcomeValue>
      </responseElseIf>
    </responseCondition>
  </responseProcessing>
</assessmentItem>
"""


def test_string_values_lose_the_indentation_around_them_and_keep_their_own_spaces() -> None:
    item = parse_item(TEXT_ITEM)
    assert item.response_declarations[0].correct_response == "Paris"
    scores = {
        answer: evaluate(item, {"RESPONSE": answer}).outcomes["SCORE"]
        for answer in ("Paris", "Paris, France", "Lutetia", " Lutetia ")
    }
    assert scores == {"Paris": 1, "Paris, France": 1, "Lutetia": 0, " Lutetia ": 0.5}


def test_a_key_longer_than_max_choices_is_reported() -> None:
    xml = (
        choice_item("K1", "Key")
        .replace(
            'cardinality="single" base-type="identifier"',
            'cardinality="multiple" base-type="identifier"',
        )
        .replace("<qti-value>B</qti-value>", "<qti-value>A</qti-value><qti-value>B</qti-value>")
        .replace('max-choices="1"', 'max-choices="1" min-choices="0"')
    )
    item = parse_item(xml.replace('max-choices="1" min', 'max-choices="1" min'))
    assert (
        "the correct response of RESPONSE has 2 values but its choice interaction lets a "
        "candidate give at most 1 (max-choices): no candidate can match it"
    ) in item.import_notes


def _unpacked(tmp_path: Path, data: bytes, name: str = "unpacked") -> Path:
    folder = tmp_path / name
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as archive:
        archive.extractall(folder)
    return folder


def test_an_unpacked_package_folder_reads_as_its_package(tmp_path: Path) -> None:
    folder = _unpacked(tmp_path, package("U1", "U2"))
    (folder / "notes.xml").write_text("<notes/>")  # a package's other files are not items
    found = candidates_from_path(folder)
    assert [(c.source, c.error) for c in found] == [
        ("unpacked:items/U1.xml", None),
        ("unpacked:items/U2.xml", None),
    ]
    assert all(list(c.media) == ["media/dot.png"] for c in found)
    # a folder holding packages and loose items reads both
    outer = tmp_path / "outer"
    outer.mkdir()
    (folder).rename(outer / "pkg")
    (outer / "loose.xml").write_text(choice_item("U3", "Loose"))
    assert sorted(c.source for c in candidates_from_path(outer)) == [
        "loose.xml",
        "pkg:items/U1.xml",
        "pkg:items/U2.xml",
    ]


def test_an_unpacked_package_with_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    folder = _unpacked(tmp_path, package("S1"))
    os.symlink("/etc/hostname", folder / "media" / "link.png")
    with pytest.raises(UnsafePackage, match="symbolic link"):
        candidates_from_path(folder)


@pytest.mark.asyncio
async def test_the_readers_changes_are_warnings_of_the_api_report(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    headers = await login(client, await make.user(org, Role.admin))
    bank = await client.post(
        "/api/v1/banks", json={"slug": "warnings", "name": "Warnings"}, headers=headers
    )
    xml = _with_processing(
        '<qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/'
        'rptemplates/match_correct.xml" template-location="/rp/match_correct.xml"/>'
    )
    response = await client.post(
        f"/api/v1/banks/{bank.json()['id']}/import",
        files={"file": ("loc.xml", xml.encode(), "application/xml")},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    warnings = response.json()["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith(
        "loc.xml: ignored templateLocation '/rp/match_correct.xml'"
    )


@pytest.mark.asyncio
async def test_the_cli_imports_an_unpacked_package_and_reports_warnings(
    live_app: FastAPI, live_make: Factory, fresh_database: Database, tmp_path: Path
) -> None:
    from waa_ads.cli import app as cli

    org = await live_make.organization(slug="unpacked")
    async with live_app.state.db.transaction() as session:
        await service.create_bank(
            session, Principal.system(org.id), schemas.BankCreate(slug="main", name="Main")
        )
    folder = _unpacked(tmp_path, package("F1", "F2"))
    (folder / "items" / "F3.xml").write_text(
        _with_processing(
            '<qti-response-processing template="https://www.imsglobal.org/question/qti_v3p0/'
            'rptemplates/match_correct.xml" template-location="x/match_correct.xml"/>'
        ).replace('identifier="L1"', 'identifier="F3"')
    )
    manifest = (folder / "imsmanifest.xml").read_text()
    manifest = manifest.replace(
        "</resources>",
        '<resource identifier="F3" type="imsqti_item_xmlv3p0" href="items/F3.xml">'
        '<file href="items/F3.xml"/></resource></resources>',
    )
    (folder / "imsmanifest.xml").write_text(manifest)
    env = {
        "WAA_DATABASE_URL": fresh_database.url,
        "WAA_DATA_DIR": str(tmp_path / "data"),
        "WAA_BLOB_DIR": str(live_app.state.settings.resolved_blob_dir),
    }
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["import", str(folder)], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[: result.output.rindex("}") + 1])
    assert report["imported"] == 3
    assert report["warnings"] == [
        "unpacked:items/F3.xml: ignored templateLocation 'x/match_correct.xml' of the response "
        "processing: the built-in standard template match_correct scores the item"
    ]


HTML5_ITEM = """<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p2"
    xmlns:qh5="http://www.imsglobal.org/xsd/imsqtiv2p2_html5_v1p0"
    identifier="H5" title="HTML5" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>A</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <itemBody>
    <qh5:figure><img src="images/a.png" alt="A"/><qh5:figcaption>Caption</qh5:figcaption></qh5:figure>
    <qh5:video width="320" height="240" controls="controls"><qh5:source src="media/clip.mp4"
      type="video/mp4"/><qh5:track kind="captions" src="media/clip.vtt" srclang="en"/>No video</qh5:video>
    <p><qh5:ruby>漢<qh5:rp>(</qh5:rp><qh5:rt>kan</qh5:rt><qh5:rp>)</qh5:rp></qh5:ruby></p>
    <object type="text/html" data="media/postcard.html"><p>Dear Anna, it is sunny.</p></object>
    <p><object type="image/png" data="images/stamp.png">A stamp</object></p>
    <choiceInteraction responseIdentifier="RESPONSE" maxChoices="1">
      <simpleChoice identifier="A">A</simpleChoice><simpleChoice identifier="B">B</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="http://www.imsglobal.org/question/qti_v2p2/rptemplates/match_correct"/>
</assessmentItem>
"""


def test_qti22_html5_elements_and_object_fallbacks_are_kept() -> None:
    item = parse_item(HTML5_ITEM)
    body = item.body
    for kept in (
        '<figure><img src="images/a.png" alt="A"/><figcaption>Caption</figcaption></figure>',
        '<video width="320" height="240" controls="controls"><source src="media/clip.mp4" '
        'type="video/mp4"/><track kind="captions" src="media/clip.vtt" srclang="en"/>'
        "No video</video>",
        "<p><ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby></p>",
        "<p>Dear Anna, it is sunny.</p>",
        '<p><img src="images/stamp.png" alt="A stamp"/></p>',
    ):
        assert kept in body, kept
    assert "imsqtiv2p2_html5" not in body and "<object" not in body
    assert item.import_notes == (
        "replaced <object> (text/html) by its fallback content: only image, audio or video "
        "objects are shown",
    )
    again = parse_item(write_item(item))
    assert again.body == item.body


QTI21_SCHEMA_CASES = """<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="S21" title="Map"
    adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>A</value></correctResponse>
  </responseDeclaration>
  <responseDeclaration identifier="GAPS" cardinality="multiple" baseType="directedPair">
    <correctResponse><value>W1 G1</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <outcomeDeclaration identifier="FEEDBACK" cardinality="single" baseType="identifier"/>
  <itemBody>
    <rubricBlock view="candidate"><p>Read the map first.</p></rubricBlock>
    <hotspotInteraction responseIdentifier="RESPONSE" maxChoices="1">
      <img src="images/map.png" alt="A map" width="200" height="100"/>
      <hotspotChoice identifier="A" shape="circle" coords="50,50,20" fixed="true"/>
      <hotspotChoice identifier="B" shape="circle" coords="150,50,20"/>
    </hotspotInteraction>
    <gapMatchInteraction responseIdentifier="GAPS" maxAssociations="1">
      <gapText identifier="W1" matchMax="1">north</gapText>
      <gapText identifier="W2" matchMax="1">south</gapText>
      <p>The lake is in the <gap identifier="G1" fixed="false"/>.</p>
    </gapMatchInteraction>
  </itemBody>
  <responseProcessing template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>
  <modalFeedback outcomeIdentifier="FEEDBACK" identifier="A" showHide="show">Well done: <b>A</b>.</modalFeedback>
</assessmentItem>
"""


def test_qti3_exports_of_qti21_items_fit_the_qti3_schema() -> None:
    """Modal feedback content in qti-content-body, a rubric block with its use, no fixed on
    hotspot choices and gaps; read back, the item is the same."""
    from lxml import etree

    from tests.support.qti3_schema import check_qti3

    item = parse_item(QTI21_SCHEMA_CASES)
    assert "ignored attribute fixed of <hotspotChoice> (it is never shuffled)" in item.import_notes
    assert "ignored attribute fixed of <gap> (it is never shuffled)" in item.import_notes
    written = write_item(item)
    check_qti3(written)
    ns = {"q": "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"}
    root = etree.fromstring(written)
    feedback = root.find("q:qti-modal-feedback", ns)
    assert feedback is not None and not (feedback.text or "").strip()
    assert [etree.QName(c).localname for c in feedback] == ["qti-content-body"]
    assert "".join(str(t) for t in feedback[0].itertext()) == "Well done: A."
    rubric = root.find(".//q:qti-rubric-block", ns)
    assert rubric is not None and (rubric.get("use"), rubric.get("view")) == (
        "instructions",
        "candidate",
    )
    assert all(e.get("fixed") is None for e in root.iterfind(".//q:qti-hotspot-choice", ns))
    assert all(e.get("fixed") is None for e in root.iterfind(".//q:qti-gap", ns))
    again = parse_item(written)
    assert again.modal_feedback == item.modal_feedback
    assert again.body == item.body
