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
import io
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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

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


ITEM_SCORE_COLUMNS = [
    "id", "organization_id", "result_id", "attempt_id", "item_ref", "item_version_id",
    "section", "weight", "score", "max_score", "method", "scorer", "confidence", "outcomes",
    "notes",
]  # fmt: skip


# --- path (b): the product's bulk path ------------------------------------------------------


async def run_bulk(
    url: str, organization_id: str, administration_id: str, chunk: int, parallel: int
) -> dict[str, Any]:
    """``scoring.service.score_administration`` (PostgreSQL: the bulk path), with the
    figures its bulk scorer keeps."""
    from waa_ads.core.db import Database
    from waa_ads.scoring import bulk as bulk_scoring
    from waa_ads.scoring import service as scoring_service

    db = Database(url)
    figures = bulk_scoring.BulkFigures()
    started = time.perf_counter()
    try:
        scored = await scoring_service.score_administration(
            db,
            uuid.UUID(organization_id),
            uuid.UUID(administration_id),
            reason=BULK_REASON,
            chunk=chunk,
            parallel=parallel,
            figures=figures,
        )
    finally:
        await db.dispose()
    wall = time.perf_counter() - started
    assert scored == figures.attempts
    phases = dict(figures.phases)
    db_phases = (
        "lock attempts, read forms and responses",
        "load item and assessment versions",
        "COPY results, verdicts and rows",
        "INSERT item scores (... SELECT)",
        "UPDATE states",
    )
    return {
        "attempts": figures.attempts,
        "responses": figures.responses,
        "wall_s": wall,
        "db_s": min(wall, sum(phases.get(p, 0.0) for p in db_phases)),
        "statements": -1,
        "scoring_s": figures.scoring_s,
        "phases": phases,
        "parallel": parallel,
        "max_rss_mb": max_rss_mb(),
    }


# --- the floor: the same rows out and in, no scoring -----------------------------------------


async def run_floor(
    url: str, organization_id: str, administration_id: str, chunk: int, parallel: int
) -> dict[str, Any]:
    """Per chunk of attempts, in a transaction that is rolled back: ``COPY`` out the rows
    the bulk path reads (form rows with their stored responses, as text), then ``COPY`` in
    one ``attempt_result`` row per attempt and one ``item_score`` row per response built
    straight from what was read (score 0, no scoring, no totals, no audit, no state change).
    Same table, same indexes and foreign keys as the product writes to; ``parallel``
    connections at a time, as the product runs."""
    from waa_ads.core.db import uuid7

    org = uuid.UUID(organization_id)
    admin = uuid.UUID(administration_id)
    figures = {"responses": 0, "out_s": 0.0, "in_s": 0.0}
    first = await asyncpg.connect(_pg_dsn(url))
    try:
        ids = [
            r["id"]
            for r in await first.fetch(
                "SELECT id FROM attempt WHERE administration_id = $1 ORDER BY id", admin
            )
        ]
    finally:
        await first.close()
    parts = iter([ids[start : start + chunk] for start in range(0, len(ids), chunk)])
    now = datetime.now(UTC)

    async def one(conn: asyncpg.Connection, part: list[uuid.UUID]) -> None:
        lap = time.perf_counter()
        buffer = io.BytesIO()

        async def sink(data: bytes) -> None:
            buffer.write(data)

        await conn.copy_from_query(
            "SELECT ai.attempt_id, ai.ref, ai.item_version_id, ai.section, ai.weight,"
            " (r.value -> 'normalized')::text FROM attempt_item ai LEFT JOIN response r"
            " ON r.attempt_id = ai.attempt_id AND r.item_ref = ai.ref"
            " WHERE ai.attempt_id = ANY($1::uuid[]) ORDER BY ai.attempt_id, ai.position",
            part,
            output=sink,
        )
        lines = buffer.getvalue().split(b"\n")[:-1]
        figures["out_s"] += time.perf_counter() - lap
        lap = time.perf_counter()
        result_of = {a: uuid7() for a in part}
        await conn.copy_records_to_table(
            "attempt_result",
            records=[
                (r, org, a, 99, "floor", False, 0.0, 0.0, 0.0, 0.0, 0.0, "{}", 0, False, now)
                for a, r in result_of.items()
            ],
            columns=[
                "id", "organization_id", "attempt_id", "revision", "reason", "complete",
                "raw", "max_raw", "weighted", "max_weighted", "scaled", "sections",
                "pending_items", "withheld", "created_at",
            ],
        )  # fmt: skip
        records = []
        for line in lines:
            attempt, ref, version, section, weight, _ = line.decode().split("\t")
            attempt_id = uuid.UUID(attempt)
            records.append(
                (
                    uuid7(), org, result_of[attempt_id], attempt_id, ref,
                    uuid.UUID(version), section, float(weight), 0.0, 1.0, "objective",
                    "floor", 1.0, "{}", "[]",
                )
            )  # fmt: skip
        await conn.copy_records_to_table("item_score", records=records, columns=ITEM_SCORE_COLUMNS)
        figures["in_s"] += time.perf_counter() - lap
        figures["responses"] += len(records)

    async def work() -> None:
        conn = await asyncpg.connect(_pg_dsn(url))
        try:
            for part in parts:
                transaction = conn.transaction()
                await transaction.start()
                try:
                    await one(conn, part)
                finally:
                    await transaction.rollback()
        finally:
            await conn.close()

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, parallel)):
            group.create_task(work())
    wall = time.perf_counter() - started
    cleanup = await asyncpg.connect(_pg_dsn(url))
    try:
        await cleanup.execute("VACUUM ANALYZE attempt_result, item_score")
    finally:
        await cleanup.close()
    return {**figures, "wall_s": wall}


def numpy_floor(url: str, administration_id: str) -> dict[str, Any]:
    """Scoring alone: every response of the cohort through ``score_batch`` from memory (the
    stored texts read first, outside the clock)."""
    from waa_ads.content.item.definition import ItemDefinition
    from waa_ads.scoring.vectorized import score_batch

    async def read() -> tuple[dict[Any, Any], dict[Any, list[str | None]]]:
        conn = await asyncpg.connect(_pg_dsn(url))
        try:
            items = {
                r["id"]: ItemDefinition.from_dict(json.loads(r["definition"]))
                for r in await conn.fetch("SELECT id, definition::text FROM item_version")
            }
            texts: dict[Any, list[str | None]] = defaultdict(list)
            for r in await conn.fetch(
                "SELECT ai.item_version_id, (r.value -> 'normalized')::text AS t"
                " FROM attempt_item ai JOIN attempt a ON a.id = ai.attempt_id"
                " LEFT JOIN response r ON r.attempt_id = ai.attempt_id AND r.item_ref = ai.ref"
                " WHERE a.administration_id = $1",
                uuid.UUID(administration_id),
            ):
                texts[r["item_version_id"]].append(r["t"])
            return items, texts
        finally:
            await conn.close()

    items, texts = asyncio.run(read())
    started = time.perf_counter()
    responses = 0
    for version_id, column in texts.items():
        memo: dict[str | None, int] = {}
        index = [memo.setdefault(t, len(memo)) for t in column]
        batch = [{} if t is None else json.loads(t) for t in memo]
        score_batch(items[version_id], batch, index)
        responses += len(column)
    return {"responses": responses, "wall_s": time.perf_counter() - started}


# --- checking ----------------------------------------------------------------------------------


async def set_sample_aside(url: str, sample: list[str]) -> None:
    """Keep the bulk results of the sample, then put the sample back to ``submitted`` (its
    results deleted) so that path (a) scores it again."""
    conn = await asyncpg.connect(_pg_dsn(url))
    ids = [uuid.UUID(i) for i in sample]
    try:
        async with conn.transaction():
            await conn.execute(
                "CREATE TABLE bench_bulk_result AS SELECT * FROM attempt_result"
                " WHERE attempt_id = ANY($1::uuid[])",
                ids,
            )
            await conn.execute(
                "CREATE TABLE bench_bulk_item AS SELECT * FROM item_score"
                " WHERE attempt_id = ANY($1::uuid[])",
                ids,
            )
            await conn.execute("DELETE FROM attempt_result WHERE attempt_id = ANY($1::uuid[])", ids)
            await conn.execute(
                "UPDATE attempt SET state = 'submitted' WHERE id = ANY($1::uuid[])", ids
            )
    finally:
        await conn.close()


async def verify(url: str, organization_id: str, sample: list[str]) -> dict[str, Any]:
    """The bulk results of the sample against the per-attempt ones; counts; the audit
    chain."""
    from waa_ads.audit.service import chain_for, verify_chain
    from waa_ads.core.db import Database

    conn = await asyncpg.connect(_pg_dsn(url))
    try:
        ids = [uuid.UUID(i) for i in sample]
        result_diffs = await conn.fetchval(
            "SELECT count(*) FROM attempt_result a FULL JOIN bench_bulk_result b"
            " ON a.attempt_id = b.attempt_id WHERE (a.attempt_id IS NULL OR"
            " a.attempt_id = ANY($1::uuid[])) AND (a.revision, a.raw, a.max_raw, a.weighted,"
            " a.max_weighted, a.scaled, a.band, a.passed, a.sections, a.pending_items,"
            " a.complete, a.released_at IS NULL, a.withheld) IS DISTINCT FROM (b.revision, b.raw,"
            " b.max_raw, b.weighted, b.max_weighted, b.scaled, b.band, b.passed, b.sections,"
            " b.pending_items, b.complete, b.released_at IS NULL, b.withheld)",
            ids,
        )
        pairs = await conn.fetchval(
            "SELECT count(*) FROM attempt_result a JOIN bench_bulk_result b"
            " ON a.attempt_id = b.attempt_id WHERE a.attempt_id = ANY($1::uuid[])",
            ids,
        )
        item_diffs = await conn.fetchval(
            "SELECT count(*) FROM (SELECT * FROM item_score WHERE attempt_id = ANY($1::uuid[])) x"
            " FULL JOIN bench_bulk_item z ON z.attempt_id = x.attempt_id AND z.item_ref = x.item_ref"
            " WHERE (x.item_version_id, x.section, x.weight, x.score, x.max_score, x.method,"
            " x.scorer, x.confidence, x.outcomes, x.notes) IS DISTINCT FROM (z.item_version_id,"
            " z.section, z.weight, z.score, z.max_score, z.method, z.scorer, z.confidence,"
            " z.outcomes, z.notes)",
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
                "SELECT band, count(*) FROM attempt_result GROUP BY band ORDER BY band"
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
    # With chunks overlapping, the phases add up to more than the wall: no remainder then.
    other = max(0.0, wall - db_s - (scoring_s or 0.0))
    print(f"\n{name}")
    print(
        f"  attempts {figures['attempts']:,}, responses {figures['responses']:,}, wall {wall:.1f} s"
    )
    print(
        f"  throughput         {rate:12,.0f} responses/s  ({figures['attempts'] / wall:,.1f} attempts/s)"
    )
    print(
        f"  database I/O       {_share(db_s, wall)}"
        + (f"  ({figures['statements']:,} statements/commits)" if figures["statements"] > 0 else "")
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
    common = [
        "--url", url, "--organization", built.organization_id,
        "--administration", built.administration_id, "--chunk", str(args.chunk),
        "--parallel", str(args.parallel),
    ]  # fmt: skip
    try:
        sample = _spread(built.attempt_ids, args.sample)
        # The floor first (its transactions roll back, then VACUUM), so that the product
        # writes into tables no emptier than the floor's.
        floor = _child("floor", common)
        bulk = _child("bulk", common)
        numpy_only = _child("numpy", common)
        asyncio.run(set_sample_aside(url, sample))
        with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as handle:
            handle.write("\n".join(sample))
            ids_file = handle.name
        try:
            per_attempt = _child("per-attempt", ["--url", url, "--ids-file", ids_file])
        finally:
            os.unlink(ids_file)
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
        f"(b) bulk: scoring.service.score_administration, chunks of {args.chunk:,} attempts,"
        f" {args.parallel} at a time",
        bulk,
        cohort,
    )
    floor_rate = floor["responses"] / floor["wall_s"]
    numpy_rate = numpy_only["responses"] / numpy_only["wall_s"]
    print(
        "\nfloor: COPY out the same rows + COPY in one item_score row each, no scoring"
        f" ({args.parallel} connections)"
    )
    print(
        f"  responses {floor['responses']:,}, wall {floor['wall_s']:.1f} s"
        f" (COPY out {floor['out_s']:.1f} s, rows + COPY in {floor['in_s']:.1f} s)"
    )
    print(f"  throughput         {floor_rate:12,.0f} responses/s")
    print(
        f"numpy only: score_batch over the same stored texts from memory:"
        f" {numpy_rate:12,.0f} responses/s ({numpy_only['wall_s']:.2f} s)"
    )
    print(
        f"\nbulk / floor: {bulk_rate / floor_rate:.2f}x; bulk / per-attempt: {bulk_rate / per_rate:.1f}x"
    )
    print(
        f"  where (b) went ({bulk['parallel']} chunks at a time: phases are summed over chunks"
        " and may add up to more than the wall):"
    )
    for phase, seconds in sorted(bulk["phases"].items(), key=lambda p: -p[1]):
        print(f"    {phase:<50} {seconds:7.1f} s {100 * seconds / bulk['wall_s']:5.1f}%")
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
    print(f"  bands                         {checks['bands']}")
    print(
        f"\nrun wall {time.perf_counter() - run_started:.0f} s on {os.cpu_count()} cores;"
        f" load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after"
        " (other work on the machine shows there)"
    )
    print(
        "SUMMARY "
        + json.dumps(
            {
                "bulk": round(bulk_rate),
                "floor": round(floor_rate),
                "numpy": round(numpy_rate),
                "per_attempt": round(per_rate),
            }
        )
    )
    if checks["result_differences"] or checks["item_score_differences"] or checks["not_scored"]:
        sys.exit("the bulk path disagrees with score_attempt")


def _role(args: argparse.Namespace) -> None:
    if args.role == "per-attempt":
        ids = Path(args.ids_file).read_text(encoding="utf-8").split()
        figures = asyncio.run(run_per_attempt(args.url, ids))
    elif args.role == "floor":
        figures = asyncio.run(
            run_floor(args.url, args.organization, args.administration, args.chunk, args.parallel)
        )
    elif args.role == "numpy":
        figures = numpy_floor(args.url, args.administration)
    else:
        figures = asyncio.run(
            run_bulk(args.url, args.organization, args.administration, args.chunk, args.parallel)
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
    parser.add_argument("--parallel", type=int, default=2, help="bulk transactions at a time")
    parser.add_argument("--seed", type=int, default=20_261_126)
    parser.add_argument("--server-url", default=SERVER_URL)
    parser.add_argument("--keep", action="store_true", help="leave the database in place")
    parser.add_argument(
        "--role", choices=["per-attempt", "bulk", "floor", "numpy"], help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--ids-file", help=argparse.SUPPRESS)
    parser.add_argument("--organization", help=argparse.SUPPRESS)
    parser.add_argument("--administration", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.role:
        _role(parsed)
    else:
        main(parsed)
