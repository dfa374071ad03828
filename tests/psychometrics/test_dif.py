"""Mantel-Haenszel and logistic-regression DIF on simulated groups with and without planted
effects; logistic regression checked against statsmodels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from waa_ads.psychometrics import irt
from waa_ads.psychometrics.dif import (
    dif_report,
    logistic_regression,
    mantel_haenszel,
    polytomous_dif,
)
from waa_ads.psychometrics.errors import DifInputError


def test_planted_dif_is_class_c_and_fair_items_are_class_a() -> None:
    rng = np.random.default_rng(3)
    params = np.column_stack([rng.uniform(0.8, 1.8, 20), rng.normal(0, 1, 20)])
    ref, _ = irt.simulate("2pl", params, np.full(20, 2.0), 3000, seed=4)
    shifted = params.copy()
    shifted[0, 1] -= 1.2  # item 1 is 1.2 logits harder for the focal group
    foc, _ = irt.simulate("2pl", shifted, np.full(20, 2.0), 3000, seed=5)
    scores = np.vstack([ref, foc])
    focal = np.r_[np.zeros(3000, bool), np.ones(3000, bool)]
    items = [f"q{j}" for j in range(20)]
    result = mantel_haenszel(scores, focal, items)
    assert result[0].ets_class == "C"
    assert result[0].delta is not None and result[0].delta < -1.5  # favours the reference
    fair = [r.ets_class for r in result[1:]]
    assert fair.count("A") >= 17 and "C" not in fair


def test_by_hand_two_strata() -> None:
    # stratum totals: reference rows then focal rows, one studied item and one other item
    scores = np.array([[1, 0], [0, 1], [1, 0], [0, 1], [1, 1], [1, 1], [0, 0], [0, 0]])
    focal = np.array([False, False, True, True, False, True, False, True])
    result = mantel_haenszel(scores, focal, ["a", "b"])[0]
    # total 1: ref A=1 B=1, focal C=1 D=1 -> AD/N = 1/4, BC/N = 1/4; total 2 and 0 are
    # single-group per outcome: total 2 has ref right, focal right (A=1,C=1,B=D=0);
    # total 0 has ref wrong, focal wrong -> both add 0 to numerator and denominator
    assert result.alpha is not None and abs(result.alpha - 1.0) < 1e-12
    assert result.ets_class == "A"


def _two_groups(
    persons: int, shift: dict[int, tuple[float, float]], seed: int
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Reference and focal groups of ``persons`` each on 20 2PL items; ``shift`` adds
    (slope, intercept) offsets to the focal group's parameters of some items."""
    rng = np.random.default_rng(seed)
    params = np.column_stack([rng.uniform(0.8, 1.8, 20), rng.normal(0, 1, 20)])
    ref, _ = irt.simulate("2pl", params, np.full(20, 2.0), persons, seed=seed + 1)
    shifted = params.copy()
    for j, (da, dd) in shift.items():
        shifted[j] += (da, dd)
    foc, _ = irt.simulate("2pl", shifted, np.full(20, 2.0), persons, seed=seed + 2)
    focal = np.r_[np.zeros(persons, bool), np.ones(persons, bool)]
    return np.vstack([ref, foc]), focal


def test_logistic_dif_agrees_with_statsmodels() -> None:
    import statsmodels.api as sm  # a test dependency (pyproject's dev group)

    scores, focal = _two_groups(800, {0: (0.0, -1.0), 1: (-0.9, 0.0)}, seed=11)
    items = [f"q{j}" for j in range(20)]
    ours = logistic_regression(scores, focal, items)
    total = scores.sum(axis=1).astype(float)
    g = focal.astype(float)
    for j in range(4):
        y = scores[:, j]
        fits = [
            sm.Logit(y, sm.add_constant(np.column_stack(cols))).fit(disp=0)
            for cols in ([total], [total, g], [total, g, total * g])
        ]
        null = fits[0].llnull
        n = len(y)

        def r2(llf: float, null: float = null, n: int = n) -> float:
            return float((1 - np.exp(2 * (null - llf) / n)) / (1 - np.exp(2 * null / n)))

        r = ours[j]
        assert r.group_effect == pytest.approx(fits[1].params[2], abs=1e-6)
        assert r.interaction == pytest.approx(fits[2].params[3], abs=1e-6)
        assert r.uniform_chi_square == pytest.approx(2 * (fits[1].llf - fits[0].llf), abs=1e-6)
        assert r.nonuniform_chi_square == pytest.approx(2 * (fits[2].llf - fits[1].llf), abs=1e-6)
        assert r.total_chi_square == pytest.approx(2 * (fits[2].llf - fits[0].llf), abs=1e-6)
        assert r.total_delta_r2 == pytest.approx(r2(fits[2].llf) - r2(fits[0].llf), abs=1e-8)
        assert r.uniform_delta_r2 == pytest.approx(r2(fits[1].llf) - r2(fits[0].llf), abs=1e-8)


def test_logistic_dif_finds_uniform_and_nonuniform_effects() -> None:
    # item 0: 1.2 logits harder for the focal group; item 1: much flatter for it (crossing)
    scores, focal = _two_groups(2500, {0: (0.0, -1.2), 1: (-1.0, 0.0)}, seed=21)
    result = logistic_regression(scores, focal, [f"q{j}" for j in range(20)])
    uniform, crossing, fair = result[0], result[1], result[2:]
    assert uniform.group_effect is not None and uniform.group_effect < -0.8
    assert uniform.uniform_p_value is not None and uniform.uniform_p_value < 1e-6
    assert uniform.jodoin_gierl in ("B", "C") and uniform.uniform_class in ("B", "C")
    assert crossing.nonuniform_p_value is not None and crossing.nonuniform_p_value < 1e-6
    assert crossing.interaction is not None and crossing.interaction < 0
    assert crossing.nonuniform_delta_r2 is not None
    assert crossing.nonuniform_delta_r2 > crossing.uniform_delta_r2  # type: ignore[operator]
    classes = [r.jodoin_gierl for r in fair]
    assert classes.count("A") == len(fair)


def test_dif_report_groups_missing_and_polytomous_items() -> None:
    scores, focal = _two_groups(600, {0: (0.0, -1.5)}, seed=31)
    scores = np.column_stack([scores, np.arange(len(scores)) % 3])  # a 0..2 item
    scores[0, 5] = -1  # one reference person did not see item 5
    groups: list[str | None] = ["F" if f else "R" for f in focal]
    groups[1] = None  # one person without a group
    groups[2] = "X"  # a second focal group of one
    items = [f"q{j}" for j in range(21)]
    report = dif_report(scores, items, groups, "R")
    assert report["skipped"] == [{"item": "q20", "reason": "scores other than 0 and 1"}]
    assert report["items"] == items[:20]
    comparisons = report["comparisons"]
    assert isinstance(comparisons, list)
    second, first = comparisons
    assert second["focal"] == "X" and first["focal"] == "F"  # in order of first appearance
    assert first["reference_persons"] == 597 and first["focal_persons"] == 600
    assert first["persons_left_out"] == 1
    top = first["items"][0]
    assert top["item"] == "q0" and top["mantel_haenszel"]["ets_class"] == "C"
    assert top["logistic"]["jodoin_gierl"] in ("B", "C")


@pytest.mark.parametrize(
    ("groups", "reason"),
    [(["A", "A", "A", "A"], "no focal group"), (["A", "B", "A", "B"], "reference group 'Z'")],
)
def test_dif_report_refuses_what_it_cannot_compare(groups: list[str | None], reason: str) -> None:
    scores = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    with pytest.raises(DifInputError, match=reason):
        dif_report(scores, ["a", "b"], groups, "Z" if "Z" in reason else "A")


def _with_gpcm(
    persons: int, focal_shift: float, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """20 right/wrong items and two 0..2 GPCM items (the first harder for the focal group
    by ``focal_shift`` logits on each step, the second fair), same abilities in both."""
    rng = np.random.default_rng(seed)
    params = np.column_stack([rng.uniform(0.8, 1.8, 20), rng.normal(0, 1, 20)])
    poly = np.array([[1.2, 0.5, 0.0], [1.0, 0.3, -0.2]])
    blocks = []
    for g, shift in ((0, 0.0), (1, focal_shift)):
        right, theta = irt.simulate("2pl", params, np.full(20, 2.0), persons, seed=seed + g)
        steps = poly.copy()
        steps[0, 1:] -= shift * np.array([1.0, 2.0])  # d_k drops by k * shift
        probs = irt.category_probabilities("gpcm", steps, theta, np.array([3.0, 3.0]))
        u = np.random.default_rng(seed + 10 + g).random((2, persons, 1))
        cats = (u > np.cumsum(probs, axis=2)).sum(axis=2).T
        blocks.append(np.column_stack([right, np.minimum(cats, 2)]))
    focal = np.r_[np.zeros(persons, bool), np.ones(persons, bool)]
    return np.vstack(blocks).astype(np.int64), focal


def test_polytomous_dif_finds_a_planted_item_and_agrees_with_cmh_on_right_wrong_items() -> None:
    import statsmodels.stats.contingency_tables as sm  # a test dependency

    scores, focal = _with_gpcm(1500, 0.8, seed=41)
    items = [f"q{j}" for j in range(20)] + ["p0", "p1"]
    report = dif_report(scores, items, ["F" if f else "R" for f in focal], "R")
    skipped: Any = report["skipped"]
    comparisons: Any = report["comparisons"]
    assert [s["item"] for s in skipped] == ["p0", "p1"]
    (comparison,) = comparisons
    planted, fair = comparison["polytomous"]
    assert planted["item"] == "p0" and planted["p_value"] < 1e-6
    assert planted["smd"] < 0 and planted["ets_class"] in ("BB", "CC")
    assert fair["item"] == "p1" and fair["ets_class"] == "AA"

    # On a right/wrong item Mantel's statistic is the Cochran-Mantel-Haenszel chi-square
    # (without continuity correction).
    item, totals = scores[:, 3], scores[:, :20].sum(axis=1)
    ours = polytomous_dif(item, totals, focal, "q3")
    tables = [
        np.array(
            [
                [((item == 1) & ~focal & at).sum(), ((item == 0) & ~focal & at).sum()],
                [((item == 1) & focal & at).sum(), ((item == 0) & focal & at).sum()],
            ]
        )
        for at in (totals == t for t in np.unique(totals))
    ]
    tables = [t for t in tables if t[0].sum() > 0 and t[1].sum() > 0]
    cmh = sm.StratifiedTable(tables).test_null_odds(correction=False)
    assert ours.chi_square == pytest.approx(cmh.statistic, rel=1e-9)
    assert ours.p_value == pytest.approx(cmh.pvalue, rel=1e-6)
