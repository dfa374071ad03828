"""Item analysis of an administration from its stored item scores (reads only)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments.errors import AdministrationNotFound
from waa_ads.assessments.models import Administration
from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Candidate
from waa_ads.content.item.definition import BaseType, InteractionType, ItemDefinition
from waa_ads.content.models import Item, ItemVersion
from waa_ads.core.db import uuid7
from waa_ads.core.tenancy import get_scoped
from waa_ads.delivery.models import Attempt, Response
from waa_ads.psychometrics import dif, irt, linking
from waa_ads.psychometrics.classical import (
    OPTION_COLUMNS,
    STATE_FORMAT,
    ItemAnalysis,
    ItemAnalysisAccumulator,
    option_cells,
)
from waa_ads.psychometrics.errors import CalibrationInputError, DifInputError
from waa_ads.psychometrics.irt import Calibration
from waa_ads.psychometrics.linking import ItemParameters
from waa_ads.psychometrics.models import StoredItemAnalysis
from waa_ads.scoring.models import AttemptResult, ItemScore


async def administration_item_analysis(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> ItemAnalysis:
    """Classical statistics over the newest result revision of every scored attempt of the
    administration (items in form order of first appearance). An item a person has not
    scored yet (waiting for a rater) counts as not presented for that attempt. Starts from
    the stored statistics and adds the attempts scored since (nothing is written).
    AdministrationNotFound for one outside the caller's organization."""
    administration = await get_scoped(
        session,
        Administration,
        administration_id,
        principal.organization_id,
        what="administration",
        error=AdministrationNotFound,
    )
    stored = await session.scalar(
        select(StoredItemAnalysis).where(
            StoredItemAnalysis.administration_id == administration.id,
            StoredItemAnalysis.organization_id == principal.organization_id,
        )
    )
    accumulator, _, _, _ = await _current_analysis(
        session, principal.organization_id, administration.id, stored
    )
    return accumulator.result()


async def _newest_revisions(
    session: AsyncSession, organization_id: uuid.UUID, administration_id: uuid.UUID
) -> dict[uuid.UUID, tuple[int, datetime]]:
    """Each scored attempt's newest result revision and when it was made."""
    rows = await session.execute(
        select(AttemptResult.attempt_id, AttemptResult.revision, AttemptResult.created_at)
        .join(Attempt, Attempt.id == AttemptResult.attempt_id)
        .where(
            Attempt.administration_id == administration_id,
            Attempt.organization_id == organization_id,
        )
    )
    newest: dict[uuid.UUID, tuple[int, datetime]] = {}
    for attempt_id, revision, created_at in rows.all():
        if attempt_id not in newest or revision > newest[attempt_id][0]:
            newest[attempt_id] = (revision, created_at)
    return newest


async def _scores_of(
    session: AsyncSession,
    organization_id: uuid.UUID,
    wanted: dict[uuid.UUID, int],
) -> list[tuple[uuid.UUID, str, float | None, float | None, uuid.UUID]]:
    """(attempt, item ref, score, max score, item version) of the given revisions, in
    attempt and form order."""
    out: list[tuple[uuid.UUID, str, float | None, float | None, uuid.UUID]] = []
    ids = list(wanted)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = await session.execute(
            select(
                AttemptResult.attempt_id,
                AttemptResult.revision,
                ItemScore.item_ref,
                ItemScore.score,
                ItemScore.max_score,
                ItemScore.item_version_id,
            )
            .join(AttemptResult, AttemptResult.id == ItemScore.result_id)
            .where(
                AttemptResult.attempt_id.in_(chunk),
                ItemScore.organization_id == organization_id,
            )
            .order_by(AttemptResult.attempt_id, ItemScore.id)
        )
        out.extend(
            (a, ref, score, top, version)
            for a, revision, ref, score, top, version in rows.all()
            if wanted[a] == revision
        )
    return out


def _grouped(
    rows: list[tuple[uuid.UUID, str, float | None, float | None, uuid.UUID]],
) -> tuple[dict[str, float], dict[uuid.UUID, dict[str, float | None]]]:
    items: dict[str, float] = {}
    attempts: dict[uuid.UUID, dict[str, float | None]] = {}
    for attempt_id, ref, score, max_score, _ in rows:
        items[ref] = max(items.get(ref, 0.0), float(max_score or 0.0))
        attempts.setdefault(attempt_id, {})[ref] = None if score is None else float(score)
    return items, attempts


@dataclass(frozen=True)
class _ChoiceItem:
    """An item whose one interaction is a choice among identifiers: its response, its
    options in document order and its key (the correct response's options)."""

    response: str
    options: list[str]
    key: list[str]


_CHOICE_TYPES = {InteractionType.CHOICE.value, InteractionType.INLINE_CHOICE.value}


async def _choice_items(
    session: AsyncSession,
    organization_id: uuid.UUID,
    rows: list[tuple[uuid.UUID, str, float | None, float | None, uuid.UUID]],
) -> dict[str, _ChoiceItem]:
    """Item ref -> its choice item, for the refs whose (last seen) version is one."""
    versions: dict[str, uuid.UUID] = {}
    for _, ref, _, _, version in rows:
        versions[ref] = version
    if not versions:
        return {}
    found = await session.execute(
        select(ItemVersion.id, ItemVersion.definition, ItemVersion.interaction_types).where(
            ItemVersion.id.in_(set(versions.values())),
            ItemVersion.organization_id == organization_id,
        )
    )
    choice: dict[uuid.UUID, _ChoiceItem] = {}
    for version_id, definition, kinds in found.all():
        if not kinds or not set(kinds) <= _CHOICE_TYPES:
            continue
        item = ItemDefinition.from_dict(definition)
        if len(item.interactions) != 1:
            continue
        interaction = item.interactions[0]
        declaration = item.response_declaration(interaction.response_identifier)
        if declaration is None or declaration.base_type != BaseType.IDENTIFIER:
            continue
        correct = declaration.correct_response
        if correct is None:
            key: list[str] = []
        else:
            key = [str(c) for c in (correct if isinstance(correct, list | tuple) else [correct])]
        choice[version_id] = _ChoiceItem(
            interaction.response_identifier,
            [c.identifier for c in interaction.choices],
            key,
        )
    return {ref: choice[v] for ref, v in versions.items() if v in choice}


#: Rows a read of chosen options holds in memory at once (it streams the rest).
_CHOICE_ROWS_PER_BATCH = 5000


async def _choices_of(
    session: AsyncSession,
    attempts: list[uuid.UUID],
    items: dict[str, _ChoiceItem],
    *,
    administration: tuple[uuid.UUID, uuid.UUID] | None = None,
) -> dict[uuid.UUID, dict[str, list[str]]]:
    """Attempt -> choice item ref -> the options its stored response chose (none: no
    response). With ``administration`` (organization, administration), ``attempts`` being
    all of its scored ones: one query over the administration's responses to those items,
    streamed in batches (a rebuild of 20,000 attempts is one statement and bounded
    memory); without, the given attempts (the few scored since the stored analysis), 500
    to a query."""
    out: dict[uuid.UUID, dict[str, list[str]]] = {}
    if not items or not attempts:
        return out
    wanted = set(attempts)
    known = {ref: frozenset(c.options) for ref, c in items.items()}

    def take(rows: Sequence[Any]) -> None:
        for attempt_id, ref, value in rows:
            if attempt_id not in wanted:
                continue  # not scored yet: not in the analysis
            picked = _picked(items[ref].response, known[ref], value)
            if picked:
                out.setdefault(attempt_id, {})[ref] = picked

    columns = select(Response.attempt_id, Response.item_ref, Response.value)
    if administration is not None:
        organization_id, administration_id = administration
        stmt = (
            columns.join(Attempt, Attempt.id == Response.attempt_id)
            .where(
                Attempt.administration_id == administration_id,
                Attempt.organization_id == organization_id,
                Response.item_ref.in_(list(items)),
            )
            .execution_options(yield_per=_CHOICE_ROWS_PER_BATCH)
        )
        async for batch in (await session.stream(stmt)).partitions():
            take(batch)
        return out
    for start in range(0, len(attempts), 500):
        rows = await session.execute(
            columns.where(
                Response.attempt_id.in_(attempts[start : start + 500]),
                Response.item_ref.in_(list(items)),
            )
        )
        take(rows.all())
    return out


def _picked(response: str, options: frozenset[str], value: dict[str, Any] | None) -> list[str]:
    """The ``options`` a stored response value chose for ``response``, in the order given
    (unknown identifiers dropped)."""
    given = ((value or {}).get("normalized") or {}).get(response)
    if given is None:
        return []
    chosen = given if isinstance(given, list) else [given]
    return [c for c in map(str, chosen) if c in options]


def _fold(
    accumulator: ItemAnalysisAccumulator,
    attempts: dict[uuid.UUID, dict[str, float | None]],
    choices: dict[uuid.UUID, dict[str, list[str]]],
) -> None:
    for attempt_id, scores in attempts.items():
        accumulator.add(scores, choices.get(attempt_id))


async def _current_analysis(
    session: AsyncSession,
    organization_id: uuid.UUID,
    administration_id: uuid.UUID,
    stored: StoredItemAnalysis | None,
) -> tuple[ItemAnalysisAccumulator, dict[str, float], dict[str, int], datetime | None]:
    """The accumulator over every attempt's newest revision, its items (ref -> maximum),
    the revisions folded in and the newest of their times. For choice items it also counts
    the options each attempt's stored response chose (the distractor analysis), with the
    item's key. From ``stored`` when every attempt it holds is still at the revision it
    added, no new item or higher maximum appears, no key changed and the state is of the
    current format (then only the new attempts are read and added); otherwise from
    scratch."""
    newest = await _newest_revisions(session, organization_id, administration_id)
    latest = max((when for _, when in newest.values()), default=None)
    folded = {uuid.UUID(k): int(v) for k, v in (stored.folded if stored else {}).items()}
    if (
        stored is not None
        and stored.state.get("format") == STATE_FORMAT
        and all(newest.get(a, (None,))[0] == r for a, r in folded.items())
    ):
        fresh = {a: r for a, (r, _) in newest.items() if a not in folded}
        rows = await _scores_of(session, organization_id, fresh)
        items, attempts = _grouped(rows)
        known = {ref: float(m) for ref, m in stored.items.items()}
        choice = await _choice_items(session, organization_id, rows)
        keys = stored.state.get("keys") or {}
        if all(ref in known and top <= known[ref] for ref, top in items.items()) and all(
            keys.get(ref) == c.key for ref, c in choice.items()
        ):
            accumulator = ItemAnalysisAccumulator.from_state(stored.state)
            for ref, c in choice.items():
                accumulator.declare_options(ref, c.options)
            _fold(accumulator, attempts, await _choices_of(session, list(attempts), choice))
            done = {str(a): r for a, r in folded.items()} | {str(a): r for a, r in fresh.items()}
            return accumulator, known, done, latest
    every = {a: r for a, (r, _) in newest.items()}
    rows = await _scores_of(session, organization_id, every)
    items, attempts = _grouped(rows)
    choice = await _choice_items(session, organization_id, rows)
    columns = {ref: (m if m > 0 else 1.0) for ref, m in items.items()}
    accumulator = ItemAnalysisAccumulator(
        list(columns), columns, {ref: c.key for ref, c in choice.items()}
    )
    for ref, c in choice.items():
        accumulator.declare_options(ref, c.options)
    chosen = await _choices_of(
        session, list(attempts), choice, administration=(organization_id, administration_id)
    )
    _fold(accumulator, attempts, chosen)
    return accumulator, columns, {str(a): r for a, r in every.items()}, latest


async def refresh_item_analysis(
    session: AsyncSession, organization_id: uuid.UUID, administration_id: uuid.UUID
) -> int:
    """Bring the administration's stored item analysis up to date (adding the attempts
    scored since, or rebuilding it when a folded attempt got a newer revision); the number
    of attempts it now holds. Run by the tasks after scoring."""
    stored = await session.scalar(
        select(StoredItemAnalysis).where(
            StoredItemAnalysis.administration_id == administration_id,
            StoredItemAnalysis.organization_id == organization_id,
        )
    )
    accumulator, items, folded, latest = await _current_analysis(
        session, organization_id, administration_id, stored
    )
    if stored is None:
        stored = StoredItemAnalysis(
            organization_id=organization_id, administration_id=administration_id
        )
        session.add(stored)
    stored.items = dict(items)
    stored.folded = dict(folded)
    stored.state = accumulator.to_state()
    stored.updated_at = latest or datetime.now(UTC)
    await session.flush()
    return len(folded)


async def stale_item_analyses(
    session: AsyncSession, limit: int = 50
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(organization, administration) whose newest result is newer than their stored item
    analysis, or that have none yet; at most ``limit``."""
    latest = (
        select(
            Attempt.organization_id,
            Attempt.administration_id,
            func.max(AttemptResult.created_at).label("latest"),
        )
        .join(AttemptResult, AttemptResult.attempt_id == Attempt.id)
        .group_by(Attempt.organization_id, Attempt.administration_id)
        .subquery()
    )
    rows = await session.execute(
        select(latest.c.organization_id, latest.c.administration_id)
        .outerjoin(
            StoredItemAnalysis, StoredItemAnalysis.administration_id == latest.c.administration_id
        )
        .where(
            (StoredItemAnalysis.id.is_(None)) | (StoredItemAnalysis.updated_at < latest.c.latest)
        )
        .limit(limit)
    )
    return [(o, a) for o, a in rows.all()]


async def _newest_item_scores(
    session: AsyncSession, organization_id: uuid.UUID, administration_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID, str, float | None]]:
    """(attempt, item version, item ref, score) from each attempt's newest revision."""
    newest = (
        select(AttemptResult.attempt_id, func.max(AttemptResult.revision).label("revision"))
        .join(Attempt, Attempt.id == AttemptResult.attempt_id)
        .where(
            Attempt.administration_id.in_(administration_ids),
            Attempt.organization_id == organization_id,
        )
        .group_by(AttemptResult.attempt_id)
        .subquery()
    )
    rows = await session.execute(
        select(ItemScore.attempt_id, ItemScore.item_version_id, ItemScore.item_ref, ItemScore.score)
        .join(AttemptResult, AttemptResult.id == ItemScore.result_id)
        .join(
            newest,
            and_(
                newest.c.attempt_id == AttemptResult.attempt_id,
                newest.c.revision == AttemptResult.revision,
            ),
        )
        .where(ItemScore.organization_id == organization_id)
        .order_by(ItemScore.attempt_id, ItemScore.id)
    )
    return [(a, v, r, s) for a, v, r, s in rows.all()]


async def calibrate_administrations(
    session: AsyncSession,
    principal: Principal,
    administration_ids: list[uuid.UUID],
    model: str,
) -> tuple[uuid.UUID, Calibration, list[tuple[uuid.UUID, str]]]:
    """Calibrate ``model`` on the newest item scores of the attempts of the administrations
    (one column per item version) and store each version's parameters, with the calibration
    they came from, in ``item_version.irt`` (a later calibration replaces them). Returns the
    calibration's id, the fit and its (item version, item ref) columns.
    AdministrationNotFound for one outside the caller's organization;
    CalibrationInputError for scores that are not whole numbers or do not fit the model."""
    ids = list(dict.fromkeys(administration_ids))
    for administration_id in ids:
        await get_scoped(
            session,
            Administration,
            administration_id,
            principal.organization_id,
            what="administration",
            error=AdministrationNotFound,
        )
    rows = await _newest_item_scores(session, principal.organization_id, ids)
    columns: dict[uuid.UUID, str] = {}
    persons: dict[uuid.UUID, int] = {}
    for attempt_id, version_id, ref, _ in rows:
        columns.setdefault(version_id, ref)
        persons.setdefault(attempt_id, len(persons))
    if len(persons) < 2 or not columns:
        raise CalibrationInputError("need scored attempts of at least two candidates")
    index = {v: j for j, v in enumerate(columns)}
    matrix = -np.ones((len(persons), len(columns)), dtype=np.int64)
    for attempt_id, version_id, _, score in rows:
        if score is None:
            continue
        if score < 0 or abs(score - round(score)) > 1e-9:
            raise CalibrationInputError(f"score {score} is not a whole number of points")
        matrix[persons[attempt_id], index[version_id]] = round(score)
    kept = [j for j in range(matrix.shape[1]) if len(set(matrix[:, j][matrix[:, j] >= 0])) >= 2]
    if not kept:
        raise CalibrationInputError("no item has two different observed scores")
    versions = [list(columns)[j] for j in kept]
    fit = irt.calibrate(matrix[:, kept], model, [columns[v] for v in versions])
    calibration_id = uuid7()
    meta = {
        "id": str(calibration_id),
        "model": model,
        "administration_ids": [str(i) for i in ids],
        "persons": fit.persons,
        "log_likelihood": fit.log_likelihood,
        "iterations": fit.iterations,
        "converged": fit.converged,
        "calibrated_at": datetime.now(UTC).isoformat(),
        "calibrated_by": str(principal.user_id),
    }
    for version_id, estimate in zip(versions, fit.items, strict=True):
        version = await get_scoped(session, ItemVersion, version_id, principal.organization_id)
        version.irt = {
            "model": model,
            "a": estimate.a,
            "b": estimate.b,
            "d": estimate.d,
            "c": estimate.c,
            "se": estimate.se,
            "fit": estimate.fit,
            "calibration": meta,
        }
    await session.flush()
    return calibration_id, fit, [(v, columns[v]) for v in versions]


async def administration_dif(
    session: AsyncSession,
    principal: Principal,
    administration_id: uuid.UUID,
    groups: dict[str, str] | None,
    reference: str,
) -> dict[str, object]:
    """DIF of an administration's right/wrong items (``dif.dif_report``) over the newest
    scores of its scored attempts, one person per attempt, items by reference in
    sorted order. ``groups`` maps a candidate's external id (or, failing that, its id) to
    the group; None takes each candidate's stored ``group`` (the grouping the organization
    keeps on its candidates). Attempts of candidates without a group are left out (counted
    in ``ungrouped``). Items scored other than 0 or 1 are skipped.
    AdministrationNotFound outside the caller's organization; DifInputError as dif_report."""
    administration = await get_scoped(
        session,
        Administration,
        administration_id,
        principal.organization_id,
        what="administration",
        error=AdministrationNotFound,
    )
    rows = await _newest_item_scores(session, principal.organization_id, [administration.id])
    owners = await session.execute(
        select(Attempt.id, Candidate.id, Candidate.external_id, Candidate.group)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .where(
            Attempt.administration_id == administration.id,
            Attempt.organization_id == principal.organization_id,
        )
    )
    group_of: dict[uuid.UUID, str | None] = {}
    for attempt_id, candidate_id, external_id, stored in owners.all():
        if groups is None:
            group_of[attempt_id] = stored or None
            continue
        key = external_id if external_id is not None and external_id in groups else None
        group_of[attempt_id] = groups.get(key) if key else groups.get(str(candidate_id))
    persons: dict[uuid.UUID, int] = {}
    for attempt_id, _, _, _ in rows:
        persons.setdefault(attempt_id, len(persons))
    items = {ref: j for j, ref in enumerate(sorted({row[2] for row in rows}))}
    matrix = -np.ones((len(persons), len(items)), dtype=np.int64)
    fractional: set[str] = set()
    for attempt_id, _, ref, score in rows:
        if score is None:
            continue
        if score < 0 or abs(score - round(score)) > 1e-9:
            fractional.add(ref)
            continue
        matrix[persons[attempt_id], items[ref]] = round(score)
    names = list(items)
    whole = [j for j, name in enumerate(names) if name not in fractional]
    labels = [group_of.get(a) for a in persons]
    ungrouped = sum(1 for g in labels if g is None)
    if not persons:
        raise DifInputError("the administration has no scored attempts")
    report = dif.dif_report(matrix[:, whole], [names[j] for j in whole], labels, reference)
    skipped = [{"item": n, "reason": "scores that are not whole numbers"} for n in fractional]
    report["skipped"] = [*skipped, *report["skipped"]]  # type: ignore[misc]
    report["ungrouped"] = ungrouped
    return report


async def calibrated_bank_items(
    session: AsyncSession, bank_id: uuid.UUID, organization_id: uuid.UUID | None = None
) -> list[dict[str, object]]:
    """The right/wrong items of a bank that carry IRT parameters, for an adaptive test or
    its simulation: per item (by identifier) its newest version calibrated with rasch, 2pl
    or 3pl, as ``{"item", "item_version_id", "a", "d", "c", "tags"}``. Archived items are
    left out; ``organization_id`` limits the bank to one organization (None: any, for the
    command line run by the operator)."""
    stmt = (
        select(
            Item.identifier, ItemVersion.id, ItemVersion.version, ItemVersion.irt, ItemVersion.tags
        )
        .join(ItemVersion, ItemVersion.item_id == Item.id)
        .where(Item.bank_id == bank_id, Item.archived_at.is_(None), Item.translation_of.is_(None))
        .order_by(Item.identifier, ItemVersion.version.desc())
    )
    if organization_id is not None:
        stmt = stmt.where(Item.organization_id == organization_id)
    out: dict[str, dict[str, object]] = {}
    for identifier, version_id, _, params, tags in (await session.execute(stmt)).all():
        if identifier in out or not params or params.get("model") not in irt.DICHOTOMOUS:
            continue
        out[identifier] = {
            "item": identifier,
            "item_version_id": str(version_id),
            "a": params.get("a"),
            "d": params.get("d"),
            "c": params.get("c") or 0.0,
            "tags": list(tags or []),
        }
    return list(out.values())


async def administration_parameters(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> tuple[list[dict[str, object]], ItemParameters | None]:
    """The stored IRT parameters of the item versions an administration's scores came from:
    one row per item reference (its newest calibrated version), and the items of the most
    recent calibration's model as ``ItemParameters`` for curves (None when no item has
    parameters). AdministrationNotFound outside the caller's organization."""
    administration = await get_scoped(
        session,
        Administration,
        administration_id,
        principal.organization_id,
        what="administration",
        error=AdministrationNotFound,
    )
    used = (
        select(ItemScore.item_ref, ItemScore.item_version_id)
        .join(AttemptResult, AttemptResult.id == ItemScore.result_id)
        .join(Attempt, Attempt.id == AttemptResult.attempt_id)
        .where(
            Attempt.administration_id == administration.id,
            ItemScore.organization_id == principal.organization_id,
        )
        .distinct()
        .subquery()
    )
    rows = (
        await session.execute(
            select(used.c.item_ref, ItemVersion.id, ItemVersion.version, ItemVersion.irt)
            .join(ItemVersion, ItemVersion.id == used.c.item_version_id)
            .order_by(used.c.item_ref, ItemVersion.version)
        )
    ).all()
    found: dict[str, dict[str, object]] = {}
    for ref, version_id, _, params in rows:
        if not params or "model" not in params:
            continue
        meta = params.get("calibration") or {}
        found[ref] = {
            "item": ref,
            "item_version_id": str(version_id),
            "model": params["model"],
            "a": params.get("a"),
            "b": params.get("b"),
            "d": params.get("d"),
            "c": params.get("c"),
            "se": params.get("se") or {},
            "calibration_id": meta.get("id"),
            "calibrated_at": meta.get("calibrated_at"),
        }
    items = sorted(found.values(), key=lambda i: str(i["item"]))
    if not items:
        return [], None
    newest = max(items, key=lambda i: str(i["calibrated_at"] or ""))
    model = newest["model"]
    same = [i for i in items if i["model"] == model]
    try:
        parameters = linking.parameters_from_calibration({"model": model, "items": same})
    except CalibrationInputError:
        parameters = None
    return items, parameters


def item_analysis_csv(analysis: ItemAnalysis) -> str:
    """The item statistics as CSV (one row per item; flags joined by spaces; a choice
    item's key and its options' shares overall, in the lower and upper 27%, as
    ``classical.option_cells`` writes them), then the test's summary as rows of their own
    after a blank line."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = [
        "item",
        "presented",
        "max_score",
        "mean",
        "facility",
        "discrimination",
        "point_biserial",
        "corrected_item_total",
        "alpha_if_deleted",
        "flags",
    ]
    writer.writerow([*columns, *OPTION_COLUMNS])
    for item in analysis.items:
        row = [getattr(item, c) for c in columns[:-1]]
        writer.writerow(
            ["" if v is None else v for v in row]
            + [" ".join(item.flags)]
            + option_cells(item.options)
        )
    writer.writerow([])
    test = analysis.test
    for name in ("persons", "items", "mean", "sd", "alpha", "kr20", "sem"):
        value = getattr(test, name)
        writer.writerow([f"test_{name}", "" if value is None else value])
    return out.getvalue()
