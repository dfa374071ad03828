from __future__ import annotations

import math

from waa_ads.autoscore.gate import Gate, evaluate
from waa_ads.autoscore.metrics import Agreement
from waa_ads.autoscore.model import GroupDifference, TrainingReport


def report(
    qwk: float = 0.8,
    smd: float = 0.02,
    human_qwk: float | None = 0.82,
    n: int = 500,
    groups: list[GroupDifference] | None = None,
) -> TrainingReport:
    model = Agreement(n, qwk, 0.6, 0.95, smd)
    human = None if human_qwk is None else Agreement(n, human_qwk, 0.6, 0.95, 0.0)
    return TrainingReport(
        n=n, min_score=0, max_score=4, folds=5, model=model, human=human,
        model_on_double=None if human is None else model, confidence=0.9, tolerance=1,
        coverage=0.9, mean_set_size=2.0, auto_share=0.8, auto=model, groups=groups or [],
        alpha=1.0, features=10, training_seconds=1.0, library_versions={},
    )  # fmt: skip


def failed(verdict_report: TrainingReport, gate: Gate = Gate()) -> list[str]:
    return [c.name for c in evaluate(verdict_report, gate).checks if not c.passed]


def test_a_good_model_passes_the_default_gate() -> None:
    verdict = evaluate(report(), Gate())
    assert verdict.passed
    assert [c.name for c in verdict.checks] == ["responses", "qwk", "qwk below human", "smd"]
    assert verdict.to_dict()["checks"][1]["value"] == 0.8


def test_each_criterion_fails_on_its_own() -> None:
    assert failed(report(qwk=0.69, human_qwk=0.75)) == ["qwk"]
    assert failed(report(qwk=0.72, human_qwk=0.83)) == ["qwk below human"]
    assert failed(report(smd=-0.16)) == ["smd"]
    assert failed(report(n=150)) == ["responses"]
    assert failed(report(qwk=math.nan)) == ["qwk", "qwk below human"]


def test_without_second_scores_the_human_comparison_is_reported_not_required() -> None:
    verdict = evaluate(report(human_qwk=None), Gate())
    check = next(c for c in verdict.checks if c.name == "qwk below human")
    assert verdict.passed and check.value is None and "no second human" in check.reason
    assert failed(report(human_qwk=None), Gate(require_human=True)) == ["qwk below human"]


def test_the_gate_can_require_group_differences_within_a_limit() -> None:
    groups = [GroupDifference("A", 200, 0.05, 2.0, 2.05), GroupDifference("B", 80, -0.2, 2, 1.8)]
    assert evaluate(report(groups=groups), Gate()).passed  # reported, not required
    assert failed(report(groups=groups), Gate(max_abs_group_smd=0.1)) == ["group smd: B"]
    assert failed(report(), Gate(max_abs_group_smd=0.1)) == ["group smd"]
