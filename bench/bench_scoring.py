"""Scoring a cohort from the database: the per-attempt path against a bulk path.

    uv run python bench/bench_scoring.py                      # 20,000 attempts x 50 items
    uv run python bench/bench_scoring.py --attempts 2000 --sample 100   # a quick look

The script creates a PostgreSQL database with a random name on ``--server-url`` (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``), migrates it, and builds:

* through the domain services: an organization, a bank of ``--items`` published items (half
  single-choice scored by ``match_correct``, half multiple-choice scored by
  ``map_response``), an assessment of two sections (the second shuffled, weight 2) with
  bands, published, and an administration;
* with ``COPY`` (asyncpg ``copy_records_to_table``): ``--attempts`` candidates, their roster
  entries, one submitted attempt each with its form (``assemble`` with the attempt's seed)
  and one response per item, the value stored as delivery stores it (``{"value": raw,
  "normalized": {...}}``, normalized by ``validate_response``), answers drawn from a
  one-parameter logistic model so scores spread.

Then, after ``VACUUM ANALYZE`` and a checkpoint, two paths run one after the other, each in
a child process of its own (so that each reports its own peak RSS):

(a) per attempt: ``scoring.service.score_attempt`` in one transaction per attempt, as the
    ``scoring.score_attempt`` task runs it, for ``--sample`` attempts spread over the cohort;
    the figure for the whole cohort is extrapolated from the sample (linearly: every attempt
    costs the same queries);
(b) bulk: every attempt of the administration, in chunks of ``--chunk`` attempts, one
    transaction per chunk: attempts locked, forms and responses loaded in one query,
    responses scored per item with ``scoring.vectorized.score_batch``, totals by
    ``scoring.policy.totals``, ``attempt_result``/``item_score`` written with ``COPY``,
    states moved by one guarded ``UPDATE ... FROM unnest(...)``, and the audit events
    appended with ``audit.service.record_many``. The sample attempts already scored by (a)
    get a second revision (``result.revised``), like a cohort rescore. (It handles the
    bench's assessment, whose results are released after review; releasing on scoring is
    left out and refused.)

Finally the bulk revisions of the sample are compared, column by column and item by item,
with the per-attempt ones (they must be identical), the organization's audit chain is
verified, and the database is dropped (``--keep`` leaves it).

Time is split into database I/O (statements awaited through SQLAlchemy, timed by cursor
events, plus raw asyncpg calls and commits, timed around the await), scoring (the response
processing engine, the vectorized batch and the totals) and the rest (Python: ORM, JSON,
row building, audit hashing). Peak memory is each child's max RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

SERVER_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
TEMPLATES = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates"
REASON = "attempt ended"
BULK_REASON = "cohort scoring"


# --- items -------------------------------------------------------------------------------------


def single_choice_item(n: int) -> str:
    """Four choices, one correct, ``match_correct``."""
    choices = "".join(
        f'<qti-simple-choice identifier="{c}">Option {c} of question {n}</qti-simple-choice>'
        for c in "ABCD"
    )
    return (
        f'<qti-assessment-item xmlns="{QTI3}" identifier="S{n:03d}" title="Single {n}" '
        'adaptive="false" time-dependent="false">'
        '<qti-response-declaration identifier="RESPONSE" cardinality="single" '
        'base-type="identifier"><qti-correct-response>'
        f"<qti-value>{'ABCD'[n % 4]}</qti-value></qti-correct-response></qti-response-declaration>"
        '<qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>'
        '<qti-item-body><qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        f"<qti-prompt>Question {n}</qti-prompt>{choices}</qti-choice-interaction></qti-item-body>"
        f'<qti-response-processing template="{TEMPLATES}/match_correct.xml"/>'
        "</qti-assessment-item>"
    )


def multiple_choice_item(n: int) -> str:
    """Five choices, two or three correct, ``map_response`` (+1 right, -0.5 wrong, 0..k)."""
    correct = ["A", "C"] if n % 2 else ["B", "D", "E"]
    entries = "".join(
        f'<qti-map-entry map-key="{c}" mapped-value="{1 if c in correct else -0.5}"/>'
        for c in "ABCDE"
    )
    values = "".join(f"<qti-value>{c}</qti-value>" for c in correct)
    choices = "".join(
        f'<qti-simple-choice identifier="{c}">Statement {c} of question {n}</qti-simple-choice>'
        for c in "ABCDE"
    )
    return (
        f'<qti-assessment-item xmlns="{QTI3}" identifier="M{n:03d}" title="Multiple {n}" '
        'adaptive="false" time-dependent="false">'
        '<qti-response-declaration identifier="RESPONSE" cardinality="multiple" '
        f'base-type="identifier"><qti-correct-response>{values}</qti-correct-response>'
        f'<qti-mapping default-value="0" lower-bound="0" upper-bound="{len(correct)}">'
        f"{entries}</qti-mapping></qti-response-declaration>"
        '<qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>'
        '<qti-outcome-declaration identifier="MAXSCORE" cardinality="single" base-type="float">'
        f"<qti-default-value><qti-value>{len(correct)}</qti-value></qti-default-value>"
        "</qti-outcome-declaration><qti-item-body>"
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="0">'
        f"<qti-prompt>Question {n}: all that apply</qti-prompt>{choices}"
        "</qti-choice-interaction></qti-item-body>"
        f'<qti-response-processing template="{TEMPLATES}/map_response.xml"/>'
        "</qti-assessment-item>"
    )


# --- the database ------------------------------------------------------------------------------


def _admin_dsn(server_url: str) -> str:
    return make_url(server_url).set(drivername="postgresql").render_as_string(False)


def _pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


async def create_database(server_url: str) -> tuple[str, str]:
    """Create and migrate a database with a random name; (name, SQLAlchemy URL)."""
    from waa_ads.core import migrate

    name = f"waa_bench_scoring_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(_admin_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(migrate.upgrade, url)
    return name, url


async def drop_database(name: str, server_url: str) -> None:
    admin = await asyncpg.connect(_admin_dsn(server_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass
class Built:
    organization_id: str
    administration_id: str
    attempt_ids: list[str]
    responses: int
    seconds: dict[str, float]


async def build(url: str, n_attempts: int, n_items: int, seed: int) -> Built:
    """The data described in the module docstring; timings of each stage."""
    from waa_ads.assessments import schemas as a_schemas
    from waa_ads.assessments import service as a_service
    from waa_ads.assessments.assembly import assemble
    from waa_ads.assessments.definition import AssessmentDefinition, Pinned
    from waa_ads.audit.service import Actor
    from waa_ads.auth import service as auth_service
    from waa_ads.auth.deps import Principal
    from waa_ads.content import schemas as c_schemas
    from waa_ads.content import service as c_service
    from waa_ads.content.interchange.qti.reader import parse_item
    from waa_ads.content.item.responses import validate_response
    from waa_ads.core.db import Database, utcnow, uuid7

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    db = Database(url)
    half = n_items // 2
    try:
        async with db.transaction() as session:
            org = await auth_service.create_organization(
                session, slug=f"bench-{secrets.token_hex(3)}", name="Bench", actor=Actor("system")
            )
            principal = Principal.system(org.id, via="bench")
            bank = await c_service.create_bank(
                session, principal, c_schemas.BankCreate(slug="bench", name="Bench")
            )
            sources = [single_choice_item(n) for n in range(1, half + 1)] + [
                multiple_choice_item(n) for n in range(1, n_items - half + 1)
            ]
            created = await c_service.create_items(
                session,
                principal,
                bank.id,
                [
                    c_service.NewItem(parse_item(source), c_schemas.ItemMetadata())
                    for source in sources
                ],
                publish=True,
            )
            ids = [str(item.id) for item, _ in created]
            definition = AssessmentDefinition.model_validate(
                {
                    "title": "Bench assessment",
                    "sections": [
                        {
                            "identifier": "single",
                            "title": "Single choice",
                            "items": [{"item_id": i} for i in ids[:half]],
                        },
                        {
                            "identifier": "multiple",
                            "title": "Multiple choice",
                            "items": [{"item_id": i} for i in ids[half:]],
                            "shuffle_items": True,
                            "weight": 2,
                        },
                    ],
                    "scoring": {
                        "scale_slope": 1.0,
                        "bands": [
                            {"name": "Fail", "min_score": 0, "passed": False},
                            {"name": "Pass", "min_score": 40, "passed": True},
                            {"name": "Merit", "min_score": 70, "passed": True},
                        ],
                    },
                }
            )
            assessment, _ = await a_service.create_assessment(
                session, principal, a_schemas.AssessmentCreate(slug="bench", definition=definition)
            )
            await a_service.publish(session, principal, assessment.id)
            _, version = await a_service.get_version(
                session, principal, assessment.id, assessment.published_version
            )
            now = utcnow()
            administration = await a_service.create_administration(
                session,
                principal,
                a_schemas.AdministrationCreate(
                    assessment_version_id=version.id,
                    title="Bench session",
                    opens_at=now - timedelta(days=1),
                    closes_at=now + timedelta(days=1),
                ),
            )
            definitions = {
                row.id: row.definition
                for _, row in created  # (Item, ItemVersion)
            }
            pinned = Pinned.model_validate(version.pinned)
            parsed_definition = AssessmentDefinition.model_validate(version.definition)
    finally:
        await db.dispose()
    seconds["setup through the services"] = time.perf_counter() - started

    from waa_ads.content.item.definition import ItemDefinition

    items = {vid: ItemDefinition.from_dict(d) for vid, d in definitions.items()}
    rng = random.Random(seed)
    # Answers: per item, the possible raw answers with their stored JSON, and a picker.
    difficulty = {vid: rng.gauss(0, 1) for vid in items}

    def stored(item: ItemDefinition, raw: Any) -> str:
        declaration = item.response_declarations[0]
        normalized = validate_response(declaration, raw, item.interaction_for("RESPONSE"))
        return json.dumps({"value": raw, "normalized": {"RESPONSE": normalized}})

    stored_cache: dict[tuple[uuid.UUID, Any], str] = {}

    def answer(vid: uuid.UUID, ability: float) -> str:
        item = items[vid]
        p = 1 / (1 + math.exp(difficulty[vid] - ability))
        declaration = item.response_declarations[0]
        roll = rng.random()
        raw: Any
        if roll < 0.02:
            raw = None  # cleared
        elif declaration.cardinality.value == "single":
            key = declaration.correct_response
            raw = key if rng.random() < p else rng.choice([c for c in "ABCD" if c != key])
        else:
            key = set(declaration.correct_response)
            raw = [c for c in "ABCDE" if rng.random() < (p if c in key else (1 - p) / 2)]
        cache_key = (vid, tuple(raw) if isinstance(raw, list) else raw)
        text_value = stored_cache.get(cache_key)
        if text_value is None:
            text_value = stored_cache[cache_key] = stored(item, raw)
        return text_value

    started = time.perf_counter()
    now = utcnow()
    org_id, admin_id = org.id, administration.id
    candidates, roster, attempts, attempt_items, responses = [], [], [], [], []
    for n in range(n_attempts):
        candidate_id, entry_id, attempt_id = uuid7(), uuid7(), uuid7()
        attempt_seed = rng.randrange(2**31)
        ability = rng.gauss(0, 1)
        began = now - timedelta(hours=2, seconds=rng.randrange(3600))
        ended = began + timedelta(seconds=rng.randrange(600, 3600))
        candidates.append((candidate_id, org_id, f"bench-{n:06d}", f"Candidate {n}", now, now))
        roster.append((entry_id, org_id, admin_id, candidate_id, 1.0, 0, 0, now, now))
        attempts.append(
            (
                attempt_id, org_id, admin_id, entry_id, candidate_id, version.id, 1,
                "submitted", attempt_seed, began, began + timedelta(hours=3), 0.0, 0, 0, 1,
                ended, "submitted by the candidate", 0, now, now,
            )
        )  # fmt: skip
        for entry in assemble(parsed_definition, pinned, attempt_seed):
            ref = items[entry.item_version_id].identifier
            attempt_items.append(
                (
                    attempt_id, ref, entry.position, entry.section, entry.item_id,
                    entry.item_version_id, entry.weight, began,
                )
            )  # fmt: skip
            responses.append(
                (
                    attempt_id, ref, 3, answer(entry.item_version_id, ability), False,
                    rng.randrange(5_000, 90_000), ended,
                )
            )  # fmt: skip
    seconds["generating rows in Python"] = time.perf_counter() - started

    started = time.perf_counter()
    conn = await asyncpg.connect(_pg_dsn(url))
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "candidate",
                records=candidates,
                columns=[
                    "id",
                    "organization_id",
                    "external_id",
                    "full_name",
                    "created_at",
                    "updated_at",
                ],
            )
            await conn.copy_records_to_table(
                "roster_entry",
                records=roster,
                columns=[
                    "id", "organization_id", "administration_id", "candidate_id",
                    "extra_time_multiplier", "extra_attempts", "extra_breaks", "created_at",
                    "updated_at",
                ],
            )  # fmt: skip
            await conn.copy_records_to_table(
                "attempt",
                records=attempts,
                columns=[
                    "id", "organization_id", "administration_id", "roster_entry_id",
                    "candidate_id", "assessment_version_id", "number", "state", "seed",
                    "started_at", "deadline_at", "uncounted_pause_s", "breaks_taken",
                    "extension_s", "current_position", "ended_at", "end_reason",
                    "credential_epoch", "created_at", "updated_at",
                ],
            )  # fmt: skip
            await conn.copy_records_to_table(
                "attempt_item",
                records=attempt_items,
                columns=[
                    "attempt_id", "ref", "position", "section", "item_id", "item_version_id",
                    "weight", "presented_at",
                ],
            )  # fmt: skip
            await conn.copy_records_to_table(
                "response",
                records=responses,
                columns=[
                    "attempt_id", "item_ref", "seq", "value", "flagged", "time_spent_ms",
                    "updated_at",
                ],
            )  # fmt: skip
        seconds["COPY into PostgreSQL"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
        seconds["VACUUM ANALYZE + CHECKPOINT"] = time.perf_counter() - started
    finally:
        await conn.close()
    return Built(
        organization_id=str(org_id),
        administration_id=str(admin_id),
        attempt_ids=[str(a[0]) for a in attempts],
        responses=len(responses),
        seconds=seconds,
    )


# --- measuring ---------------------------------------------------------------------------------


class DbTimer:
    """Time spent in statements executed through SQLAlchemy (cursor events: the await on the
    server, the round trip and the driver), plus whatever is added with :meth:`add`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.seconds = 0.0
        self.statements = 0
        sync = engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def _before(
            conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any
        ) -> None:
            conn.info.setdefault("bench_started", []).append(time.perf_counter())

        @event.listens_for(sync, "after_cursor_execute")
        def _after(
            conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any
        ) -> None:
            self.seconds += time.perf_counter() - conn.info["bench_started"].pop()
            self.statements += 1

    def add(self, seconds: float) -> None:
        self.seconds += seconds
        self.statements += 1


class Stopwatch:
    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.perf_counter() - self._started


def max_rss_mb() -> float:
    """This process's peak resident set size. ``VmHWM`` belongs to the address space, so it
    starts afresh at exec; ``ru_maxrss`` survives exec and would report the parent's peak
    when a child is spawned from a large parent."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- path (a): per attempt ---------------------------------------------------------------------


async def run_per_attempt(url: str, attempt_ids: list[str]) -> dict[str, Any]:
    """``score_attempt`` for each attempt, one transaction each (as the task does)."""
    from waa_ads.core.db import Database
    from waa_ads.scoring import service as scoring_service

    db = Database(url)
    timer = DbTimer(db.engine)
    scoring = Stopwatch()
    original = getattr(scoring_service, "evaluate", None)
    if original is not None:

        def timed(item: Any, responses: Any) -> Any:
            with scoring:
                return original(item, responses)

        scoring_service.evaluate = timed  # type: ignore[attr-defined]
    ids = [uuid.UUID(i) for i in attempt_ids]
    started = time.perf_counter()
    try:
        for attempt_id in ids:
            async with db.writer() as session:
                result = await scoring_service.score_attempt(session, attempt_id, reason=REASON)
                assert result is not None and result.complete, attempt_id
                commit = time.perf_counter()
                await session.commit()
                timer.add(time.perf_counter() - commit)
        wall = time.perf_counter() - started
        async with db.transaction(write=False) as session:
            responses = (
                await session.execute(
                    text("SELECT count(*) FROM item_score WHERE attempt_id = ANY(:ids)"),
                    {"ids": ids},
                )
            ).scalar_one()
    finally:
        await db.dispose()
    return {
        "attempts": len(attempt_ids),
        "responses": responses,
        "wall_s": wall,
        "db_s": timer.seconds,
        "statements": timer.statements,
        "scoring_s": scoring.seconds if original is not None else None,
        "max_rss_mb": max_rss_mb(),
    }


# --- path (b): bulk ----------------------------------------------------------------------------


ENDED = ("submitted", "expired", "terminated")
SCORABLE = (*ENDED, "scoring", "scored", "released")
ITEM_SCORE_COLUMNS = [
    "id", "organization_id", "result_id", "attempt_id", "item_ref", "item_version_id",
    "section", "weight", "score", "max_score", "method", "scorer", "confidence", "outcomes",
    "notes",
]  # fmt: skip


def uuid7_batch(n: int) -> list[uuid.UUID]:
    """``n`` version-7 UUIDs laid out as ``core.db.uuid7`` lays them out, from one read of
    the system's random source (``uuid7`` reads it once per id, which a million rows feel)."""
    ms = (time.time_ns() // 1_000_000) & ((1 << 48) - 1)
    high = (ms << 80) | (0x7 << 76) | (0b10 << 62)
    noise = os.urandom(10 * n)
    ids = []
    for start in range(0, 10 * n, 10):
        rand = int.from_bytes(noise[start : start + 10], "big")
        ids.append(uuid.UUID(int=high | (((rand >> 62) & 0xFFF) << 64) | (rand & ((1 << 62) - 1))))
    return ids


class JsonMemo:
    """JSON text of outcome dicts and note lists, each distinct value encoded once."""

    def __init__(self) -> None:
        self.texts: dict[Any, str] = {}

    def __call__(self, value: Any) -> str:
        try:
            key = tuple(value.items()) if isinstance(value, dict) else tuple(value)
            cached = self.texts.get(key)
        except TypeError:  # unhashable values (lists in outcomes): no memo
            return json.dumps(value)
        if cached is None:
            cached = self.texts[key] = json.dumps(value)
        return cached


@dataclass
class Bulk:
    """Caches of immutable published content and the figures of a bulk run."""

    items: dict[uuid.UUID, Any] = field(default_factory=dict)
    versions: dict[uuid.UUID, Any] = field(default_factory=dict)
    attempts: int = 0
    responses: int = 0
    rescored: int = 0
    scoring: Stopwatch = field(default_factory=Stopwatch)
    encode: JsonMemo = field(default_factory=JsonMemo)
    phases: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    _lap: float = 0.0

    def lap(self, phase: str) -> None:
        """Charge the time since the previous lap to ``phase``."""
        now = time.perf_counter()
        self.phases[phase] += now - self._lap
        self._lap = now


def _json(value: Any) -> Any:
    """A JSON column's value: SQLAlchemy's codec on the driver connection decodes it already."""
    return json.loads(value) if isinstance(value, str) else value


@functools.lru_cache(maxsize=64)
def next_state(current: str, event: str) -> str:
    """``delivery.state_machine.next_state``, memoized: it is pure, and builds a state
    machine on every call (about half a millisecond, which 40,000 transitions feel)."""
    from waa_ads.delivery.state_machine import next_state as machine_next_state

    return machine_next_state(current, event).value


def _declared_max(item: Any) -> float:
    declared = item.outcome_declaration("MAXSCORE")
    if declared is not None and isinstance(declared.default_value, int | float):
        return float(declared.default_value)
    return 0.0


def _result_columns(values: dict[str, Any]) -> tuple[list[str], tuple[Any, ...]]:
    """Every column of ``attempt_result``: the given values, scalar defaults, else NULL (so
    that a column added to the model later does not break the bench silently)."""
    from waa_ads.scoring.models import AttemptResult

    columns, row = [], []
    for column in AttemptResult.__table__.columns:
        if column.name in values:
            value = values[column.name]
        elif column.default is not None and column.default.is_scalar:
            value = column.default.arg  # type: ignore[attr-defined]
        elif column.nullable:
            value = None
        else:
            raise RuntimeError(f"no value for attempt_result.{column.name}")
        columns.append(column.name)
        row.append(value)
    return columns, tuple(row)


async def score_chunk(
    session: AsyncSession,
    timer: DbTimer,
    bulk: Bulk,
    *,
    organization_id: uuid.UUID,
    attempt_ids: Sequence[uuid.UUID],
    reason: str,
) -> None:
    """Score ``attempt_ids`` (ended, or already scored: then a new revision) in the
    session's transaction. Only flushes; the caller commits."""
    from waa_ads.assessments.definition import AssessmentDefinition, ReleasePolicy
    from waa_ads.audit.service import Actor, PendingEvent, record_many
    from waa_ads.content.item.definition import ItemDefinition
    from waa_ads.core.db import utcnow
    from waa_ads.delivery.models import Attempt
    from waa_ads.scoring.policy import ScoredItem, totals
    from waa_ads.scoring.vectorized import score_batch

    scorer = Actor("system", "scoring")
    bulk._lap = time.perf_counter()
    locked = (
        await session.execute(
            select(Attempt.id, Attempt.state, Attempt.assessment_version_id)
            .where(
                Attempt.id.in_(attempt_ids),
                Attempt.organization_id == organization_id,
                Attempt.state.in_(SCORABLE),
            )
            .order_by(Attempt.id)
            .with_for_update()
        )
    ).all()
    if not locked:
        return
    ids = [row.id for row in locked]
    # COPY goes through the driver's connection, inside the transaction SQLAlchemy began.
    raw = await (await session.connection()).get_raw_connection()
    pg: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
    assert pg.is_in_transaction()
    bulk.lap("lock attempts (SELECT ... FOR UPDATE)")

    async def fetch(query: str, *args: Any) -> list[asyncpg.Record]:
        started = time.perf_counter()
        rows = await pg.fetch(query, *args)
        timer.add(time.perf_counter() - started)
        return rows

    previous = {
        row["attempt_id"]: row
        for row in await fetch(
            "SELECT DISTINCT ON (attempt_id) attempt_id, revision, raw, scaled, band, withheld,"
            " withheld_reason FROM attempt_result WHERE attempt_id = ANY($1::uuid[])"
            " ORDER BY attempt_id, revision DESC",
            ids,
        )
    }
    rows = await fetch(
        "SELECT ai.attempt_id, ai.ref, ai.position, ai.section, ai.item_version_id, ai.weight,"
        " (r.value -> 'normalized')::text AS normalized"
        " FROM attempt_item ai LEFT JOIN response r"
        " ON r.attempt_id = ai.attempt_id AND r.item_ref = ai.ref"
        " WHERE ai.attempt_id = ANY($1::uuid[])",
        ids,
    )
    missing_items = {r["item_version_id"] for r in rows} - set(bulk.items)
    if missing_items:
        for row in await fetch(
            "SELECT id, definition FROM item_version WHERE id = ANY($1::uuid[])",
            list(missing_items),
        ):
            bulk.items[row["id"]] = ItemDefinition.from_dict(_json(row["definition"]))
    missing_versions = {r.assessment_version_id for r in locked} - set(bulk.versions)
    if missing_versions:
        for row in await fetch(
            "SELECT id, definition FROM assessment_version WHERE id = ANY($1::uuid[])",
            list(missing_versions),
        ):
            definition = AssessmentDefinition.model_validate(_json(row["definition"]))
            if definition.scoring.release is ReleasePolicy.immediately:
                # score_attempt would release these too; this path does not (yet).
                raise NotImplementedError("the bulk path scores assessments released after review")
            bulk.versions[row["id"]] = definition

    bulk.lap("load forms, responses, revisions")
    # Read as text and decode each distinct value once: candidates' answers repeat a lot.
    decoded: dict[str | None, dict[str, Any]] = {None: {}}
    by_item: dict[uuid.UUID, list[int]] = defaultdict(list)
    batches: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        stored = row["normalized"]
        value = decoded.get(stored)
        if value is None:
            value = decoded[stored] = json.loads(stored) or {}
        batches.append(value)
        by_item[row["item_version_id"]].append(index)

    bulk.lap("decode and group by item")
    scores: list[Any] = [None] * len(rows)
    item_rows: list[tuple[Any, ...]] = []
    for version_id, indexes in by_item.items():
        item = bulk.items[version_id]
        # As ObjectiveScorer and PendingHumanScorer take it: the MAXSCORE outcome, else the
        # declared default.
        declared_max = _declared_max(item)
        if item.response_processing is None:
            for index in indexes:
                scores[index] = (None, declared_max, "pending", "human", None, {}, [])
            continue
        with bulk.scoring:
            batch = score_batch(item, [batches[i] for i in indexes])
            evaluations = batch.evaluations()
        for index, evaluation in zip(indexes, evaluations, strict=True):
            value = evaluation.outcomes.get("SCORE")
            reported = evaluation.outcomes.get("MAXSCORE")
            scores[index] = (
                float(value) if isinstance(value, int | float) else 0.0,
                float(reported) if isinstance(reported, int | float) else declared_max,
                "objective",
                "response-processing",
                1.0,
                evaluation.outcomes,
                evaluation.notes,
            )
    bulk.lap("score per item (score_batch)")
    result_ids = dict(zip(ids, uuid7_batch(len(ids)), strict=True))
    per_attempt: dict[uuid.UUID, list[int]] = defaultdict(list)
    item_ids = uuid7_batch(len(rows))
    encode = bulk.encode
    for index, row in enumerate(rows):
        per_attempt[row["attempt_id"]].append(index)
        score, maximum, method, scorer_name, confidence, outcomes, notes = scores[index]
        item_rows.append(
            (
                item_ids[index], organization_id, result_ids[row["attempt_id"]], row["attempt_id"],
                row["ref"], row["item_version_id"], row["section"], row["weight"], score,
                maximum, method, scorer_name, confidence, encode(outcomes), encode(notes),
            )
        )  # fmt: skip

    bulk.lap("build item_score rows")
    now = utcnow()
    result_rows: list[tuple[Any, ...]] = []
    result_columns: list[str] = []
    moves: list[tuple[uuid.UUID, str, str]] = []
    events: list[Any] = []
    for attempt in locked:
        definition = bulk.versions[attempt.assessment_version_id]
        indexes = sorted(per_attempt[attempt.id], key=lambda i: rows[i]["position"])
        with bulk.scoring:
            computed = totals(
                [
                    ScoredItem(rows[i]["section"], scores[i][0], scores[i][1], rows[i]["weight"])
                    for i in indexes
                ],
                {s.identifier: s.weight for s in definition.sections},
                definition.scoring,
            )
        before = previous.get(attempt.id)
        result_columns, record = _result_columns(
            {
                "id": result_ids[attempt.id],
                "organization_id": organization_id,
                "attempt_id": attempt.id,
                "revision": (before["revision"] if before else 0) + 1,
                "reason": reason,
                "complete": computed.pending == 0,
                "raw": computed.raw,
                "max_raw": computed.max_raw,
                "weighted": computed.weighted,
                "max_weighted": computed.max_weighted,
                "scaled": computed.scaled,
                "band": computed.band,
                "passed": computed.passed,
                "sections": json.dumps(computed.sections),
                "pending_items": computed.pending,
                "created_by": scorer.id,
                "created_at": now,
                "withheld": before["withheld"] if before else False,
                "withheld_reason": before["withheld_reason"] if before else None,
            }
        )
        result_rows.append(record)
        state = attempt.state
        if state in ENDED:
            steps = ["begin_scoring", *(["finish_scoring"] if computed.pending == 0 else [])]
        elif state == "scoring" and computed.pending == 0:
            steps = ["finish_scoring"]
        else:
            steps = []
        for step in steps:
            after = next_state(state, step)
            events.append(
                PendingEvent(
                    f"attempt.{step}", scorer, "attempt", attempt.id, {"from": state, "to": after}
                )
            )
            state = after
        if state != attempt.state:
            moves.append((attempt.id, attempt.state, state))
        if before is not None:
            bulk.rescored += 1
            events.append(
                PendingEvent(
                    "result.revised",
                    scorer,
                    "attempt",
                    attempt.id,
                    {
                        "revision": before["revision"] + 1,
                        "reason": reason,
                        "before": {
                            "raw": before["raw"],
                            "scaled": before["scaled"],
                            "band": before["band"],
                        },
                        "after": {
                            "raw": computed.raw,
                            "scaled": computed.scaled,
                            "band": computed.band,
                        },
                    },
                )
            )

    bulk.lap("totals, result rows, events")
    started = time.perf_counter()
    await pg.copy_records_to_table("attempt_result", records=result_rows, columns=result_columns)
    await pg.copy_records_to_table("item_score", records=item_rows, columns=ITEM_SCORE_COLUMNS)
    if moves:
        moved = await pg.fetch(
            "UPDATE attempt SET state = v.new, updated_at = $4"
            " FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(id, old, new)"
            " WHERE attempt.id = v.id AND attempt.state = v.old RETURNING attempt.id",
            [m[0] for m in moves],
            [m[1] for m in moves],
            [m[2] for m in moves],
            now,
        )
        if len(moved) != len(moves):
            raise RuntimeError("attempts changed state while locked")
    timer.add(time.perf_counter() - started)
    bulk.lap("COPY results and item scores, UPDATE states")
    await record_many(session, organization_id=organization_id, events=events)
    bulk.lap("audit events (record_many)")
    bulk.attempts += len(locked)
    bulk.responses += len(rows)


async def run_bulk(
    url: str, organization_id: str, administration_id: str, chunk: int
) -> dict[str, Any]:
    """Every attempt of the administration, ``chunk`` at a time, by keyset pages."""
    # Everything score_chunk imports, imported before the clock starts (as in (a)).
    import waa_ads.assessments.definition
    import waa_ads.audit.service
    import waa_ads.delivery.state_machine
    import waa_ads.scoring.policy
    import waa_ads.scoring.vectorized  # noqa: F401
    from waa_ads.core.db import Database
    from waa_ads.delivery.models import Attempt

    db = Database(url)
    timer = DbTimer(db.engine)
    bulk = Bulk()
    org = uuid.UUID(organization_id)
    admin = uuid.UUID(administration_id)
    last: uuid.UUID | None = None
    chunks: list[float] = []
    started = time.perf_counter()
    try:
        while True:
            chunk_started = time.perf_counter()
            async with db.writer() as session:
                page = select(Attempt.id).where(
                    Attempt.administration_id == admin, Attempt.organization_id == org
                )
                if last is not None:
                    page = page.where(Attempt.id > last)
                ids = list(
                    (await session.execute(page.order_by(Attempt.id).limit(chunk))).scalars()
                )
                if not ids:
                    break
                await score_chunk(
                    session, timer, bulk, organization_id=org, attempt_ids=ids, reason=BULK_REASON
                )
                commit = time.perf_counter()
                await session.commit()
                timer.add(time.perf_counter() - commit)
                bulk.phases["commit"] += time.perf_counter() - commit
                last = ids[-1]
            chunks.append(time.perf_counter() - chunk_started)
    finally:
        await db.dispose()
    wall = time.perf_counter() - started
    return {
        "attempts": bulk.attempts,
        "responses": bulk.responses,
        "rescored": bulk.rescored,
        "wall_s": wall,
        "db_s": timer.seconds,
        "statements": timer.statements,
        "scoring_s": bulk.scoring.seconds,
        "chunks": len(chunks),
        "slowest_chunk_s": max(chunks) if chunks else 0.0,
        "phases": dict(bulk.phases),
        "max_rss_mb": max_rss_mb(),
    }


# --- checking ----------------------------------------------------------------------------------


async def verify(url: str, organization_id: str, sample: list[str]) -> dict[str, Any]:
    """The bulk revision (2) of each sample attempt against its per-attempt revision (1);
    counts; the audit chain."""
    from waa_ads.audit.service import chain_for, verify_chain
    from waa_ads.core.db import Database

    conn = await asyncpg.connect(_pg_dsn(url))
    try:
        ids = [uuid.UUID(i) for i in sample]
        result_diffs = await conn.fetchval(
            "SELECT count(*) FROM attempt_result a JOIN attempt_result b"
            " ON a.attempt_id = b.attempt_id AND a.revision = 1 AND b.revision = 2"
            " WHERE a.attempt_id = ANY($1::uuid[]) AND (a.raw, a.max_raw, a.weighted,"
            " a.max_weighted, a.scaled, a.band, a.passed, a.sections, a.pending_items, a.complete)"
            " IS DISTINCT FROM (b.raw, b.max_raw, b.weighted, b.max_weighted, b.scaled, b.band,"
            " b.passed, b.sections, b.pending_items, b.complete)",
            ids,
        )
        pairs = await conn.fetchval(
            "SELECT count(*) FROM attempt_result a JOIN attempt_result b"
            " ON a.attempt_id = b.attempt_id AND a.revision = 1 AND b.revision = 2"
            " WHERE a.attempt_id = ANY($1::uuid[])",
            ids,
        )
        item_diffs = await conn.fetchval(
            "SELECT count(*) FROM item_score x JOIN attempt_result a ON a.id = x.result_id"
            " AND a.revision = 1 FULL JOIN (SELECT y.* FROM item_score y JOIN attempt_result b"
            " ON b.id = y.result_id AND b.revision = 2 WHERE b.attempt_id = ANY($1::uuid[])) z"
            " ON z.attempt_id = x.attempt_id AND z.item_ref = x.item_ref"
            " WHERE (x.attempt_id IS NULL OR x.attempt_id = ANY($1::uuid[])) AND"
            " (x.item_version_id, x.section, x.weight, x.score, x.max_score, x.method, x.scorer,"
            " x.confidence, x.outcomes, x.notes) IS DISTINCT FROM (z.item_version_id, z.section,"
            " z.weight, z.score, z.max_score, z.method, z.scorer, z.confidence, z.outcomes,"
            " z.notes)",
            ids,
        )
        counts = dict(
            await conn.fetchrow(
                "SELECT (SELECT count(*) FROM attempt_result) AS results,"
                " (SELECT count(*) FROM item_score) AS item_scores,"
                " (SELECT count(*) FROM attempt WHERE state <> 'scored') AS not_scored,"
                " (SELECT count(*) FROM audit_event) AS audit_events"
            )
        )
        bands = dict(
            await conn.fetch(
                "SELECT band, count(*) FROM attempt_result WHERE revision = 1 OR"
                " NOT attempt_id = ANY($1::uuid[]) GROUP BY band ORDER BY band",
                ids,
            )
        )
    finally:
        await conn.close()
    db = Database(url)
    try:
        started = time.perf_counter()
        async with db.transaction(write=False) as session:
            chain = await verify_chain(session, chain_for(uuid.UUID(organization_id)))
        verify_s = time.perf_counter() - started
    finally:
        await db.dispose()
    return {
        "sample_pairs": pairs,
        "result_differences": result_diffs,
        "item_score_differences": item_diffs,
        **counts,
        "bands": bands,
        "audit_chain": repr(chain),
        "audit_verify_s": verify_s,
    }


# --- the run -----------------------------------------------------------------------------------


def _child(role: str, args: list[str]) -> dict[str, Any]:
    """Run one path in a fresh interpreter; its figures are the last line it prints."""
    completed = subprocess.run(
        [sys.executable, __file__, "--role", role, *args],
        check=False,
        capture_output=True,
        text=True,
    )
    if completed.stderr.strip():
        print(completed.stderr.strip(), file=sys.stderr)
    if completed.returncode != 0:
        raise RuntimeError(f"the {role} run failed ({completed.returncode})")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _spread(ids: list[str], n: int) -> list[str]:
    step = max(len(ids) // max(n, 1), 1)
    return ids[::step][:n]


def _share(part: float | None, whole: float) -> str:
    return "n/a" if part is None else f"{part:8.1f} s {100 * part / whole:5.1f}%"


def _report(name: str, figures: dict[str, Any], cohort_responses: int) -> float:
    wall = figures["wall_s"]
    rate = figures["responses"] / wall
    db_s, scoring_s = figures["db_s"], figures["scoring_s"]
    other = wall - db_s - (scoring_s or 0.0)
    print(f"\n{name}")
    print(
        f"  attempts {figures['attempts']:,}, responses {figures['responses']:,}, wall {wall:.1f} s"
    )
    print(
        f"  throughput         {rate:12,.0f} responses/s  ({figures['attempts'] / wall:,.1f} attempts/s)"
    )
    print(
        f"  database I/O       {_share(db_s, wall)}  ({figures['statements']:,} statements/copies/commits)"
    )
    print(f"  scoring            {_share(scoring_s, wall)}")
    print(f"  other Python       {_share(other, wall)}")
    print(f"  peak RSS (child)   {figures['max_rss_mb']:8.0f} MB")
    print(
        f"  whole cohort       {cohort_responses / rate:8.1f} s for {cohort_responses:,} responses"
        + ("" if figures["responses"] == cohort_responses else " (extrapolated from the sample)")
    )
    return rate


async def _setup(args: argparse.Namespace) -> tuple[str, str, Built]:
    started = time.perf_counter()
    name, url = await create_database(args.server_url)
    migrated = time.perf_counter() - started
    try:
        built = await build(url, args.attempts, args.items, args.seed)
        built.seconds = {"create + migrate": migrated, **built.seconds}
        return name, url, built
    except BaseException:
        await drop_database(name, args.server_url)
        raise


def main(args: argparse.Namespace) -> None:
    run_started = time.perf_counter()
    load_before = os.getloadavg()
    name, url, built = asyncio.run(_setup(args))
    cohort = built.responses
    print(f"database {name}: {len(built.attempt_ids):,} attempts, {cohort:,} responses")
    for stage, seconds in built.seconds.items():
        print(f"  {stage:<30} {seconds:7.1f} s")
    print(f"  {'load in all':<30} {time.perf_counter() - run_started:7.1f} s")
    try:
        sample = _spread(built.attempt_ids, args.sample)
        with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as handle:
            handle.write("\n".join(sample))
            ids_file = handle.name
        try:
            per_attempt = _child("per-attempt", ["--url", url, "--ids-file", ids_file])
        finally:
            os.unlink(ids_file)
        bulk = _child(
            "bulk",
            [
                "--url", url, "--organization", built.organization_id,
                "--administration", built.administration_id, "--chunk", str(args.chunk),
            ],
        )  # fmt: skip
        checks = asyncio.run(verify(url, built.organization_id, sample))
    finally:
        if args.keep:
            print(f'kept {name}: drop it with DROP DATABASE "{name}"')
        else:
            asyncio.run(drop_database(name, args.server_url))

    per_rate = _report(
        "(a) per attempt: scoring.service.score_attempt, one transaction each", per_attempt, cohort
    )
    bulk_rate = _report(
        f"(b) bulk: chunks of {args.chunk:,} attempts, vectorized, COPY", bulk, cohort
    )
    print(f"\nbulk / per-attempt throughput: {bulk_rate / per_rate:.1f}x")
    print(
        f"  ({bulk['rescored']:,} of the bulk attempts were already scored by (a): new revisions)"
    )
    print(
        f"  slowest bulk chunk {bulk['slowest_chunk_s']:.1f} s over {bulk['chunks']} chunks; where (b) went:"
    )
    for phase, seconds in sorted(bulk["phases"].items(), key=lambda p: -p[1]):
        print(f"    {phase:<45} {seconds:7.1f} s {100 * seconds / bulk['wall_s']:5.1f}%")
    print("\nchecks")
    print(f"  sample attempts compared      {checks['sample_pairs']:,}")
    print(f"  result rows that differ       {checks['result_differences']}")
    print(f"  item score rows that differ   {checks['item_score_differences']}")
    print(f"  attempt results / item scores {checks['results']:,} / {checks['item_scores']:,}")
    print(f"  attempts not scored           {checks['not_scored']}")
    print(
        f"  audit events                  {checks['audit_events']:,}; chain {checks['audit_chain']} "
        f"(verified in {checks['audit_verify_s']:.1f} s)"
    )
    print(f"  bands (first scoring)         {checks['bands']}")
    print(
        f"\nrun wall {time.perf_counter() - run_started:.0f} s on {os.cpu_count()} cores;"
        f" load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after"
        " (other work on the machine shows there)"
    )
    if checks["result_differences"] or checks["item_score_differences"] or checks["not_scored"]:
        sys.exit("the bulk path disagrees with score_attempt")


def _role(args: argparse.Namespace) -> None:
    if args.role == "per-attempt":
        ids = Path(args.ids_file).read_text(encoding="utf-8").split()
        figures = asyncio.run(run_per_attempt(args.url, ids))
    else:
        figures = asyncio.run(
            run_bulk(args.url, args.organization, args.administration, args.chunk)
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--attempts", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--sample", type=int, default=500, help="attempts scored by path (a)")
    parser.add_argument("--chunk", type=int, default=2_000, help="attempts per bulk transaction")
    parser.add_argument("--seed", type=int, default=20_261_126)
    parser.add_argument("--server-url", default=SERVER_URL)
    parser.add_argument("--keep", action="store_true", help="leave the database in place")
    parser.add_argument("--role", choices=["per-attempt", "bulk"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--ids-file", help=argparse.SUPPRESS)
    parser.add_argument("--organization", help=argparse.SUPPRESS)
    parser.add_argument("--administration", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.role:
        _role(parsed)
    else:
        main(parsed)
