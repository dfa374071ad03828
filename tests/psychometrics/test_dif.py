"""Mantel-Haenszel DIF on simulated groups with and without a planted effect."""

from __future__ import annotations

import numpy as np

from waa_ads.psychometrics import irt
from waa_ads.psychometrics.dif import mantel_haenszel


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
