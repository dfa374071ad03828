"""Scoring many ended attempts at once on PostgreSQL.

:func:`score_chunk` does, for a chunk of attempts and in the caller's transaction, what
:func:`waa_ads.scoring.service.score_attempt` does for one — the same result revisions, item
scores, state changes, releases and audit events, the same floats — with a fixed number of
statements per chunk instead of dozens per attempt:

1. the attempts are locked (``SELECT ... FOR UPDATE``, in id order); attempts already waiting
   in ``scoring`` with a result are left alone, as ``score_attempt`` leaves them;
2. their form rows with the stored responses (as JSON text) are read in one query, in form
   order;
3. each distinct stored response text is decoded once per item and every item's rows are
   scored in one :func:`~waa_ads.scoring.vectorized.score_batch` call; each distinct verdict
   (score, maximum, outcomes, notes) is encoded once;
4. totals are computed for all attempts at once (:func:`totals_many`, exactly
   :func:`~waa_ads.scoring.policy.totals`, float for float);
5. ``attempt_result`` rows are written with ``COPY``; the item scores travel as one binary
   ``COPY`` of ``(attempt, item ref, verdict, id)`` codes built by numpy into a temporary
   table, and one ``INSERT ... SELECT`` joins them with the form rows (``attempt_item``) and
   the distinct verdicts server-side;
6. states move with one guarded ``UPDATE ... FROM unnest(...)``; the audit events
   (``attempt.begin_scoring``, ``attempt.finish_scoring``, and ``attempt.release`` with
   ``result.released`` when the policy releases immediately) are appended with one
   :func:`~waa_ads.audit.service.record_many`, last, so the organization's chain is locked
   only for the end of the chunk's transaction.

:func:`rescore_chunk` does the same for answer-key corrections: a batch of attempts' new
revisions (the previous revision's item scores with the corrected one swapped in) written
with ``COPY``, and their events appended last.

Other dialects (SQLite) go attempt by attempt through ``score_attempt`` and
``service._apply_rescore`` (:func:`waa_ads.scoring.service.score_administration` and
:func:`~waa_ads.scoring.service.rescore_item` choose).
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments.definition import AssessmentDefinition, ReleasePolicy, ScoringPolicy
from waa_ads.audit.service import Actor, PendingEvent, record_many
from waa_ads.content.item import templates
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.core.db import utcnow
from waa_ads.delivery.state_machine import next_state
from waa_ads.scoring.policy import band_for
from waa_ads.scoring.vectorized import score_batch

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.int64]

ENDED = ("submitted", "expired", "terminated")
_LOCKABLE = [*ENDED, "scoring"]

#: Attempts scored per transaction by default: about 50 MB of Python per 2,000 attempts of
#: 50 items, and the organization's audit chain locked for a fraction of a second.
BULK_CHUNK = 2_000

#: Attempts revised per transaction by an answer-key correction on PostgreSQL.
BULK_RESCORE_BATCH = 1_000

_ITEM_SCORE_INSERT = """
INSERT INTO item_score (id, organization_id, result_id, attempt_id, item_ref, item_version_id,
                        section, weight, score, max_score, method, scorer, confidence,
                        outcomes, notes)
SELECT s.id, $1, m.result_id, m.attempt_id, f.ref, ai.item_version_id, ai.section, ai.weight,
       v.score, v.max_score, v.method, v.scorer, v.confidence, v.outcomes, v.notes
FROM scoring_row s
JOIN scoring_map m ON m.a = s.a
JOIN scoring_ref f ON f.code = s.ref
JOIN attempt_item ai ON ai.attempt_id = m.attempt_id AND ai.ref = f.ref
JOIN scoring_verdict v ON v.code = s.verdict
"""

#: The form rows of the chunk's attempts in form order, with their stored responses; the
#: version is the one whose processing scores the row (a language variant's when one was
#: shown: delivery/variants.py); item_score keeps the item's own.
_READ = """
SELECT ai.attempt_id, ai.ref, COALESCE(ai.variant_version_id, ai.item_version_id), ai.section,
       ai.weight,
       (r.value -> 'normalized')::text AS normalized
FROM attempt_item ai
LEFT JOIN response r ON r.attempt_id = ai.attempt_id AND r.item_ref = ai.ref
WHERE ai.attempt_id = ANY($1::uuid[])
ORDER BY ai.attempt_id, ai.position, ai.ref
"""

_TEMP_TABLES = """
CREATE TEMP TABLE scoring_verdict (code int4 PRIMARY KEY, score float8, max_score float8,
    method text, scorer text, confidence float8, outcomes jsonb, notes jsonb) ON COMMIT DROP;
CREATE TEMP TABLE scoring_map (a int4 PRIMARY KEY, attempt_id uuid, result_id uuid)
    ON COMMIT DROP;
CREATE TEMP TABLE scoring_ref (code int4 PRIMARY KEY, ref text) ON COMMIT DROP;
CREATE TEMP TABLE scoring_row (a int4, ref int4, verdict int4, id uuid) ON COMMIT DROP;
"""

_ROW_DTYPE = np.dtype(
    [
        ("fields", ">i2"),
        ("a_len", ">i4"),
        ("a", ">i4"),
        ("ref_len", ">i4"),
        ("ref", ">i4"),
        ("verdict_len", ">i4"),
        ("verdict", ">i4"),
        ("id_len", ">i4"),
        ("id", "V16"),
    ]
)
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_TRAILER = b"\xff\xff"


def uuid7_bytes(n: int) -> npt.NDArray[np.uint8]:
    """``n`` version-7 UUIDs as rows of 16 bytes, laid out as ``core.db.uuid7`` lays them out
    (48-bit millisecond time, version, random bits, variant), from one read of the random
    source."""
    ids = np.frombuffer(os.urandom(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    ms = (time.time_ns() // 1_000_000) & ((1 << 48) - 1)
    ids[:, :6] = np.frombuffer(ms.to_bytes(6, "big"), dtype=np.uint8)
    ids[:, 6] = 0x70 | (ids[:, 6] & 0x0F)
    ids[:, 8] = 0x80 | (ids[:, 8] & 0x3F)
    return ids


def binary_rows(
    a: IndexArray, ref: IndexArray, verdict: IndexArray, ids: npt.NDArray[np.uint8]
) -> bytes:
    """A binary ``COPY`` payload of ``(int4, int4, int4, uuid)`` rows."""
    rows = np.empty(len(a), dtype=_ROW_DTYPE)
    rows["fields"] = 4
    rows["a_len"] = 4
    rows["a"] = a
    rows["ref_len"] = 4
    rows["ref"] = ref
    rows["verdict_len"] = 4
    rows["verdict"] = verdict
    rows["id_len"] = 16
    rows["id"] = ids.reshape(-1).view("V16") if len(a) else rows["id"]
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


# --- totals -----------------------------------------------------------------------------------


@dataclass
class ManyTotals:
    """:class:`~waa_ads.scoring.policy.Totals` of many attempts, one array entry each."""

    raw: FloatArray
    max_raw: FloatArray
    weighted: FloatArray
    max_weighted: FloatArray
    scaled: FloatArray
    band: list[str | None]
    passed: list[bool | None]
    sections: list[dict[str, dict[str, float]]]
    pending: IndexArray


def totals_many(
    owner: IndexArray,
    sections: Sequence[str],
    section_of: IndexArray,
    scores: FloatArray,
    maxima: FloatArray,
    weights: FloatArray,
    section_weights: Sequence[dict[str, float]],
    policies: Sequence[ScoringPolicy],
) -> ManyTotals:
    """``policy.totals`` for every attempt at once, float for float.

    Rows belong to attempt ``owner[i]`` (``0..A-1``, each attempt's rows contiguous and in
    the order ``totals`` would add them); ``sections[section_of[i]]`` is the row's section,
    ``scores[i]`` its score (NaN while a person has to score it), ``maxima[i]`` its maximum,
    ``weights[i]`` its item weight. Attempt ``a`` uses ``section_weights[a]`` and
    ``policies[a]``. Sums run column by column over the attempts' k-th rows, in the same order
    as the scalar loop, so every float is the one ``totals`` gives (padding adds +0.0, which
    changes no sum that starts at +0.0)."""
    count = len(section_weights)
    n = len(owner)
    starts = np.searchsorted(owner, np.arange(count)) if n else np.zeros(count, dtype=np.int64)
    lengths = np.bincount(owner, minlength=count) if n else np.zeros(count, dtype=np.int64)
    width = int(lengths.max(initial=0))
    column = np.arange(n) - starts[owner] if n else np.zeros(0, dtype=np.int64)
    pending_rows = np.isnan(scores)
    # ``item.score or 0.0``: NULL, 0.0 and -0.0 all count as +0.0.
    counted = np.where(pending_rows | (scores == 0), 0.0, scores)
    section_table = np.array(
        [[weights_of.get(name, 1.0) for name in sections] for weights_of in section_weights],
        dtype=np.float64,
    ).reshape(count, len(sections))
    factor = weights * section_table[owner, section_of] if n else np.zeros(0)

    def grid(values: FloatArray) -> FloatArray:
        out = np.zeros((count, max(width, 1)), dtype=np.float64)
        if n:
            out[owner, column] = values
        return out

    s_grid, m_grid, f_grid = grid(counted), grid(maxima), grid(factor)
    raw = np.zeros(count)
    max_raw = np.zeros(count)
    weighted = np.zeros(count)
    max_weighted = np.zeros(count)
    section_ids = np.full((count, max(width, 1)), -1, dtype=np.int64)
    if n:
        section_ids[owner, column] = section_of
    per_section: dict[int, tuple[FloatArray, FloatArray, FloatArray]] = {
        s: (np.zeros(count), np.zeros(count), np.zeros(count)) for s in range(len(sections))
    }
    for k in range(width):
        s_col, m_col, f_col = s_grid[:, k], m_grid[:, k], f_grid[:, k]
        raw = raw + s_col
        max_raw = max_raw + m_col
        weighted = weighted + s_col * f_col
        max_weighted = max_weighted + m_col * f_col
        for s, (s_raw, s_max, s_weighted) in per_section.items():
            here = section_ids[:, k] == s
            if here.any():
                s_raw[here] = s_raw[here] + s_col[here]
                s_max[here] = s_max[here] + m_col[here]
                s_weighted[here] = s_weighted[here] + s_col[here] * f_col[here]
    pending = np.bincount(owner[pending_rows], minlength=count) if n else np.zeros(count, int)
    scaled = np.array(
        [
            policies[a].scale_slope * float(weighted[a]) + policies[a].scale_intercept
            for a in range(count)
        ],
        dtype=np.float64,
    )
    bands: list[str | None] = []
    passed: list[bool | None] = []
    section_dicts: list[dict[str, dict[str, float]]] = []
    firsts = _first_sections(owner, section_of, count)
    for a in range(count):
        band = band_for(float(scaled[a]), policies[a].bands)
        bands.append(band.name if band else None)
        passed.append(band.passed if band else None)
        section_dicts.append(
            {
                sections[s]: {
                    "raw": float(per_section[s][0][a]),
                    "max_raw": float(per_section[s][1][a]),
                    "weighted": float(per_section[s][2][a]),
                }
                for s in firsts[a]
            }
        )
    return ManyTotals(
        raw=raw,
        max_raw=max_raw,
        weighted=weighted,
        max_weighted=max_weighted,
        scaled=scaled,
        band=bands,
        passed=passed,
        sections=section_dicts,
        pending=np.asarray(pending, dtype=np.int64),
    )


def _first_sections(owner: IndexArray, section_of: IndexArray, count: int) -> list[list[int]]:
    """Each attempt's sections in the order they first appear among its rows."""
    out: list[list[int]] = [[] for _ in range(count)]
    if not len(owner):
        return out
    pairs = owner * (int(section_of.max()) + 1) + section_of
    _, first = np.unique(pairs, return_index=True)
    for position in np.sort(first).tolist():
        out[int(owner[position])].append(int(section_of[position]))
    return out


# --- the chunk --------------------------------------------------------------------------------


@dataclass
class BulkFigures:
    """What bulk scoring did, and where its time went (seconds per phase)."""

    attempts: int = 0
    responses: int = 0
    skipped: int = 0
    released: int = 0
    phases: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    scoring_s: float = 0.0


class BulkScorer:
    """Scores chunks of an organization's ended attempts; keeps what it learns about
    published item and assessment versions (immutable) between chunks. Chunks may run
    concurrently on one event loop, each in a transaction of its own."""

    def __init__(self, organization_id: uuid.UUID, *, reason: str, actor: Actor) -> None:
        self.organization_id = organization_id
        self.reason = reason
        self.actor = actor
        self.items: dict[uuid.UUID, ItemDefinition] = {}
        self.rubric_max: dict[uuid.UUID, float] = {}
        self.versions: dict[uuid.UUID, AssessmentDefinition] = {}
        self.figures = BulkFigures()

    async def score_chunk(self, session: AsyncSession, attempt_ids: Sequence[uuid.UUID]) -> int:
        """Score ``attempt_ids`` (those of the organization that are ended, or in
        ``scoring`` without a result) in the session's transaction; flushes, never commits.
        Returns how many attempts got a result."""
        from waa_ads.scoring.service import PendingHumanScorer, rubric_maxima

        # Time per phase (chunks may run concurrently: each keeps its own clock).
        lap = [time.perf_counter()]

        def phase(name: str) -> None:
            now = time.perf_counter()
            self.figures.phases[name] += now - lap[0]
            lap[0] = now

        pg = await _driver(session)
        locked = await pg.fetch(
            "SELECT id, state, assessment_version_id, seed FROM attempt"
            " WHERE id = ANY($1::uuid[]) AND organization_id = $2 AND state = ANY($3::text[])"
            " ORDER BY id FOR UPDATE",
            list(attempt_ids),
            self.organization_id,
            _LOCKABLE,
        )
        previous = {
            row["attempt_id"]: row["revision"]
            for row in await pg.fetch(
                "SELECT attempt_id, max(revision) AS revision FROM attempt_result"
                " WHERE attempt_id = ANY($1::uuid[]) GROUP BY attempt_id",
                [row["id"] for row in locked],
            )
        }
        # Scored already and waiting for people: left alone, as score_attempt leaves them.
        chosen = [r for r in locked if not (r["state"] == "scoring" and r["id"] in previous)]
        self.figures.skipped += len(locked) - len(chosen)
        if not chosen:
            return 0
        ids = [r["id"] for r in chosen]
        buffer = io.BytesIO()

        async def sink(data: bytes) -> None:
            buffer.write(data)

        # COPY (text) rather than rows: a million rows arrive as one buffer, and only the
        # distinct values of each column are decoded.
        await pg.copy_from_query(_READ, ids, output=sink)
        lines = buffer.getvalue().split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        phase("lock attempts, read forms and responses")

        attempt_position = {str(attempt_id).encode(): a for a, attempt_id in enumerate(ids)}
        n_rows = len(lines)
        owner = np.empty(n_rows, dtype=np.int64)
        weight_texts: list[bytes] = []
        section_codes: dict[bytes, int] = {}
        section_of = np.empty(n_rows, dtype=np.int64)
        ref_codes: dict[bytes, int] = {}
        ref_of = np.empty(n_rows, dtype=np.int64)
        per_item: dict[bytes, tuple[list[int], dict[bytes, int], list[int]]] = {}
        for index, line in enumerate(lines):
            attempt, ref, version, section, weight, text = line.split(b"\t")
            owner[index] = attempt_position[attempt]
            weight_texts.append(weight)
            code = section_codes.get(section)
            if code is None:
                code = section_codes[section] = len(section_codes)
            section_of[index] = code
            code = ref_codes.get(ref)
            if code is None:
                code = ref_codes[ref] = len(ref_codes)
            ref_of[index] = code
            entry = per_item.get(version)
            if entry is None:
                entry = per_item[version] = ([], {}, [])
            positions, texts, distinct_of = entry
            positions.append(index)
            distinct = texts.get(text)
            if distinct is None:
                distinct = texts[text] = len(texts)
            distinct_of.append(distinct)
        weights = np.asarray(weight_texts, dtype=np.bytes_).astype(np.float64)
        sections = [_copy_text(s) for s in section_codes]
        refs = [_copy_text(r) for r in ref_codes]
        versions = {v: uuid.UUID(v.decode()) for v in per_item}
        phase("group rows by item")

        missing = set(versions.values()) - set(self.items)
        if missing:
            for row in await pg.fetch(
                "SELECT id, definition FROM item_version WHERE id = ANY($1::uuid[])",
                list(missing),
            ):
                self.items[row["id"]] = ItemDefinition.from_dict(_json(row["definition"]))
            self.rubric_max.update(await rubric_maxima(session, list(missing)))
        missing_versions = {r["assessment_version_id"] for r in chosen} - set(self.versions)
        if missing_versions:
            for row in await pg.fetch(
                "SELECT id, definition FROM assessment_version WHERE id = ANY($1::uuid[])",
                list(missing_versions),
            ):
                self.versions[row["id"]] = AssessmentDefinition.model_validate(
                    _json(row["definition"])
                )
        phase("load item and assessment versions")

        verdicts: list[tuple[Any, ...]] = []
        row_verdict = np.empty(n_rows, dtype=np.int64)
        verdict_score = []
        verdict_max = []
        started = time.perf_counter()
        for version_key, (positions, texts, distinct_of) in per_item.items():
            version_id = versions[version_key]
            item = self.items[version_id]
            where = np.asarray(positions, dtype=np.int64)
            if item.response_processing is None:
                maximum = PendingHumanScorer(self.rubric_max.get(version_id)).max_score(item)
                row_verdict[where] = len(verdicts)
                verdicts.append((None, maximum, "pending", "human", None, "{}", "[]"))
                verdict_score.append(np.nan)
                verdict_max.append(maximum)
                continue
            batch = [{} if text == b"\\N" else json.loads(_copy_text(text)) for text in texts]
            if not item.is_template:
                row_verdict[where] = _encode(
                    item,
                    batch,
                    distinct_of,
                    verdicts,
                    verdict_score,
                    verdict_max,
                )
                continue
            # A cloned item: each attempt is scored against its own instance, with its own
            # key (content/item/templates.py); rows are grouped by instance, so attempts
            # that drew the same values share one batch.
            groups: dict[int, list[int]] = defaultdict(list)
            for k, position in enumerate(positions):
                attempt_seed = chosen[int(owner[position])]["seed"]
                item_ref = refs[int(ref_of[position])]
                groups[templates.template_seed(attempt_seed, item_ref)].append(k)
            for instance_seed, members in groups.items():
                instance = templates.instantiate(item, instance_seed)
                local: dict[int, int] = {}
                for k in members:
                    local.setdefault(distinct_of[k], len(local))
                row_verdict[where[members]] = _encode(
                    instance,
                    [batch[d] for d in local],
                    [local[distinct_of[k]] for k in members],
                    verdicts,
                    verdict_score,
                    verdict_max,
                )
        self.figures.scoring_s += time.perf_counter() - started
        phase("score per item (score_batch) and encode verdicts")

        scores = np.asarray(verdict_score, dtype=np.float64)[row_verdict]
        maxima = np.asarray(verdict_max, dtype=np.float64)[row_verdict]
        definitions = [self.versions[r["assessment_version_id"]] for r in chosen]
        started = time.perf_counter()
        computed = totals_many(
            owner,
            sections,
            section_of,
            scores,
            maxima,
            weights,
            [{s.identifier: s.weight for s in d.sections} for d in definitions],
            [d.scoring for d in definitions],
        )
        self.figures.scoring_s += time.perf_counter() - started
        phase("totals")

        now = utcnow()
        result_ids = uuid7_bytes(len(chosen))
        result_uuids = [uuid.UUID(bytes=bytes(b)) for b in result_ids]
        columns, result_rows = _result_rows(
            chosen,
            previous,
            result_uuids,
            computed,
            organization_id=self.organization_id,
            reason=self.reason,
            actor=self.actor,
            definitions=definitions,
            now=now,
        )
        moves: list[tuple[uuid.UUID, str, str]] = []
        events: list[PendingEvent] = []
        for a, attempt in enumerate(chosen):
            state = attempt["state"]
            steps = ["begin_scoring"] if state in ENDED else []
            complete = int(computed.pending[a]) == 0
            if complete:
                steps.append("finish_scoring")
                if definitions[a].scoring.release is ReleasePolicy.immediately:
                    steps.append("release")
            for step in steps:
                after = next_state(state, step).value
                events.append(
                    PendingEvent(
                        f"attempt.{step}",
                        self.actor,
                        "attempt",
                        attempt["id"],
                        {"from": state, "to": after},
                    )
                )
                state = after
            if "release" in steps:
                # release(): the attempt's transition first, then the revision's release.
                events.append(
                    PendingEvent(
                        "result.released",
                        self.actor,
                        "attempt",
                        attempt["id"],
                        {"revision": previous.get(attempt["id"], 0) + 1},
                    )
                )
                self.figures.released += 1
            if state != attempt["state"]:
                moves.append((attempt["id"], attempt["state"], state))
        phase("result rows and events")

        await pg.execute(_TEMP_TABLES)
        await pg.copy_records_to_table("attempt_result", records=result_rows, columns=columns)
        await pg.copy_records_to_table(
            "scoring_verdict",
            records=[(code, *verdict) for code, verdict in enumerate(verdicts)],
        )
        await pg.copy_records_to_table(
            "scoring_map",
            records=[(a, i, r) for a, (i, r) in enumerate(zip(ids, result_uuids, strict=True))],
        )
        await pg.copy_records_to_table("scoring_ref", records=list(enumerate(refs)))
        payload = binary_rows(owner, ref_of, row_verdict, uuid7_bytes(n_rows))
        await pg.copy_to_table("scoring_row", source=io.BytesIO(payload), format="binary")
        phase("COPY results, verdicts and rows")
        await pg.execute("ANALYZE scoring_row, scoring_map, scoring_ref, scoring_verdict")
        await pg.execute(_ITEM_SCORE_INSERT, self.organization_id)
        phase("INSERT item scores (... SELECT)")
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
        await pg.execute("DROP TABLE scoring_verdict, scoring_map, scoring_ref, scoring_row")
        phase("UPDATE states")
        await record_many(session, organization_id=self.organization_id, events=events)
        phase("audit events (record_many)")
        self.figures.attempts += len(chosen)
        self.figures.responses += n_rows
        return len(chosen)


def _encode(
    item: ItemDefinition,
    batch: list[Any],
    distinct_of: Sequence[int],
    verdicts: list[tuple[Any, ...]],
    verdict_score: list[float],
    verdict_max: list[float],
) -> npt.NDArray[np.int64]:
    """Score the rows ``distinct_of`` (indices into the distinct response sets ``batch``)
    against ``item`` in one :func:`score_batch` call, append each distinct verdict to
    ``verdicts`` (and its score and maximum), and return each row's verdict code."""
    from waa_ads.scoring.service import objective_max_score

    result = score_batch(item, batch, np.asarray(distinct_of, dtype=np.int64))
    notes_count = len(result.note_table)
    combined = result.outcome_index * notes_count + result.note_index
    unique, inverse = np.unique(combined, return_inverse=True)
    base = len(verdicts)
    for key in unique.tolist():
        outcomes = result.outcome_table[key // notes_count]
        notes = result.note_table[key % notes_count]
        raw_score = outcomes.get("SCORE")
        score = float(raw_score) if isinstance(raw_score, int | float) else 0.0
        maximum = objective_max_score(item, outcomes)
        verdicts.append(
            (
                score,
                maximum,
                "objective",
                "response-processing",
                1.0,
                json.dumps(outcomes),
                json.dumps(notes),
            )
        )
        verdict_score.append(score)
        verdict_max.append(maximum)
    codes: npt.NDArray[np.int64] = (base + inverse.reshape(-1)).astype(np.int64)
    return codes


def _result_rows(
    chosen: Sequence[Any],
    previous: dict[uuid.UUID, int],
    result_ids: list[uuid.UUID],
    computed: ManyTotals,
    *,
    organization_id: uuid.UUID,
    reason: str,
    actor: Actor,
    definitions: Sequence[AssessmentDefinition],
    now: Any,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """``attempt_result`` rows as ``score_attempt`` makes them: every column of the model,
    the computed values, scalar defaults, else NULL."""
    names: list[str] = []
    rows: list[tuple[Any, ...]] = []
    for a, attempt in enumerate(chosen):
        complete = int(computed.pending[a]) == 0
        released = complete and definitions[a].scoring.release is ReleasePolicy.immediately
        values: dict[str, Any] = {
            "id": result_ids[a],
            "organization_id": organization_id,
            "attempt_id": attempt["id"],
            "revision": previous.get(attempt["id"], 0) + 1,
            "reason": reason,
            "complete": complete,
            "raw": float(computed.raw[a]),
            "max_raw": float(computed.max_raw[a]),
            "weighted": float(computed.weighted[a]),
            "max_weighted": float(computed.max_weighted[a]),
            "scaled": float(computed.scaled[a]),
            "band": computed.band[a],
            "passed": computed.passed[a],
            "sections": json.dumps(computed.sections[a]),
            "pending_items": int(computed.pending[a]),
            "created_by": actor.id,
            "created_at": now,
            "released_at": now if released else None,
            "released_by": actor.id if released else None,
            "withheld": False,
            "withheld_reason": None,
        }
        names, row = _columns(values)
        rows.append(row)
    return names, rows


_COPY_ESCAPES = {
    "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
}  # fmt: skip


def _copy_text(field: bytes) -> str:
    """A field of ``COPY ... TO STDOUT`` text format as the text it stands for."""
    text = field.decode()
    if "\\" not in text:
        return text
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        escaped = next(chars, "")
        out.append(_COPY_ESCAPES.get(escaped, escaped))
    return "".join(out)


def _json(value: Any) -> Any:
    """A JSON column as asyncpg returns it: text (no codec) or already decoded."""
    return json.loads(value) if isinstance(value, str) else value


async def _driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside the transaction it began."""
    connection = await session.connection()
    # SQLAlchemy's asyncpg adapter begins its transaction with its first statement.
    await connection.execute(text("SELECT 1"))
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is None or not driver.is_in_transaction():
        raise RuntimeError("bulk scoring needs the session's transaction to have begun")
    return driver


async def ended_attempt_ids(
    session: AsyncSession, organization_id: uuid.UUID, administration_id: uuid.UUID
) -> list[uuid.UUID]:
    """The administration's attempts that wait for scoring (ended, or in ``scoring``)."""
    from waa_ads.delivery.models import Attempt

    return list(
        (
            await session.execute(
                select(Attempt.id)
                .where(
                    Attempt.organization_id == organization_id,
                    Attempt.administration_id == administration_id,
                    Attempt.state.in_(_LOCKABLE),
                )
                .order_by(Attempt.id)
            )
        ).scalars()
    )


# --- answer-key corrections -------------------------------------------------------------------


@dataclass(frozen=True)
class Rescore:
    """One attempt's corrected score for one item (scored already, by the vectorized path)."""

    attempt_id: uuid.UUID
    ref: str
    score: Any  # service.Score


_ITEM_SCORE_COLUMNS = [
    "id", "organization_id", "result_id", "attempt_id", "item_ref", "item_version_id",
    "section", "weight", "score", "max_score", "method", "scorer", "confidence", "outcomes",
    "notes",
]  # fmt: skip


async def rescore_chunk(
    session: AsyncSession,
    organization_id: uuid.UUID,
    steps: Sequence[Rescore],
    *,
    new_version_id: uuid.UUID,
    reason: str,
    actor: Actor,
    versions: dict[uuid.UUID, AssessmentDefinition],
) -> list[Any]:
    """What ``service._apply_rescore`` does for each step, for all of them at once, in the
    session's transaction: attempts locked in id order; for each one whose item score
    changes (and is not a person's), a new revision with the previous revision's item
    scores and the corrected one swapped in (written with ``COPY``), its totals, the
    ``result.revised`` event and the moves ``_settle`` makes (finishing scoring, releasing
    when the policy releases immediately). Returns the ``RescoreChange`` of each changed
    attempt, in id order."""
    from waa_ads.scoring.policy import ScoredItem, totals
    from waa_ads.scoring.service import RescoreChange

    if not steps:
        return []
    pg = await _driver(session)
    by_attempt = {step.attempt_id: step for step in steps}
    locked = await pg.fetch(
        "SELECT id, state, assessment_version_id FROM attempt"
        " WHERE id = ANY($1::uuid[]) AND organization_id = $2 AND state = ANY($3::text[])"
        " ORDER BY id FOR UPDATE",
        list(by_attempt),
        organization_id,
        ["scoring", "scored", "released"],
    )
    latest = {
        row["attempt_id"]: row
        for row in await pg.fetch(
            "SELECT DISTINCT ON (attempt_id) id, attempt_id, revision, raw, scaled, band,"
            " withheld, withheld_reason FROM attempt_result"
            " WHERE attempt_id = ANY($1::uuid[]) ORDER BY attempt_id, revision DESC",
            [row["id"] for row in locked],
        )
    }
    # The previous revisions' item scores, ordered as service.item_scores orders them.
    carried: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in await pg.fetch(
        "SELECT * FROM item_score WHERE result_id = ANY($1::uuid[]) ORDER BY result_id, item_ref",
        [row["id"] for row in latest.values()],
    ):
        carried[row["result_id"]].append(row)
    missing = {row["assessment_version_id"] for row in locked} - set(versions)
    if missing:
        for row in await pg.fetch(
            "SELECT id, definition FROM assessment_version WHERE id = ANY($1::uuid[])",
            list(missing),
        ):
            versions[row["id"]] = AssessmentDefinition.model_validate(_json(row["definition"]))

    now = utcnow()
    revised_reason = f"answer key corrected ({reason})"
    result_rows: list[tuple[Any, ...]] = []
    result_columns: list[str] = []
    item_rows: list[tuple[Any, ...]] = []
    events: list[PendingEvent] = []
    moves: list[tuple[uuid.UUID, str, str]] = []
    changes: list[Any] = []
    for attempt in locked:
        previous = latest.get(attempt["id"])
        if previous is None:
            continue
        step = by_attempt[attempt["id"]]
        rows = carried[previous["id"]]
        old = next((r for r in rows if r["item_ref"] == step.ref), None)
        new = step.score
        if old is not None and old["method"] == "manual":
            continue  # a person's score stands
        if old is not None and (old["score"], old["max_score"]) == (new.score, new.max_score):
            continue
        definition = versions[attempt["assessment_version_id"]]
        result_id = uuid.UUID(bytes=bytes(uuid7_bytes(1)[0]))
        scored: list[ScoredItem] = []
        ids = uuid7_bytes(len(rows))
        for position, row in enumerate(rows):
            swap = row["item_ref"] == step.ref
            values = (
                (new.score, new.max_score, new.method, new.scorer, new.confidence,
                 json.dumps(new.outcomes), json.dumps(new.notes))
                if swap
                else (row["score"], row["max_score"], row["method"], row["scorer"],
                      row["confidence"], _text(row["outcomes"]), _text(row["notes"]))
            )  # fmt: skip
            item_rows.append(
                (
                    uuid.UUID(bytes=bytes(ids[position])), row["organization_id"], result_id,
                    attempt["id"], row["item_ref"],
                    new_version_id if swap else row["item_version_id"], row["section"],
                    row["weight"], *values,
                )
            )  # fmt: skip
            scored.append(ScoredItem(row["section"], values[0], values[1], row["weight"]))
        computed = totals(
            scored, {s.identifier: s.weight for s in definition.sections}, definition.scoring
        )
        # service._settle with reviewed=False: finish scoring once complete; release (as
        # the scorer) when the policy releases immediately.
        complete = computed.pending == 0
        state = attempt["state"]
        moves_of: list[tuple[str, Actor]] = []
        releasing = False
        if complete:
            settled = state
            if state == "scoring":
                moves_of.append(("finish_scoring", actor))
                settled = "scored"
            if settled in ("scored", "released") and (
                definition.scoring.release is ReleasePolicy.immediately
            ):
                releasing = True
                if settled == "scored":
                    moves_of.append(("release", _scorer()))
        revision = previous["revision"] + 1
        result_columns, record = _columns(
            {
                "id": result_id,
                "organization_id": organization_id,
                "attempt_id": attempt["id"],
                "revision": revision,
                "reason": revised_reason,
                "complete": complete,
                "raw": computed.raw,
                "max_raw": computed.max_raw,
                "weighted": computed.weighted,
                "max_weighted": computed.max_weighted,
                "scaled": computed.scaled,
                "band": computed.band,
                "passed": computed.passed,
                "sections": json.dumps(computed.sections),
                "pending_items": computed.pending,
                "created_by": actor.id,
                "created_at": now,
                "released_at": now if releasing else None,
                "released_by": _scorer().id if releasing else None,
                "withheld": previous["withheld"],
                "withheld_reason": previous["withheld_reason"],
            }
        )
        result_rows.append(record)
        events.append(
            PendingEvent(
                "result.revised",
                actor,
                "attempt",
                attempt["id"],
                {
                    "revision": revision,
                    "reason": revised_reason,
                    "before": {
                        "raw": previous["raw"],
                        "scaled": previous["scaled"],
                        "band": previous["band"],
                    },
                    "after": {
                        "raw": computed.raw,
                        "scaled": computed.scaled,
                        "band": computed.band,
                    },
                },
            )
        )
        before_state = state
        for event, mover in moves_of:
            after = next_state(state, event).value
            events.append(
                PendingEvent(
                    f"attempt.{event}",
                    mover,
                    "attempt",
                    attempt["id"],
                    {"from": state, "to": after},
                )
            )
            state = after
        if releasing:
            events.append(
                PendingEvent(
                    "result.released", _scorer(), "attempt", attempt["id"], {"revision": revision}
                )
            )
        if state != before_state:
            moves.append((attempt["id"], before_state, state))
        changes.append(
            RescoreChange(
                attempt["id"],
                step.ref,
                old["score"] if old is not None else None,
                new.score,
                previous["scaled"],
                computed.scaled,
                previous["band"],
                computed.band,
            )
        )
    if not result_rows:
        return changes
    await pg.copy_records_to_table("attempt_result", records=result_rows, columns=result_columns)
    await pg.copy_records_to_table("item_score", records=item_rows, columns=_ITEM_SCORE_COLUMNS)
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
    await record_many(session, organization_id=organization_id, events=events)
    return changes


def _scorer() -> Actor:
    from waa_ads.scoring.service import SCORER

    return SCORER


def _text(value: Any) -> Any:
    """A JSON value read through the driver, as text for ``COPY`` (the codec SQLAlchemy
    installs on the connection reads jsonb as text already)."""
    return value if isinstance(value, str) else json.dumps(value)


def _columns(values: dict[str, Any]) -> tuple[list[str], tuple[Any, ...]]:
    """Every column of ``attempt_result``: the given values, scalar defaults, else NULL."""
    from waa_ads.scoring.models import AttemptResult

    names: list[str] = []
    row: list[Any] = []
    for column in AttemptResult.__table__.columns:
        if column.name in values:
            value = values[column.name]
        elif column.default is not None and column.default.is_scalar:
            value = column.default.arg
        elif column.nullable:
            value = None
        else:
            raise RuntimeError(f"no value for attempt_result.{column.name}")
        names.append(column.name)
        row.append(value)
    return names, tuple(row)
