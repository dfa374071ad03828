"""Items with translations: an English text entry and its French variant, whose keys
differ, and the changes that make a translation unanswerable as its source."""

from __future__ import annotations

from tests.support.items import QTI3, choice_item

MATCH_CORRECT = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"


def text_entry_item(
    identifier: str, *, lang: str | None, prompt: str, answer: str, base_type: str = "string"
) -> str:
    """A text entry (``RESPONSE``, single ``base_type``) whose one right answer is
    ``answer``, scored by match_correct."""
    lang_attr = f' xml:lang="{lang}"' if lang else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="{QTI3}" identifier="{identifier}" title="Animal"
    adaptive="false" time-dependent="false"{lang_attr}>
  <qti-response-declaration identifier="RESPONSE" cardinality="single"
      base-type="{base_type}">
    <qti-correct-response><qti-value>{answer}</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float">
    <qti-default-value><qti-value>0</qti-value></qti-default-value>
  </qti-outcome-declaration>
  <qti-item-body>
    <p>{prompt} <qti-text-entry-interaction response-identifier="RESPONSE"/></p>
  </qti-item-body>
  <qti-response-processing template="{MATCH_CORRECT}"/>
</qti-assessment-item>"""


def french_choice(identifier: str) -> str:
    """:func:`~tests.support.items.choice_item` in French (same choices A, B, C; B right)."""
    return (
        choice_item(identifier, "Lettres grecques", prompt="Choisissez-en une")
        .replace('xml:lang="en"', 'xml:lang="fr"')
        .replace(">Alpha<", ">Alpha (fr)<")
    )
