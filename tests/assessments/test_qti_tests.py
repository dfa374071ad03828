"""QTI assessment tests in and out: a 2.1 package with nested sections, a drawn section,
weights and time limits becomes an assessment (and every difference is noted); an
assessment is exported as a QTI 3.0 test that imports back to the same structure; bad
packages are refused with nothing stored."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.support.exams import World
from tests.support.factories import Factory
from tests.support.packages import (
    CP_NS,
    QTI21_NS,
    item_resource,
    manifest,
    qti2_item,
    zip_bytes,
)
from waa_ads.assessments import qti_test
from waa_ads.cli import app
from waa_ads.core.db import Database

runner = CliRunner()

TEST21 = f"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentTest xmlns="{QTI21_NS}" identifier="geo-quiz" title="Geography quiz">
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <timeLimits maxTime="1800"/>
  <testPart identifier="P1" navigationMode="nonlinear" submissionMode="simultaneous">
    <assessmentSection identifier="core" title="Core questions" visible="true">
      <timeLimits maxTime="600"/>
      <assessmentItemRef identifier="r1" href="../items/Q1.xml">
        <weight identifier="W" value="2"/>
      </assessmentItemRef>
      <assessmentItemRef identifier="r2" href="../items/Q2.xml"/>
      <assessmentSection identifier="extra" title="Draw two" visible="true">
        <selection select="2"/>
        <ordering shuffle="true"/>
        <assessmentItemRef identifier="r3" href="../items/Q3.xml"/>
        <assessmentItemRef identifier="r4" href="../items/Q4.xml"/>
        <assessmentItemRef identifier="r5" href="../items/Q5.xml"/>
      </assessmentSection>
    </assessmentSection>
  </testPart>
  <outcomeProcessing>
    <setOutcomeValue identifier="SCORE">
      <sum><testVariables variableIdentifier="SCORE" weightIdentifier="W"/></sum>
    </setOutcomeValue>
  </outcomeProcessing>
</assessmentTest>"""


def package21(
    test: str = TEST21, *, leave_out: str | None = None, broken: str | None = None
) -> bytes:
    names = [f"Q{i}" for i in range(1, 6) if f"Q{i}" != leave_out]
    resources = "\n".join(
        item_resource(n, f"items/{n}.xml", rtype="imsqti_item_xmlv2p1") for n in names
    )
    resources += (
        '\n<resource identifier="TEST" type="imsqti_test_xmlv2p1" href="tests/test.xml">'
        '<file href="tests/test.xml"/></resource>'
    )
    entries = [("imsmanifest.xml", manifest(resources, ns=CP_NS))]
    entries += [(f"items/{n}.xml", qti2_item(n)[: -10 if n == broken else None]) for n in names]
    entries.append(("tests/test.xml", test.encode()))
    return zip_bytes(entries)


def test_a_21_test_reads_into_flat_sections_with_notes() -> None:
    spec = qti_test.parse_test(TEST21.encode(), href="tests/test.xml")
    assert (spec.identifier, spec.title, spec.version, spec.linear) == (
        "geo-quiz",
        "Geography quiz",
        "2.1",
        False,
    )
    assert spec.time_limit_s == 1800
    core, extra = spec.sections
    assert [(r.href, r.weight) for r in core.items] == [
        ("items/Q1.xml", 2.0),
        ("items/Q2.xml", 1.0),
    ]
    assert core.time_limit_s == 600 and core.select is None
    assert (extra.select, extra.shuffle) == (2, True)
    assert [r.href for r in extra.items] == ["items/Q3.xml", "items/Q4.xml", "items/Q5.xml"]


def test_what_the_model_cannot_say_is_noted_never_dropped_silently() -> None:
    odd = (
        TEST21.replace('navigationMode="nonlinear"', 'navigationMode="linear"')
        .replace("<sum>", "<product>")
        .replace("</sum>", "</product>")
        .replace('<selection select="2"/>', '<selection select="2" withReplacement="true"/>')
    )
    spec = qti_test.parse_test(odd.encode(), href="tests/test.xml")
    assert spec.linear
    text = " | ".join(spec.notes)
    assert "outcome processing uses product" in text
    assert "with replacement" in text


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (b"<notATest/>", "is not a QTI assessment test"),
        (
            f'<assessmentTest xmlns="{QTI21_NS}" identifier="t" title="t"/>'.encode(),
            "has no test part",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>'
            + f'<assessmentTest xmlns="{QTI21_NS}" identifier="t"/>'.encode(),
            "DOCTYPE",
        ),
    ],
)
def test_bad_tests_are_refused_with_the_reason(xml: bytes, reason: str) -> None:
    with pytest.raises(qti_test.TestFormatError, match=reason):
        qti_test.parse_test(xml)


def test_written_tests_read_back_the_same() -> None:
    sections = [
        qti_test.WrittenSection(
            "s1", "One", [qti_test.WrittenItem("A", 2.0), qti_test.WrittenItem("B")]
        ),
        qti_test.WrittenSection(
            "s2",
            "Two",
            [qti_test.WrittenItem(x) for x in "CDE"],
            select=2,
            shuffle=True,
        ),
    ]
    hrefs = {x: f"items/{x}.xml" for x in "ABCDE"}
    xml = qti_test.write_test("T1", "Title", sections, hrefs, linear=True, time_limit_s=900)
    spec = qti_test.parse_test(xml, href="T1.xml")
    assert (spec.version, spec.linear, spec.time_limit_s, spec.notes) == ("3.0", True, 900, [])
    assert [(s.identifier, s.select, s.shuffle) for s in spec.sections] == [
        ("s1", None, False),
        ("s2", 2, True),
    ]
    assert [(r.href, r.weight) for r in spec.sections[0].items] == [
        ("items/A.xml", 2.0),
        ("items/B.xml", 1.0),
    ]


async def _import(
    client: httpx.AsyncClient, world: World, data: bytes, **form: str
) -> httpx.Response:
    return await client.post(
        "/api/v1/assessments/import-qti",
        files={"file": ("exam:quiz.zip", data, "application/zip")},  # a colon in the name
        data={"bank_id": world.bank_id, **form},
        headers=world.headers,
    )


async def _bank_identifiers(client: httpx.AsyncClient, world: World) -> list[str]:
    found = await client.get(
        "/api/v1/items", params={"bank_id": world.bank_id, "limit": 100}, headers=world.headers
    )
    assert found.status_code == 200, found.text
    return sorted(i["identifier"] for i in found.json()["items"] if i["identifier"][0] == "Q")


@pytest.mark.asyncio
async def test_a_test_package_becomes_a_publishable_assessment_and_exports_back(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    imported = await _import(client, world, package21())
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert body["assessment"]["slug"] == "geo-quiz"
    definition = body["version"]["definition"]
    assert definition["title"] == "Geography quiz"
    assert (definition["navigation"], definition["time_limit_s"]) == ("free", 1800)
    core, extra = definition["sections"]
    assert [i["weight"] for i in core["items"]] == [2.0, 1.0]
    assert extra["selection"]["count"] == 2 and extra["shuffle_items"] is True
    assert extra["selection"]["tags"] == ["qti:geo-quiz/extra"]
    assert {i["status"] for i in body["items"]} == {"imported"}
    assert any("time limit is not kept" in n for n in body["notes"])
    assert await _bank_identifiers(client, world) == ["Q1", "Q2", "Q3", "Q4", "Q5"]

    assessment_id = body["assessment"]["id"]
    published = await client.post(
        f"/api/v1/assessments/{assessment_id}/publish", headers=world.headers
    )
    assert published.status_code == 200, published.text
    assert len(published.json()["version"]["pinned"]["sections"][1]["pool"]) == 3

    exported = await client.get(
        f"/api/v1/assessments/{assessment_id}/export-qti", headers=world.headers
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        names = archive.namelist()
        test_xml = archive.read("geo-quiz.xml")
    assert "imsmanifest.xml" in names and len([n for n in names if n.startswith("items/")]) == 5
    spec = qti_test.parse_test(test_xml, href="geo-quiz.xml")
    assert [(s.identifier, s.select, len(s.items)) for s in spec.sections] == [
        ("core", None, 2),
        ("extra", 2, 3),
    ]

    # Back in as another assessment: same structure, the items as new versions.
    again = await _import(client, world, exported.content, slug="geo-quiz-copy")
    assert again.status_code == 201, again.text
    copy = again.json()["version"]["definition"]
    assert [s["title"] for s in copy["sections"]] == ["Core questions", "Draw two"]
    assert copy["sections"][0]["items"] == core["items"]
    assert copy["sections"][1]["selection"]["count"] == 2
    assert copy["time_limit_s"] == 1800
    assert {i["status"] for i in again.json()["items"]} == {"new_version"}


@pytest.mark.asyncio
async def test_refused_packages_store_nothing(client: httpx.AsyncClient, make: Factory) -> None:
    world = await World(client, make).setup()
    missing = await _import(client, world, package21(leave_out="Q4"))
    assert missing.status_code == 422
    problem: dict[str, Any] = missing.json()
    assert problem["type"].endswith("/qti-test-invalid")
    assert "items/Q4.xml" in problem["detail"]

    resources = item_resource("Q1", "items/Q1.xml", rtype="imsqti_item_xmlv2p1")
    no_test = zip_bytes(
        [("imsmanifest.xml", manifest(resources, ns=CP_NS)), ("items/Q1.xml", qti2_item("Q1"))]
    )
    refused = await _import(client, world, no_test)
    assert refused.status_code == 422
    assert "declares no assessment test" in refused.json()["detail"]

    rejected = await _import(client, world, package21(broken="Q5"))
    assert rejected.status_code == 422
    assert rejected.json()["type"].endswith("/import-rejected")

    bad_slug = await _import(client, world, package21(), slug="Not A Slug")
    assert bad_slug.status_code == 422

    assert await _bank_identifiers(client, world) == []
    listed = await client.get("/api/v1/assessments", headers=world.headers)
    assert listed.status_code == 200 and listed.json() == []


@pytest.mark.asyncio
async def test_a_draft_exports_its_items_and_a_taken_slug_stores_nothing(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    draft = await client.post(
        "/api/v1/assessments",
        json={"slug": "placement", "definition": world.definition()},
        headers=world.headers,
    )
    assert draft.status_code == 201, draft.text
    exported = await client.get(
        f"/api/v1/assessments/{draft.json()['assessment']['id']}/export-qti",
        headers=world.headers,
    )
    assert exported.status_code == 200, exported.text
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        spec = qti_test.parse_test(archive.read("placement.xml"), href="placement.xml")
        assert sorted(n for n in archive.namelist() if n.startswith("items/")) == [
            "items/A1.xml",
            "items/A2.xml",
            "items/G1.xml",
        ]
    # The drawn section's whole pool is two items, so it draws them all: no qti-selection.
    assert [(s.identifier, s.select, [r.href for r in s.items]) for s in spec.sections] == [
        ("fixed", None, ["items/G1.xml"]),
        ("drawn", None, ["items/A1.xml", "items/A2.xml"]),
    ]
    assert spec.time_limit_s == 1800

    # Importing it under the slug it already has: refused, and no item got a new version.
    taken = await _import(client, world, exported.content)
    assert taken.status_code == 409, taken.text
    item = await client.get(f"/api/v1/items/{world.items['G1']}", headers=world.headers)
    assert item.json()["item"]["latest_version"] == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_import_and_export_from_the_command_line(
    live_client: httpx.AsyncClient,
    live_make: Factory,
    fresh_database: Database,
    tmp_path: Path,
) -> None:
    world = await World(live_client, live_make).setup()
    package = tmp_path / "quiz.zip"
    package.write_bytes(package21())
    env = {"WAA_DATABASE_URL": fresh_database.url, "WAA_ENV": "test", "WAA_DATA_DIR": str(tmp_path)}
    org = world.org.slug

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["assessment", *args, "--organization", org], env=env)
        # The app's own background tasks may log (JSON lines) to the same stderr meanwhile.
        said = [line for line in result.stderr.splitlines() if not line.startswith("{")]
        return result.exit_code, result.stdout, "\n".join(said)

    code, out, errors = await asyncio.to_thread(
        run, "import-qti", str(package), "--bank", "main", "--slug", "geo"
    )
    assert code == 0, out + errors
    made = json.loads(out)
    assert made["slug"] == "geo" and len(made["items"]) == 5
    assert "assessment geo made with 5 items" in errors

    target = tmp_path / "geo.zip"
    code, out, errors = await asyncio.to_thread(run, "export-qti", "geo", "--out", str(target))
    assert code == 0, errors
    with zipfile.ZipFile(target) as archive:
        assert "geo.xml" in archive.namelist()

    # Refusals: one error line, exit code 2.
    code, out, errors = await asyncio.to_thread(run, "import-qti", str(package), "--bank", "nope")
    assert (code, errors.strip()) == (2, f"error: no item bank 'nope' in {org}")
    code, out, errors = await asyncio.to_thread(
        run, "import-qti", str(package), "--bank", "main", "--slug", "Bad Slug"
    )
    assert code == 2 and errors.startswith("error: --slug 'Bad Slug'")


@pytest.mark.parametrize(
    ("linear", "show", "policy"),
    [(True, True, "after_item"), (False, True, "after_test"), (False, False, "none")],
)
def test_show_feedback_reads_as_the_feedback_policy_and_writes_back(
    linear: bool, show: bool, policy: str
) -> None:
    written = qti_test.write_test(
        "T1",
        "Title",
        [qti_test.WrittenSection("s1", "One", [qti_test.WrittenItem("A")])],
        {"A": "items/A.xml"},
        linear=linear,
        show_feedback=show,
    )
    assert f'show-feedback="{str(show).lower()}"'.encode() in written
    spec = qti_test.parse_test(written, href="T1.xml")
    assert (spec.linear, spec.show_feedback) == (linear, show)
    read = TEST21.replace(
        'submissionMode="simultaneous">',
        f'submissionMode="simultaneous"><itemSessionControl showFeedback="{str(show).lower()}"/>',
    )
    if linear:
        read = read.replace('navigationMode="nonlinear"', 'navigationMode="linear"')
    assert qti_test.parse_test(read.encode(), href="t.xml").show_feedback is show


@pytest.mark.asyncio
async def test_an_imported_test_that_shows_feedback_gets_the_policy_and_keeps_it(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    shows = TEST21.replace(
        'submissionMode="simultaneous">',
        'submissionMode="simultaneous"><itemSessionControl showFeedback="true"/>',
    )
    imported = await _import(client, world, package21(shows))
    assert imported.status_code == 201, imported.text
    assert imported.json()["version"]["definition"]["feedback"] == "after_test"
    exported = await client.get(
        f"/api/v1/assessments/{imported.json()['assessment']['id']}/export-qti",
        headers=world.headers,
    )
    again = await _import(client, world, exported.content, slug="geo-quiz-copy")
    assert again.status_code == 201, again.text
    assert again.json()["version"]["definition"]["feedback"] == "after_test"
    plain = await _import(client, world, package21(), slug="geo-quiz-plain")
    assert plain.json()["version"]["definition"]["feedback"] == "none"
