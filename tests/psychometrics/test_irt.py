"""IRT calibration: published LSAT results, recovery of known parameters from simulated
data, ability estimates and information."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from waa_ads.psychometrics import datasets, irt
from waa_ads.psychometrics.errors import CalibrationInputError

# ltm's 2PL and common-slope Rasch fits of LSAT section 6 (Bock & Lieberman's data), as
# printed in Rizopoulos (2006), "ltm: An R package for latent variable modelling and item
# response theory analyses", Journal of Statistical Software 17(5): difficulty b = -d/a,
# discrimination a, theta ~ N(0, 1), logit link without the 1.702 constant.
LTM_LSAT6_2PL_B = [-3.3597, -1.3696, -0.2799, -1.8659, -3.1236]
LTM_LSAT6_2PL_A = [0.8254, 0.7229, 0.8905, 0.6886, 0.6575]
LTM_LSAT6_2PL_LOGLIK = -2466.653
LTM_LSAT6_RASCH_B = [-3.6153, -1.3224, -0.3176, -1.7301, -2.7803]
LTM_LSAT6_RASCH_A = 0.7551
LTM_LSAT6_RASCH_LOGLIK = -2466.938


def test_lsat6_2pl_agrees_with_ltm_within_001() -> None:
    scores, counts = datasets.patterns(datasets.LSAT6)
    fit = irt.calibrate(scores, "2pl", weights=counts)
    assert fit.converged
    assert fit.log_likelihood == pytest.approx(LTM_LSAT6_2PL_LOGLIK, abs=0.01)
    for item, b, a in zip(fit.items, LTM_LSAT6_2PL_B, LTM_LSAT6_2PL_A, strict=True):
        assert item.b == pytest.approx(b, abs=0.01)
        assert item.a == pytest.approx(a, abs=0.01)


def test_lsat6_rasch_agrees_with_ltm_within_001() -> None:
    scores, counts = datasets.patterns(datasets.LSAT6)
    fit = irt.calibrate(scores, "rasch", weights=counts)
    assert fit.converged
    assert fit.log_likelihood == pytest.approx(LTM_LSAT6_RASCH_LOGLIK, abs=0.01)
    for item, b in zip(fit.items, LTM_LSAT6_RASCH_B, strict=True):
        assert item.a == pytest.approx(LTM_LSAT6_RASCH_A, abs=0.01)
        assert item.b == pytest.approx(b, abs=0.01)


def test_pattern_table_and_one_row_per_examinee_give_the_same_fit() -> None:
    scores, counts = datasets.patterns(datasets.LSAT7)
    grouped = irt.calibrate(scores, "2pl", weights=counts)
    expanded = irt.calibrate(datasets.expand(datasets.LSAT7), "2pl")
    assert np.allclose(grouped.params, expanded.params, atol=1e-5)  # float32 E-step
    assert grouped.log_likelihood == pytest.approx(expanded.log_likelihood, abs=1e-4)
    for g, e in zip(grouped.items, expanded.items, strict=True):
        assert g.se == pytest.approx(e.se, abs=1e-5)
        assert g.fit["q1"] == pytest.approx(e.fit["q1"], abs=1e-4)


@pytest.mark.parametrize("model", ["gpcm", "grm"])
def test_polytomous_models_reduce_to_the_2pl_on_right_wrong_items(model: str) -> None:
    scores, counts = datasets.patterns(datasets.LSAT7)
    two = irt.calibrate(scores, "2pl", weights=counts)
    poly = irt.calibrate(scores, model, weights=counts)
    assert poly.log_likelihood == pytest.approx(two.log_likelihood, abs=1e-3)
    for p, t in zip(poly.items, two.items, strict=True):
        assert p.a == pytest.approx(t.a, abs=2e-3)
        assert p.d == pytest.approx([t.d], abs=2e-3)


def _items(model: str, count: int, seed: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.7, 2.0, count)
    if model in ("2pl", "rasch"):
        d = rng.normal(0, 1, count)
        return np.column_stack([np.full(count, 1.2) if model == "rasch" else a, d]), np.full(
            count, 2.0
        )
    if model == "3pl":
        d = rng.normal(0.5, 1, count)
        logit_c = np.log(np.full(count, 0.2) / 0.8)
        return np.column_stack([a, d, logit_c]), np.full(count, 2.0)
    if model == "grm":
        d = np.sort(rng.normal(0, 1.2, (count, 3)), axis=1)[:, ::-1]
    else:
        d = np.cumsum(rng.normal(0, 1, (count, 3)), axis=1)
    return np.column_stack([a, d]), np.full(count, 4.0)


@pytest.mark.parametrize("model", ["rasch", "2pl", "gpcm", "grm"])
def test_known_parameters_are_recovered_within_their_standard_errors(model: str) -> None:
    """5,000 simulated persons, 15 items: each estimate within 4 of its own standard errors
    of the truth (a two-sided 4-sigma band misses with probability 6e-5 per parameter), and
    the errors scaled by the SEs have a spread near 1, so the SEs are neither too small nor
    too large."""
    true, ncat = _items(model, 15, seed=11)
    scores, _ = irt.simulate(model, true, ncat, 5000, seed=12)
    fit = irt.calibrate(scores, model)
    assert fit.converged
    z = []
    for j, item in enumerate(fit.items):
        estimates = [item.a, *(item.d if isinstance(item.d, list) else [item.d])]
        ses = [item.se["a"], *(v for v in np.atleast_1d(item.se["d"]))]  # type: ignore[arg-type]
        truths = [true[j, 0], *true[j, 1 : 1 + len(estimates) - 1]]
        for est, se, truth in zip(estimates, ses, truths, strict=True):
            assert se is not None and se > 0
            assert abs(est - truth) < 4 * se, (item.item, est, truth, se)
            z.append((est - truth) / se)
    assert 0.6 < float(np.std(z)) < 1.5


def test_3pl_recovers_slopes_intercepts_and_guessing() -> None:
    """The 3PL needs more persons: 20,000, 10 items; c within 0.07 of 0.2 and a, d within
    4 standard errors (the Beta(5, 17) prior on c centres on the truth here)."""
    true, ncat = _items("3pl", 10, seed=21)
    scores, _ = irt.simulate("3pl", true, ncat, 20_000, seed=22)
    fit = irt.calibrate(scores, "3pl")
    assert fit.converged
    for j, item in enumerate(fit.items):
        assert item.c is not None and abs(item.c - 0.2) < 0.07
        assert item.se["c"] is not None
        assert abs(item.a - true[j, 0]) < 4 * float(item.se["a"])  # type: ignore[arg-type]
        assert abs(float(item.d) - true[j, 1]) < 4 * float(item.se["d"])  # type: ignore[arg-type]


def test_ability_estimates_track_the_true_abilities() -> None:
    true, ncat = _items("2pl", 30, seed=31)
    scores, theta = irt.simulate("2pl", true, ncat, 2000, seed=32)
    fit = irt.calibrate(scores, "2pl")
    for estimate in (irt.eap(fit, scores), irt.wle(fit, scores), irt.mle(fit, scores)):
        assert np.corrcoef(estimate.theta, theta)[0, 1] > 0.9
        middle = np.abs(estimate.theta) < 2
        # the reported SE matches the actual error in the middle of the scale
        rmse = float(np.sqrt(np.mean((estimate.theta - theta)[middle] ** 2)))
        assert 0.7 < rmse / float(np.mean(estimate.se[middle])) < 1.3
    eap = irt.eap(fit, scores)
    assert abs(float(np.mean(eap.theta))) < 0.1


def test_extreme_patterns_mle_at_the_bound_wle_and_eap_finite() -> None:
    true, ncat = _items("2pl", 10, seed=41)
    fit = irt.calibrate(irt.simulate("2pl", true, ncat, 1000, seed=42)[0], "2pl")
    extremes = np.array([[1] * 10, [0] * 10])
    assert irt.mle(fit, extremes).theta.tolist() == [6.0, -6.0]
    wle = irt.wle(fit, extremes).theta
    assert 1.0 < wle[0] < 6.0 and -6.0 < wle[1] < -1.0
    eap = irt.eap(fit, extremes)
    assert eap.theta[0] > 0 > eap.theta[1] and (eap.se < 1).all()


def test_items_not_presented_are_left_out() -> None:
    true, ncat = _items("2pl", 12, seed=51)
    scores, _ = irt.simulate("2pl", true, ncat, 4000, seed=52)
    holes = scores.copy()
    rng = np.random.default_rng(53)
    holes[rng.random(holes.shape) < 0.3] = -1  # 30% of cells not presented, at random
    full = irt.calibrate(scores, "2pl")
    partial = irt.calibrate(holes, "2pl")
    for f, p in zip(full.items, partial.items, strict=True):
        assert abs(p.a - f.a) < 4 * float(p.se["a"])  # type: ignore[arg-type]
        assert abs(float(p.d) - float(f.d)) < 4 * float(p.se["d"])  # type: ignore[arg-type]
        assert float(p.se["a"]) > float(f.se["a"])  # type: ignore[arg-type]


def test_information_of_a_2pl_item_peaks_at_b_with_a_squared_over_4() -> None:
    scores, counts = datasets.patterns(datasets.LSAT7)
    fit = irt.calibrate(scores, "2pl", weights=counts, standard_errors=False)
    for j, item in enumerate(fit.items):
        at_b = irt.item_information(fit, np.array([float(item.b)]))[j, 0]  # type: ignore[arg-type]
        assert at_b == pytest.approx(item.a**2 / 4, rel=1e-5)
    theta = np.linspace(-4, 4, 81)
    info, se = irt.test_information(fit, theta)
    assert np.allclose(se, 1 / np.sqrt(info))
    assert info.argmax() == pytest.approx(np.argmin(se))


def test_refusals() -> None:
    with pytest.raises(CalibrationInputError):
        irt.calibrate(np.array([[0, 2], [1, 1]]), "2pl")
    with pytest.raises(CalibrationInputError):
        irt.calibrate(np.array([[0, 1], [1, 1]]), "4pl")
    with pytest.raises(CalibrationInputError):
        irt.calibrate(np.array([[0, 1]]), "2pl")


@pytest.mark.parametrize("table", ["LSAT6", "LSAT7"])
def test_2pl_agrees_with_girth_within_001(table: str) -> None:
    """girth (an MML implementation from PyPI, its own quadrature) on the same examinees."""
    import girth  # type: ignore[import-untyped]

    scores = datasets.expand(getattr(datasets, table))
    theirs = girth.twopl_mml(scores.T)
    ours = irt.calibrate(scores, "2pl", standard_errors=False)
    assert np.allclose([i.a for i in ours.items], theirs["Discrimination"], atol=0.01)
    assert np.allclose([i.b for i in ours.items], theirs["Difficulty"], atol=0.01)


def test_2pl_agrees_with_girth_on_simulated_data() -> None:
    import girth

    true, ncat = _items("2pl", 20, seed=61)
    scores, _ = irt.simulate("2pl", true, ncat, 3000, seed=62)
    theirs = girth.twopl_mml(scores.T)
    ours = irt.calibrate(scores, "2pl", standard_errors=False)
    assert np.allclose([i.a for i in ours.items], theirs["Discrimination"], atol=0.01)
    assert np.allclose([i.b for i in ours.items], theirs["Difficulty"], atol=0.01)
