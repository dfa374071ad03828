"""A QTI 3.0 item with every kind of feedback and rubric blocks for both views, each
carrying a marker word, so a test can tell exactly which parts a candidate received."""

from __future__ import annotations

from tests.support.items import QTI3

#: Shown when the answer is right (a feedback block, show).
RIGHT = "FBRIGHTMARK"
#: Shown while the answer is not right (a feedback inline, hide on ``correct``).
HINT = "FBHINTMARK"
#: Modal feedback shown when the answer is wrong.
MODAL = "FBMODALMARK"
#: The modal feedback's title.
MODAL_TITLE = "Not quite"
#: Rubric blocks: for the candidate, and for scorers only.
FOR_CANDIDATE = "RUBRICCANDIDATEMARK"
FOR_SCORER = "RUBRICSCORERMARK"
MARKERS = (RIGHT, HINT, MODAL, MODAL_TITLE)


def feedback_item(identifier: str, correct: str = "B") -> str:
    """A single choice (A, B, C; ``correct`` is right) whose processing sets SCORE and
    FEEDBACK (``correct`` or ``incorrect``)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="{QTI3}" identifier="{identifier}" title="Feedback {identifier}"
    adaptive="false" time-dependent="false" xml:lang="en">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
    <qti-correct-response><qti-value>{correct}</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float">
    <qti-default-value><qti-value>0</qti-value></qti-default-value>
  </qti-outcome-declaration>
  <qti-outcome-declaration identifier="FEEDBACK" cardinality="single" base-type="identifier"/>
  <qti-item-body>
    <qti-rubric-block view="candidate" use="instructions"><qti-content-body>
      <p>{FOR_CANDIDATE} Read each option.</p></qti-content-body></qti-rubric-block>
    <qti-rubric-block view="scorer" use="scoring"><qti-content-body>
      <p>{FOR_SCORER} The key is {correct}.</p></qti-content-body></qti-rubric-block>
    <qti-choice-interaction response-identifier="RESPONSE" max-choices="1">
      <qti-prompt>Which planet is largest?</qti-prompt>
      <qti-simple-choice identifier="A">Mars</qti-simple-choice>
      <qti-simple-choice identifier="B">Jupiter</qti-simple-choice>
      <qti-simple-choice identifier="C">Venus</qti-simple-choice>
    </qti-choice-interaction>
    <p>Think about size.<qti-feedback-inline outcome-identifier="FEEDBACK" identifier="correct"
        show-hide="hide"> {HINT} Jupiter is a gas giant.</qti-feedback-inline></p>
    <qti-feedback-block outcome-identifier="FEEDBACK" identifier="correct" show-hide="show">
      <qti-content-body><p>{RIGHT} Right: Jupiter is the largest planet.</p></qti-content-body>
    </qti-feedback-block>
  </qti-item-body>
  <qti-response-processing>
    <qti-response-condition>
      <qti-response-if>
        <qti-match><qti-variable identifier="RESPONSE"/><qti-correct identifier="RESPONSE"/>
        </qti-match>
        <qti-set-outcome-value identifier="SCORE">
          <qti-base-value base-type="float">1</qti-base-value></qti-set-outcome-value>
        <qti-set-outcome-value identifier="FEEDBACK">
          <qti-base-value base-type="identifier">correct</qti-base-value></qti-set-outcome-value>
      </qti-response-if>
      <qti-response-else>
        <qti-set-outcome-value identifier="FEEDBACK">
          <qti-base-value base-type="identifier">incorrect</qti-base-value>
        </qti-set-outcome-value>
      </qti-response-else>
    </qti-response-condition>
  </qti-response-processing>
  <qti-modal-feedback outcome-identifier="FEEDBACK" identifier="incorrect" show-hide="show"
      title="{MODAL_TITLE}">
    <qti-content-body><p>{MODAL} The largest planet is Jupiter.</p></qti-content-body>
  </qti-modal-feedback>
</qti-assessment-item>"""
