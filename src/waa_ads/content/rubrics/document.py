"""Scoring rubrics: versioned YAML documents, validated, typed, and the maths of scoring.

A rubric is **analytic** (several criteria, each with levels; the score is the weighted sum
of the chosen level per criterion) or **holistic** (one set of levels; the score is the
chosen level's points). Documents are validated against the published JSON Schema
(``rubric.schema.json`` beside this module) and then checked for what a schema cannot say: unique
ids, unique points within a criterion, points inside the declared scale, finite numbers,
something to earn. The format is described in ``docs/rubrics.md``.

Pure module: no I/O beyond reading the packaged schema once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from waa_ads.core.errors import Unprocessable
from waa_ads.core.i18n import N_
from waa_ads.core.yamlmarks import StrictLoader, field_path

RUBRIC_FORMAT = 1
SCHEMA_RESOURCE = "rubric.schema.json"
#: Rubric documents are short; a larger one is a mistake or an attack on the parser.
MAX_RUBRIC_BYTES = 256 * 1024


class RubricError(Unprocessable):
    """A rubric document that cannot be accepted. ``extra["invalid_params"]`` lists each
    problem as ``{"name": <path in the document>, "reason": ...}``."""

    code = "rubric-invalid"
    title = N_("Invalid rubric")

    def __init__(self, detail: str, problems: list[tuple[str, str]] | None = None) -> None:
        params = [{"name": name, "reason": reason} for name, reason in problems or []]
        super().__init__(detail, extra={"invalid_params": params} if params else None)
        self.problems = list(problems or [])


class RubricScoringError(Unprocessable):
    """A selection of levels that does not fit the rubric."""

    code = "rubric-selection-invalid"
    title = N_("Invalid rubric selection")


# --- typed model ----------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RubricLevel(_Frozen):
    id: str
    points: float
    descriptor: str
    label: str | None = None


class RubricCriterion(_Frozen):
    id: str
    title: str
    levels: tuple[RubricLevel, ...]
    description: str | None = None
    weight: float = 1.0

    @property
    def max_points(self) -> float:
        """The best level's points, before weighting."""
        return max(level.points for level in self.levels)

    def level(self, level_id: str) -> RubricLevel | None:
        return next((lvl for lvl in self.levels if lvl.id == level_id), None)


class RubricScale(_Frozen):
    min: float
    max: float


class _RubricBase(_Frozen):
    format: Literal[1] = 1
    id: str
    version: int
    title: str
    description: str | None = None
    language: str | None = None
    scale: RubricScale | None = None


class AnalyticRubric(_RubricBase):
    kind: Literal["analytic"] = "analytic"
    criteria: tuple[RubricCriterion, ...]

    def criterion(self, criterion_id: str) -> RubricCriterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)


class HolisticRubric(_RubricBase):
    kind: Literal["holistic"] = "holistic"
    levels: tuple[RubricLevel, ...]

    def level(self, level_id: str) -> RubricLevel | None:
        return next((lvl for lvl in self.levels if lvl.id == level_id), None)


Rubric = Annotated[AnalyticRubric | HolisticRubric, Field(discriminator="kind")]
_RUBRIC_ADAPTER: TypeAdapter[AnalyticRubric | HolisticRubric] = TypeAdapter(Rubric)


# --- parsing --------------------------------------------------------------------------------


class _StrictLoader(StrictLoader):
    document_kind = "rubric"


@lru_cache(maxsize=1)
def rubric_schema() -> dict[str, Any]:
    """The published JSON Schema of rubric documents (format 1)."""
    text = (
        resources.files("waa_ads.content.rubrics")
        .joinpath(SCHEMA_RESOURCE)
        .read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(rubric_schema())


def _schema_problem(error: ValidationError) -> tuple[str, str]:
    # "if/then" failures name the whole document; say what kind needs instead.
    where = field_path(error.absolute_path)
    if error.validator == "not" and not error.absolute_path:
        return where, "an analytic rubric has criteria only, a holistic one levels only"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        unknown = sorted(k for k in error.instance if k not in known and not k.startswith("x-"))
        names = ", ".join(repr(k) for k in unknown)
        plural = "s" if len(unknown) > 1 else ""
        return where, f"unknown key{plural} {names} (extension keys start with 'x-')"
    return where, error.message


def _semantic_problems(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    scale = doc.get("scale")
    if scale is not None and not scale["min"] < scale["max"]:
        problems.append(("scale", f"min ({scale['min']}) must be below max ({scale['max']})"))
        scale = None

    def check_levels(levels: list[dict[str, Any]], where: str) -> None:
        ids: set[str] = set()
        points: dict[float, str] = {}
        for index, level in enumerate(levels):
            here = f"{where}[{index}]"
            if level["id"] in ids:
                problems.append((f"{here}.id", f"duplicate level id {level['id']!r}"))
            ids.add(level["id"])
            value = level["points"]
            if not math.isfinite(value):
                problems.append((f"{here}.points", "must be a finite number"))
                continue
            if value in points:
                problems.append(
                    (
                        f"{here}.points",
                        f"{value:g} points already belong to level {points[value]!r}; "
                        "levels of one scale need distinct points",
                    )
                )
            points.setdefault(value, level["id"])
            if scale is not None and not scale["min"] <= value <= scale["max"]:
                problems.append(
                    (
                        f"{here}.points",
                        f"{value:g} is outside the scale {scale['min']:g}..{scale['max']:g}",
                    )
                )
        finite = [lvl["points"] for lvl in levels if math.isfinite(lvl["points"])]
        if finite and max(finite) <= 0:
            problems.append((where, "no level awards any points"))

    if doc["kind"] == "analytic":
        criterion_ids: set[str] = set()
        for index, criterion in enumerate(doc["criteria"]):
            here = f"criteria[{index}]"
            if criterion["id"] in criterion_ids:
                problems.append((f"{here}.id", f"duplicate criterion id {criterion['id']!r}"))
            criterion_ids.add(criterion["id"])
            weight = criterion.get("weight", 1)
            if not (math.isfinite(weight) and weight > 0):
                problems.append((f"{here}.weight", "must be a positive finite number"))
            check_levels(criterion["levels"], f"{here}.levels")
    else:
        check_levels(doc["levels"], "levels")
    return problems


def _fail(problems: list[tuple[str, str]]) -> RubricError:
    listed = "; ".join(f"{name}: {reason}" for name, reason in problems[:10])
    more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
    return RubricError(f"invalid rubric: {listed}{more}", problems)


def validate_rubric_document(doc: Any) -> AnalyticRubric | HolisticRubric:
    """Validate an already-loaded document (a mapping) and build the typed model.

    Raises :class:`RubricError` listing every schema problem, or, if the schema is met,
    every semantic problem, each with its path in the document (``criteria[1].levels[0]
    .points``).
    """
    schema_errors = sorted(
        _validator().iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message)
    )
    if schema_errors:
        raise _fail([_schema_problem(e) for e in schema_errors])
    problems = _semantic_problems(doc)
    if problems:
        raise _fail(problems)
    return _RUBRIC_ADAPTER.validate_python(
        {k: v for k, v in doc.items() if not k.startswith("x-")}
        | (
            {"criteria": [_drop_extensions(c) for c in doc["criteria"]]}
            if doc["kind"] == "analytic"
            else {"levels": [_drop_extensions(lvl) for lvl in doc["levels"]]}
        )
    )


def _drop_extensions(node: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in node.items() if not k.startswith("x-")}
    if "levels" in out:
        out["levels"] = [_drop_extensions(level) for level in out["levels"]]
    return out


def parse_rubric(yaml_text: str | bytes) -> AnalyticRubric | HolisticRubric:
    """Parse and validate a rubric YAML document.

    The YAML is loaded safely (no Python objects, no aliases, no duplicate keys, at most
    :data:`MAX_RUBRIC_BYTES`), validated against the JSON Schema, then checked
    semantically. Raises :class:`RubricError` (HTTP 422) with a message naming each
    problem and where it is.
    """
    size = len(yaml_text.encode("utf-8") if isinstance(yaml_text, str) else yaml_text)
    if size > MAX_RUBRIC_BYTES:
        raise RubricError(f"rubric document is {size} bytes; the limit is {MAX_RUBRIC_BYTES}")
    try:
        doc = yaml.load(yaml_text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RubricError(f"rubric is not valid YAML{where}: {problem}") from exc
    if not isinstance(doc, dict):
        raise RubricError("a rubric document must be a YAML mapping (key: value pairs)")
    return validate_rubric_document(doc)


def rubric_to_document(rubric: AnalyticRubric | HolisticRubric) -> dict[str, Any]:
    """The rubric as a plain document (what :func:`parse_rubric` accepts), without
    unset optional fields."""
    return rubric.model_dump(mode="json", exclude_none=True)


def dump_rubric(rubric: AnalyticRubric | HolisticRubric) -> str:
    """The rubric as YAML; ``parse_rubric(dump_rubric(r)) == r``."""
    return yaml.safe_dump(rubric_to_document(rubric), sort_keys=False, allow_unicode=True)


# --- scoring --------------------------------------------------------------------------------


def _dec(value: float) -> Decimal:
    # Through str so that 0.1 stays 0.1: weighted sums of decimal points add up exactly.
    return Decimal(repr(value))


def rubric_max_points(rubric: AnalyticRubric | HolisticRubric) -> float:
    """The most a response can earn: the weighted sum of each criterion's best level
    (analytic), or the best level's points (holistic)."""
    if isinstance(rubric, HolisticRubric):
        return max(level.points for level in rubric.levels)
    total = sum((_dec(c.weight) * _dec(c.max_points) for c in rubric.criteria), start=Decimal(0))
    return float(total)


def score_with_rubric(
    rubric: AnalyticRubric | HolisticRubric,
    selected_levels: Mapping[str, str] | str,
) -> float:
    """The points earned for the chosen levels.

    Analytic: ``selected_levels`` maps every criterion id to one of its level ids; the
    result is ``sum(weight * level points)``, computed in decimal so that ``0.1``-step
    points add up exactly. Holistic: ``selected_levels`` is the chosen level id (a
    mapping with the single key ``"level"`` is accepted too).

    Raises :class:`RubricScoringError` naming each missing or unknown criterion or level.
    """
    if isinstance(rubric, HolisticRubric):
        if isinstance(selected_levels, Mapping):
            if set(selected_levels) != {"level"}:
                raise RubricScoringError(
                    f"holistic rubric {rubric.id!r} takes one level id, not a selection "
                    "per criterion"
                )
            selected_levels = selected_levels["level"]
        level = rubric.level(selected_levels)
        if level is None:
            known = ", ".join(repr(lvl.id) for lvl in rubric.levels)
            raise RubricScoringError(
                f"rubric {rubric.id!r} has no level {selected_levels!r}; its levels: {known}"
            )
        return level.points
    if not isinstance(selected_levels, Mapping):
        raise RubricScoringError(
            f"analytic rubric {rubric.id!r} needs a level for each criterion, as "
            "{criterion id: level id}"
        )
    problems: list[str] = []
    total = Decimal(0)
    for criterion in rubric.criteria:
        chosen = selected_levels.get(criterion.id)
        if chosen is None:
            problems.append(f"no level chosen for criterion {criterion.id!r}")
            continue
        level = criterion.level(chosen)
        if level is None:
            known = ", ".join(repr(lvl.id) for lvl in criterion.levels)
            problems.append(
                f"criterion {criterion.id!r} has no level {chosen!r} (its levels: {known})"
            )
            continue
        total += _dec(criterion.weight) * _dec(level.points)
    unknown = sorted(set(selected_levels) - {c.id for c in rubric.criteria})
    problems.extend(f"rubric {rubric.id!r} has no criterion {name!r}" for name in unknown)
    if problems:
        raise RubricScoringError("; ".join(problems))
    return float(total)
