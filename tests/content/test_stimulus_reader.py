"""Reading and writing shared stimuli (QTI 3.0 and 2.2) and items' references to them,
without a database."""

from __future__ import annotations

import pytest

from tests.support.qti3_schema import check_qti3
from tests.support.stimuli import PASSAGE_ID, QTI3, stimulus_item

QTI22 = "http://www.imsglobal.org/xsd/imsqti_v2p2"


def test_qti22_stimuli_and_their_references_are_read_as_qti3_ones() -> None:
    from waa_ads.content.interchange.qti.reader import parse_item
    from waa_ads.content.interchange.qti.stimulus import parse_stimulus, write_stimulus

    stimulus = parse_stimulus(
        f"""<assessmentStimulus xmlns="{QTI22}" identifier="poem" title="A poem" xml:lang="fr">
          <stylesheet href="poem.css" type="text/css"/>
          <stimulusBody><p>Il pleure dans mon c&#339;ur</p>
            <object type="image/png" data="rain.png">Rain on a window</object></stimulusBody>
        </assessmentStimulus>""".encode()
    )
    assert (stimulus.identifier, stimulus.title, stimulus.language) == ("poem", "A poem", "fr")
    assert "Il pleure dans mon cœur" in stimulus.body
    assert 'src="rain.png"' in stimulus.body and 'alt="Rain on a window"' in stimulus.body
    assert stimulus.import_notes == (
        "ignored stylesheet poem.css (stimuli are shown in the player's style)",
    )
    written = write_stimulus(stimulus)
    check_qti3(written)
    assert parse_stimulus(written).body == stimulus.body

    item = parse_item(
        f"""<assessmentItem xmlns="{QTI22}" identifier="q" title="Q" adaptive="false"
            timeDependent="false">
          <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string"/>
          <assessmentStimulusRef identifier="poem" href="poem.xml"/>
          <itemBody><extendedTextInteraction responseIdentifier="RESPONSE"/></itemBody>
        </assessmentItem>""".encode()
    )
    assert [(s.identifier, s.href) for s in item.stimuli] == [("poem", "poem.xml")]


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (f'<qti-assessment-stimulus xmlns="{QTI3}"><qti-stimulus-body/></qti-assessment-stimulus>',
         "missing identifier"),
        (f'<qti-assessment-item xmlns="{QTI3}" identifier="i"/>', "not a shared stimulus"),
        (f'<qti-assessment-stimulus xmlns="{QTI3}" identifier="s"><qti-item-body/>'
         "</qti-assessment-stimulus>", "unexpected element"),
        (f'<qti-assessment-stimulus xmlns="{QTI3}" identifier="s"><qti-stimulus-body>'
         '<qti-choice-interaction response-identifier="R"/></qti-stimulus-body>'
         "</qti-assessment-stimulus>", "cannot hold an interaction"),
        ('<!DOCTYPE x [<!ENTITY e "x">]><qti-assessment-stimulus/>', "DOCTYPE"),
    ],
)  # fmt: skip
def test_a_malformed_stimulus_is_refused_naming_why(xml: str, reason: str) -> None:
    from waa_ads.content.interchange.qti.stimulus import parse_stimulus
    from waa_ads.content.item.definition import ItemFormatError

    with pytest.raises(ItemFormatError, match=reason):
        parse_stimulus(xml.encode())


def test_an_item_naming_one_stimulus_twice_is_refused() -> None:
    from waa_ads.content.interchange.qti.reader import parse_item
    from waa_ads.content.item.definition import ItemFormatError

    twice = stimulus_item("T").replace(
        "<qti-item-body>",
        f'<qti-assessment-stimulus-ref identifier="{PASSAGE_ID}" href="x.xml"/><qti-item-body>',
    )
    with pytest.raises(ItemFormatError, match="referred to twice"):
        parse_item(twice.encode())


def test_a_stimulus_whose_title_or_language_is_too_long_is_refused() -> None:
    from waa_ads.content.interchange.qti.stimulus import parse_stimulus
    from waa_ads.content.item.definition import ItemFormatError

    long_title = "x" * 501
    with pytest.raises(ItemFormatError, match="title"):
        parse_stimulus(
            f'<qti-assessment-stimulus xmlns="{QTI3}" identifier="s" title="{long_title}">'
            "<qti-stimulus-body/></qti-assessment-stimulus>".encode()
        )
    with pytest.raises(ItemFormatError, match="language"):
        parse_stimulus(
            f'<qti-assessment-stimulus xmlns="{QTI3}" identifier="s" title="t" '
            f'xml:lang="{"en-" * 20}"><qti-stimulus-body/></qti-assessment-stimulus>'.encode()
        )
