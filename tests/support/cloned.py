"""Cloned items (QTI item templates) for tests of delivery, scoring, rating and reports:
each candidate draws their own values (content/item/templates.py); the values are wide
enough that two candidates practically never draw the same ones."""

from __future__ import annotations

import re
from typing import Any

from tests.support.items import QTI3
from waa_ads.content.item import templates
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.scoring import engine  # noqa: F401  (installs template processing)

#: How a sum item states its question, to read a candidate's values back from the page.
SUM_QUESTION = re.compile(r"What is (\d+) \+ (\d+)\?")


def sum_item(identifier: str) -> str:
    """``A + B`` with A and B drawn from 1000 to 99999 (distinct), typed as an integer;
    full marks (1) for the candidate's own sum."""
    return f"""<qti-assessment-item xmlns="{QTI3}" identifier="{identifier}" title="Sum"
    adaptive="false" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="integer"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float">
    <qti-default-value><qti-value>0</qti-value></qti-default-value>
  </qti-outcome-declaration>
  <qti-template-declaration identifier="A" cardinality="single" base-type="integer">
    <qti-default-value><qti-value>2</qti-value></qti-default-value>
  </qti-template-declaration>
  <qti-template-declaration identifier="B" cardinality="single" base-type="integer">
    <qti-default-value><qti-value>3</qti-value></qti-default-value>
  </qti-template-declaration>
  <qti-template-processing>
    <qti-set-template-value identifier="A"><qti-random-integer min="1000" max="99999"/></qti-set-template-value>
    <qti-set-template-value identifier="B"><qti-random-integer min="1000" max="99999"/></qti-set-template-value>
    <qti-template-constraint>
      <qti-not><qti-match><qti-variable identifier="A"/><qti-variable identifier="B"/></qti-match></qti-not>
    </qti-template-constraint>
    <qti-set-correct-response identifier="RESPONSE">
      <qti-sum><qti-variable identifier="A"/><qti-variable identifier="B"/></qti-sum>
    </qti-set-correct-response>
  </qti-template-processing>
  <qti-item-body>
    <p>What is <qti-printed-variable identifier="A"/> + <qti-printed-variable identifier="B"/>?</p>
    <p><qti-text-entry-interaction response-identifier="RESPONSE" expected-length="6"/></p>
  </qti-item-body>
  <qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"/>
</qti-assessment-item>"""


def pick_item(identifier: str) -> str:
    """Four choices c1..c4, one of which (HIDDEN, drawn per candidate) is not shown, and
    c5, the key. A response naming the hidden choice is not one the candidate could give."""
    values = "".join(
        f'<qti-base-value base-type="identifier">c{n}</qti-base-value>' for n in range(1, 5)
    )
    choices = "".join(
        f'<qti-simple-choice identifier="c{n}" template-identifier="HIDDEN" show-hide="hide">'
        f"Option {n}</qti-simple-choice>"
        for n in range(1, 5)
    )
    return f"""<qti-assessment-item xmlns="{QTI3}" identifier="{identifier}" title="Pick"
    adaptive="false" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
    <qti-correct-response><qti-value>c5</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-template-declaration identifier="HIDDEN" cardinality="single" base-type="identifier"/>
  <qti-template-processing>
    <qti-set-template-value identifier="HIDDEN">
      <qti-random><qti-multiple>{values}</qti-multiple></qti-random>
    </qti-set-template-value>
  </qti-template-processing>
  <qti-item-body>
    <qti-choice-interaction response-identifier="RESPONSE" shuffle="false" max-choices="1">
      <qti-prompt>Choose the last option.</qti-prompt>
      {choices}
      <qti-simple-choice identifier="c5">Option 5</qti-simple-choice>
    </qti-choice-interaction>
  </qti-item-body>
  <qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"/>
</qti-assessment-item>"""


def essay_item(identifier: str) -> str:
    """An essay (rated by people) about a number N drawn from 100000 to 999999."""
    return f"""<qti-assessment-item xmlns="{QTI3}" identifier="{identifier}" title="Essay"
    adaptive="false" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-template-declaration identifier="N" cardinality="single" base-type="integer"/>
  <qti-template-processing>
    <qti-set-template-value identifier="N"><qti-random-integer min="100000" max="999999"/></qti-set-template-value>
  </qti-template-processing>
  <qti-item-body>
    <p>Explain how you would check whether <qti-printed-variable identifier="N"/> is prime.</p>
    <qti-extended-text-interaction response-identifier="RESPONSE"/>
  </qti-item-body>
</qti-assessment-item>"""


def values_of(item: ItemDefinition, attempt_seed: int, ref: str) -> dict[str, Any]:
    """The template values an attempt (by its seed) draws for the item at ``ref``."""
    instance = templates.instance_for(item, attempt_seed, ref)
    return {d.identifier: d.default_value for d in instance.template_declarations}
