"""Answer similarity: planted copying is found, honest candidates keep the false-positive
rate near (at most) nominal, and the blocked path agrees with the all-pairs one. Seeded."""

from __future__ import annotations

import numpy as np
import pytest

from waa_ads.integrity.similarity import _upper_tail, all_p_values, encode, similarity
from waa_ads.integrity.simulate import honest, with_copying


def test_upper_tail_is_the_exact_poisson_binomial() -> None:
    p = np.array([[0.5, 0.5, 0.5], [0.1, 0.9, 0.0]])
    tails = _upper_tail(p, np.array([2, 1], dtype=np.int32))
    assert tails[0] == pytest.approx(0.5)  # P(X >= 2) for three fair coins
    assert tails[1] == pytest.approx(1 - 0.9 * 0.1)


def test_encode_codes_options_per_item() -> None:
    codes, options = encode([["A", None], ["B", "x"], ["A", "x"]])
    assert codes.tolist() == [[0, -1], [1, 0], [0, 0]]
    assert options == [["A", "B"], ["x"]]


@pytest.mark.parametrize("with_key", [True, False])
def test_honest_p_values_are_not_below_nominal(with_key: bool) -> None:
    sim = honest(300, 40, seed=11)
    correct = sim.correct if with_key else None
    _, p = all_p_values(sim.codes, correct)
    off = p[~np.isnan(p)]
    for level in (0.01, 0.05):
        share = float((off < level).mean())
        # Exact tails of a discrete statistic are conservative; never far above nominal.
        assert share <= level * 1.3, (level, share)
        assert share >= level * 0.2, (level, share)
    assert similarity(sim.codes, correct).pairs == []


@pytest.mark.parametrize("seed", range(6))
def test_no_honest_pair_flagged_in_a_small_cohort_without_a_key(seed: int) -> None:
    # 60 candidates, 30 three-option items: on hard items the most popular answer is a
    # distractor, which a plain modal-answer score would mistake for ability.
    sim = with_copying(honest(60, 30, options=3, seed=seed), pairs=2, share=0.9, seed=seed)
    planted = {(min(a, b), max(a, b)) for a, b in sim.copiers}
    flagged = {(min(f.a, f.b), max(f.a, f.b)) for f in similarity(sim.codes, None).pairs}
    assert flagged <= planted


def test_planted_copying_is_found_and_located() -> None:
    base = honest(400, 60, seed=5)
    sim = with_copying(base, pairs=6, share=0.7, seed=2)
    found = similarity(sim.codes, sim.correct, alpha=0.01)
    flagged = {(min(f.a, f.b), max(f.a, f.b)) for f in found.pairs}
    planted = {(min(a, b), max(a, b)) for a, b in sim.copiers}
    assert len(flagged & planted) >= 5
    assert flagged <= planted  # no honest pair flagged
    first = found.pairs[0]
    assert first.matches > first.expected
    assert first.q_value <= 0.01 and first.p_value <= first.q_value
    assert set(first.identical_wrong) <= set(first.identical)
    assert found.tests == 400 * 399 and found.screen_sound


def test_bonferroni_is_stricter_than_bh() -> None:
    sim = with_copying(honest(300, 40, seed=8), pairs=8, share=0.4, seed=3)
    bh = similarity(sim.codes, sim.correct, correction="bh")
    bonferroni = similarity(sim.codes, sim.correct, correction="bonferroni")
    assert len(bonferroni.pairs) <= len(bh.pairs)
    with pytest.raises(ValueError, match="unknown correction"):
        similarity(sim.codes, sim.correct, correction="holm")


def test_blocks_and_missing_answers_do_not_change_the_answer() -> None:
    sim = with_copying(honest(250, 40, seed=4), pairs=5, share=0.8, seed=9)
    codes = sim.codes.copy()
    codes[np.random.default_rng(0).random(codes.shape) < 0.05] = -1
    one = similarity(codes, None, block=250)
    many = similarity(codes, None, block=17)
    assert [(f.a, f.b, f.p_value) for f in one.pairs] == [(f.a, f.b, f.p_value) for f in many.pairs]
    assert one.pairs, "copying is found without a key too (ability from a consensus key)"
    assert all(f.identical_wrong == [] for f in one.pairs)


def test_degenerate_inputs() -> None:
    assert similarity(np.zeros((1, 5), dtype=np.int32)).pairs == []
    assert similarity(np.zeros((0, 0), dtype=np.int32)).tests == 0
