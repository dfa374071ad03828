"""Rubric documents: schema, semantic checks, typed model, scoring maths."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from waa_ads.content.rubrics.document import (
    MAX_RUBRIC_BYTES,
    AnalyticRubric,
    HolisticRubric,
    RubricError,
    RubricScoringError,
    dump_rubric,
    parse_rubric,
    rubric_max_points,
    rubric_schema,
    score_with_rubric,
)
from waa_ads.core.errors import Unprocessable

FIXTURES = Path(__file__).parent.parent / "fixtures" / "rubrics"
ESSAY = (FIXTURES / "argumentative-essay.yaml").read_text(encoding="utf-8")
SHORT = (FIXTURES / "photosynthesis-short-answer.yaml").read_text(encoding="utf-8")
SCHEMA_FILE = (
    Path(__file__).parents[2] / "src" / "waa_ads" / "content" / "rubrics" / "rubric.schema.json"
)


def _doc(**changes: object) -> str:
    base: dict[str, object] = {
        "format": 1,
        "id": "r1",
        "version": 1,
        "title": "T",
        "kind": "holistic",
        "levels": [
            {"id": "full", "points": 2, "descriptor": "all"},
            {"id": "none", "points": 0, "descriptor": "nothing"},
        ],
    }
    base.update(changes)
    return yaml.safe_dump({k: v for k, v in base.items() if v is not None})


def _problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(RubricError) as info:
        parse_rubric(text)
    return info.value.problems


def test_example_rubrics_parse() -> None:
    essay = parse_rubric(ESSAY)
    assert isinstance(essay, AnalyticRubric)
    assert essay.id == "argumentative-essay"
    assert essay.version == 2
    assert [c.id for c in essay.criteria] == ["claim", "evidence", "organization", "conventions"]
    assert [c.weight for c in essay.criteria] == [1.0, 2.0, 1.0, 0.5]
    assert essay.criteria[0].levels[4].label == "Advanced"
    assert essay.scale is not None and (essay.scale.min, essay.scale.max) == (0, 4)

    short = parse_rubric(SHORT.encode())
    assert isinstance(short, HolisticRubric)
    assert [lvl.id for lvl in short.levels] == ["complete", "partial", "none"]


def test_examples_validate_against_the_published_schema_file() -> None:
    published = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == rubric_schema()
    jsonschema.Draft202012Validator.check_schema(published)
    for text in (ESSAY, SHORT):
        jsonschema.validate(yaml.safe_load(text), published)


def test_max_points() -> None:
    # claim 4 + evidence 2x4 + organization 4 + conventions 0.5x4
    assert rubric_max_points(parse_rubric(ESSAY)) == 18.0
    assert rubric_max_points(parse_rubric(SHORT)) == 2.0


def test_weighted_analytic_scoring() -> None:
    essay = parse_rubric(ESSAY)
    selection = {
        "claim": "proficient",
        "evidence": "developing",
        "organization": "advanced",
        "conventions": "distracting",
    }
    assert score_with_rubric(essay, selection) == 3 + 2 * 2 + 4 + 0.5 * 2
    best = {c.id: c.levels[-1].id for c in essay.criteria}  # type: ignore[union-attr]
    assert score_with_rubric(essay, best) == rubric_max_points(essay)
    worst = {c.id: c.levels[0].id for c in essay.criteria}  # type: ignore[union-attr]
    assert score_with_rubric(essay, worst) == 0.0


def test_holistic_scoring() -> None:
    short = parse_rubric(SHORT)
    assert score_with_rubric(short, "complete") == 2.0
    assert score_with_rubric(short, {"level": "partial"}) == 1.0
    with pytest.raises(RubricScoringError, match="has no level 'excellent'; its levels: "):
        score_with_rubric(short, "excellent")
    with pytest.raises(RubricScoringError, match="takes one level id"):
        score_with_rubric(short, {"claim": "complete"})


def test_scoring_errors_name_every_problem() -> None:
    essay = parse_rubric(ESSAY)
    with pytest.raises(RubricScoringError) as info:
        score_with_rubric(essay, {"claim": "superb", "evidence": "advanced", "style": "good"})
    detail = info.value.detail
    assert "criterion 'claim' has no level 'superb'" in detail
    assert "no level chosen for criterion 'organization'" in detail
    assert "no level chosen for criterion 'conventions'" in detail
    assert "has no criterion 'style'" in detail
    assert info.value.status_code == 422
    with pytest.raises(RubricScoringError, match="needs a level for each criterion"):
        score_with_rubric(essay, "advanced")


def test_decimal_points_add_up_exactly() -> None:
    text = yaml.safe_dump(
        {
            "format": 1,
            "id": "tenths",
            "version": 1,
            "title": "Tenths",
            "kind": "analytic",
            "criteria": [
                {
                    "id": f"c{i}",
                    "title": f"C{i}",
                    "weight": 0.1,
                    "levels": [
                        {"id": "a", "points": 0.1, "descriptor": "a"},
                        {"id": "b", "points": 0.2, "descriptor": "b"},
                    ],
                }
                for i in range(3)
            ],
        }
    )
    rubric = parse_rubric(text)
    assert score_with_rubric(rubric, {"c0": "a", "c1": "a", "c2": "a"}) == 0.03
    assert rubric_max_points(rubric) == 0.06


def test_round_trip_through_yaml() -> None:
    for text in (ESSAY, SHORT):
        rubric = parse_rubric(text)
        assert parse_rubric(dump_rubric(rubric)) == rubric


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"format": 2}, ("format", "1 was expected")),
        ({"version": 0}, ("version", "0 is less than the minimum of 1")),
        ({"id": "has space"}, ("id", "does not match")),
        ({"kind": "checklist"}, ("kind", "is not one of")),
        ({"title": ""}, ("title", "should be non-empty")),
        ({"colour": "blue"}, ("(document)", "unknown key 'colour' (extension keys start")),
        ({"levels": []}, ("levels", "should be non-empty")),
        (
            {"levels": [{"id": "a", "points": -1, "descriptor": "d"}]},
            ("levels[0].points", "-1 is less than the minimum of 0"),
        ),
        (
            {"levels": [{"id": "a", "points": "two", "descriptor": "d"}]},
            ("levels[0].points", "'two' is not of type 'number'"),
        ),
        (
            {"levels": [{"id": "a", "points": 1}]},
            ("levels[0]", "'descriptor' is a required property"),
        ),
        (
            {"levels": [{"id": "a", "points": True, "descriptor": "d"}]},
            ("levels[0].points", "True is not of type 'number'"),
        ),
        (
            {
                "criteria": [
                    {
                        "id": "c",
                        "title": "C",
                        "levels": [{"id": "a", "points": 1, "descriptor": "d"}],
                    }
                ]
            },
            ("(document)", "an analytic rubric has criteria only, a holistic one levels only"),
        ),
        ({"language": "english!"}, ("language", "does not match")),
    ],
)
def test_schema_problems_are_reported_with_their_path(
    changes: dict[str, object], expected: tuple[str, str]
) -> None:
    problems = _problems(_doc(**changes))
    name, fragment = expected
    assert any(p[0] == name and fragment in p[1] for p in problems), problems


def test_analytic_needs_criteria() -> None:
    problems = _problems(_doc(kind="analytic"))
    assert ("(document)", "'criteria' is a required property") in problems


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {
                "levels": [
                    {"id": "a", "points": 1, "descriptor": "d"},
                    {"id": "a", "points": 2, "descriptor": "d"},
                ]
            },
            ("levels[1].id", "duplicate level id 'a'"),
        ),
        (
            {
                "levels": [
                    {"id": "a", "points": 1, "descriptor": "d"},
                    {"id": "b", "points": 1, "descriptor": "d"},
                ]
            },
            ("levels[1].points", "1 points already belong to level 'a'"),
        ),
        (
            {
                "scale": {"min": 0, "max": 4},
                "levels": [{"id": "a", "points": 5, "descriptor": "d"}],
            },
            ("levels[0].points", "5 is outside the scale 0..4"),
        ),
        (
            {
                "scale": {"min": 1, "max": 4},
                "levels": [
                    {"id": "a", "points": 0, "descriptor": "d"},
                    {"id": "b", "points": 2, "descriptor": "d"},
                ],
            },
            ("levels[0].points", "0 is outside the scale 1..4"),
        ),
        ({"scale": {"min": 3, "max": 2}}, ("scale", "min (3) must be below max (2)")),
        (
            {"levels": [{"id": "zero", "points": 0, "descriptor": "d"}]},
            ("levels", "no level awards any points"),
        ),
        (
            {"levels": [{"id": "nan", "points": float("nan"), "descriptor": "d"}]},
            ("levels[0].points", "must be a finite number"),
        ),
    ],
)
def test_semantic_problems(changes: dict[str, object], expected: tuple[str, str]) -> None:
    problems = _problems(_doc(**changes))
    name, fragment = expected
    assert any(p[0] == name and fragment in p[1] for p in problems), problems


def test_analytic_semantic_problems() -> None:
    level = {"id": "a", "points": 1, "descriptor": "d"}
    text = yaml.safe_dump(
        {
            "format": 1,
            "id": "r",
            "version": 1,
            "title": "T",
            "kind": "analytic",
            "criteria": [
                # Copies: the same dict twice would be dumped as a YAML alias.
                {"id": "c", "title": "C", "levels": [dict(level)]},
                {"id": "c", "title": "C again", "levels": [dict(level)]},
                {"id": "w", "title": "W", "weight": 0, "levels": [dict(level)]},
                {"id": "v", "title": "V", "weight": -2, "levels": [dict(level)]},
            ],
        }
    )
    problems = _problems(text)
    assert ("criteria[2].weight", "0 is less than or equal to the minimum of 0") in problems
    assert ("criteria[3].weight", "-2 is less than or equal to the minimum of 0") in problems
    # Semantic problems come after the schema is met.
    text = text.replace("weight: 0\n", "weight: 1\n").replace("weight: -2\n", "weight: 3\n")
    assert _problems(text) == [("criteria[1].id", "duplicate criterion id 'c'")]


def test_yaml_level_problems() -> None:
    with pytest.raises(RubricError, match=r"not valid YAML at line 2, column \d+: anchors"):
        parse_rubric("a: &x [1, 2]\nb: *x\n")
    with pytest.raises(RubricError, match="duplicate key 'id'"):
        parse_rubric("id: a\nid: b\n")
    with pytest.raises(RubricError, match="not valid YAML"):
        parse_rubric("levels: [unclosed\n")
    with pytest.raises(RubricError, match="must be a YAML mapping"):
        parse_rubric("- just\n- a list\n")
    with pytest.raises(RubricError, match="not valid YAML"):
        parse_rubric("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(RubricError, match="the limit is"):
        parse_rubric("x: " + "a" * MAX_RUBRIC_BYTES)


def test_errors_carry_invalid_params_for_problem_json() -> None:
    with pytest.raises(RubricError) as info:
        parse_rubric(_doc(version=0, levels=[{"id": "a", "points": -1, "descriptor": "d"}]))
    error = info.value
    assert isinstance(error, Unprocessable)
    assert error.status_code == 422
    assert error.code == "rubric-invalid"
    assert {"name": "version", "reason": "0 is less than the minimum of 1"} in error.extra[
        "invalid_params"
    ]
    assert error.detail.startswith("invalid rubric: ")
    assert "levels[0].points" in error.detail


def test_extension_keys_are_allowed_and_ignored() -> None:
    short = parse_rubric(SHORT)
    assert "x-scoring-notes" in SHORT
    assert "x-scoring-notes" not in dump_rubric(short)


_levels = st.lists(
    st.integers(min_value=0, max_value=10), min_size=1, max_size=6, unique=True
).filter(lambda pts: max(pts) > 0)


@given(
    st.lists(
        st.tuples(_levels, st.sampled_from([0.5, 1, 1.5, 2, 3])),
        min_size=1,
        max_size=5,
    ),
    st.data(),
)
def test_property_scores_stay_between_zero_and_max(
    criteria: list[tuple[list[int], float]], data: st.DataObject
) -> None:
    doc = {
        "format": 1,
        "id": "generated",
        "version": 1,
        "title": "Generated",
        "kind": "analytic",
        "criteria": [
            {
                "id": f"c{i}",
                "title": f"Criterion {i}",
                "weight": weight,
                "levels": [
                    {"id": f"l{p}", "points": p, "descriptor": f"{p} points"} for p in points
                ],
            }
            for i, (points, weight) in enumerate(criteria)
        ],
    }
    rubric = parse_rubric(yaml.safe_dump(doc))
    selection = {
        f"c{i}": f"l{data.draw(st.sampled_from(points))}" for i, (points, _) in enumerate(criteria)
    }
    score = score_with_rubric(rubric, selection)
    assert 0 <= score <= rubric_max_points(rubric)
    expected = sum(weight * int(selection[f"c{i}"][1:]) for i, (_, weight) in enumerate(criteria))
    assert score == pytest.approx(expected)
