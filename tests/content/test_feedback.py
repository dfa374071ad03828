"""Feedback rendering: the candidate's item never holds feedback; the feedback renderer
gives exactly what the outcomes select (showHide, outcome and identifier semantics)."""

from __future__ import annotations

from tests.support.feedback_items import (
    FOR_CANDIDATE,
    FOR_SCORER,
    HINT,
    MARKERS,
    MODAL,
    MODAL_TITLE,
    RIGHT,
    feedback_item,
)
from tests.support.items import QTI3
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.render.candidate import candidate_view
from waa_ads.content.render.feedback import candidate_feedback, feedback_shown


def test_the_candidate_item_holds_no_feedback_and_only_the_candidate_rubric() -> None:
    payload = candidate_view(parse_item(feedback_item("F1")), shuffle_seed=7)
    text = str(payload)
    for marker in MARKERS:
        assert marker not in text
    assert FOR_CANDIDATE in payload["html"]
    assert FOR_SCORER not in text
    assert "Think about size." in payload["html"]


def test_feedback_selected_by_the_outcome() -> None:
    item = parse_item(feedback_item("F1"))
    right = candidate_feedback(item, {"SCORE": 1.0, "FEEDBACK": "correct"})
    assert [f["kind"] for f in right] == ["block"]
    assert RIGHT in right[0]["html"] and "<p>" in right[0]["html"]
    assert "qti-" not in right[0]["html"] and "show-hide" not in right[0]["html"]
    wrong = candidate_feedback(item, {"SCORE": 0.0, "FEEDBACK": "incorrect"})
    assert [f["kind"] for f in wrong] == ["inline", "modal"]
    assert HINT in wrong[0]["html"]
    assert wrong[1]["title"] == MODAL_TITLE and MODAL in wrong[1]["html"]
    assert RIGHT not in str(wrong)
    # Not answered: FEEDBACK is NULL, so only the hide feedback (not matched) shows.
    unanswered = candidate_feedback(item, {"SCORE": 0.0, "FEEDBACK": None})
    assert [f["kind"] for f in unanswered] == ["inline"]
    for shown in (right, wrong, unanswered):
        assert FOR_SCORER not in str(shown) and FOR_CANDIDATE not in str(shown)


def test_multiple_outcomes_match_by_membership_and_nested_feedback_by_its_own_rule() -> None:
    assert feedback_shown({"FB": ["a", "b"]}, "FB", "b", "show")
    assert not feedback_shown({"FB": ["a", "b"]}, "FB", "c", "show")
    assert feedback_shown({"FB": ["a"]}, "FB", "c", "hide")
    assert not feedback_shown({"FB": "a"}, "FB", "a", "hide")
    assert not feedback_shown({}, "FB", "a", "show")
    xml = f"""<qti-assessment-item xmlns="{QTI3}" identifier="N" title="N"
        adaptive="false" time-dependent="false">
      <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string"/>
      <qti-outcome-declaration identifier="FB" cardinality="multiple" base-type="identifier"/>
      <qti-item-body>
        <qti-text-entry-interaction response-identifier="RESPONSE"/>
        <qti-feedback-block outcome-identifier="FB" identifier="outer" show-hide="show">
          <p>OUTER</p>
          <qti-feedback-block outcome-identifier="FB" identifier="inner" show-hide="show">
            <p>INNER</p></qti-feedback-block>
          <qti-feedback-block outcome-identifier="FB" identifier="other" show-hide="show">
            <p>OTHER</p></qti-feedback-block>
        </qti-feedback-block>
      </qti-item-body>
    </qti-assessment-item>"""
    item = parse_item(xml)
    shown = candidate_feedback(item, {"FB": ["outer", "inner"]})
    assert len(shown) == 1
    assert "OUTER" in shown[0]["html"] and "INNER" in shown[0]["html"]
    assert "OTHER" not in shown[0]["html"]
    assert candidate_feedback(item, {"FB": ["inner"]}) == []
    assert "OUTER" not in candidate_view(item, shuffle_seed=None)["html"]


def test_feedback_media_point_at_delivery_urls() -> None:
    xml = f"""<qti-assessment-item xmlns="{QTI3}" identifier="M" title="M"
        adaptive="false" time-dependent="false">
      <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string"/>
      <qti-outcome-declaration identifier="FB" cardinality="single" base-type="identifier"/>
      <qti-item-body><qti-text-entry-interaction response-identifier="RESPONSE"/></qti-item-body>
      <qti-modal-feedback outcome-identifier="FB" identifier="x" show-hide="show">
        <qti-content-body><p><img src="images/why.png" alt="Why"/></p></qti-content-body>
      </qti-modal-feedback>
    </qti-assessment-item>"""
    shown = candidate_feedback(
        parse_item(xml), {"FB": "x"}, resolve_media=lambda path: f"/signed/{path}"
    )
    assert 'src="/signed/images/why.png"' in shown[0]["html"]
    assert 'alt="Why"' in shown[0]["html"]
