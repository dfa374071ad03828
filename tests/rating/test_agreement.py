"""The agreement statistics against scikit-learn's, and the plan rules (pure)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score  # type: ignore[import-untyped]

from waa_ads.rating import agreement, rules

scores = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=200).map(
    lambda pairs: ([float(a) for a, _ in pairs], [float(b) for _, b in pairs])
)


@given(scores)
def test_kappas_match_sklearn(pair: tuple[list[float], list[float]]) -> None:
    a, b = pair
    ours = agreement.cohen_kappa(a, b)
    qwk = agreement.quadratic_weighted_kappa(a, b)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        theirs = cohen_kappa_score(a, b)
        theirs_q = cohen_kappa_score(a, b, weights="quadratic")
    for mine, reference in ((ours, theirs), (qwk, theirs_q)):
        if math.isnan(reference):
            assert math.isnan(mine)
        else:
            assert mine == pytest.approx(reference, abs=1e-9)


def test_large_random_ratings_match_sklearn() -> None:
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 7, 100_000)
    a = np.clip(truth + rng.integers(-1, 2, truth.size), 0, 6).astype(float)
    b = np.clip(truth + rng.integers(-2, 2, truth.size), 0, 6).astype(float)
    assert agreement.cohen_kappa(list(a), list(b)) == pytest.approx(cohen_kappa_score(a, b))
    assert agreement.quadratic_weighted_kappa(list(a), list(b)) == pytest.approx(
        cohen_kappa_score(a, b, weights="quadratic")
    )


def test_agreement_smd_and_edges() -> None:
    a = [0.0, 1.0, 2.0, 3.0, 4.0]
    b = [0.0, 2.0, 2.0, 4.0, 2.0]
    assert agreement.exact_agreement(a, b) == pytest.approx(0.4)
    assert agreement.adjacent_agreement(a, b) == pytest.approx(0.8)
    pooled = math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)
    assert agreement.standardized_mean_difference(a, b) == pytest.approx(
        (np.mean(b) - np.mean(a)) / pooled
    )
    assert agreement.standardized_mean_difference([1.0, 1.0], [1.0, 1.0]) == 0.0
    assert math.isnan(agreement.cohen_kappa([], []))
    assert math.isnan(agreement.cohen_kappa([2.0, 2.0], [2.0, 2.0]))
    with pytest.raises(ValueError, match="equal-length"):
        agreement.exact_agreement([1.0], [1.0, 2.0])
    summary = agreement.agreement(a, b)
    assert summary.pairs == 5 and summary.exact == pytest.approx(0.4)


def test_double_share_is_a_fixed_draw_per_response() -> None:
    keys = [f"attempt-{n}:E1" for n in range(4000)]
    doubled = [rules.ratings_needed(k, 0.25) for k in keys]
    assert doubled == [rules.ratings_needed(k, 0.25) for k in keys]
    assert 0.22 < doubled.count(2) / len(keys) < 0.28
    assert {rules.ratings_needed(k, 0.0) for k in keys} == {1}
    assert {rules.ratings_needed(k, 1.0) for k in keys} == {2}
    assert 0 <= rules.order_key("x") < 2**63


def given_(score: float, **criteria: float) -> rules.Given:
    return rules.Given(score, criteria)


@pytest.mark.parametrize(
    ("rule", "distance", "a", "b", "expected"),
    [
        (rules.DisagreementRule.exact, 1.0, 3.0, 3.0, False),
        (rules.DisagreementRule.exact, 1.0, 3.0, 3.5, True),
        (rules.DisagreementRule.adjacent, 1.0, 3.0, 4.0, False),
        (rules.DisagreementRule.adjacent, 1.0, 3.0, 4.5, True),
        (rules.DisagreementRule.distance, 2.0, 1.0, 3.0, False),
        (rules.DisagreementRule.distance, 2.0, 1.0, 3.5, True),
    ],
)
def test_disagreement_rules(
    rule: rules.DisagreementRule, distance: float, a: float, b: float, expected: bool
) -> None:
    assert rules.disagree([given_(a), given_(b)], rule, distance=distance) is expected


def test_per_criterion_disagreement_sees_what_totals_hide() -> None:
    a = given_(4.0, content=4.0, language=0.0)
    b = given_(4.0, content=0.0, language=4.0)
    assert not rules.disagree([a, b], rules.DisagreementRule.exact)
    assert rules.disagree([a, b], rules.DisagreementRule.adjacent, per_criterion=True)


def test_resolutions() -> None:
    scales = {
        "content": rules.CriterionScale(1.0, [0, 1, 2, 3, 4]),
        "language": rules.CriterionScale(0.5, [0, 2, 4]),
    }
    a = given_(4.0, content=3.0, language=2.0)
    b = given_(5.0, content=4.0, language=2.0)
    judge = given_(3.0, content=2.0, language=2.0)
    assert rules.resolve([a, b], None, rules.Resolution.mean, scales) == 4.5
    assert rules.resolve([a, b], judge, rules.Resolution.mean, scales) == 4.0
    assert rules.resolve([a, b], None, rules.Resolution.adjudicator, scales) == 4.5
    assert rules.resolve([a, b], judge, rules.Resolution.adjudicator, scales) == 3.0
    # content 3.5 rounds up to 4 (a level), language 2: 4 + 0.5 x 2.
    assert rules.resolve([a, b], None, rules.Resolution.sum_of_criteria, scales) == 5.0
    assert rules.resolve([a, b], judge, rules.Resolution.sum_of_criteria, scales) == 3.0
    with pytest.raises(ValueError, match="nothing to resolve"):
        rules.resolve([], None, rules.Resolution.mean, scales)
