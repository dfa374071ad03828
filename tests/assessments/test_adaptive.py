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
    with pytest.raises(CatConfigError, match="right/wrong"):
        CatBank.from_items([{"item": "x", "a": 1, "d": [0.1, 0.2]}])
    with pytest.raises(CatConfigError, match="min_items"):
        CatRules(min_items=5, max_items=3).check(_bank(5))
    with pytest.raises(CatConfigError, match="exposure"):
        CatRules(exposure=np.ones(3)).check(_bank(5))
