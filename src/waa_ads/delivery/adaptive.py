"""Adaptive sections at delivery: the next item of an attempt is chosen from the section's
frozen pool by the candidate's scored responses so far (``assessments.adaptive``).

How an attempt goes through an adaptive section (navigation is linear, so forward only):

- at start, the first item of the first adaptive section is selected (from the prior
  alone) and appended to the form with the fixed items, and its step is kept
  (``attempt_cat_step``: the item, the estimate it was chosen at, anything exposure control
  set aside);
- when the candidate moves on from an adaptive item (``advance``), under the attempt's row
  lock: its latest accepted response is scored at once on the server (the response
  processing, through the scorer that scoring registers, see :func:`set_item_scorer`),
  folded into the estimate (EAP), written to the step with the estimate and SE after it,
  and the next item is selected and appended (a new step), or the section stops (the
  reason on the step), and the next adaptive section begins, if any;
- every random draw of a selection comes from the attempt's seed and the step number, and
  the state is replayed from the stored steps; a selection is written in the same
  transaction as the move, so after a crash or in another process an attempt continues
  with the item already chosen, and a move that did not commit selects the same again.

Nothing here sends a key or a score to the candidate.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments import adaptive as cat
from waa_ads.assessments.assembly import FormEntry
from waa_ads.assessments.definition import (
    Adaptive,
    AssessmentDefinition,
    Pinned,
    PinnedCatItem,
    PinnedSection,
)
from waa_ads.content.item import templates
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.core.db import utcnow
from waa_ads.delivery import errors
from waa_ads.delivery.models import Attempt, AttemptCatStep, AttemptItem, Response

#: Scores one response for an adaptive step: (score, maximum), or None when a person has to
#: score it. Scoring registers the response-processing engine here (delivery does not
#: import scoring).
ItemScorer = Callable[[ItemDefinition, dict[str, Any]], tuple[float, float] | None]
_scorers: list[ItemScorer] = []


def set_item_scorer(scorer: ItemScorer) -> None:
    _scorers[:] = [scorer]


def adaptive_sections(definition: AssessmentDefinition) -> list[str]:
    """The identifiers of the adaptive sections, in order."""
    return [s.identifier for s in definition.sections if s.adaptive is not None]


def _section(
    definition: AssessmentDefinition, pinned: Pinned, identifier: str
) -> tuple[Adaptive, PinnedSection]:
    settings = next(s.adaptive for s in definition.sections if s.identifier == identifier)
    assert settings is not None
    return settings, next(p for p in pinned.sections if p.identifier == identifier)


@dataclass(frozen=True)
class Selected:
    """A selection to append: the form row and its step."""

    ref: str
    entry: FormEntry
    step: int
    theta_before: float
    se_before: float
    set_aside: list[str]


def _select(
    settings: Adaptive,
    pin: PinnedSection,
    state: cat.CatState,
    *,
    seed: int,
    step: int,
    position: int,
) -> tuple[Selected | None, str | None]:
    bank = cat.section_bank(pin.adaptive)
    rules = cat.section_rules(settings, pin.adaptive)
    row, after, reason = cat.select(bank, rules, state, cat.step_rng(seed, step))
    if row is None:
        return None, reason
    item: PinnedCatItem = pin.adaptive[row]
    return (
        Selected(
            ref=item.ref,
            entry=FormEntry(
                position=position,
                section=pin.identifier,
                item_id=item.item_id,
                item_version_id=item.item_version_id,
                weight=item.weight,
            ),
            step=step,
            theta_before=state.theta,
            se_before=state.se,
            set_aside=sorted(bank.items[j] for j in after.blocked - state.blocked),
        ),
        None,
    )


def first_selection(
    definition: AssessmentDefinition, pinned: Pinned, seed: int, position: int
) -> Selected | None:
    """The first item of the first adaptive section (chosen from the prior alone), to be
    appended at ``position`` when the attempt starts; None without adaptive sections."""
    for identifier in adaptive_sections(definition):
        settings, pin = _section(definition, pinned, identifier)
        chosen, _ = _select(settings, pin, cat.CatState(), seed=seed, step=1, position=position)
        if chosen is not None:
            return chosen
    return None


def step_row(attempt_id: uuid.UUID, chosen: Selected, now: datetime) -> AttemptCatStep:
    return AttemptCatStep(
        attempt_id=attempt_id,
        step=chosen.step,
        section=chosen.entry.section,
        item_ref=chosen.ref,
        item_version_id=chosen.entry.item_version_id,
        theta_before=chosen.theta_before,
        se_before=chosen.se_before,
        set_aside=chosen.set_aside,
        selected_at=now,
    )


async def steps(session: AsyncSession, attempt_id: uuid.UUID) -> list[AttemptCatStep]:
    """An attempt's adaptive steps, in order."""
    return list(
        (
            await session.execute(
                select(AttemptCatStep)
                .where(AttemptCatStep.attempt_id == attempt_id)
                .order_by(AttemptCatStep.step)
            )
        ).scalars()
    )


async def any_steps(session: AsyncSession, attempt_ids: Sequence[uuid.UUID]) -> bool:
    """Whether any of these attempts went through an adaptive section."""
    if not attempt_ids:
        return False
    found = (
        await session.execute(
            select(AttemptCatStep.attempt_id)
            .where(AttemptCatStep.attempt_id.in_(list(set(attempt_ids))))
            .limit(1)
        )
    ).first()
    return found is not None


def finished(definition: AssessmentDefinition, taken: Sequence[AttemptCatStep]) -> bool:
    """Whether the adaptive part of an attempt is over: the last adaptive section stopped
    (or the assessment has none)."""
    sections = adaptive_sections(definition)
    if not sections:
        return True
    if not taken:
        return False
    last = taken[-1]
    return last.stop_reason is not None and last.section == sections[-1]


def _state(
    pin: PinnedSection, taken: Sequence[AttemptCatStep], section: str, seconds: float
) -> cat.CatState:
    bank = cat.section_bank(pin.adaptive)
    return cat.replay(
        bank,
        [(s.item_ref, s.right, s.set_aside) for s in taken if s.section == section],
        seconds,
    )


async def _score(
    session: AsyncSession, attempt: Attempt, step: AttemptCatStep, item: ItemDefinition
) -> tuple[float, bool]:
    """The step's response scored now: (score, right). No response, or one a person would
    have to score, counts as wrong; right means the item's full marks."""
    response = (
        await session.execute(
            select(Response.value).where(
                Response.attempt_id == attempt.id, Response.item_ref == step.item_ref
            )
        )
    ).scalar_one_or_none()
    if response is None:
        return 0.0, False
    if not _scorers:
        raise RuntimeError("no item scorer is registered for adaptive delivery")
    outcome = _scorers[0](item, dict(response.get("normalized") or {}))
    if outcome is None:
        return 0.0, False
    score, maximum = outcome
    return score, maximum > 0 and score >= maximum - 1e-9


def counted_seconds(attempt: Attempt, now: datetime) -> float:
    """Time on the attempt's clock (pauses that stop the clock left out)."""
    if attempt.started_at is None:
        return 0.0
    return max(0.0, (now - attempt.started_at).total_seconds() - attempt.uncounted_pause_s)


@dataclass(frozen=True)
class Moved:
    current_position: int
    finished: bool


async def advance(
    session: AsyncSession,
    attempt: Attempt,
    definition: AssessmentDefinition,
    pinned: Pinned,
    item_definition: Callable[[uuid.UUID], Any],
    count: int,
) -> Moved:
    """Move on from the last item presented, which is adaptive: score and fold its
    response, then append the next item (or stop the section, and begin the next adaptive
    one). The caller holds the attempt's row lock and has checked it is in progress and on
    its last presented item. ``item_definition`` loads an item version's definition."""
    taken = await steps(session, attempt.id)
    if finished(definition, taken) or not taken:
        raise errors.LastItem("this is the last item; submit the attempt")
    now = utcnow()
    last = taken[-1]
    settings, pin = _section(definition, pinned, last.section)
    if last.answered_at is None:
        item = templates.instance_for(
            await item_definition(last.item_version_id), attempt.seed, last.item_ref
        )
        score, right = await _score(session, attempt, last, item)
        before = _state(pin, taken[:-1], last.section, 0.0)
        bank = cat.section_bank(pin.adaptive)
        row = bank.items.index(last.item_ref)
        after = cat.answer(bank, before, row, int(right))
        last.score, last.right = score, right
        last.theta, last.se, last.answered_at = after.theta, after.se, now
        await session.flush()
    seconds = counted_seconds(attempt, now)
    sections = adaptive_sections(definition)
    chosen: Selected | None = None
    if last.stop_reason is None:
        state = _state(pin, taken, last.section, seconds)
        chosen, reason = _select(
            settings, pin, state, seed=attempt.seed, step=last.step + 1, position=count + 1
        )
        if chosen is None:
            last.stop_reason = reason
            await session.flush()
    # The section stopped: the next adaptive section, if any, begins.
    at = sections.index(last.section) + 1
    while chosen is None and at < len(sections):
        settings, pin = _section(definition, pinned, sections[at])
        state = cat.CatState(seconds=0.0)
        chosen, _ = _select(
            settings, pin, state, seed=attempt.seed, step=last.step + 1, position=count + 1
        )
        at += 1
    if chosen is None:
        return Moved(attempt.current_position, True)
    session.add(
        AttemptItem(
            attempt_id=attempt.id,
            ref=chosen.ref,
            position=chosen.entry.position,
            section=chosen.entry.section,
            item_id=chosen.entry.item_id,
            item_version_id=chosen.entry.item_version_id,
            weight=chosen.entry.weight,
            presented_at=now,
        )
    )
    session.add(step_row(attempt.id, chosen, now))
    await session.flush()
    moved = (
        await session.execute(
            update(Attempt)
            .where(Attempt.id == attempt.id, Attempt.current_position == attempt.current_position)
            .values(current_position=chosen.entry.position)
            .returning(Attempt.current_position)
        )
    ).first()
    if moved is None:
        raise errors.AttemptChanged("the attempt moved on meanwhile; reload")
    await session.refresh(attempt)
    return Moved(attempt.current_position, False)
