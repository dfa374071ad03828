"""A QTI 3.0 package with a portable custom interaction: the tests' own Likert scale
(tests/fixtures/pci/likert.js), a single integer response scored by match_correct."""

from __future__ import annotations

from pathlib import Path

from waa_ads.content.interchange.qti.package import build_package

QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
LIKERT_JS = (Path(__file__).resolve().parents[1] / "fixtures" / "pci" / "likert.js").read_bytes()
TYPE_IDENTIFIER = "urn:waa-ads:test:likert"


def likert_item(
    identifier: str = "PCI-LIKERT",
    *,
    correct: int = 4,
    primary: str = "../media/likert.js",
    fallback: str | None = None,
) -> str:
    """The item: a prompt, then the PCI (5 levels) bound to RESPONSE (single integer)."""
    fallback_attr = f' fallback-path="{fallback}"' if fallback else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="{QTI3}" identifier="{identifier}" title="How sure are you"
    adaptive="false" time-dependent="false" xml:lang="en">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="integer">
    <qti-correct-response><qti-value>{correct}</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float">
    <qti-default-value><qti-value>0</qti-value></qti-default-value>
  </qti-outcome-declaration>
  <qti-item-body>
    <p id="likert-question">How sure are you that the tide turns twice a day?</p>
    <qti-portable-custom-interaction response-identifier="RESPONSE" module="likert"
        custom-interaction-type-identifier="{TYPE_IDENTIFIER}"
        data-levels="5" data-label="How sure are you" data-low="not sure" data-high="very sure">
      <qti-interaction-modules>
        <qti-interaction-module id="likert" primary-path="{primary}"{fallback_attr}/>
      </qti-interaction-modules>
      <qti-interaction-markup><div class="likert-host"><p>Choose a point.</p></div></qti-interaction-markup>
    </qti-portable-custom-interaction>
  </qti-item-body>
  <qti-response-processing
      template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"/>
</qti-assessment-item>"""


def likert_package(identifier: str = "PCI-LIKERT", **options: str | int | None) -> bytes:
    """The item under ``items/`` with the module at ``media/likert.js``."""
    xml = likert_item(identifier, **options)  # type: ignore[arg-type]
    return build_package([(identifier, xml.encode())], {"media/likert.js": LIKERT_JS})
