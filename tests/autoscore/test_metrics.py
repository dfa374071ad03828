from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score  # type: ignore[import-untyped]

from waa_ads.autoscore.metrics import agreement, quadratic_weighted_kappa


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_qwk_equals_sklearn_when_every_score_occurs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, 300)
    b = np.clip(a + rng.integers(-1, 2, 300), 0, 4)
    expected = cohen_kappa_score(a, b, weights="quadratic")
    assert quadratic_weighted_kappa(a, b, 0, 4) == pytest.approx(expected, abs=1e-12)


def test_qwk_weighs_by_the_declared_scale() -> None:
    # Scores 1 and 3 only: on the 1..3 scale they are two categories apart.
    a, b = [1, 1, 3, 3, 1], [1, 3, 3, 1, 1]
    labels = [1, 2, 3]
    expected = cohen_kappa_score(a, b, weights="quadratic", labels=labels)
    assert quadratic_weighted_kappa(a, b, 1, 3) == pytest.approx(expected)
    with pytest.raises(ValueError, match="outside"):
        quadratic_weighted_kappa([0, 1], [1, 1], 1, 3)


def test_agreement_statistics() -> None:
    human = [0, 1, 2, 3, 4, 2]
    model = [0, 2, 2, 1, 4, 3]
    result = agreement(human, model, 0, 4)
    assert result.n == 6
    assert result.exact == pytest.approx(3 / 6)
    assert result.adjacent == pytest.approx(5 / 6)
    pooled = math.sqrt((np.var(human, ddof=1) + np.var(model, ddof=1)) / 2)
    assert result.smd == pytest.approx((np.mean(model) - np.mean(human)) / pooled)
    assert agreement([], [], 0, 4).to_dict()["qwk"] is None
