"""Mantel-Haenszel differential item functioning for right/wrong items (pure).

Persons are matched on their total score (the studied item included, as Holland and Thayer
recommend); in each score stratum k with a 2x2 table (reference right A_k, wrong B_k; focal
right C_k, wrong D_k; N_k persons):

- alpha_MH = sum(A_k D_k / N_k) / sum(B_k C_k / N_k), the common odds ratio;
- delta_MH = -2.35 ln(alpha_MH) (the ETS delta scale; negative: the item favours the
  reference group);
- SE of ln(alpha_MH) by Robins, Breslow and Greenland (1986);
- MH chi-square with continuity correction, 1 df;
- ETS class: **A** when |delta| < 1 or the chi-square is not significant at 0.05; **C** when
  |delta| >= 1.5 and |delta| is significantly above 1 (one-sided 0.05); **B** otherwise.
Strata where either group is empty carry no information and are skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class MantelHaenszel:
    item: str
    alpha: float | None
    delta: float | None
    se_delta: float | None
    chi_square: float | None
    p_value: float | None
    ets_class: str | None


def _chi1_sf(x: float) -> float:
    return math.erfc(math.sqrt(max(x, 0.0) / 2))


def mantel_haenszel(
    scores: NDArray[np.int64], focal: NDArray[np.bool_], items: list[str]
) -> list[MantelHaenszel]:
    """MH DIF of every item; ``scores`` persons x items of 0/1 (every item presented),
    ``focal`` True for the focal group's persons, False for the reference group's."""
    scores = np.asarray(scores, dtype=np.int64)
    focal = np.asarray(focal, dtype=bool)
    total = scores.sum(axis=1)
    out = []
    for j, name in enumerate(items):
        x = scores[:, j]
        num = den = 0.0
        p_sum = q_sum = r_sum = 0.0
        a_sum = e_sum = v_sum = 0.0
        for k in np.unique(total):
            s = total == k
            a = float(np.sum(s & ~focal & (x == 1)))
            b = float(np.sum(s & ~focal & (x == 0)))
            c = float(np.sum(s & focal & (x == 1)))
            d = float(np.sum(s & focal & (x == 0)))
            n = a + b + c + d
            n_ref, n_foc, m1, m0 = a + b, c + d, a + c, b + d
            if n_ref == 0 or n_foc == 0 or n < 2:
                continue
            num += a * d / n
            den += b * c / n
            # Robins-Breslow-Greenland terms
            p, q = (a + d) / n, (b + c) / n
            p_sum += p * a * d / n
            q_sum += (p * b * c + q * a * d) / n
            r_sum += q * b * c / n
            a_sum += a
            e_sum += n_ref * m1 / n
            v_sum += n_ref * n_foc * m1 * m0 / (n * n * (n - 1))
        if num <= 0 or den <= 0 or v_sum <= 0:
            out.append(MantelHaenszel(name, None, None, None, None, None, None))
            continue
        alpha = num / den
        delta = -2.35 * math.log(alpha)
        var_log = p_sum / (2 * num**2) + q_sum / (2 * num * den) + r_sum / (2 * den**2)
        se_delta = 2.35 * math.sqrt(var_log)
        chi = (abs(a_sum - e_sum) - 0.5) ** 2 / v_sum
        p_value = _chi1_sf(chi)
        if abs(delta) < 1 or p_value >= 0.05:
            ets = "A"
        elif abs(delta) >= 1.5 and (abs(delta) - 1) / se_delta > 1.645:
            ets = "C"
        else:
            ets = "B"
        out.append(MantelHaenszel(name, alpha, delta, se_delta, chi, p_value, ets))
    return out
