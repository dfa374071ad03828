"""Shared stimuli the tests put in banks: a passage with a picture, items that are shown
beside it, and a QTI 3.0 package laid out as other tools write one (items in ``items/``,
the passage and its picture in ``passages/``, a manifest whose item resources depend on
the stimulus resource)."""

from __future__ import annotations

import io
import zipfile

from tests.support.media import png

QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
CP = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"

PASSAGE_ID = "tide-passage"
PASSAGE_TITLE = "The tide pool"
#: A sentence of the passage, to find it in what a candidate receives.
PASSAGE_SENTENCE = "Twice a day the sea leaves the rocks"


def passage(*, sentence: str = PASSAGE_SENTENCE, identifier: str = PASSAGE_ID) -> str:
    """A QTI 3.0 shared stimulus: a heading, two paragraphs, a picture (``images/pool.png``
    beside it) and markup the sanitizer removes (a script, an event handler)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-stimulus xmlns="{QTI3}" identifier="{identifier}" title="{PASSAGE_TITLE}"
    xml:lang="en">
  <qti-stylesheet href="styles/passage.css" type="text/css"/>
  <qti-stimulus-body>
    <h3>A morning on the shore</h3>
    <p>{sentence} and a small pool stays behind, full of life.</p>
    <p onclick="steal()">Crabs hide under the weed; anemones close when the water goes.</p>
    <img src="images/pool.png" alt="A rock pool with a crab" width="320" height="180"/>
    <script>steal()</script>
  </qti-stimulus-body>
</qti-assessment-stimulus>"""


def stimulus_item(
    identifier: str,
    *,
    stimulus: str = PASSAGE_ID,
    href: str = "../passages/tide.xml",
    correct: str = "B",
) -> str:
    """A single-choice item (A, B, C) shown beside the shared stimulus ``stimulus``."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="{QTI3}" identifier="{identifier}" title="Tide question {identifier}"
    adaptive="false" time-dependent="false" xml:lang="en">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
    <qti-correct-response><qti-value>{correct}</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float">
    <qti-default-value><qti-value>0</qti-value></qti-default-value>
  </qti-outcome-declaration>
  <qti-assessment-stimulus-ref identifier="{stimulus}" href="{href}" title="{PASSAGE_TITLE}"/>
  <qti-item-body>
    <qti-choice-interaction response-identifier="RESPONSE" max-choices="1">
      <qti-prompt>Question {identifier}: what stays behind when the sea goes out?</qti-prompt>
      <qti-simple-choice identifier="A">Nothing</qti-simple-choice>
      <qti-simple-choice identifier="B">A pool full of life</qti-simple-choice>
      <qti-simple-choice identifier="C">A boat</qti-simple-choice>
    </qti-choice-interaction>
  </qti-item-body>
  <qti-response-processing
      template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"/>
</qti-assessment-item>"""


def stimulus_package(
    *identifiers: str, with_picture: bool = True, stimulus_xml: str | None = None
) -> bytes:
    """A QTI 3.0 package whose items (``items/<id>.xml``) all refer to one shared stimulus
    (``passages/tide.xml``, with ``passages/images/pool.png``)."""
    identifiers = identifiers or ("TIDE-1", "TIDE-2")
    item_resources = "".join(
        f'<resource identifier="R-{i}" type="imsqti_item_xmlv3p0" href="items/{i}.xml">'
        f'<file href="items/{i}.xml"/><dependency identifierref="STIM"/></resource>'
        for i in identifiers
    )
    picture = '<file href="passages/images/pool.png"/>' if with_picture else ""
    manifest = f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest xmlns="{CP}" identifier="tide-package">
  <metadata><schema>QTI Package</schema><schemaversion>3.0.0</schemaversion></metadata>
  <organizations/>
  <resources>
    <resource identifier="STIM" type="imsqti_stimulus_xmlv3p0" href="passages/tide.xml">
      <file href="passages/tide.xml"/>{picture}
    </resource>
    {item_resources}
  </resources>
</manifest>"""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("imsmanifest.xml", manifest)
        archive.writestr("passages/tide.xml", stimulus_xml or passage())
        if with_picture:
            archive.writestr("passages/images/pool.png", png(320, 180, color=(20, 120, 160)))
        for identifier in identifiers:
            archive.writestr(f"items/{identifier}.xml", stimulus_item(identifier))
    return buffer.getvalue()
