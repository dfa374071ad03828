"""Linking two calibrations through common items, and scaled scores: exact recovery of a
known transformation from transformed parameters, and recovery from simulated forms."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from waa_ads.psychometrics import irt, linking
from waa_ads.psychometrics.errors import CalibrationInputError
from waa_ads.psychometrics.linking import ItemParameters


def _bank(model: str, items: int, seed: int) -> ItemParameters:
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.7, 2.0, items)
    if model in irt.DICHOTOMOUS:
        d = rng.normal(0, 1.2, items)
        cols = [a, d] + ([np.full(items, -1.4)] if model == "3pl" else [])
        return ItemParameters(
            model, [f"i{j}" for j in range(items)], np.column_stack(cols), np.full(items, 2.0)
        )
    steps = np.sort(rng.normal(0, 1, (items, 3)), axis=1)
    d = -steps[:, ::-1] * a[:, None] if model == "grm" else np.cumsum(-steps * a[:, None], 1)
    return ItemParameters(
        model, [f"i{j}" for j in range(items)], np.column_stack([a, d]), np.full(items, 4.0)
    )


@pytest.mark.parametrize("model", ["2pl", "3pl", "gpcm", "grm"])
def test_every_method_recovers_an_exact_transformation(model: str) -> None:
    y = _bank(model, 12, seed=1)
    # form X is the same items on a scale where theta_X = (theta_Y - 0.4) / 1.3
    x = linking.transform(y, 1 / 1.3, -0.4 / 1.3)
    probabilities_y = y.probabilities(np.array([-1.0, 0.5]))
    probabilities_x = x.probabilities((np.array([-1.0, 0.5]) - 0.4) / 1.3)
    assert np.allclose(probabilities_x, probabilities_y)  # same persons, same probabilities
    common, found = linking.link(x, y)
    assert common == y.items
    for method in linking.METHODS:
        assert found[method].slope == pytest.approx(1.3, abs=1e-5), method
        assert found[method].intercept == pytest.approx(0.4, abs=1e-5), method
    back = linking.transform(x, found["stocking-lord"].slope, found["stocking-lord"].intercept)
    assert np.allclose(back.params, y.params, atol=1e-4)


def test_recovers_the_transformation_between_two_simulated_calibrations() -> None:
    """Forms X and Y share 6 of their 12 items; X's candidates are abler and more spread
    (theta_Y ~ N(0.5, 1.25^2)), so X's own N(0, 1) scale is theta_Y = 1.25 theta_X + 0.5."""
    truth = _bank("2pl", 18, seed=7)
    form_y = truth.subset([f"i{j}" for j in range(12)])
    form_x_truth = linking.transform(truth.subset([f"i{j}" for j in range(6, 18)]), 0.8, -0.4)
    scores_y, _ = irt.simulate("2pl", form_y.params, form_y.ncat, 2500, seed=8)
    scores_x, _ = irt.simulate("2pl", form_x_truth.params, form_x_truth.ncat, 2500, seed=9)
    fits = [
        irt.calibrate(s, "2pl", f.items, standard_errors=False, tolerance=1e-3).to_dict()
        for s, f in ((scores_y, form_y), (scores_x, form_x_truth))
    ]
    out = linking.link_calibrations(fits[1], fits[0])
    assert out["common_items"] == [f"i{j}" for j in range(6, 12)]
    for method, found in out["methods"].items():
        assert found["slope"] == pytest.approx(1.25, abs=0.12), method
        assert found["intercept"] == pytest.approx(0.5, abs=0.1), method
    moved = {i["item"]: i for i in out["items"]}
    for j in range(12, 18):  # X's own items land near their true values on Y's scale
        assert moved[f"i{j}"]["a"] == pytest.approx(truth.params[j, 0], abs=0.3)
        assert moved[f"i{j}"]["d"] == pytest.approx(truth.params[j, 1], abs=0.3)


def test_calibrations_that_cannot_be_linked() -> None:
    y: dict[str, Any] = _bank("2pl", 5, seed=2).to_calibration().to_dict()
    other = _bank("grm", 5, seed=2).to_calibration().to_dict()
    with pytest.raises(CalibrationInputError, match="form X is calibrated with grm"):
        linking.link_calibrations(other, y)
    renamed = {**y, "items": [{**i, "item": f"x{n}"} for n, i in enumerate(y["items"])]}
    with pytest.raises(CalibrationInputError, match="at least two items common"):
        linking.link_calibrations(renamed, y)
    with pytest.raises(CalibrationInputError, match="positive slope"):
        linking.link_calibrations({**y, "items": [{**y["items"][0], "a": -1.0}]}, y)
    with pytest.raises(CalibrationInputError, match="method"):
        linking.link_calibrations(y, y, method="equipercentile")


def test_scaled_scores_and_their_standard_errors() -> None:
    theta = np.array([-3.0, 0.0, 1.2])
    se = np.array([0.5, 0.3, 0.35])
    scaled, scaled_se = linking.scaled_scores(theta, se, 100.0, 500.0, lowest=250.0)
    assert scaled.tolist() == [250.0, 500.0, 620.0]
    assert scaled_se == pytest.approx([50.0, 30.0, 35.0])
    with pytest.raises(CalibrationInputError):
        linking.scaled_scores(theta, se, 0.0, 500.0)
