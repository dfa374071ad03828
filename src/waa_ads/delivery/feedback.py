"""Feedback in delivery: what the assessment's feedback policy lets a candidate see.

An item's feedback (its modal feedback and the feedback blocks and inlines of its body) is
selected by the outcomes of its response processing, and may give the key away. The
rendered items a candidate receives never hold any (content/render/candidate.py); this
module adds, to the attempt's view, the feedback the candidate's answers select, and only
when the policy (``AssessmentDefinition.feedback``) shows it:

* ``none``: never. The view says the policy and holds no feedback at all.
* ``after_item``: each item's feedback once the candidate has moved on from it (linear
  navigation, which the definition requires with this policy, makes the answer final:
  a later save of it is refused), and every reached item's once the attempt has ended.
* ``after_test``: every reached item's feedback once the attempt has ended (submitted or
  expired, and on through scoring and release; never when a proctor terminated it or it
  was invalidated). The ended attempt's view then lists its items again, with the
  candidate's answers, so the feedback can be read beside them.

The outcomes come from the response-processing engine, which scoring registers here
(:func:`set_outcome_evaluator`; delivery does not import scoring), run over the answer the
attempt stores, against the item as the candidate saw it (a language variant, a cloned
item's own instance).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments.definition import FeedbackPolicy, Navigation
from waa_ads.assessments.models import RosterEntry
from waa_ads.content import service as content_service
from waa_ads.content.item import templates
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.content.schemas import CandidateFeedback
from waa_ads.core.security import media_signature
from waa_ads.core.settings import Settings
from waa_ads.delivery import schemas, service
from waa_ads.delivery.models import Attempt, AttemptItem, Response
from waa_ads.delivery.state_machine import LIVE, AttemptState

#: Runs an item's response processing over one stored (normalized) answer and returns its
#: outcome values in their JSON shapes.
OutcomeEvaluator = Callable[[ItemDefinition, dict[str, Any]], dict[str, Any]]
_evaluators: list[OutcomeEvaluator] = []

#: Ended states in which the candidate may read feedback: not after a proctor ended the
#: attempt or it was invalidated.
FEEDBACK_AFTER_END = frozenset(
    {
        AttemptState.submitted,
        AttemptState.expired,
        AttemptState.scoring,
        AttemptState.scored,
        AttemptState.released,
    }
)


def set_outcome_evaluator(evaluator: OutcomeEvaluator) -> None:
    _evaluators[:] = [evaluator]


def _shown_version(form_item: AttemptItem) -> Any:
    return form_item.variant_version_id or form_item.item_version_id


async def item_feedback(
    session: AsyncSession,
    settings: Settings,
    attempt: Attempt,
    form_item: AttemptItem,
    response: Response | None,
) -> list[CandidateFeedback]:
    """The feedback the stored answer to ``form_item`` selects (whatever the policy: the
    caller decides whether it may be shown)."""
    if not _evaluators:
        raise RuntimeError("no outcome evaluator registered (import waa_ads.scoring.service)")
    definition = await service.item_definition(session, _shown_version(form_item))
    definition = templates.instance_for(definition, attempt.seed, form_item.ref)
    normalized = (response.value or {}).get("normalized", {}) if response is not None else {}
    outcomes = _evaluators[0](definition, normalized if isinstance(normalized, dict) else {})
    organization = str(attempt.organization_id)

    def signed(sha256: str) -> str:
        signature = media_signature(settings, organization, sha256)
        return f"/api/v1/media/signed/{organization}/{sha256}?sig={signature}"

    return [
        CandidateFeedback.model_validate(entry)
        for entry in content_service.candidate_item_feedback(definition, outcomes, media_url=signed)
    ]


def _response_read(response: Response | None) -> schemas.ResponseRead | None:
    if response is None:
        return None
    return schemas.ResponseRead(
        seq=response.seq,
        value=response.value.get("value") if response.value is not None else None,
        flagged=response.flagged,
        time_spent_ms=response.time_spent_ms,
    )


async def with_feedback(
    session: AsyncSession, settings: Settings, attempt: Attempt, view: schemas.AttemptView
) -> schemas.AttemptView:
    """``view`` (from :func:`service.view`) with the policy stated and the feedback the
    policy shows now added to its items (see the module docs)."""
    version = await service.published_version(session, attempt.assessment_version_id)
    definition = version.definition
    policy = definition.feedback
    view = view.model_copy(update={"feedback": policy})
    if policy is FeedbackPolicy.none:
        return view
    state = AttemptState(attempt.state)
    ended = state in FEEDBACK_AFTER_END
    if not ended and not (policy is FeedbackPolicy.after_item and state in LIVE):
        return view
    form = await service.form_items(session, attempt)
    responses = {
        r.item_ref: r
        for r in (
            await session.execute(select(Response).where(Response.attempt_id == attempt.id))
        ).scalars()
    }
    by_ref = {f.ref: f for f in form}
    if not ended:
        # after_item while the attempt runs: the items the candidate has moved on from.
        items = [
            item.model_copy(
                update={
                    "feedback": await item_feedback(
                        session, settings, attempt, by_ref[item.ref], responses.get(item.ref)
                    )
                }
            )
            if item.position < attempt.current_position and item.ref in by_ref
            else item
            for item in view.items
        ]
        return view.model_copy(update={"items": items})
    # Ended: the view lists no items; list the reached ones again, each with its feedback.
    reached = (
        [f for f in form if f.position <= attempt.current_position]
        if definition.navigation is Navigation.linear
        else form
    )
    seed = attempt.seed if definition.shuffle_choices else None
    entry = await session.get(RosterEntry, attempt.roster_entry_id)
    supports = entry.accessibility_supports if entry is not None else []
    rendered = []
    for form_item in reached:
        shown = await service.item_definition(session, _shown_version(form_item))
        template_seed = (
            templates.template_seed(attempt.seed, form_item.ref) if shown.is_template else None
        )
        rendered.append(
            schemas.AttemptViewItem(
                ref=form_item.ref,
                position=form_item.position,
                section=form_item.section,
                item=await service.candidate_item(
                    session,
                    settings,
                    _shown_version(form_item),
                    seed,
                    template_seed=template_seed,
                    supports=supports,
                ),
                response=_response_read(responses.get(form_item.ref)),
                feedback=await item_feedback(
                    session, settings, attempt, form_item, responses.get(form_item.ref)
                ),
            )
        )
    return view.model_copy(update={"items": rendered})
