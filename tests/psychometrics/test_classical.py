"""Classical item analysis: the incremental statistics equal the textbook formulas over the
whole matrix, and problem items are flagged."""

from __future__ import annotations

import json

import numpy as np
import pytest

from waa_ads.psychometrics import datasets, irt
from waa_ads.psychometrics.classical import ItemAnalysisAccumulator, analyse


def _alpha(m: np.ndarray) -> float:
    k = m.shape[1]
    return float(k / (k - 1) * (1 - m.var(axis=0).sum() / m.sum(axis=1).var()))


def _matrix() -> np.ndarray:
    rng = np.random.default_rng(5)
    params = np.column_stack([rng.uniform(0.5, 2, 8), rng.normal(0, 1, 8)])
    dich, _ = irt.simulate("2pl", params, np.full(8, 2.0), 700, seed=6)
    poly, _ = irt.simulate(
        "grm", np.array([[1.2, 1.0, -0.5], [0.8, 0.5, -1.0]]), np.array([3.0, 3.0]), 700, seed=7
    )
    return np.column_stack([dich, poly]).astype(float)


def test_statistics_equal_the_formulas_over_the_whole_matrix() -> None:
    x = _matrix()
    items = [f"q{j}" for j in range(x.shape[1])]
    result = analyse(x, items, {i: (2.0 if j >= 8 else 1.0) for j, i in enumerate(items)})
    total = x.sum(axis=1)
    assert result.test.persons == 700
    assert result.test.alpha == pytest.approx(_alpha(x), abs=1e-10)
    assert result.test.kr20 is None  # two items are scored 0..2
    assert result.test.sem == pytest.approx(total.std() * np.sqrt(1 - _alpha(x)), abs=1e-10)
    for j, item in enumerate(result.items):
        col = x[:, j]
        assert item.facility == pytest.approx(col.mean() / item.max_score)
        assert item.point_biserial == pytest.approx(np.corrcoef(col, total)[0, 1], abs=1e-10)
        rest = total - col
        assert item.corrected_item_total == pytest.approx(np.corrcoef(col, rest)[0, 1], abs=1e-10)
        assert item.alpha_if_deleted == pytest.approx(_alpha(np.delete(x, j, 1)), abs=1e-10)


def test_upper_and_lower_27_percent_split_ties_at_the_cut() -> None:
    # 100 persons with totals 0..99 over one item equal to (total >= 50): no ties, so the
    # lower 27 all score 0 and the upper 27 all score 1.
    x = np.zeros((100, 2))
    x[:, 0] = np.arange(100) >= 50
    x[:, 1] = np.arange(100) - x[:, 0]
    acc = ItemAnalysisAccumulator(["a", "b"], {"a": 1.0, "b": 99.0})
    for row in x:
        acc.add({"a": row[0], "b": row[1]})
    assert acc.result().items[0].discrimination == pytest.approx(1.0)
    # ten persons all on one total: the cut splits the tie, both groups see the same mean
    tied = ItemAnalysisAccumulator(["a", "b"], {"a": 1.0, "b": 1.0})
    for i in range(10):
        tied.add({"a": i % 2, "b": 1 - i % 2})
    assert tied.result().items[0].discrimination == pytest.approx(0.0)


def test_incremental_equals_batch_and_survives_its_stored_state() -> None:
    x = datasets.expand(datasets.LSAT7).astype(float)
    items = [f"i{j}" for j in range(5)]
    batch = analyse(x, items)
    first = ItemAnalysisAccumulator(items, dict.fromkeys(items, 1.0))
    for row in x[:400]:
        first.add(dict(zip(items, row.tolist(), strict=True)))
    resumed = ItemAnalysisAccumulator.from_state(json.loads(json.dumps(first.to_state())))
    for row in x[400:]:
        resumed.add(dict(zip(items, row.tolist(), strict=True)))
    got = resumed.result()
    assert got.test.persons == batch.test.persons
    assert got.test.alpha == pytest.approx(batch.test.alpha, abs=1e-12)
    for g, b in zip(got.items, batch.items, strict=True):
        for name in ("facility", "discrimination", "point_biserial", "corrected_item_total"):
            assert getattr(g, name) == pytest.approx(getattr(b, name), abs=1e-12)
        assert g.alpha_if_deleted == pytest.approx(b.alpha_if_deleted, abs=1e-12)


def test_items_not_presented_are_left_out_of_their_item_statistics() -> None:
    x = _matrix()[:, :8]
    x[::3, 2] = np.nan
    items = [f"q{j}" for j in range(8)]
    result = analyse(x, items)
    item = result.items[2]
    seen = ~np.isnan(x[:, 2])
    assert item.presented == int(seen.sum())
    assert item.facility == pytest.approx(x[seen, 2].mean())
    total = np.nansum(x, axis=1)
    assert item.point_biserial == pytest.approx(np.corrcoef(x[seen, 2], total[seen])[0, 1])


def test_a_wrong_key_and_an_attractive_distractor_are_flagged() -> None:
    """Item 'bad' is keyed A but the able candidates choose B: every flag fires. Item
    'good' is keyed C, chosen by the able, and has none."""
    rng = np.random.default_rng(9)
    params = np.column_stack([np.full(10, 1.5), rng.normal(0, 1, 10)])
    scores, theta = irt.simulate("2pl", params, np.full(10, 2.0), 600, seed=10)
    acc = ItemAnalysisAccumulator(
        [*(f"s{j}" for j in range(10)), "bad", "good"],
        {},
        keys={"bad": ["A"], "good": ["C"]},
    )
    for person, able in zip(scores, theta, strict=True):
        bad_choice = "B" if able > 0 else "A"
        good_choice = "C" if able > -0.3 else rng.choice(["A", "B", "D"])
        row: dict[str, float | None] = {f"s{j}": float(v) for j, v in enumerate(person)}
        row["bad"] = 1.0 if bad_choice == "A" else 0.0
        row["good"] = 1.0 if good_choice == "C" else 0.0
        acc.add(row, {"bad": [bad_choice], "good": [str(good_choice)]})
    result = {i.item: i for i in acc.result().items}
    assert set(result["bad"].flags) == {
        "negative-discrimination",
        "distractor-attracts-high-scorers",
        "key-looks-wrong",
    }
    assert result["good"].flags == []
    options = {o.option: o for o in result["bad"].options}
    assert options["B"].upper > options["A"].upper and options["A"].key
    assert sum(o.share for o in result["good"].options) == pytest.approx(1.0)


def test_nothing_added_gives_empty_statistics() -> None:
    result = ItemAnalysisAccumulator(["a"], {"a": 1.0}).result()
    assert result.test.persons == 0 and result.items[0].facility is None
