"""Automated scoring inside an organization: the acceptance gate's settings, the registry
of essay models (training from resolved human scores or an uploaded CSV, activation behind
the gate, retirement), routing live answers (a confident prediction becomes the item's
score; doubtful answers, and a share of confident ones as a check, stay with people), live
agreement with the people's scores, and explanations for raters.

Training and routing hand over to rating as follows. Training reads the resolved outcomes
that people rated (``rating_outcome`` with at least one rating; seeded responses never).
A response the model scores is taken out of the human queue before anyone has started on
it: its open rating tasks become ``withdrawn`` and its outcome ``resolved`` with the
model's revision. Rating owns those rows and writes them
(``rating.service.hold_responses``, ``withdraw_for_scorer``, ``resolve_by_scorer``). A
response a person has already leased or rated is left to people.

Lock order of routing, the order every result change follows: the rating plan's row and
the rating tasks of every response routed (held by rating before the attempt), the
attempt, the outcome, the audit chain's head."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import importlib
import io
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import and_, case, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.audit import service as audit
from waa_ads.audit.service import Actor
from waa_ads.auth.deps import Principal
from waa_ads.auth.errors import RoleRequired
from waa_ads.auth.models import Candidate, Role
from waa_ads.autoscore import embeddings, problems, schemas
from waa_ads.autoscore.errors import EmbeddingModelUnavailable, ModelCorrupt, ModelVersionMismatch
from waa_ads.autoscore.models import AutoscoreDecision, AutoscoreSettings, EssayModel
from waa_ads.content import service as content
from waa_ads.content.models import ItemVersion
from waa_ads.content.rubrics.document import AnalyticRubric, HolisticRubric
from waa_ads.core.db import Database, utcnow
from waa_ads.core.errors import DomainError
from waa_ads.core.storage import BlobCorrupted, BlobNotFound, BlobStore
from waa_ads.core.tasks import enqueue_after_commit
from waa_ads.core.tenancy import get_scoped
from waa_ads.delivery.models import Attempt, Response
from waa_ads.delivery.state_machine import AttemptState
from waa_ads.rating import errors as rating_errors
from waa_ads.rating import service as rating
from waa_ads.rating.models import (
    Rating,
    RatingLease,
    RatingOutcome,
    RatingPlan,
    RatingTask,
    SeededResponse,
)
from waa_ads.scoring import service as scoring
from waa_ads.scoring.models import AttemptResult, ItemScore


class _Lazy:
    """A module imported on first use: the model library brings scikit-learn and SciPy,
    which the API and workers load only once a model is trained or used."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


if TYPE_CHECKING:
    from waa_ads.autoscore import gate as gates
    from waa_ads.autoscore import model as essay
else:
    essay = _Lazy("waa_ads.autoscore.model")
    gates = _Lazy("waa_ads.autoscore.gate")


TRAIN_TASK = "autoscore.train_model"
ROUTE_TASK = "autoscore.route_attempt"
_log = structlog.get_logger(__name__)
AUTOSCORE = Actor("system", "autoscore")
CSV_MAX_BYTES = 50 * 1024 * 1024

# --- settings -------------------------------------------------------------------------------


def _require_admin(principal: Principal) -> None:
    if not principal.has_any(Role.admin):
        raise RoleRequired("automated scoring models are managed by admins")


async def settings_of(session: AsyncSession, organization_id: uuid.UUID) -> AutoscoreSettings:
    """The organization's settings row, or the defaults (not added to the session)."""
    row = await session.get(AutoscoreSettings, organization_id)
    if row is not None:
        return row
    defaults = schemas.GateSettings()
    return AutoscoreSettings(
        organization_id=organization_id, **defaults.model_dump(), updated_at=None
    )


async def read_settings(session: AsyncSession, principal: Principal) -> AutoscoreSettings:
    _require_admin(principal)
    return await settings_of(session, principal.organization_id)


async def update_settings(
    session: AsyncSession, principal: Principal, body: schemas.GateSettings
) -> AutoscoreSettings:
    """Replace the organization's gate and check share (admins; audited)."""
    _require_admin(principal)
    row = await session.get(AutoscoreSettings, principal.organization_id, with_for_update=True)
    if row is None:
        row = AutoscoreSettings(organization_id=principal.organization_id, updated_at=utcnow())
        session.add(row)
    for key, value in body.model_dump().items():
        setattr(row, key, value)
    row.updated_at, row.updated_by = utcnow(), principal.actor.id
    await session.flush()
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="autoscore.settings_changed",
        actor=principal.actor,
        target_type="organization",
        target_id=principal.organization_id,
        data=body.model_dump(),
    )
    return row


def gate_of(row: AutoscoreSettings) -> gates.Gate:
    return gates.Gate(
        min_qwk=row.min_qwk,
        max_below_human=row.max_below_human,
        max_abs_smd=row.max_abs_smd,
        max_abs_group_smd=row.max_abs_group_smd,
        min_responses=row.min_responses,
        require_human=row.require_human,
    )


# --- the registry ---------------------------------------------------------------------------


async def get_model(
    session: AsyncSession, principal: Principal, model_id: uuid.UUID, *, for_update: bool = False
) -> EssayModel:
    """A model of the caller's organization (admins); EssayModelNotFound otherwise."""
    _require_admin(principal)
    return await get_scoped(
        session,
        EssayModel,
        model_id,
        principal.organization_id,
        what="essay model",
        for_update=for_update,
        error=problems.EssayModelNotFound,
    )


async def list_models(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID | None = None
) -> list[EssayModel]:
    _require_admin(principal)
    stmt = select(EssayModel).where(EssayModel.organization_id == principal.organization_id)
    if item_id is not None:
        stmt = stmt.where(EssayModel.item_id == item_id)
    stmt = stmt.order_by(EssayModel.item_id, EssayModel.criterion, EssayModel.version.desc())
    return list((await session.execute(stmt)).scalars())


def verdict_now(row: EssayModel, settings: AutoscoreSettings) -> gates.GateVerdict | None:
    """The model's report against the organization's gate as it is now."""
    if not row.metrics:
        return None
    report = essay.TrainingReport.from_dict(row.metrics)
    return gates.evaluate(report, gate_of(settings))


async def model_detail(
    session: AsyncSession, principal: Principal, model_id: uuid.UUID
) -> schemas.ModelDetail:
    row = await get_model(session, principal, model_id)
    settings = await settings_of(session, principal.organization_id)
    now = verdict_now(row, settings)
    return schemas.ModelDetail.model_validate(
        {
            **schemas.ModelRead.model_validate(row).model_dump(),
            "metrics": row.metrics,
            "gate_at_training": row.gate or None,
            "gate_now": now.to_dict() if now is not None else None,
        }
    )


async def _next_version(
    session: AsyncSession, organization_id: uuid.UUID, item_id: uuid.UUID, criterion: str
) -> int:
    latest = await session.scalar(
        select(func.max(EssayModel.version)).where(
            EssayModel.organization_id == organization_id,
            EssayModel.item_id == item_id,
            EssayModel.criterion == criterion,
        )
    )
    return int(latest or 0) + 1


def _whole(value: float) -> int:
    """A score on the model's whole-point scale (half points round up)."""
    return math.floor(value + 0.5)


async def _item_version(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID, version_id: uuid.UUID | None
) -> ItemVersion:
    item = await content.get_item(session, principal, item_id)
    if version_id is not None:
        version = await session.get(ItemVersion, version_id)
        if version is None or version.item_id != item.id:
            raise problems.TrainingRequestInvalid(
                f"item version {version_id} is not a version of item {item_id}",
                extra={"invalid_params": [{"name": "item_version_id", "reason": "not found"}]},
            )
        return version
    newest = await session.scalar(
        select(ItemVersion)
        .where(
            ItemVersion.item_id == item.id,
            exists().where(
                RatingOutcome.item_version_id == ItemVersion.id,
                RatingOutcome.status == "resolved",
            ),
        )
        .order_by(ItemVersion.version.desc())
        .limit(1)
    )
    if newest is None:
        raise problems.TrainingRequestInvalid(
            f"no response to item {item_id} has a resolved human score yet"
        )
    return newest


def _rated_outcomes(organization_id: uuid.UUID, version_id: uuid.UUID) -> Any:
    """Resolved outcomes of the version that people rated (not ones a model resolved)."""
    return select(RatingOutcome).where(
        RatingOutcome.organization_id == organization_id,
        RatingOutcome.item_version_id == version_id,
        RatingOutcome.status == "resolved",
        exists().where(
            Rating.plan_id == RatingOutcome.plan_id,
            Rating.response_key == RatingOutcome.response_key,
            Rating.kind == "rating",
        ),
    )


async def request_training(
    session: AsyncSession,
    principal: Principal,
    body: schemas.TrainFromRatings,
    *,
    enqueue: bool = True,
) -> EssayModel:
    """A new model version of the item (``training``), to be trained from its resolved
    human scores by ``autoscore.train_model`` after this transaction commits (admins);
    ``enqueue`` False when the caller runs :func:`run_training` itself (the command line)."""
    _require_admin(principal)
    _require_embedding_model(body)
    version = await _item_version(session, principal, body.item_id, body.item_version_id)
    scale = await rating.scale_for(session, version.id, "item")
    low, high = 0.0, scale.item_max
    if body.criterion:
        points = _criterion_points(scale.rubric, body.criterion)
        low, high = min(points), max(points)
    count = await session.scalar(
        select(func.count()).select_from(
            _rated_outcomes(principal.organization_id, version.id).subquery()
        )
    )
    if int(count or 0) < essay.MIN_RESPONSES:
        raise problems.TrainingRequestInvalid(
            f"{count} responses of this item version have a resolved human score; "
            f"at least {essay.MIN_RESPONSES} are needed"
        )
    return await _new_model(
        session,
        principal,
        version,
        criterion=body.criterion,
        source="ratings",
        options=body,
        scale=(low, high),
        upload=None,
        enqueue=enqueue,
    )


def _criterion_points(rubric: AnalyticRubric | HolisticRubric, criterion: str) -> list[float]:
    """The points of the rubric criterion's levels (``level``: a holistic rubric's);
    :class:`TrainingRequestInvalid` for a criterion the rubric lacks."""
    criteria = (
        {"level": rubric.levels}
        if isinstance(rubric, HolisticRubric)
        else {c.id: c.levels for c in rubric.criteria}
    )
    if criterion not in criteria:
        raise problems.TrainingRequestInvalid(
            f"the item's rubric has no criterion {criterion!r}",
            extra={"invalid_params": [{"name": "criterion", "reason": "unknown"}]},
        )
    return [lv.points for lv in criteria[criterion]]


def _require_embedding_model(options: schemas.TrainOptions) -> None:
    """EmbeddingModelUnavailable (422) when embedding features are asked for and no
    embedding model is installed, before anything is stored."""
    if options.embeddings and not embeddings.available():
        embeddings.installed_encoder()  # raises with the reason
        raise EmbeddingModelUnavailable("no sentence-embedding model is installed")


async def _new_model(
    session: AsyncSession,
    principal: Principal,
    version: ItemVersion,
    *,
    criterion: str,
    source: str,
    options: schemas.TrainOptions,
    scale: tuple[float, float],
    upload: str | None,
    training_ref: dict[str, Any] | None = None,
    enqueue: bool = True,
) -> EssayModel:
    row = EssayModel(
        organization_id=principal.organization_id,
        item_id=version.item_id,
        item_version_id=version.id,
        criterion=criterion,
        version=await _next_version(session, principal.organization_id, version.item_id, criterion),
        status="training",
        source=source,
        upload_sha256=upload,
        training_ref=training_ref or {},
        config={
            "folds": options.folds,
            "confidence": options.confidence,
            "seed": options.seed,
            **({"embeddings": True} if options.embeddings else {}),
        },
        min_score=float(_whole(scale[0])),
        max_score=float(_whole(scale[1])),
        progress=0.0,
        progress_message="queued",
        created_by=principal.actor.id,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        organization_id=row.organization_id,
        action="autoscore.training_requested",
        actor=principal.actor,
        target_type="essay_model",
        target_id=row.id,
        data={
            "item_id": str(row.item_id),
            "item_version_id": str(row.item_version_id),
            "criterion": criterion,
            "version": row.version,
            "source": source,
            "upload_sha256": upload,
        },
    )
    if enqueue:
        enqueue_after_commit(session, TRAIN_TASK, model_id=str(row.id))
    return row


@dataclass(frozen=True)
class CsvRows:
    ids: list[str]
    texts: list[str]
    scores: list[int]
    second_scores: list[int | None]
    groups: list[str | None]


def parse_training_csv(text: str, low: int, high: int) -> CsvRows:
    """Rows ``id,text,score[,score2,group]`` (a header row naming them, any order);
    TrainingCsvInvalid naming each bad line (scores must be whole numbers in low..high)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in ("id", "text", "score") if c not in header]
    if missing:
        raise problems.TrainingCsvInvalid(
            "the CSV needs a header row with the columns id, text and score; missing: "
            + ", ".join(missing),
            extra={"invalid_params": [{"name": f"file.{c}", "reason": "missing"} for c in missing]},
        )
    reader.fieldnames = header
    rows = CsvRows([], [], [], [], [])
    bad: list[dict[str, str]] = []
    seen: set[str] = set()

    def whole(value: str, line: int, column: str) -> int | None:
        value = value.strip()
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            bad.append({"name": f"line {line}.{column}", "reason": f"{value!r} is no number"})
            return None
        if number != int(number) or not low <= number <= high:
            bad.append(
                {"name": f"line {line}.{column}", "reason": f"{value} is not a whole {low}..{high}"}
            )
            return None
        return int(number)

    for line, record in enumerate(reader, start=2):
        ident = (record.get("id") or "").strip()
        if not ident or ident in seen:
            bad.append({"name": f"line {line}.id", "reason": "empty or repeated"})
            continue
        seen.add(ident)
        score = whole(record.get("score") or "", line, "score")
        second = whole(record.get("score2") or "", line, "score2")
        if score is None:
            if not bad or not bad[-1]["name"].startswith(f"line {line}."):
                bad.append({"name": f"line {line}.score", "reason": "missing"})
            continue
        rows.ids.append(ident)
        rows.texts.append(record.get("text") or "")
        rows.scores.append(score)
        rows.second_scores.append(second)
        group = (record.get("group") or "").strip()
        rows.groups.append(group or None)
    if bad:
        raise problems.TrainingCsvInvalid(
            f"{len(bad)} problem(s) in the CSV, first: {bad[0]['name']}: {bad[0]['reason']}",
            extra={"invalid_params": bad[:100]},
        )
    if not rows.ids:
        raise problems.TrainingCsvInvalid("the CSV has no rows")
    return rows


async def request_training_from_csv(
    session: AsyncSession,
    blobs: BlobStore,
    principal: Principal,
    *,
    item_id: uuid.UUID,
    item_version_id: uuid.UUID | None,
    data: bytes,
    options: schemas.TrainOptions,
    criterion: str = "",
) -> EssayModel:
    """A new model version of the item (or, with ``criterion``, of one criterion of its
    rubric, scored in that criterion's points) trained from an uploaded CSV (kept in the
    blob store, its digest on the row); checked before anything is stored."""
    _require_admin(principal)
    _require_embedding_model(options)
    item = await content.get_item(session, principal, item_id)
    if item_version_id is None:
        version = await session.scalar(
            select(ItemVersion)
            .where(ItemVersion.item_id == item.id)
            .order_by(ItemVersion.version.desc())
            .limit(1)
        )
        assert version is not None
    else:
        version = await _item_version(session, principal, item_id, item_version_id)
    if len(data) > CSV_MAX_BYTES:
        raise problems.TrainingCsvInvalid(f"the CSV is larger than {CSV_MAX_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise problems.TrainingCsvInvalid("the CSV is not UTF-8 text") from None
    scale = await rating.scale_for(session, version.id, "item")
    low, high = 0, _whole(scale.item_max)
    if criterion:
        points = _criterion_points(scale.rubric, criterion)
        low, high = _whole(min(points)), _whole(max(points))
    rows = parse_training_csv(text, low, high)
    if len(rows.ids) < essay.MIN_RESPONSES:
        raise problems.TrainingCsvInvalid(
            f"{len(rows.ids)} rows; at least {essay.MIN_RESPONSES} are needed"
        )
    ref = await blobs.put(data, "text/csv")
    return await _new_model(
        session,
        principal,
        version,
        criterion=criterion,
        source="csv",
        options=options,
        scale=(low, high),
        upload=ref.sha256,
        training_ref={"rows": len(rows.ids), "upload_sha256": ref.sha256},
    )


def _text_of(value: dict[str, Any] | None) -> str:
    """The text of a stored response (its normalized strings, else the raw value)."""
    if not value:
        return ""
    normalized = value.get("normalized")
    if isinstance(normalized, dict):
        parts = [v for v in normalized.values() if isinstance(v, str)]
        if parts:
            return "\n".join(parts)
    raw = value.get("value")
    return raw if isinstance(raw, str) else ""


def rows_digest(ids: Sequence[str], texts: Sequence[str], scores: Sequence[int]) -> str:
    """SHA-256 over the training rows in order (id, text, score), the data's fingerprint."""
    digest = hashlib.sha256()
    for ident, text, score in zip(ids, texts, scores, strict=True):
        digest.update(f"{ident}\x1f{text}\x1f{score}\x1e".encode())
    return digest.hexdigest()


async def _prompt_text(session: AsyncSession, version_id: uuid.UUID) -> str | None:
    from waa_ads.delivery import service as delivery

    item = await delivery.item_definition(session, version_id)
    body = getattr(item, "body", None)
    text = getattr(body, "text", None) if body is not None else None
    return text if isinstance(text, str) and text.strip() else None


async def _candidate_groups(
    session: AsyncSession, attempt_ids: list[uuid.UUID]
) -> list[str | None]:
    """The group the organization gave each attempt's candidate (None where none), for the
    fairness figures; all None while candidate records have no group field."""
    column = getattr(Candidate, "group", None)
    if column is None or not attempt_ids:
        return [None] * len(attempt_ids)
    rows = await session.execute(
        select(Attempt.id, column)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .where(Attempt.id.in_(set(attempt_ids)))
    )
    found: dict[uuid.UUID, str | None] = {row[0]: row[1] for row in rows}
    return [found.get(a) for a in attempt_ids]


async def _training_set(
    session: AsyncSession, blobs: BlobStore, row: EssayModel
) -> tuple[essay.TrainingSet, dict[str, Any]]:
    """The data a model row learns from, and the reference recorded on it."""
    low, high = _whole(row.min_score), _whole(row.max_score)
    prompt = await _prompt_text(session, row.item_version_id)
    if row.source == "csv":
        assert row.upload_sha256 is not None
        parsed = parse_training_csv(
            (await blobs.get(row.upload_sha256)).decode("utf-8-sig"), low, high
        )
        data = essay.TrainingSet(
            ids=parsed.ids,
            texts=parsed.texts,
            scores=parsed.scores,
            second_scores=parsed.second_scores,
            groups=parsed.groups if any(parsed.groups) else None,
            prompt_text=prompt,
            min_score=low,
            max_score=high,
        )
        ref = {
            "rows": len(parsed.ids),
            "double_scored": sum(s is not None for s in parsed.second_scores),
            "groups": sorted({g for g in parsed.groups if g}),
            "upload_sha256": row.upload_sha256,
        }
    else:
        outcomes = list(
            (
                await session.execute(
                    _rated_outcomes(row.organization_id, row.item_version_id).order_by(
                        RatingOutcome.response_key
                    )
                )
            ).scalars()
        )
        ratings: dict[tuple[uuid.UUID, str], list[Rating]] = defaultdict(list)
        for rated in (
            await session.execute(
                select(Rating)
                .where(
                    Rating.organization_id == row.organization_id,
                    Rating.kind.in_(("rating", "adjudication")),
                    Rating.response_key.in_([o.response_key for o in outcomes]),
                )
                .order_by(Rating.submitted_at, Rating.id)
            )
        ).scalars():
            ratings[(rated.plan_id, rated.response_key)].append(rated)
        texts_by_key: dict[str, str] = {}
        for response in (
            await session.execute(
                select(Response).where(Response.attempt_id.in_({o.attempt_id for o in outcomes}))
            )
        ).scalars():
            texts_by_key[rating.response_key(response.attempt_id, response.item_ref)] = _text_of(
                response.value
            )
        ids, texts, scores, seconds = [], [], [], []
        for outcome in outcomes:
            given = ratings[(outcome.plan_id, outcome.response_key)]
            firsts = [r for r in given if r.kind == "rating"]
            if row.criterion:
                adjudicated = [r for r in given if r.kind == "adjudication"]
                chosen = adjudicated or firsts
                points = [float(r.criteria.get(row.criterion, 0.0)) for r in chosen]
                final = sum(points) / len(points)
                second = (
                    float(firsts[1].criteria.get(row.criterion, 0.0)) if len(firsts) > 1 else None
                )
            else:
                final = float(outcome.score or 0.0)
                second = firsts[1].score if len(firsts) > 1 else None
            ids.append(outcome.response_key)
            texts.append(texts_by_key.get(outcome.response_key, ""))
            scores.append(min(max(_whole(final), low), high))
            seconds.append(min(max(_whole(second), low), high) if second is not None else None)
        groups = await _candidate_groups(session, [o.attempt_id for o in outcomes])
        data = essay.TrainingSet(
            ids=ids,
            texts=texts,
            scores=scores,
            second_scores=seconds,
            groups=groups if any(groups) else None,
            prompt_text=prompt,
            min_score=low,
            max_score=high,
        )
        ref = {
            "rows": len(ids),
            "double_scored": sum(s is not None for s in seconds),
            "plan_ids": sorted({str(o.plan_id) for o in outcomes}),
            "administration_ids": sorted(
                str(a)
                for a in (
                    await session.execute(
                        select(RatingPlan.administration_id).where(
                            RatingPlan.id.in_({o.plan_id for o in outcomes})
                        )
                    )
                ).scalars()
            ),
            "groups": sorted({g for g in groups if g}),
        }
    ref["rows_sha256"] = rows_digest(data.ids, data.texts, data.scores)
    return data, ref


async def _guarded_update(db: Database, model_id: uuid.UUID, **values: Any) -> bool:
    async with db.transaction() as session:
        done = await session.execute(
            update(EssayModel)
            .where(EssayModel.id == model_id, EssayModel.status == "training")
            .values(**values)
            .returning(EssayModel.id)
        )
        return done.first() is not None


async def run_training(db: Database, blobs: BlobStore, model_id: uuid.UUID) -> str:
    """Train a model row that is ``training``: read its data, fit it off the event loop
    (writing progress to the row as it goes), store the artifact in the blob store and
    record the report and gate verdict; ``failed`` with the reason when the data cannot be
    trained from. Returns the row's status. Idempotent: a row no longer ``training`` is
    left as it is; a redelivered task trains again from the same data."""
    async with db.transaction() as session:
        row = await session.get(EssayModel, model_id)
        if row is None:
            return "missing"
        if row.status != "training":
            return row.status
        organization_id, version = row.organization_id, row.version
        data: essay.TrainingSet | None = None
        failure: str | None = None
        try:
            data, ref = await _training_set(session, blobs, row)
        except DomainError as exc:
            failure = exc.detail
        config_values = dict(row.config)
        settings = await settings_of(session, organization_id)
        gate = gate_of(settings)
    if data is None:
        await _fail(db, model_id, organization_id, failure or "no training data")
        return "failed"
    state: dict[str, Any] = {"fraction": 0.0, "message": "starting"}

    def progress(fraction: float, message: str) -> None:
        state["fraction"], state["message"] = fraction, message

    try:
        config = essay.TrainConfig(**config_values)
    except DomainError as exc:
        await _fail(db, model_id, organization_id, exc.detail)
        return "failed"
    job = asyncio.ensure_future(asyncio.to_thread(essay.train, data, config, progress))
    written: tuple[float, str] | None = None
    while not job.done():
        await asyncio.wait({job}, timeout=0.5)
        now = (round(float(state["fraction"]), 3), str(state["message"])[:300])
        if now != written and not job.done():
            written = now
            await _guarded_update(db, model_id, progress=now[0], progress_message=now[1])
    try:
        trained = job.result()
    except DomainError as exc:
        await _fail(db, model_id, organization_id, exc.detail)
        return "failed"
    except Exception as exc:
        # Not the data's fault and not worth a retry (training is deterministic): the row
        # says so instead of staying "training" for ever; the error goes to the task log.
        await _fail(db, model_id, organization_id, f"training stopped: {type(exc).__name__}")
        raise
    artifact = trained.to_bytes()
    blob = await blobs.put(artifact, "application/octet-stream")
    verdict = gates.evaluate(trained.report, gate)
    report = trained.report.to_dict()
    async with db.transaction() as session:
        done = await session.execute(
            update(EssayModel)
            .where(EssayModel.id == model_id, EssayModel.status == "training")
            .values(
                status="trained",
                progress=1.0,
                progress_message="trained",
                metrics=report,
                gate=verdict.to_dict(),
                library_versions=dict(trained.report.library_versions),
                artifact_sha256=blob.sha256,
                artifact_size=blob.size,
                training_ref=ref,
                trained_at=utcnow(),
            )
            .returning(EssayModel.id)
        )
        if done.first() is None:
            return "trained"
        await audit.record(
            session,
            organization_id=organization_id,
            action="autoscore.model_trained",
            actor=AUTOSCORE,
            target_type="essay_model",
            target_id=model_id,
            data={
                "version": version,
                "artifact_sha256": blob.sha256,
                "rows_sha256": ref["rows_sha256"],
                "rows": ref["rows"],
                "qwk": report.get("model", {}).get("qwk"),
                "gate_passed": verdict.passed,
            },
        )
    return "trained"


async def _fail(db: Database, model_id: uuid.UUID, organization_id: uuid.UUID, reason: str) -> None:
    async with db.transaction() as session:
        done = await session.execute(
            update(EssayModel)
            .where(EssayModel.id == model_id, EssayModel.status == "training")
            .values(status="failed", error=reason[:4000], progress_message="failed")
            .returning(EssayModel.id)
        )
        if done.first() is not None:
            await audit.record(
                session,
                organization_id=organization_id,
                action="autoscore.training_failed",
                actor=AUTOSCORE,
                target_type="essay_model",
                target_id=model_id,
                data={"reason": reason[:500]},
            )


async def activate(session: AsyncSession, principal: Principal, model_id: uuid.UUID) -> EssayModel:
    """Make a trained (or retired) model the item's active one, retiring the one active
    before. Refused with GateFailed (and every check) when its report does not pass the
    organization's gate today, ModelVersionMismatch when it was validated with other
    library versions. Audited."""
    row = await get_model(session, principal, model_id, for_update=True)
    if row.status not in ("trained", "retired"):
        raise problems.ModelStateConflict(f"a model that is {row.status} cannot be activated")
    check_versions(row)
    verdict = verdict_now(row, await settings_of(session, principal.organization_id))
    if verdict is None or not verdict.passed:
        failed = [c.to_dict() for c in verdict.checks if not c.passed] if verdict else []
        raise problems.GateFailed(
            "the model does not pass the acceptance gate: "
            + "; ".join(c["reason"] for c in failed),
            extra={"checks": [c.to_dict() for c in verdict.checks] if verdict else []},
        )
    previous = (
        await session.execute(
            select(EssayModel)
            .where(
                EssayModel.organization_id == row.organization_id,
                EssayModel.item_id == row.item_id,
                EssayModel.criterion == row.criterion,
                EssayModel.status == "active",
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    now = utcnow()
    if previous is not None:
        await _retire(session, principal, previous, replaced_by=row)
    row.status, row.activated_at, row.activated_by = "active", now, principal.actor.id
    row.retired_at = None
    await session.flush()
    await audit.record(
        session,
        organization_id=row.organization_id,
        action="autoscore.model_activated",
        actor=principal.actor,
        target_type="essay_model",
        target_id=row.id,
        data={
            "item_id": str(row.item_id),
            "item_version_id": str(row.item_version_id),
            "criterion": row.criterion,
            "version": row.version,
            "artifact_sha256": row.artifact_sha256,
            "gate": verdict.to_dict(),
            "replaces": str(previous.id) if previous is not None else None,
        },
    )
    return row


async def _retire(
    session: AsyncSession,
    principal: Principal,
    row: EssayModel,
    *,
    replaced_by: EssayModel | None = None,
) -> None:
    row.status, row.retired_at = "retired", utcnow()
    await session.flush()
    await audit.record(
        session,
        organization_id=row.organization_id,
        action="autoscore.model_retired",
        actor=principal.actor,
        target_type="essay_model",
        target_id=row.id,
        data={
            "item_id": str(row.item_id),
            "version": row.version,
            "replaced_by": str(replaced_by.id) if replaced_by is not None else None,
        },
    )


async def retire(session: AsyncSession, principal: Principal, model_id: uuid.UUID) -> EssayModel:
    """Stop an active model from scoring (its item's answers go to people again). Audited."""
    row = await get_model(session, principal, model_id, for_update=True)
    if row.status != "active":
        raise problems.ModelStateConflict(f"a model that is {row.status} is not active")
    await _retire(session, principal, row)
    return row


# --- loading --------------------------------------------------------------------------------

_loaded: dict[tuple[uuid.UUID, str], essay.TrainedModel] = {}


def check_versions(row: EssayModel) -> None:
    """ModelVersionMismatch unless the libraries running now are the ones the model was
    validated with (those :func:`waa_ads.autoscore.model.library_versions` names; the
    Python version is recorded for the record only) and, for a model with embedding
    features, the installed embedding model has the same weights."""
    running = essay.library_versions()
    differing = sorted(k for k in running if running[k] != row.library_versions.get(k))
    if differing:
        raise ModelVersionMismatch(
            "the model was validated with other library versions: "
            + ", ".join(
                f"{k} {row.library_versions.get(k)} (running {running[k]})" for k in differing
            ),
            extra={"validated_with": row.library_versions, "running": running},
        )
    wanted = row.library_versions.get("embedding model sha256")
    if wanted is not None:
        name = row.library_versions.get("embedding model")
        try:
            installed = embeddings.installed_encoder()
        except EmbeddingModelUnavailable as exc:
            raise ModelVersionMismatch(
                f"the model was trained with the sentence-embedding model {name} "
                f"(SHA-256 {wanted[:12]}…), which is not available here: {exc.detail}",
                extra={"validated_with": row.library_versions, "running": running},
            ) from None
        if installed.sha256 != wanted:
            raise ModelVersionMismatch(
                f"the model was trained with the sentence-embedding model {name} "
                f"(SHA-256 {wanted[:12]}…); the installed one is {installed.name} "
                f"(SHA-256 {installed.sha256[:12]}…)",
                extra={
                    "validated_with": row.library_versions,
                    "running": {
                        **running,
                        "embedding model": installed.name,
                        "embedding model sha256": installed.sha256,
                    },
                },
            )


async def load(blobs: BlobStore, row: EssayModel) -> essay.TrainedModel:
    """The model's artifact from the blob store, its SHA-256 and library versions checked
    (ModelCorrupt, ModelVersionMismatch otherwise). Cached per process by id and digest."""
    if row.artifact_sha256 is None:
        raise problems.ModelStateConflict(f"model {row.id} has no trained artifact")
    check_versions(row)
    key = (row.id, row.artifact_sha256)
    cached = _loaded.get(key)
    if cached is not None:
        return cached
    try:
        data = await blobs.get(row.artifact_sha256)
    except (BlobNotFound, BlobCorrupted) as exc:
        raise ModelCorrupt(f"the model's stored bytes cannot be read: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != row.artifact_sha256:
        raise ModelCorrupt("the model's stored bytes do not match their SHA-256")
    trained = await asyncio.to_thread(essay.TrainedModel.from_bytes, data)
    if len(_loaded) >= 16:
        _loaded.clear()
    _loaded[key] = trained
    return trained


# --- routing live answers -------------------------------------------------------------------


def check_draw(key: str, model_id: uuid.UUID) -> float:
    """A fixed draw in [0, 1) per response and model: the same answer is always chosen
    alike for a check."""
    digest = hashlib.sha256(f"check:{model_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


async def _active_models(
    session: AsyncSession, organization_id: uuid.UUID, version_ids: set[uuid.UUID]
) -> dict[uuid.UUID, EssayModel]:
    if not version_ids:
        return {}
    rows = (
        await session.execute(
            select(EssayModel).where(
                EssayModel.organization_id == organization_id,
                EssayModel.item_version_id.in_(version_ids),
                EssayModel.status == "active",
                EssayModel.criterion == "",
            )
        )
    ).scalars()
    return {r.item_version_id: r for r in rows}


async def route_attempt(
    session: AsyncSession, blobs: BlobStore, attempt_id: uuid.UUID
) -> list[AutoscoreDecision]:
    """Let the active models decide on the attempt's answers that wait for a person:
    confident ones are scored (a new result revision, audited with the model), a share of
    them and every doubtful one stays with people with the reason recorded. Idempotent:
    an answer decided on before is left alone."""
    attempt = await session.get(Attempt, attempt_id)
    if attempt is None or attempt.state != AttemptState.scoring.value:
        return []
    result = await scoring.latest_result(session, attempt.id)
    if result is None:
        return []
    pending = [
        s
        for s in await scoring.item_scores(session, result.id)
        if s.method == "pending" and s.score is None
    ]
    models = await _deciding_models(
        session, attempt.organization_id, {s.item_version_id for s in pending}
    )
    routed: list[tuple[str, list[EssayModel]]] = []
    for item in pending:
        deciding = models.get(item.item_version_id)
        if deciding:
            routed.append((item.item_ref, deciding))
    if not routed:
        return []
    # Every routed response's rating rows are held before the attempt's row, in one go: a
    # second item's tasks taken after the first item locked the attempt (and appended to
    # the audit chain) could wait for a rating being saved that waits for the attempt.
    held = await rating.hold_responses(session, attempt, [ref for ref, _ in routed])
    decided: list[AutoscoreDecision] = []
    for item_ref, rows in routed:
        if len(rows) == 1 and not rows[0].criterion:
            decision = await _route_one(session, blobs, attempt, item_ref, rows[0], held[item_ref])
            if decision is not None:
                decided.append(decision)
        else:
            decided += await _route_by_criteria(
                session, blobs, attempt, item_ref, rows, held[item_ref]
            )
    return decided


async def _deciding_models(
    session: AsyncSession,
    organization_id: uuid.UUID | None,
    version_ids: set[uuid.UUID] | None,
) -> dict[uuid.UUID, list[EssayModel]]:
    """Per item version, the active models that decide on its answers: the item model
    when there is one, else its active criterion models (in criterion order) when they
    cover every criterion of the item's rubric. A version whose criteria are only partly
    covered is left out: its answers wait for people as if it had no model."""
    if version_ids is not None and not version_ids:
        return {}
    stmt = select(EssayModel).where(EssayModel.status == "active").order_by(EssayModel.criterion)
    if organization_id is not None:
        stmt = stmt.where(EssayModel.organization_id == organization_id)
    if version_ids is not None:
        stmt = stmt.where(EssayModel.item_version_id.in_(version_ids))
    found: dict[uuid.UUID, list[EssayModel]] = defaultdict(list)
    for row in (await session.execute(stmt)).scalars():
        found[row.item_version_id].append(row)
    out: dict[uuid.UUID, list[EssayModel]] = {}
    for version, rows in found.items():
        item_models = [r for r in rows if not r.criterion]
        if item_models:
            out[version] = item_models[:1]
            continue
        rubric = (await rating.scale_for(session, version, "item")).rubric
        criteria = (
            {"level"} if isinstance(rubric, HolisticRubric) else {c.id for c in rubric.criteria}
        )
        if criteria <= {r.criterion for r in rows}:
            out[version] = [r for r in rows if r.criterion in criteria]
    return out


async def _still_waiting(
    session: AsyncSession, attempt: Attempt, item_ref: str, model_ids: Sequence[uuid.UUID]
) -> bool:
    """Under the attempt's lock: the attempt is still in ``scoring``, no model has decided
    on the answer, people have not scored it, and every deciding model is still active."""
    await session.refresh(attempt, with_for_update=True)
    if attempt.state != AttemptState.scoring.value:
        return False
    if await session.scalar(
        select(AutoscoreDecision.id)
        .where(AutoscoreDecision.attempt_id == attempt.id, AutoscoreDecision.item_ref == item_ref)
        .limit(1)
    ):
        return False
    # Read under the attempt's lock: a person who scored the item since the waiting items
    # were listed keeps their score, and the model decides nothing.
    latest = await scoring.latest_result(session, attempt.id)
    if latest is None or not any(
        scored.item_ref == item_ref and scored.method == "pending" and scored.score is None
        for scored in await scoring.item_scores(session, latest.id)
    ):
        return False
    # A model retired since the active ones were listed scores nothing (retirement takes the
    # model's row first, so this shared lock waits for it).
    statuses = (
        await session.execute(
            select(EssayModel.status)
            .where(EssayModel.id.in_(list(model_ids)))
            .order_by(EssayModel.id)
            .with_for_update(read=True)
        )
    ).scalars()
    return all(status == "active" for status in statuses)


async def _route_one(
    session: AsyncSession,
    blobs: BlobStore,
    attempt: Attempt,
    item_ref: str,
    row: EssayModel,
    held: rating.HeldResponse,
) -> AutoscoreDecision | None:
    key = held.key
    if not await _still_waiting(session, attempt, item_ref, [row.id]):
        return None
    stored = await session.get(Response, (attempt.id, item_ref))
    text = _text_of(stored.value if stored is not None else None)
    score: float | None = None
    confidence: float | None = None
    route: str
    reason: str | None
    try:
        trained = await load(blobs, row)
    except DomainError as exc:
        route, reason = "human", f"the model cannot be used: {exc.detail}"[:500]
    else:
        (prediction,) = await asyncio.to_thread(trained.predict, [text], [key])
        # The model's whole points may pass an item maximum that is not whole (2.5).
        item_max = (await rating.scale_for(session, row.item_version_id, item_ref)).item_max
        score = min(max(float(prediction.score), 0.0), item_max)
        confidence = prediction.confidence
        route, reason = prediction.route, prediction.reason
    if route == "auto":
        share = (await settings_of(session, attempt.organization_id)).check_share
        started = held.started(utcnow())
        if share > 0 and check_draw(key, row.id) < share:
            route, reason = (
                "check",
                f"drawn as a check on the model ({share:.0%} of confident answers)",
            )
        elif started:
            route, reason = "human", "a person had already started rating it"
    decision = AutoscoreDecision(
        organization_id=attempt.organization_id,
        model_id=row.id,
        attempt_id=attempt.id,
        item_ref=item_ref,
        item_version_id=row.item_version_id,
        route=route,
        score=score,
        confidence=confidence,
        reason=reason,
        created_at=utcnow(),
    )
    session.add(decision)
    await session.flush()
    model_name = f"essay-model:{row.id}:v{row.version}"
    if route == "auto":
        assert score is not None
        await rating.withdraw_for_scorer(session, held)
        revised = await scoring.automated_score(
            session,
            attempt,
            item_ref,
            score=score,
            confidence=confidence,
            scorer=model_name,
            reason=f"essay model v{row.version} ({row.id}), confidence {confidence:.2f}",
            actor=AUTOSCORE,
        )
        decision.revision = revised.revision
        await rating.resolve_by_scorer(
            session,
            held,
            item_version_id=row.item_version_id,
            score=score,
            revision=revised.revision,
        )
    await audit.record(
        session,
        organization_id=attempt.organization_id,
        action="autoscore.scored" if route == "auto" else "autoscore.sent_to_people",
        actor=AUTOSCORE,
        target_type="attempt",
        target_id=attempt.id,
        data={
            "item_ref": item_ref,
            "model_id": str(row.id),
            "model_version": row.version,
            "artifact_sha256": row.artifact_sha256,
            "route": route,
            "score": score,
            "confidence": confidence,
            "reason": reason,
            "revision": decision.revision,
            "withdrawn_tasks": len(held.tasks) if route == "auto" else 0,
        },
    )
    return decision


@dataclass(frozen=True)
class _CriterionCall:
    """One criterion model's view of an answer."""

    row: EssayModel
    points: float | None
    confidence: float | None
    route: str
    reason: str | None


async def _route_by_criteria(
    session: AsyncSession,
    blobs: BlobStore,
    attempt: Attempt,
    item_ref: str,
    rows: list[EssayModel],
    held: rating.HeldResponse,
) -> list[AutoscoreDecision]:
    """The item's active criterion models decide on one answer together. Each scores its
    criterion; the answer is scored automatically only when every criterion of the rubric
    has an active model and every one of them is confident and passes its screens. Then
    the item's score is the rubric's: the weighted sum of the criteria's points, scaled to
    the item's maximum. Otherwise it stays with people, the reason naming each unsure
    criterion (or the criteria without a model). One decision row per criterion model,
    one audit event for the answer."""
    key = held.key
    if not await _still_waiting(session, attempt, item_ref, [r.id for r in rows]):
        return []
    scale = await rating.scale_for(session, rows[0].item_version_id, item_ref)
    rubric = scale.rubric
    criteria = (
        {"level": (1.0, [lv.points for lv in rubric.levels])}
        if isinstance(rubric, HolisticRubric)
        else {c.id: (c.weight, [lv.points for lv in c.levels]) for c in rubric.criteria}
    )
    stored = await session.get(Response, (attempt.id, item_ref))
    text = _text_of(stored.value if stored is not None else None)
    calls: list[_CriterionCall] = []
    for row in rows:
        if row.criterion not in criteria:
            calls.append(
                _CriterionCall(row, None, None, "human", "the rubric has no such criterion")
            )
            continue
        try:
            trained = await load(blobs, row)
        except DomainError as exc:
            failed = f"the model cannot be used: {exc.detail}"
            calls.append(_CriterionCall(row, None, None, "human", failed))
            continue
        (prediction,) = await asyncio.to_thread(trained.predict, [text], [key])
        levels = criteria[row.criterion][1]
        points = min(max(float(prediction.score), min(levels)), max(levels))
        calls.append(
            _CriterionCall(row, points, prediction.confidence, prediction.route, prediction.reason)
        )
    missing = [c for c in criteria if c not in {r.criterion for r in rows}]
    unsure = [c for c in calls if c.route != "auto"]
    confidences = [c.confidence for c in calls if c.confidence is not None]
    confidence = min(confidences) if len(confidences) == len(calls) else None
    score: float | None = None
    route: str
    reason: str | None
    if missing:
        route = "human"
        reason = f"no active model for criteria {', '.join(missing)}"
    elif unsure:
        route = "human"
        reason = "; ".join(f"criterion {c.row.criterion}: {c.reason}" for c in unsure)
    else:
        route, reason = "auto", None
    if not missing and all(c.points is not None for c in calls):
        points_sum = sum(criteria[c.row.criterion][0] * (c.points or 0.0) for c in calls)
        score = min(max(scale.item_score(points_sum), 0.0), scale.item_max)
    if route == "auto":
        share = (await settings_of(session, attempt.organization_id)).check_share
        if share > 0 and check_draw(key, rows[0].id) < share:
            route, reason = (
                "check",
                f"drawn as a check on the models ({share:.0%} of confident answers)",
            )
        elif held.started(utcnow()):
            route, reason = "human", "a person had already started rating it"
    reason = None if reason is None else reason[:500]
    decisions = [
        AutoscoreDecision(
            organization_id=attempt.organization_id,
            model_id=c.row.id,
            attempt_id=attempt.id,
            item_ref=item_ref,
            item_version_id=c.row.item_version_id,
            criterion=c.row.criterion,
            route=route,
            score=c.points,
            confidence=c.confidence,
            reason=reason,
            created_at=utcnow(),
        )
        for c in calls
    ]
    session.add_all(decisions)
    await session.flush()
    if route == "auto":
        assert score is not None
        assert confidence is not None
        await rating.withdraw_for_scorer(session, held)
        names = ", ".join(f"{c.row.criterion} v{c.row.version}" for c in calls)
        revised = await scoring.automated_score(
            session,
            attempt,
            item_ref,
            score=score,
            confidence=confidence,
            scorer=f"essay-models:{names}"[:100],
            reason=f"essay models by criterion ({names}), least confidence {confidence:.2f}",
            actor=AUTOSCORE,
        )
        for decision in decisions:
            decision.revision = revised.revision
        await rating.resolve_by_scorer(
            session,
            held,
            item_version_id=rows[0].item_version_id,
            score=score,
            revision=revised.revision,
        )
    await audit.record(
        session,
        organization_id=attempt.organization_id,
        action="autoscore.scored" if route == "auto" else "autoscore.sent_to_people",
        actor=AUTOSCORE,
        target_type="attempt",
        target_id=attempt.id,
        data={
            "item_ref": item_ref,
            "route": route,
            "score": score,
            "confidence": confidence,
            "reason": reason,
            "revision": decisions[0].revision if decisions else None,
            "withdrawn_tasks": len(held.tasks) if route == "auto" else 0,
            "criteria": [
                {
                    "criterion": c.row.criterion,
                    "model_id": str(c.row.id),
                    "model_version": c.row.version,
                    "artifact_sha256": c.row.artifact_sha256,
                    "points": c.points,
                    "confidence": c.confidence,
                    "route": c.route,
                    "reason": c.reason,
                }
                for c in calls
            ],
        },
    )
    return decisions


async def waiting_attempts(
    session: AsyncSession, *, limit: int = 100, organization_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """Attempts in ``scoring`` with an answer waiting for a person that an active model
    could score and has not decided on yet (a bounded batch)."""
    newest = (
        select(AttemptResult.id)
        .where(AttemptResult.attempt_id == Attempt.id)
        .order_by(AttemptResult.revision.desc())
        .limit(1)
        .correlate(Attempt)
        .scalar_subquery()
    )
    deciding = await _deciding_models(session, organization_id, None)
    if not deciding:
        return []
    stmt = (
        select(ItemScore.attempt_id)
        .join(Attempt, Attempt.id == ItemScore.attempt_id)
        .join(
            EssayModel,
            and_(
                EssayModel.item_version_id == ItemScore.item_version_id,
                EssayModel.organization_id == Attempt.organization_id,
                EssayModel.status == "active",
            ),
        )
        .where(
            ItemScore.item_version_id.in_(list(deciding)),
            Attempt.state == AttemptState.scoring.value,
            ItemScore.result_id == newest,
            ItemScore.method == "pending",
            ItemScore.score.is_(None),
            ~exists().where(
                AutoscoreDecision.attempt_id == ItemScore.attempt_id,
                AutoscoreDecision.item_ref == ItemScore.item_ref,
            ),
        )
        .group_by(ItemScore.attempt_id)
        .order_by(ItemScore.attempt_id)
        .limit(limit)
    )
    if organization_id is not None:
        stmt = stmt.where(Attempt.organization_id == organization_id)
    return list((await session.execute(stmt)).scalars())


async def route_waiting(db: Database, blobs: BlobStore, *, limit: int = 100) -> int:
    """Route every waiting answer an active model could score (each attempt in a unit of
    work of its own); the number of decisions made."""
    async with db.transaction(write=False) as session:
        ids = await waiting_attempts(session, limit=limit)
    made = 0
    for attempt_id in ids:
        # One attempt that cannot be routed (a damaged answer, a model that fails on it)
        # is logged and left to people; it never stops the attempts after it.
        try:
            async with db.transaction() as session:
                made += len(await route_attempt(session, blobs, attempt_id))
        except Exception:
            _log.exception("autoscore.route_failed", attempt_id=str(attempt_id))
    return made


async def queue_routing(session: AsyncSession, principal: Principal) -> int:
    """Enqueue routing of every attempt waiting now (admins); how many attempts wait."""
    _require_admin(principal)
    ids = await waiting_attempts(session, limit=10_000, organization_id=principal.organization_id)
    mine = list(ids)
    for attempt_id in mine:
        enqueue_after_commit(session, ROUTE_TASK, attempt_id=str(attempt_id))
    return len(mine)


# --- live agreement and decisions -----------------------------------------------------------


def _agreement(pairs: list[tuple[float, float]], low: int, high: int) -> schemas.Agreement:
    from waa_ads.autoscore.metrics import agreement

    if not pairs:
        return schemas.Agreement(pairs=0, qwk=None, exact=None, adjacent=None, smd=None)
    human = [min(max(_whole(h), low), high) for h, _ in pairs]
    machine = [min(max(_whole(m), low), high) for _, m in pairs]
    values = agreement(human, machine, low, high).to_dict()
    return schemas.Agreement(
        pairs=len(pairs),
        qwk=values["qwk"],
        exact=values["exact"],
        adjacent=values["adjacent"],
        smd=values["smd"],
    )


async def _decisions_with_human(
    session: AsyncSession, organization_id: uuid.UUID, model_id: uuid.UUID, limit: int | None
) -> list[tuple[AutoscoreDecision, float | None]]:
    """The model's decisions, newest first, each with the people's resolved score of the
    same answer when people resolved it."""
    human = (
        select(RatingOutcome.score)
        .join(Attempt, Attempt.id == RatingOutcome.attempt_id)
        .join(RatingPlan, RatingPlan.id == RatingOutcome.plan_id)
        .where(
            RatingOutcome.attempt_id == AutoscoreDecision.attempt_id,
            RatingOutcome.item_ref == AutoscoreDecision.item_ref,
            RatingOutcome.status == "resolved",
            RatingPlan.administration_id == Attempt.administration_id,
            exists().where(
                Rating.plan_id == RatingOutcome.plan_id,
                Rating.response_key == RatingOutcome.response_key,
            ),
        )
        .correlate(AutoscoreDecision)
        .limit(1)
        .scalar_subquery()
    )
    stmt = (
        select(AutoscoreDecision, human)
        .where(
            AutoscoreDecision.organization_id == organization_id,
            AutoscoreDecision.model_id == model_id,
        )
        .order_by(AutoscoreDecision.created_at.desc(), AutoscoreDecision.id.desc())
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    pairs = [(d, h) for d, h in (await session.execute(stmt)).all()]
    criterion = next((d.criterion for d, _ in pairs if d.criterion), "")
    if not criterion:
        return pairs
    # A criterion model is compared with the people's points for its criterion (the
    # adjudicator's when adjudicated, else the raters' mean), as it was trained.
    keys = [rating.response_key(d.attempt_id, d.item_ref) for d, h in pairs if h is not None]
    given: dict[str, list[Rating]] = defaultdict(list)
    for rated in (
        await session.execute(
            select(Rating).where(
                Rating.organization_id == organization_id,
                Rating.kind.in_(("rating", "adjudication")),
                Rating.response_key.in_(keys),
            )
        )
    ).scalars():
        given[rated.response_key].append(rated)
    out: list[tuple[AutoscoreDecision, float | None]] = []
    for d, h in pairs:
        found = given.get(rating.response_key(d.attempt_id, d.item_ref), [])
        chosen = [r for r in found if r.kind == "adjudication"] or found
        points = [float(r.criteria[criterion]) for r in chosen if criterion in r.criteria]
        out.append((d, sum(points) / len(points) if h is not None and points else None))
    return out


async def live_agreement(
    session: AsyncSession, principal: Principal, model_id: uuid.UUID
) -> schemas.LiveAgreement:
    """Model against people where both scored a live answer: overall, on the checks, on
    the answers it handed over, and per day."""
    row = await get_model(session, principal, model_id)
    low, high = _whole(row.min_score), _whole(row.max_score)
    decisions = await _decisions_with_human(session, row.organization_id, row.id, None)
    routes = Counter(d.route for d, _ in decisions)
    paired = [(d, h) for d, h in decisions if h is not None and d.score is not None]
    by_day: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for d, h in paired:
        assert h is not None
        assert d.score is not None
        by_day[d.created_at.date().isoformat()].append((h, d.score))
    return schemas.LiveAgreement(
        model_id=row.id,
        decisions={r: routes.get(r, 0) for r in ("auto", "check", "human")},
        checks=_agreement(
            [(h, d.score) for d, h in paired if d.route == "check"],  # type: ignore[misc]
            low,
            high,
        ),
        doubtful=_agreement(
            [(h, d.score) for d, h in paired if d.route == "human"],  # type: ignore[misc]
            low,
            high,
        ),
        overall=_agreement([(h, d.score) for d, h in paired], low, high),  # type: ignore[misc]
        by_day=[
            schemas.AgreementPeriod(day=day, **_agreement(pairs, low, high).model_dump())
            for day, pairs in sorted(by_day.items())
        ],
    )


async def list_decisions(
    session: AsyncSession,
    principal: Principal,
    model_id: uuid.UUID,
    *,
    route: str | None = None,
    limit: int = 100,
) -> list[schemas.DecisionRead]:
    row = await get_model(session, principal, model_id)
    out = []
    for decision, human in await _decisions_with_human(session, row.organization_id, row.id, None):
        if route is not None and decision.route != route:
            continue
        read = schemas.DecisionRead.model_validate(decision)
        read.human_score = human
        out.append(read)
        if len(out) >= limit:
            break
    return out


async def item_candidates(
    session: AsyncSession, principal: Principal
) -> list[schemas.ItemCandidate]:
    """Item versions people have scored (what a model can learn from) and those that have
    models, with counts."""
    _require_admin(principal)
    org = principal.organization_id
    counts: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    resolved = (
        select(RatingOutcome.item_version_id, RatingOutcome.response_key, RatingOutcome.plan_id)
        .where(RatingOutcome.organization_id == org, RatingOutcome.status == "resolved")
        .subquery()
    )
    per_response = (
        select(
            resolved.c.item_version_id,
            func.count(Rating.id).label("n"),
        )
        .join(
            Rating,
            and_(
                Rating.plan_id == resolved.c.plan_id,
                Rating.response_key == resolved.c.response_key,
                Rating.kind == "rating",
            ),
        )
        .group_by(resolved.c.item_version_id, resolved.c.plan_id, resolved.c.response_key)
        .subquery()
    )
    for version_id, responses, doubles in (
        await session.execute(
            select(
                per_response.c.item_version_id,
                func.count(),
                func.sum(case((per_response.c.n > 1, 1), else_=0)),
            ).group_by(per_response.c.item_version_id)
        )
    ).all():
        counts[version_id] = [int(responses), int(doubles or 0)]
    models = await list_models(session, principal)
    version_ids = set(counts) | {m.item_version_id for m in models}
    if not version_ids:
        return []
    versions = {
        v.id: v
        for v in (
            await session.execute(
                select(ItemVersion).where(
                    ItemVersion.organization_id == org, ItemVersion.id.in_(version_ids)
                )
            )
        ).scalars()
    }
    out = []
    for version_id, version in versions.items():
        mine = [m for m in models if m.item_version_id == version_id]
        active = next((m.id for m in mine if m.status == "active"), None)
        resolved_n, doubles_n = counts.get(version_id, [0, 0])
        out.append(
            schemas.ItemCandidate(
                item_id=version.item_id,
                item_version_id=version.id,
                version=version.version,
                title=version.title,
                resolved=resolved_n,
                double_rated=doubles_n,
                active_model_id=active,
                models=len(mine),
            )
        )
    return sorted(out, key=lambda c: (c.title, c.version))


# --- explanations ---------------------------------------------------------------------------


async def _neighbour_texts(
    session: AsyncSession, blobs: BlobStore, row: EssayModel, ids: list[str]
) -> dict[str, str]:
    if row.source == "csv" and row.upload_sha256:
        low, high = _whole(row.min_score), _whole(row.max_score)
        try:
            parsed = parse_training_csv(
                (await blobs.get(row.upload_sha256)).decode("utf-8-sig"), low, high
            )
        except (DomainError, BlobNotFound, BlobCorrupted):
            return {}
        wanted = set(ids)
        return {i: t for i, t in zip(parsed.ids, parsed.texts, strict=True) if i in wanted}
    out = {}
    for ident in ids:
        attempt_part, _, item_ref = ident.partition(":")
        try:
            attempt_id = uuid.UUID(attempt_part)
        except ValueError:
            continue
        stored = await session.get(Response, (attempt_id, item_ref))
        if stored is not None:
            out[ident] = _text_of(stored.value)
    return out


async def _explain(
    session: AsyncSession,
    blobs: BlobStore,
    row: EssayModel,
    text: str,
    decision: AutoscoreDecision | None,
    key: str | None,
) -> schemas.ExplanationRead:
    trained = await load(blobs, row)
    explained = await asyncio.to_thread(trained.explain, text, 3)
    if decision is not None:
        route, reason, confidence = decision.route, decision.reason, decision.confidence
    else:
        (prediction,) = await asyncio.to_thread(trained.predict, [text], [key] if key else None)
        route, reason, confidence = prediction.route, prediction.reason, prediction.confidence
    texts = await _neighbour_texts(session, blobs, row, [n.id for n in explained.neighbours])
    return schemas.ExplanationRead(
        model_id=row.id,
        model_version=row.version,
        score=explained.score,
        raw=explained.raw,
        baseline=explained.baseline,
        confidence=confidence,
        route=route,
        reason=reason,
        up=[schemas.ContributionRead(**vars(c)) for c in explained.up],
        down=[schemas.ContributionRead(**vars(c)) for c in explained.down],
        neighbours=[
            schemas.NeighbourRead(
                label=f"training answer {n + 1}",
                score=neighbour.score,
                similarity=neighbour.similarity,
                text=texts.get(neighbour.id),
            )
            for n, neighbour in enumerate(explained.neighbours)
        ],
    )


async def explain_text(
    session: AsyncSession, blobs: BlobStore, principal: Principal, model_id: uuid.UUID, text: str
) -> schemas.ExplanationRead:
    """Explain the score a model would give ``text`` (admins)."""
    row = await get_model(session, principal, model_id)
    if row.artifact_sha256 is None:
        raise problems.ModelStateConflict(f"a model that is {row.status} cannot explain")
    return await _explain(session, blobs, row, text, None, None)


async def explain_lease(
    session: AsyncSession, blobs: BlobStore, principal: Principal, lease_id: uuid.UUID
) -> schemas.ExplanationRead:
    """The explanation of the answer a lease holds, for its rater or the plan's leads:
    the decision the model made on it (with its reason) when there is one, else what the
    item's active model says of it now. LeaseNotFound / RatingNotAssigned as rating's
    routes; NoModelForItem when no model covers it."""
    lease = await session.get(RatingLease, lease_id)
    if lease is None or lease.organization_id != principal.organization_id:
        raise rating_errors.LeaseNotFound(f"lease {lease_id} not found")
    task = await session.get(RatingTask, lease.task_id)
    assert task is not None
    plan = await session.get(RatingPlan, task.plan_id)
    overseer = plan is not None and rating.is_lead(principal, plan)
    if lease.rater_id != principal.user_id and not overseer:
        raise rating_errors.RatingNotAssigned("this lease belongs to another rater")
    # The rater judges first: until their rating of this lease is saved they are not shown
    # what the model made of the answer (a check on the model would otherwise check nothing).
    blind = (
        not overseer
        and (await session.scalar(select(Rating.id).where(Rating.lease_id == lease.id))) is None
    )
    decision = None
    if task.attempt_id is not None:
        decision = await session.scalar(
            select(AutoscoreDecision).where(
                AutoscoreDecision.attempt_id == task.attempt_id,
                AutoscoreDecision.item_ref == task.item_ref,
            )
        )
    row = None
    if decision is not None:
        row = await session.get(EssayModel, decision.model_id)
    if row is None or row.artifact_sha256 is None:
        row = (await _active_models(session, task.organization_id, {task.item_version_id})).get(
            task.item_version_id
        )
    if row is None:
        raise problems.NoModelForItem("no essay model scores this item")
    value: dict[str, Any] | None = None
    if task.seed_id is not None:
        seed = await session.get(SeededResponse, task.seed_id)
        value = seed.value if seed is not None else None
    elif task.attempt_id is not None:
        stored = await session.get(Response, (task.attempt_id, task.item_ref))
        value = stored.value if stored is not None else None
    explained = await _explain(session, blobs, row, _text_of(value), decision, task.response_key)
    if not blind:
        return explained
    return explained.model_copy(
        update={
            "blind": True,
            "score": None,
            "raw": None,
            "baseline": None,
            "confidence": None,
            "route": None,
            "reason": None,
            "up": [],
            "down": [],
        }
    )
