"""Writing QTI 3.0: the output validates against a schema of the QTI 3.0 subset we emit
(tests/support/qti3_schema.py), and reading what we write gives back the same item."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tests.support.qti3_schema import QTI3, check_qti3
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.interchange.qti.writer import write_item

FIXTURES = Path(__file__).parent.parent / "fixtures" / "items"


def all_fixtures() -> list[Path]:
    return sorted((FIXTURES / "qti").glob("*.xml"))


@pytest.mark.parametrize("path", all_fixtures(), ids=lambda p: p.name)
def test_written_fixtures_validate_and_read_back_equal(path: Path) -> None:
    item = parse_item(path.read_bytes())
    written = write_item(item)
    check_qti3(written)
    assert written.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<qti-assessment-item")
    again = parse_item(written)
    assert again == item
    # writing is stable: the written form is a fixed point
    assert write_item(again) == written


def test_the_schema_catches_wrong_names() -> None:
    item = parse_item((FIXTURES / "qti" / "choice_single.v3p0.xml").read_bytes())
    written = write_item(item)
    for wrong in (
        written.replace(b'max-choices="1"', b'maxChoices="1"'),
        written.replace(b"qti-simple-choice", b"qti-simplechoice"),
        written.replace(b'base-type="identifier"', b'base-type="ident"'),
        written.replace(b"qti-correct-response", b"qti-correctResponse"),
    ):
        with pytest.raises(etree.DocumentInvalid):
            check_qti3(wrong)


def test_templates_are_written_with_their_3_0_urls() -> None:
    item = parse_item((FIXTURES / "qti" / "choice_multiple.v2p2.xml").read_bytes())
    written = write_item(item)
    assert (
        b'template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response.xml"'
        in written
    )
    assert b"imsqti_v2p2" not in written


def test_extras_round_trip() -> None:
    xml = f"""<qti-assessment-item xmlns="{QTI3}" identifier="x" title="t" label="L"
  tool-name="Editor" tool-version="2" time-dependent="true" xml:lang="fr">
  <qti-response-declaration identifier="R" cardinality="record">
    <qti-correct-response>
      <qti-value field-identifier="x" base-type="float">1.5</qti-value>
      <qti-value field-identifier="n" base-type="integer">2</qti-value>
      <qti-value field-identifier="ok" base-type="boolean">true</qti-value>
    </qti-correct-response>
  </qti-response-declaration>
  <qti-response-declaration identifier="D" cardinality="single" base-type="duration">
    <qti-default-value><qti-value>2.5</qti-value></qti-default-value>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="FEEDBACK" cardinality="single" base-type="identifier"
    view="author" mastery-value="0.5"/>
  <qti-stylesheet href="a.css" type="text/css" media="screen"/>
  <qti-item-body class="wide"><p>Hello <math xmlns="http://www.w3.org/1998/Math/MathML"><mi>x</mi></math></p></qti-item-body>
  <qti-modal-feedback outcome-identifier="FEEDBACK" identifier="good" show-hide="hide" title="T">
    <p>Right</p>
  </qti-modal-feedback>
</qti-assessment-item>"""
    item = parse_item(xml.encode())
    written = write_item(item)
    check_qti3(written)
    assert parse_item(written) == item
    assert item.language == "fr"
    assert 'class="wide"' in item.body
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML"><mi>x</mi></math>' in item.body


def test_native_items_write_valid_qti() -> None:
    from waa_ads.content.interchange.native import load_native

    for path in sorted((FIXTURES / "native").iterdir()):
        item = load_native(path.read_bytes(), syntax="json" if path.suffix == ".json" else None)
        written = write_item(item)
        check_qti3(written)
        back = parse_item(written)
        assert back == item.model_copy(update={"metadata": {}, "rubric_ref": None}), path.name
