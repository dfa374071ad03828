"""QTI 3.0 results reports: structure (checked by a schema of what we emit), value formats,
escaping, ids only, no correct responses, determinism, and the mapping from stored rows."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from waa_ads.auth.models import Candidate
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.item.definition import BaseType, Cardinality, ItemDefinition
from waa_ads.content.item.responses import validate_response
from waa_ads.content.item.templates import instance_for
from waa_ads.delivery.models import Attempt, AttemptItem, Response
from waa_ads.scoring.engine import evaluate
from waa_ads.scoring.models import AttemptResult, ItemScore
from waa_ads.scoring.qti_results import (
    RESULT_NS,
    AttemptReport,
    ExternalScored,
    ItemReport,
    OutcomeVariable,
    ResponseVariable,
    SessionStatus,
    ncname,
    report_from_rows,
    result_file_name,
    sourced_id,
    write_assessment_result,
    write_assessment_results,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "items" / "qti"
NS = {"r": RESULT_NS}
T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)

# What we emit, as a schema: the element and attribute names, types and enumerations of
# the QTI 3.0 results binding, restricted to the parts we write. It is stricter than the
# binding on purpose: a responseVariable may hold a candidateResponse only, so a
# correctResponse in our output fails validation.
RESULT_XSD = f"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="{RESULT_NS}"
    targetNamespace="{RESULT_NS}" elementFormDefault="qualified">
  <xs:simpleType name="Cardinality">
    <xs:restriction base="xs:string">
      <xs:enumeration value="single"/><xs:enumeration value="multiple"/>
      <xs:enumeration value="ordered"/><xs:enumeration value="record"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="BaseType">
    <xs:restriction base="xs:string">
      <xs:enumeration value="boolean"/><xs:enumeration value="directedPair"/>
      <xs:enumeration value="duration"/><xs:enumeration value="file"/>
      <xs:enumeration value="float"/><xs:enumeration value="identifier"/>
      <xs:enumeration value="integer"/><xs:enumeration value="pair"/>
      <xs:enumeration value="point"/><xs:enumeration value="string"/>
      <xs:enumeration value="uri"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="SessionStatus">
    <xs:restriction base="xs:string">
      <xs:enumeration value="final"/><xs:enumeration value="initial"/>
      <xs:enumeration value="pendingExternalScoring"/>
      <xs:enumeration value="pendingResponseProcessing"/>
      <xs:enumeration value="pendingSubmission"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="ExternalScored">
    <xs:restriction base="xs:string">
      <xs:enumeration value="human"/><xs:enumeration value="externalMachine"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="DateTime">
    <xs:restriction base="xs:dateTime"><xs:pattern value="[0-9]{{4}}.*"/></xs:restriction>
  </xs:simpleType>
  <xs:complexType name="Value">
    <xs:simpleContent>
      <xs:extension base="xs:normalizedString">
        <xs:attribute name="fieldIdentifier" type="xs:NCName"/>
        <xs:attribute name="baseType" type="BaseType"/>
      </xs:extension>
    </xs:simpleContent>
  </xs:complexType>
  <xs:complexType name="Values">
    <xs:sequence><xs:element name="value" type="Value" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
  </xs:complexType>
  <xs:complexType name="ResponseVariable">
    <xs:sequence><xs:element name="candidateResponse" type="Values"/></xs:sequence>
    <xs:attribute name="identifier" type="xs:NCName" use="required"/>
    <xs:attribute name="cardinality" type="Cardinality" use="required"/>
    <xs:attribute name="baseType" type="BaseType"/>
  </xs:complexType>
  <xs:complexType name="OutcomeVariable">
    <xs:sequence><xs:element name="value" type="Value" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
    <xs:attribute name="identifier" type="xs:NCName" use="required"/>
    <xs:attribute name="cardinality" type="Cardinality" use="required"/>
    <xs:attribute name="baseType" type="BaseType"/>
    <xs:attribute name="normalMaximum" type="xs:double"/>
    <xs:attribute name="normalMinimum" type="xs:double"/>
    <xs:attribute name="masteryValue" type="xs:double"/>
    <xs:attribute name="external-scored" type="ExternalScored"/>
  </xs:complexType>
  <xs:complexType name="TemplateVariable">
    <xs:sequence><xs:element name="value" type="Value" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
    <xs:attribute name="identifier" type="xs:NCName" use="required"/>
    <xs:attribute name="cardinality" type="Cardinality" use="required"/>
    <xs:attribute name="baseType" type="BaseType"/>
  </xs:complexType>
  <xs:group name="Variables">
    <xs:choice>
      <xs:element name="responseVariable" type="ResponseVariable"/>
      <xs:element name="templateVariable" type="TemplateVariable"/>
      <xs:element name="outcomeVariable" type="OutcomeVariable"/>
    </xs:choice>
  </xs:group>
  <xs:element name="assessmentResult">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="context">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="sessionIdentifier" minOccurs="0" maxOccurs="unbounded">
                <xs:complexType>
                  <xs:attribute name="sourceID" type="xs:anyURI" use="required"/>
                  <xs:attribute name="identifier" type="xs:NCName" use="required"/>
                </xs:complexType>
              </xs:element>
            </xs:sequence>
            <xs:attribute name="sourcedId" type="xs:NCName"/>
          </xs:complexType>
        </xs:element>
        <xs:element name="testResult" minOccurs="0">
          <xs:complexType>
            <xs:sequence><xs:group ref="Variables" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
            <xs:attribute name="identifier" type="xs:NCName" use="required"/>
            <xs:attribute name="datestamp" type="DateTime" use="required"/>
          </xs:complexType>
        </xs:element>
        <xs:element name="itemResult" minOccurs="0" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence><xs:group ref="Variables" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
            <xs:attribute name="identifier" type="xs:NCName" use="required"/>
            <xs:attribute name="sequenceIndex" type="xs:integer"/>
            <xs:attribute name="datestamp" type="DateTime" use="required"/>
            <xs:attribute name="sessionStatus" type="SessionStatus" use="required"/>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""
SCHEMA = etree.XMLSchema(etree.fromstring(RESULT_XSD.encode()))

# The text of one value of each base type, as QTI spells them.
_DOUBLE = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?INF|NaN"
_ID = r"[^\s]+"
VALUE_FORMS = {
    "boolean": "true|false",
    "integer": r"[+-]?\d+",
    "float": _DOUBLE,
    "duration": _DOUBLE,
    "point": r"-?\d+ -?\d+",
    "pair": f"{_ID} {_ID}",
    "directedPair": f"{_ID} {_ID}",
    "identifier": _ID,
    "file": "sha256:[0-9a-f]{64}",
}


def check_document(document: bytes) -> etree._Element:
    """Parse, validate against the schema, and check every value's text by base type."""
    root = etree.fromstring(document)
    if not SCHEMA.validate(root):
        raise AssertionError(str(SCHEMA.error_log))
    for value in root.iter(f"{{{RESULT_NS}}}value"):
        base_type = value.get("baseType")
        if base_type is None:
            variable = value.getparent()
            assert variable is not None
            if variable.tag == f"{{{RESULT_NS}}}candidateResponse":
                variable = variable.getparent()
                assert variable is not None
            base_type = variable.get("baseType")
        form = VALUE_FORMS.get(base_type or "")
        if form is not None:
            assert re.fullmatch(form, value.text or ""), (base_type, value.text)
    return root


def var(cardinality: str, base_type: str | None, value: Any) -> ResponseVariable:
    return ResponseVariable(
        Cardinality(cardinality), BaseType(base_type) if base_type else None, value
    )


def out(cardinality: str, base_type: str | None, value: Any, **extra: Any) -> OutcomeVariable:
    return OutcomeVariable(
        Cardinality(cardinality), BaseType(base_type) if base_type else None, value, **extra
    )


def sample_report(**changes: Any) -> AttemptReport:
    items = [
        ItemReport(
            identifier="Q1",
            sequence_index=1,
            datestamp=T0 + timedelta(minutes=5),
            duration_s=42.5,
            responses={"RESPONSE": var("multiple", "identifier", ["p2", "p3"])},
            outcomes={
                "SCORE": out("single", "float", 1.5, normal_maximum=3.0),
                "MAXSCORE": out("single", "float", 3.0),
            },
        ),
        ItemReport(
            identifier="Q2",
            sequence_index=2,
            datestamp=T0 + timedelta(minutes=7),
            responses={"RESPONSE": var("multiple", "point", [[100, 120], [7, 8]])},
            outcomes={"SCORE": out("single", "float", 0.0)},
        ),
        ItemReport(
            identifier="Q3",
            sequence_index=3,
            datestamp=T0 + timedelta(minutes=9),
            session_status=SessionStatus.PENDING_EXTERNAL_SCORING,
            responses={"RESPONSE": var("single", "string", "An essay")},
            outcomes={"SCORE": out("single", "float", None, external_scored=ExternalScored.HUMAN)},
        ),
    ]
    report = AttemptReport(
        candidate_id=sourced_id("candidate", uuid.UUID(int=1)),
        attempt_id=sourced_id("attempt", uuid.UUID(int=2)),
        result_id=sourced_id("result", uuid.UUID(int=3)),
        assessment_identifier="algebra-1",
        datestamp=T0 + timedelta(hours=1),
        started_at=T0,
        ended_at=T0 + timedelta(minutes=50),
        outcomes={
            "SCORE": out("single", "float", 1.5),
            "PASSED": out("single", "boolean", False),
            "BAND": out("single", "string", "Merit"),
        },
        items=items,
    )
    return replace(report, **changes)


def values(element: etree._Element) -> list[str]:
    return [v.text or "" for v in element.iterfind(".//r:value", NS)]


# --- structure --------------------------------------------------------------------------------


def test_document_structure() -> None:
    root = check_document(write_assessment_result(sample_report()))
    assert root.tag == f"{{{RESULT_NS}}}assessmentResult"
    context = root.find("r:context", NS)
    assert context is not None
    assert context.get("sourcedId") == f"candidate-{uuid.UUID(int=1)}"
    sessions = [(s.get("sourceID"), s.get("identifier")) for s in context]
    assert sessions == [
        ("urn:waa-ads:attempt", f"attempt-{uuid.UUID(int=2)}"),
        ("urn:waa-ads:attempt-result", f"result-{uuid.UUID(int=3)}"),
    ]
    test = root.find("r:testResult", NS)
    assert test is not None
    assert test.get("identifier") == "algebra-1"
    assert test.get("datestamp") == "2025-03-04T10:00:00Z"
    duration = test.find("r:responseVariable[@identifier='duration']", NS)
    assert duration is not None and values(duration) == ["3000.0"]
    assert duration.get("baseType") == "duration"
    outcomes = {str(o.get("identifier")): o for o in test.iterfind("r:outcomeVariable", NS)}
    assert sorted(outcomes) == ["BAND", "PASSED", "SCORE"]
    assert values(outcomes["PASSED"]) == ["false"]
    assert outcomes["PASSED"].get("baseType") == "boolean"

    items = root.findall("r:itemResult", NS)
    assert [(i.get("identifier"), i.get("sequenceIndex")) for i in items] == [
        ("Q1", "1"),
        ("Q2", "2"),
        ("Q3", "3"),
    ]
    assert [i.get("sessionStatus") for i in items] == ["final", "final", "pendingExternalScoring"]
    assert items[0].get("datestamp") == "2025-03-04T09:05:00Z"
    first = items[0]
    assert [c.get("identifier") for c in first] == ["duration", "RESPONSE", "MAXSCORE", "SCORE"]
    response = first.find("r:responseVariable[@identifier='RESPONSE']", NS)
    assert response is not None
    assert response.get("cardinality") == "multiple"
    assert response.get("baseType") == "identifier"
    assert [c.tag for c in response] == [f"{{{RESULT_NS}}}candidateResponse"]
    assert values(response) == ["p2", "p3"]
    score = first.find("r:outcomeVariable[@identifier='SCORE']", NS)
    assert score is not None and score.get("normalMaximum") == "3.0"
    assert values(score) == ["1.5"]
    pending = items[2].find("r:outcomeVariable[@identifier='SCORE']", NS)
    assert pending is not None
    assert pending.get("external-scored") == "human"
    assert values(pending) == []  # NULL: no value at all
    assert root.find(".//r:correctResponse", NS) is None


def test_no_test_duration_without_both_times() -> None:
    root = check_document(write_assessment_result(sample_report(ended_at=None)))
    assert root.find("r:testResult/r:responseVariable", NS) is None


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        (var("single", "point", [120, -4]), ["120 -4"]),
        (var("multiple", "point", [[1, 2], [3, 4]]), ["1 2", "3 4"]),
        (var("single", "pair", ["A", "B"]), ["A B"]),
        (var("multiple", "directedPair", [["fr", "paris"], ["de", "berlin"]]), ["fr paris", "de berlin"]),
        (var("ordered", "identifier", ["c", "a", "b"]), ["c", "a", "b"]),
        (var("single", "boolean", False), ["false"]),
        (var("single", "integer", 7), ["7"]),
        (var("single", "float", 2.5), ["2.5"]),
        (var("single", "float", float("inf")), ["INF"]),
        (var("single", "duration", 12), ["12.0"]),
        (var("multiple", "string", ["a b", "c"]), ["a b", "c"]),
        (var("single", "identifier", None), []),
        (var("multiple", "identifier", []), []),
        (
            var("single", "file", {"sha256": "AB" * 32, "name": "x.pdf", "content_type": "application/pdf", "size": 3}),
            ["sha256:" + "ab" * 32],
        ),
        (var("single", "uri", "https://example.org/a?b=1&c=2"), ["https://example.org/a?b=1&c=2"]),
    ],
)  # fmt: skip
def test_value_formats(variable: ResponseVariable, expected: list[str]) -> None:
    item = ItemReport("Q1", T0, 1, responses={"RESPONSE": variable})
    root = check_document(write_assessment_result(sample_report(items=[item])))
    response = root.find("r:itemResult/r:responseVariable", NS)
    assert response is not None
    assert values(response) == expected


def test_record_values_carry_field_and_base_type() -> None:
    record = var("record", None, {"unit": "cm", "x": 1.5, "n": 2, "ok": True, "gone": None})
    item = ItemReport("Q1", T0, 1, responses={"RESPONSE": record})
    root = check_document(write_assessment_result(sample_report(items=[item])))
    response = root.find("r:itemResult/r:responseVariable", NS)
    assert response is not None
    assert response.get("cardinality") == "record"
    assert response.get("baseType") is None
    fields = [
        (v.get("fieldIdentifier"), v.get("baseType"), v.text)
        for v in response.iterfind(".//r:value", NS)
    ]
    assert fields == [
        ("n", "integer", "2"),
        ("ok", "boolean", "true"),
        ("unit", "string", "cm"),
        ("x", "float", "1.5"),
    ]


def test_int_or_identifier_is_written_with_a_binding_base_type() -> None:
    numbers = var("multiple", "intOrIdentifier", [1, 2])
    mixed = var("multiple", "intOrIdentifier", [1, "A"])
    item = ItemReport("Q1", T0, 1, responses={"NUMBERS": numbers, "MIXED": mixed})
    root = check_document(write_assessment_result(sample_report(items=[item])))
    types = {
        r.get("identifier"): r.get("baseType")
        for r in root.iterfind("r:itemResult/r:responseVariable", NS)
    }
    assert types == {"MIXED": "identifier", "NUMBERS": "integer"}


# --- escaping and identifiers -----------------------------------------------------------------


def test_markup_in_values_is_escaped_and_round_trips() -> None:
    nasty = "</value><script>alert('x')</script> & \"quotes\" ]]> <![CDATA[x]]>"
    item = ItemReport("Q1", T0, 1, responses={"RESPONSE": var("single", "string", nasty)})
    report = sample_report(items=[item], outcomes={"BAND": out("single", "string", "A&B <1>")})
    document = write_assessment_result(report)
    assert b"<script>" not in document
    root = check_document(document)
    response = root.find("r:itemResult/r:responseVariable", NS)
    assert response is not None
    assert values(response) == [nasty]
    band = root.find("r:testResult/r:outcomeVariable[@identifier='BAND']", NS)
    assert band is not None and values(band) == ["A&B <1>"]


def test_characters_xml_cannot_carry_become_replacement_characters() -> None:
    text = "bell\x07 nul\x00 esc\x1b lone\ud800 tab\tkept"
    item = ItemReport("Q1", T0, 1, responses={"RESPONSE": var("single", "string", text)})
    root = check_document(write_assessment_result(sample_report(items=[item])))
    response = root.find("r:itemResult/r:responseVariable", NS)
    assert response is not None
    assert values(response) == ["bell\ufffd nul\ufffd esc\ufffd lone\ufffd tab\tkept"]


def test_identifiers_that_are_not_ncnames_are_made_into_ones() -> None:
    assert ncname("Q-1.a_b") == "Q-1.a_b"
    assert ncname("1st item") == "_1st_item"
    assert ncname("a:b") == "a_b"
    assert ncname("élan") == "élan"
    assert ncname("") == "_"
    item = ItemReport("3 bad:id", T0, 1, responses={"R 1": var("single", "identifier", "A")})
    report = sample_report(items=[item], assessment_identifier="Maths 101")
    root = check_document(write_assessment_result(report))
    assert root.find("r:itemResult[@identifier='_3_bad_id']/r:responseVariable[@identifier='R_1']", NS) is not None  # fmt: skip
    assert root.find("r:testResult[@identifier='Maths_101']", NS) is not None


def test_variables_that_would_share_an_identifier_are_refused() -> None:
    clash = ItemReport(
        "Q1",
        T0,
        1,
        responses={"R 1": var("single", "identifier", "A")},
        outcomes={"R_1": out("single", "float", 1.0)},
    )
    with pytest.raises(ValueError, match="R_1"):
        write_assessment_result(sample_report(items=[clash]))
    builtin = ItemReport(
        "Q1", T0, 1, duration_s=3.0, responses={"duration": var("single", "float", 1.0)}
    )
    with pytest.raises(ValueError, match="duration"):
        write_assessment_result(sample_report(items=[builtin]))
    # Without a duration to write, the name is free.
    check_document(
        write_assessment_result(sample_report(items=[replace(builtin, duration_s=None)]))
    )


def test_datestamps_are_utc() -> None:
    local = datetime(2025, 3, 4, 10, 30, 15, 250_000, tzinfo=ZoneInfo("Europe/Paris"))
    naive = datetime(2025, 3, 4, 8, 0)  # taken as UTC
    items = [ItemReport("Q1", local, 1), ItemReport("Q2", naive, 2)]
    root = check_document(write_assessment_result(sample_report(items=items)))
    stamps = [i.get("datestamp") for i in root.iterfind("r:itemResult", NS)]
    assert stamps == ["2025-03-04T09:30:15.250Z", "2025-03-04T08:00:00Z"]


def test_the_schema_refuses_a_correct_response() -> None:
    """The check above is only worth something if the schema is strict: a response
    variable carrying its correct response must fail it."""
    root = etree.fromstring(write_assessment_result(sample_report()))
    response = root.find("r:itemResult/r:responseVariable[@identifier='RESPONSE']", NS)
    assert response is not None
    correct = etree.Element(f"{{{RESULT_NS}}}correctResponse")
    etree.SubElement(correct, f"{{{RESULT_NS}}}value").text = "p2"
    response.insert(0, correct)
    assert not SCHEMA.validate(root)


# --- determinism and the cohort zip -----------------------------------------------------------


def test_same_report_same_bytes_whatever_the_mapping_order() -> None:
    report = sample_report()
    shuffled = replace(
        report,
        outcomes=dict(reversed(list(report.outcomes.items()))),
        items=[
            replace(
                item,
                responses=dict(reversed(list(item.responses.items()))),
                outcomes=dict(reversed(list(item.outcomes.items()))),
            )
            for item in report.items
        ],
    )
    assert write_assessment_result(report) == write_assessment_result(report)
    assert write_assessment_result(shuffled) == write_assessment_result(report)


def test_cohort_zip_is_deterministic_and_holds_one_document_per_attempt() -> None:
    reports = [
        sample_report(attempt_id=sourced_id("attempt", uuid.UUID(int=n)), candidate_id=f"c{n}")
        for n in (5, 1, 3)
    ]
    first = write_assessment_results(reports)
    assert write_assessment_results(reversed(reports)) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == sorted(result_file_name(r) for r in reports)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
        for report in reports:
            document = archive.read(result_file_name(report))
            assert document == write_assessment_result(report)
            check_document(document)
    assert result_file_name(reports[1]) == f"assessmentResult-attempt-{uuid.UUID(int=1)}.xml"


def test_cohort_zip_refuses_two_reports_of_one_attempt() -> None:
    with pytest.raises(ValueError, match="two reports"):
        write_assessment_results([sample_report(), sample_report(candidate_id="other")])


def test_empty_cohort_is_an_empty_zip() -> None:
    with zipfile.ZipFile(io.BytesIO(write_assessment_results([]))) as archive:
        assert archive.namelist() == []


# --- from stored rows -------------------------------------------------------------------------


def load(name: str) -> ItemDefinition:
    return parse_item((FIXTURES / name).read_bytes())


class Rows:
    """An attempt's rows built in memory, as delivery and scoring would store them."""

    def __init__(self) -> None:
        self.org = uuid.uuid4()
        self.candidate = Candidate(
            id=uuid.uuid4(),
            organization_id=self.org,
            full_name="Ada Lovelace-Byron",
            email="ada@example.org",
            external_id="student-77",
        )
        self.attempt = Attempt(
            id=uuid.uuid4(),
            organization_id=self.org,
            administration_id=uuid.uuid4(),
            roster_entry_id=uuid.uuid4(),
            candidate_id=self.candidate.id,
            assessment_version_id=uuid.uuid4(),
            number=1,
            state="scored",
            seed=7,
            started_at=T0,
            ended_at=T0 + timedelta(minutes=30),
        )
        self.result = AttemptResult(
            id=uuid.uuid4(),
            organization_id=self.org,
            attempt_id=self.attempt.id,
            revision=2,
            reason="manual score",
            complete=False,
            raw=3.5,
            max_raw=14.0,
            weighted=7.0,
            max_weighted=28.0,
            scaled=50.0,
            band="Pass",
            passed=True,
            sections={},
            pending_items=1,
            created_at=T0 + timedelta(hours=2),
        )
        self.items: dict[uuid.UUID, ItemDefinition] = {}
        self.form: list[AttemptItem] = []
        self.responses: list[Response] = []
        self.scores: list[ItemScore] = []

    def add(
        self,
        ref: str,
        item: ItemDefinition,
        position: int,
        raw: Any,
        *,
        score: str = "engine",
        manual: float | None = None,
        saved_at: datetime | None = None,
    ) -> None:
        version_id = uuid.uuid4()
        self.items[version_id] = item
        self.form.append(
            AttemptItem(
                attempt_id=self.attempt.id,
                ref=ref,
                position=position,
                section="main",
                item_id=uuid.uuid4(),
                item_version_id=version_id,
                weight=1.0,
                presented_at=T0,
            )
        )
        normalized: dict[str, Any] = {}
        if raw is not None:
            declaration = item.response_declarations[0]
            normalized = {
                declaration.identifier: validate_response(
                    declaration, raw, item.interaction_for(declaration.identifier)
                )
            }
            self.responses.append(
                Response(
                    attempt_id=self.attempt.id,
                    item_ref=ref,
                    seq=3,
                    value={"value": raw, "normalized": normalized},
                    flagged=False,
                    time_spent_ms=61_500,
                    updated_at=saved_at or T0 + timedelta(minutes=position),
                )
            )
        if score == "none":
            return
        outcomes: dict[str, Any] = {}
        value: float | None = None
        method = "pending"
        if score == "engine":
            outcomes = evaluate(item, normalized).outcomes
            value, method = float(outcomes["SCORE"]), "objective"
        if manual is not None:
            value, method = manual, "manual"
        self.scores.append(
            ItemScore(
                organization_id=self.org,
                result_id=self.result.id,
                attempt_id=self.attempt.id,
                item_ref=ref,
                item_version_id=version_id,
                section="main",
                weight=1.0,
                score=value,
                max_score=4.0,
                method=method,
                scorer="test",
                confidence=None,
                outcomes=outcomes,
                notes=[],
            )
        )

    def report(self, **changes: Any) -> AttemptReport:
        arguments: dict[str, Any] = {
            "attempt": self.attempt,
            "result": self.result,
            "item_scores": self.scores,
            "responses": self.responses,
            "form": self.form,
            "items": self.items,
            "assessment_identifier": "algebra",
        }
        arguments.update(changes)
        return report_from_rows(**arguments)


@pytest.fixture
def rows() -> Rows:
    built = Rows()
    # Added out of position order: the report follows the form's positions.
    built.add("points", load("select_point.v3p0.xml"), 2, [[102, 98], [10, 10]])
    built.add("multi", load("choice_multiple.v3p0.xml"), 1, ["p2", "n4"])
    built.add("match", load("match.v3p0.xml"), 3, ["fr paris", "de rome"], manual=2.5)
    built.add("essay", load("extended_text.v3p0.xml"), 4, "Rain <falls> & dries", score="pending")
    built.add("numeric", load("numeric_entry.v3p0.xml"), 5, None)
    built.add("single", load("choice_single.v3p0.xml"), 6, "mars", score="none")
    return built


def test_report_from_rows(rows: Rows) -> None:
    report = rows.report()
    assert report.candidate_id == f"candidate-{rows.candidate.id}"
    assert report.attempt_id == f"attempt-{rows.attempt.id}"
    assert report.result_id == f"result-{rows.result.id}"
    root = check_document(write_assessment_result(report))
    items = {i.get("identifier"): i for i in root.iterfind("r:itemResult", NS)}
    assert list(items) == ["multi", "points", "match", "essay", "numeric", "single"]
    assert [i.get("sequenceIndex") for i in items.values()] == ["1", "2", "3", "4", "5", "6"]
    assert [i.get("sessionStatus") for i in items.values()] == [
        "final",
        "final",
        "final",
        "pendingExternalScoring",
        "final",
        "pendingResponseProcessing",
    ]

    def variable(ref: str, kind: str, identifier: str) -> etree._Element:
        found = items[ref].find(f"r:{kind}[@identifier='{identifier}']", NS)
        assert found is not None, (ref, kind, identifier)
        return found

    # Responses: the stored normalized values, in QTI text.
    assert values(variable("multi", "responseVariable", "RESPONSE")) == ["p2", "n4"]
    assert values(variable("points", "responseVariable", "RESPONSE")) == ["102 98", "10 10"]
    assert variable("points", "responseVariable", "RESPONSE").get("baseType") == "point"
    assert values(variable("match", "responseVariable", "RESPONSE")) == ["fr paris", "de rome"]
    assert values(variable("essay", "responseVariable", "RESPONSE")) == ["Rain <falls> & dries"]
    assert values(variable("numeric", "responseVariable", "RESPONSE")) == []
    assert values(variable("multi", "responseVariable", "duration")) == ["61.5"]
    assert items["numeric"].find("r:responseVariable[@identifier='duration']", NS) is None

    # Outcomes: the engine's, typed by the declarations, with SCORE from the score row.
    multi_score = evaluate(rows.items[rows.form[1].item_version_id], {"RESPONSE": ["p2", "n4"]})
    assert values(variable("multi", "outcomeVariable", "SCORE")) == [
        repr(float(multi_score.outcomes["SCORE"]))
    ]
    assert values(variable("multi", "outcomeVariable", "MAXSCORE")) == ["4.0"]
    assert values(variable("match", "outcomeVariable", "SCORE")) == ["2.5"]  # manual
    feedback = variable("numeric", "outcomeVariable", "FEEDBACK")
    assert feedback.get("baseType") == "identifier"
    essay_score = variable("essay", "outcomeVariable", "SCORE")
    assert values(essay_score) == []
    assert essay_score.get("external-scored") == "human"
    assert essay_score.get("normalMaximum") == "10.0"
    assert items["single"].find("r:outcomeVariable", NS) is None

    # Datestamps: when the response was saved, else when the attempt ended.
    assert items["multi"].get("datestamp") == "2025-03-04T09:01:00Z"
    assert items["numeric"].get("datestamp") == "2025-03-04T09:30:00Z"

    test = root.find("r:testResult", NS)
    assert test is not None
    assert test.get("identifier") == "algebra"
    assert test.get("datestamp") == "2025-03-04T11:00:00Z"
    totals = {o.get("identifier"): values(o) for o in test.iterfind("r:outcomeVariable", NS)}
    assert totals == {
        "BAND": ["Pass"],
        "MAXSCORE": ["14.0"],
        "PASSED": ["true"],
        "SCALED": ["50.0"],
        "SCORE": ["3.5"],
        "WEIGHTED_MAXSCORE": ["28.0"],
        "WEIGHTED_SCORE": ["7.0"],
    }
    duration = test.find("r:responseVariable[@identifier='duration']", NS)
    assert duration is not None
    assert values(duration) == ["1800.0"]


def test_report_from_rows_writes_ids_only_and_no_correct_response(rows: Rows) -> None:
    document = write_assessment_result(rows.report())
    for personal in ("Ada", "Lovelace", "ada@example.org", "student-77"):
        assert personal.encode() not in document
    root = check_document(document)
    assert root.find(".//r:correctResponse", NS) is None
    # The candidate answered "mars"; the key ("jupiter") appears nowhere.
    assert b"jupiter" not in document
    context = root.find("r:context", NS)
    assert context is not None
    attributes = {value for element in context.iter() for value in element.attrib.values()}
    assert attributes == {
        f"candidate-{rows.candidate.id}",
        "urn:waa-ads:attempt",
        f"attempt-{rows.attempt.id}",
        "urn:waa-ads:attempt-result",
        f"result-{rows.result.id}",
    }


def test_a_cloned_item_is_reported_as_the_attempts_own_instance() -> None:
    """A cloned item's report holds the values of the attempt's own instance (its seed and
    the item's ref choose them) as template variables, and its outcomes come from scoring
    against that instance's key, which is itself never written."""
    item = parse_item(
        (Path(__file__).parent.parent / "fixtures/items/templates/addition.v3p0.xml").read_bytes()
    )
    built = Rows()
    instance = instance_for(item, built.attempt.seed, "sum")
    drawn = {d.identifier: d.default_value for d in instance.template_declarations}
    key = instance.response_declarations[0].correct_response
    assert drawn != {"A": 2, "B": 3}  # not the declared defaults
    built.add("sum", item, 1, key, score="none")
    outcomes = evaluate(instance, {"RESPONSE": key}).outcomes
    assert outcomes["SCORE"] == 1.0
    built.scores.append(
        ItemScore(
            organization_id=built.org,
            result_id=built.result.id,
            attempt_id=built.attempt.id,
            item_ref="sum",
            item_version_id=built.form[0].item_version_id,
            section="main",
            weight=1.0,
            score=1.0,
            max_score=1.0,
            method="objective",
            scorer="test",
            confidence=1.0,
            outcomes=outcomes,
            notes=[],
        )
    )
    root = check_document(write_assessment_result(built.report()))
    result = root.find("r:itemResult[@identifier='sum']", NS)
    assert result is not None
    written = {
        v.get("identifier"): (v.get("baseType"), values(v))
        for v in result.iterfind("r:templateVariable", NS)
    }
    assert written == {
        "A": ("integer", [str(drawn["A"])]),
        "B": ("integer", [str(drawn["B"])]),
    }
    assert root.find(".//r:correctResponse", NS) is None
    score = result.find("r:outcomeVariable[@identifier='SCORE']", NS)
    assert score is not None and values(score) == ["1.0"]


def test_report_from_rows_null_band_and_pass(rows: Rows) -> None:
    rows.result.band = None
    rows.result.passed = None
    root = check_document(write_assessment_result(rows.report()))
    for identifier in ("BAND", "PASSED"):
        outcome = root.find(f"r:testResult/r:outcomeVariable[@identifier='{identifier}']", NS)
        assert outcome is not None and values(outcome) == []


def test_integer_score_declarations_are_kept(rows: Rows) -> None:
    item = load("choice_single.v3p0.xml")
    declarations = tuple(
        o.model_copy(update={"base_type": BaseType.INTEGER}) if o.identifier == "SCORE" else o
        for o in item.outcome_declarations
    )
    whole = Rows()
    whole.add("q", item.model_copy(update={"outcome_declarations": declarations}), 1, "jupiter")
    root = check_document(write_assessment_result(whole.report()))
    score = root.find("r:itemResult/r:outcomeVariable[@identifier='SCORE']", NS)
    assert score is not None
    assert (score.get("baseType"), values(score)) == ("integer", ["1"])


def test_report_from_rows_refuses_rows_of_another_attempt(rows: Rows) -> None:
    other = uuid.uuid4()
    stranger = Response(
        attempt_id=other, item_ref="multi", seq=1, value=None, updated_at=T0, time_spent_ms=0
    )
    with pytest.raises(ValueError, match="attempt"):
        rows.report(responses=[*rows.responses, stranger])
    foreign = replace_row(rows.scores[0], result_id=uuid.uuid4())
    with pytest.raises(ValueError, match="not of result"):
        rows.report(item_scores=[foreign])
    old_result = rows.result
    rows.result = AttemptResult(id=uuid.uuid4(), attempt_id=other, created_at=T0)
    with pytest.raises(ValueError, match="not of attempt"):
        rows.report()
    rows.result = old_result
    stray = replace_row(rows.scores[0], item_ref="not-on-form")
    with pytest.raises(ValueError, match="not on the form"):
        rows.report(item_scores=[stray])
    with pytest.raises(ValueError, match="no definition"):
        rows.report(items={})


def replace_row(score: ItemScore, **changes: Any) -> ItemScore:
    columns = {c: getattr(score, c) for c in ItemScore.__table__.columns.keys()}  # noqa: SIM118
    columns.update(changes)
    return ItemScore(**columns)
