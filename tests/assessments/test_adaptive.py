"""The adaptive testing engine: selection rules, the EAP update, exposure control, content
balancing, stopping rules and a simulation's recovery of known abilities."""

from __future__ import annotations

import numpy as np
import pytest

from waa_ads.assessments import adaptive
from waa_ads.assessments.adaptive import CatBank, CatConfigError, CatRules, CatState


def _bank(n: int = 200, seed: int = 0, c: float = 0.0) -> CatBank:
    rng = np.random.default_rng(seed)
    return CatBank.from_items(
        [
            {
                "item": f"i{j}",
                "a": float(rng.uniform(0.6, 2.2)),
                "d": float(rng.normal(0, 1.5)),
                "c": c,
                "tags": [("alg", "geo", "num")[j % 3]],
            }
            for j in range(n)
        ]
    )


def test_information_is_the_3pl_formula_by_differences() -> None:
    bank = _bank(20, c=0.15)
    h = 1e-5
    for theta in (-1.3, 0.0, 0.8):
        p = bank.probability(theta)
        dp = (bank.probability(theta + h) - bank.probability(theta - h)) / (2 * h)
        assert bank.information(theta) == pytest.approx(dp**2 / (p * (1 - p)), rel=1e-6)


def test_max_info_takes_the_most_informative_item_left() -> None:
    bank = _bank()
    state = CatState()
    rng = np.random.default_rng(0)
    for response in (1, 0, 1, 1):
        item, state, reason = adaptive.select(bank, CatRules(), state, rng)
        assert item is not None and reason is None
        info = bank.information(state.theta)
        info[list(state.administered)] = -1
        assert item == int(np.argmax(info))
        state = adaptive.answer(bank, state, item, response)


def test_eap_update_is_the_posterior_mean_over_the_grid() -> None:
    bank = _bank(10, c=0.2)
    state = CatState()
    for item, response in ((3, 1), (7, 0), (1, 1)):
        state = adaptive.answer(bank, state, item, response)
    grid = adaptive.GRID
    post = np.exp(-0.5 * grid**2)
    for item, response in ((3, 1), (7, 0), (1, 1)):
        p = bank.probability(grid, np.full(grid.size, item))
        post *= p if response else 1 - p
    post /= post.sum()
    mean = float(post @ grid)
    assert state.theta == pytest.approx(mean, abs=1e-10)
    assert state.se == pytest.approx(np.sqrt(post @ grid**2 - mean**2), abs=1e-10)
    assert state.administered == (3, 7, 1) and state.responses == (1, 0, 1)


def test_randomesque_and_a_stratified_choices() -> None:
    bank = _bank()
    rng = np.random.default_rng(1)
    top = set(np.argsort(-bank.information(0.0))[:5].tolist())
    picks = {
        adaptive.select(bank, CatRules(selection="randomesque"), CatState(), rng)[0]
        for _ in range(60)
    }
    assert picks == top  # each of the five best, and nothing else
    rules = CatRules(selection="a-stratified", strata=4, max_items=20)
    item, _, _ = adaptive.select(bank, rules, CatState(), rng)
    lowest_quarter = np.argsort(bank.a, kind="stable")[:50]
    assert item in lowest_quarter
    b = -bank.d[lowest_quarter] / bank.a[lowest_quarter]
    assert item == lowest_quarter[np.argmin(np.abs(b))]


def test_stopping_rules() -> None:
    bank = _bank()
    rules = CatRules(se_target=0.5, min_items=3, max_items=6, max_seconds=240)
    state = CatState(se=0.1)
    assert adaptive.stop_reason(rules, state, 10) is None  # SE met, but fewer than 3 items
    for j in range(3):
        state = adaptive.answer(bank, state, j, 1, seconds=60)
    assert adaptive.stop_reason(rules, CatState(administered=(0, 1, 2), se=0.4), 10) == "se-target"
    assert adaptive.stop_reason(rules, state, 0) == "bank-exhausted"
    state = adaptive.answer(bank, state, 3, 0, seconds=60)
    assert adaptive.stop_reason(rules, state, 10) == "time"
    assert adaptive.stop_reason(rules, CatState(administered=tuple(range(6))), 10) == "max-items"


def test_content_balancing_meets_the_shares_on_fixed_length_tests() -> None:
    bank = _bank()
    rules = CatRules(se_target=None, max_items=10, content={"alg": 0.5, "geo": 0.3, "num": 0.2})
    rng = np.random.default_rng(2)
    for true in (-1.0, 0.5, 2.0):
        state = CatState()
        while True:
            item, state, _ = adaptive.select(bank, rules, state, rng)
            if item is None:
                break
            state = adaptive.answer(bank, state, item, int(rng.random() < 0.5))
        tags = [next(iter(bank.tags[j])) for j in state.administered]
        assert (tags.count("alg"), tags.count("geo"), tags.count("num")) == (5, 3, 2), true


def test_simulation_recovers_abilities_and_exposure_control_caps_rates() -> None:
    bank = _bank(150)
    thetas = np.random.default_rng(3).standard_normal(150)
    free = adaptive.simulate(bank, CatRules(), thetas, seed=4)
    assert abs(free.bias) < 0.1 and free.rmse < 0.4
    assert 5 <= free.mean_length < 30 and free.stop_reasons.get("se-target", 0) > 100
    assert free.exposure.max() == 1.0  # the best item at theta = 0 goes to everyone
    k = adaptive.sympson_hetter(bank, CatRules(), 0.3, candidates=150, rounds=4, seed=5)
    capped = adaptive.simulate(bank, CatRules(exposure=k), thetas, seed=4)
    assert capped.exposure.max() < 0.45 and capped.rmse < 0.45
    report = capped.to_dict(bank)
    assert report["candidates"] == 150 and report["exposure"]["max"] < 0.45  # type: ignore[index]


def test_bad_banks_and_rules() -> None:
    with pytest.raises(CatConfigError, match="a > 0"):
        CatBank.from_items([{"item": "x", "a": -1, "d": 0}])
    with pytest.raises(CatConfigError, match="gpcm or grm"):
        CatBank.from_items([{"item": "x", "a": 1, "d": [0.1, 0.2]}])  # no model said
    with pytest.raises(CatConfigError, match="min_items"):
        CatRules(min_items=5, max_items=3).check(_bank(5))
    with pytest.raises(CatConfigError, match="exposure"):
        CatRules(exposure=np.ones(3)).check(_bank(5))


def _polytomous_bank(n: int = 150, seed: int = 5) -> CatBank:
    """GPCM and graded items of 3 to 4 categories, and some right/wrong ones."""
    rng = np.random.default_rng(seed)
    items: list[dict[str, object]] = []
    for j in range(n):
        a = float(rng.uniform(0.7, 2.0))
        if j % 3 == 2:
            items.append({"item": f"r{j}", "a": a, "d": float(rng.normal(0, 1.2))})
            continue
        k = 2 + j % 2
        if j % 3 == 0:  # graded: decreasing d_k
            d = sorted((float(x) for x in rng.normal(0, 1.5, k)), reverse=True)
            items.append({"item": f"g{j}", "a": a, "d": d, "model": "grm"})
        else:  # GPCM: cumulative intercepts of steps b_k
            b = np.sort(rng.normal(0, 1.2, k))
            items.append({"item": f"p{j}", "a": a, "d": list(np.cumsum(-a * b)), "model": "gpcm"})
    return CatBank.from_items(items)


def test_polytomous_information_and_update_are_the_textbook_formulas() -> None:
    bank = _polytomous_bank()
    assert bank.kind is not None
    rows = np.arange(12, dtype=np.int64)
    h = 1e-5
    for theta in (-1.3, 0.2, 1.7):
        probs = bank.categories(rows, np.array([theta - h, theta, theta + h]))
        slope = (probs[:, 2] - probs[:, 0]) / (2 * h)
        direct = (slope**2 / np.clip(probs[:, 1], 1e-300, None)).sum(axis=1)
        assert bank.information(theta, rows) == pytest.approx(direct, rel=1e-5)
        assert probs[:, 1].sum(axis=1) == pytest.approx(np.ones(12))
    # the EAP after scores 2, 0, 1 on three polytomous items equals the posterior computed
    # directly on the grid
    state = CatState()
    for item, score in ((0, 2), (1, 0), (3, 1)):
        state = adaptive.answer(bank, state, item, score)
    like = np.exp(-0.5 * adaptive.GRID**2)
    for item, score in ((0, 2), (1, 0), (3, 1)):
        like = like * bank.categories(np.array([item]), adaptive.GRID)[0][:, score]
    w = like / like.sum()
    assert state.theta == pytest.approx(float(w @ adaptive.GRID), abs=1e-9)
    assert state.se == pytest.approx(
        float(np.sqrt(w @ adaptive.GRID**2 - (w @ adaptive.GRID) ** 2)), abs=1e-9
    )
    with pytest.raises(CatConfigError, match="gpcm or grm"):
        CatBank.from_items([{"item": "x", "a": 1.0, "d": [0.5, -0.5]}])


def test_a_polytomous_bank_runs_an_adaptive_test() -> None:
    bank = _polytomous_bank()
    thetas = np.random.default_rng(9).standard_normal(150)
    report = adaptive.simulate(bank, CatRules(se_target=0.35, max_items=20), thetas, seed=3)
    assert abs(report.bias) < 0.15 and report.rmse < 0.45
    assert report.mean_length < 20  # polytomous items say more per item: the SE stop comes first
