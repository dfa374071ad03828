"""Items and packages the API tests put in banks."""

from __future__ import annotations

from tests.support.media import png
from waa_ads.content.interchange.qti.package import build_package

QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"


def choice_item(identifier: str, title: str, correct: str = "B", prompt: str = "Pick one") -> str:
    """A single-choice QTI 3.0 item (A, B, C) scored by match_correct."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="{QTI3}" identifier="{identifier}" title="{title}"
    adaptive="false" time-dependent="false" xml:lang="en">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
    <qti-correct-response><qti-value>{correct}</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float">
    <qti-default-value><qti-value>0</qti-value></qti-default-value>
  </qti-outcome-declaration>
  <qti-item-body>
    <qti-choice-interaction response-identifier="RESPONSE" max-choices="1" shuffle="true">
      <qti-prompt>{prompt}</qti-prompt>
      <qti-simple-choice identifier="A">Alpha</qti-simple-choice>
      <qti-simple-choice identifier="B">Beta</qti-simple-choice>
      <qti-simple-choice identifier="C" fixed="true">Gamma</qti-simple-choice>
    </qti-choice-interaction>
  </qti-item-body>
  <qti-response-processing
      template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"/>
</qti-assessment-item>"""


#: An extended-text item (E1) that a person scores, 0 to 4.
ESSAY = f"""<qti-assessment-item xmlns="{QTI3}" identifier="E1" title="Essay"
    adaptive="false" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-outcome-declaration identifier="MAXSCORE" cardinality="single" base-type="float">
    <qti-default-value><qti-value>4</qti-value></qti-default-value>
  </qti-outcome-declaration>
  <qti-item-body>
    <qti-extended-text-interaction response-identifier="RESPONSE">
      <qti-prompt>Explain why the sky is blue.</qti-prompt>
    </qti-extended-text-interaction>
  </qti-item-body>
</qti-assessment-item>"""


def figure_item(identifier: str) -> str:
    """A choice item whose prompt shows ``../media/dot.png``."""
    xml = choice_item(identifier, f"Figure {identifier}")
    return xml.replace(
        "<qti-prompt>Pick one</qti-prompt>",
        '<qti-prompt>Look: <img src="../media/dot.png" alt="a dot"/></qti-prompt>',
    )


def package(*identifiers: str, with_media: bool = True) -> bytes:
    """A QTI 3.0 content package of figure items sharing one picture."""
    items = [(i, figure_item(i).encode()) for i in identifiers]
    media = {"media/dot.png": png(3, 3)} if with_media else {}
    return build_package(items, media)
