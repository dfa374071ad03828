"""A QTI 3.0 item whose accessibility catalogs hold a card of each support the player shows
(glossary, guidance, spoken text, braille, a sign-language video, an ``ext:`` support), for a
word, a paragraph and the interaction; and the video it plays, written by the tests."""

from __future__ import annotations

from tests.support.packages import QTI3_NS, item_resource, manifest, zip_bytes

#: A few bytes that are an MP4 file's header (``ftyp``), enough for media type sniffing; the
#: player shows the video element and its controls whether or not it can be decoded.
SIGN_VIDEO = (
    b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free" + b"\x00" * 64
)

CATALOG_INFO = """<qti-catalog-info>
  <qti-catalog id="photo">
    <qti-card support="glossary-on-screen">
      <qti-html-content>How green plants make their food from light.</qti-html-content>
    </qti-card>
    <qti-card support="linguistic-guidance">
      <qti-html-content><p>A long word in two parts: photo (light) and synthesis (making).</p></qti-html-content>
    </qti-card>
    <qti-card support="spoken">
      <qti-html-content>foe-toe-SIN-thuh-sis</qti-html-content>
    </qti-card>
    <qti-card support="braille">
      <qti-html-content>photosynthesis in braille</qti-html-content>
    </qti-card>
    <qti-card support="sign-language">
      <qti-html-content><video src="media/sign.mp4">The sign for photosynthesis.</video><video src="https://elsewhere.example/sign.mp4"/></qti-html-content>
    </qti-card>
    <qti-card support="ext:plain-words">
      <qti-html-content>Plants make food from light.</qti-html-content>
    </qti-card>
  </qti-catalog>
  <qti-catalog id="passage">
    <qti-card support="linguistic-guidance">
      <qti-html-content>Read the sentence slowly: it says what plants need.</qti-html-content>
    </qti-card>
  </qti-catalog>
  <qti-catalog id="question">
    <qti-card support="glossary-on-screen">
      <qti-html-content>Choose the one thing that is alive.</qti-html-content>
    </qti-card>
    <qti-card support="spoken">
      <qti-html-content>Which of these is a plant?</qti-html-content>
    </qti-card>
  </qti-catalog>
</qti-catalog-info>"""


def catalog_item(identifier: str = "PS1") -> str:
    """The item's QTI 3.0 XML; its video is ``media/sign.mp4`` (see :func:`catalog_package`)."""
    return f"""<qti-assessment-item xmlns="{QTI3_NS}" identifier="{identifier}" title="Plants and light"
    xml:lang="en" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
    <qti-correct-response><qti-value>oak</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <p data-catalog-idref="passage">Green plants live by <span data-catalog-idref="photo">photosynthesis</span>.</p>
    <qti-choice-interaction response-identifier="RESPONSE" max-choices="1" data-catalog-idref="question">
      <qti-prompt>Which of these is a plant?</qti-prompt>
      <qti-simple-choice identifier="oak">An oak</qti-simple-choice>
      <qti-simple-choice identifier="rock">A rock</qti-simple-choice>
    </qti-choice-interaction>
  </qti-item-body>
  {CATALOG_INFO}
  <qti-response-processing
    template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"/>
</qti-assessment-item>"""


def catalog_package(identifier: str = "PS1") -> bytes:
    """A content package of :func:`catalog_item` with its video."""
    href = f"items/{identifier}.xml"
    return zip_bytes(
        [
            (
                "imsmanifest.xml",
                manifest(item_resource(f"r-{identifier}", href, files=["items/media/sign.mp4"])),
            ),
            (href, catalog_item(identifier).encode()),
            ("items/media/sign.mp4", SIGN_VIDEO),
        ]
    )
