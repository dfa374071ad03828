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

from waa_ads.psychometrics.errors import DifInputError


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


# --- logistic-regression DIF ---------------------------------------------------------------

#: Jodoin and Gierl (2001) bounds on Nagelkerke's Delta R^2 of the 2-df test.
JODOIN_GIERL = (0.035, 0.070)


@dataclass(frozen=True)
class LogisticDif:
    """Logistic-regression DIF of one right/wrong item (Swaminathan and Rogers, 1990; Zumbo,
    1999). Three nested models of P(right), T the matching total score, G 1 for the focal
    group: M0 = b0 + b1 T; M1 = M0 + b2 G; M2 = M1 + b3 T G. ``uniform_*`` compares M1 with
    M0 (1 df), ``nonuniform_*`` M2 with M1 (1 df), ``total_*`` M2 with M0 (2 df); the chi-
    squares are likelihood-ratio statistics, the effect sizes differences of Nagelkerke's
    R^2. ``group_effect`` is b2 of M1 (logits; negative: harder for the focal group at equal
    total), ``interaction`` b3 of M2. ``jodoin_gierl`` classes the 2-df test: A when
    Delta R^2 < 0.035 or p >= 0.05, C when Delta R^2 >= 0.070, B otherwise; ``uniform_class``
    the same bounds on the uniform test."""

    item: str
    persons: int
    group_effect: float | None
    interaction: float | None
    uniform_chi_square: float | None
    uniform_p_value: float | None
    uniform_delta_r2: float | None
    nonuniform_chi_square: float | None
    nonuniform_p_value: float | None
    nonuniform_delta_r2: float | None
    total_chi_square: float | None
    total_p_value: float | None
    total_delta_r2: float | None
    jodoin_gierl: str | None
    uniform_class: str | None


def _logistic_fit(
    x: NDArray[np.float64], y: NDArray[np.float64], iterations: int = 50
) -> tuple[NDArray[np.float64], float]:
    """Maximum-likelihood logistic regression by Newton's method with step halving; returns
    the coefficients and the log-likelihood. Under complete separation the coefficients grow
    until the iteration limit and the log-likelihood approaches its supremum, which is what
    the likelihood-ratio test needs."""
    beta = np.zeros(x.shape[1])

    def loglik(b: NDArray[np.float64]) -> float:
        z = x @ b
        return float(np.sum(y * z - np.logaddexp(0.0, z)))

    current = loglik(beta)
    for _ in range(iterations):
        z = x @ beta
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        grad = x.T @ (y - p)
        hess = (x * (p * (1 - p))[:, None]).T @ x
        try:
            step = np.linalg.solve(hess + 1e-10 * np.eye(x.shape[1]), grad)
        except np.linalg.LinAlgError:
            break
        scale = 1.0
        while scale > 1e-6:
            candidate = beta + scale * step
            value = loglik(candidate)
            if value >= current - 1e-12:
                break
            scale /= 2
        else:
            break
        beta, previous, current = candidate, current, value
        if abs(current - previous) < 1e-10 and float(np.max(np.abs(scale * step))) < 1e-8:
            break
    return beta, current


def _nagelkerke(loglik: float, null: float, n: int) -> float:
    cox_snell = 1.0 - math.exp(2.0 * (null - loglik) / n)
    ceiling = 1.0 - math.exp(2.0 * null / n)
    return cox_snell / ceiling if ceiling > 0 else 0.0


def _chi_sf(x: float, df: int) -> float:
    from scipy.stats import chi2

    return float(chi2.sf(max(x, 0.0), df))


def _jodoin_gierl(delta_r2: float, p_value: float) -> str:
    if p_value >= 0.05 or delta_r2 < JODOIN_GIERL[0]:
        return "A"
    return "C" if delta_r2 >= JODOIN_GIERL[1] else "B"


def logistic_regression(
    scores: NDArray[np.int64], focal: NDArray[np.bool_], items: list[str]
) -> list[LogisticDif]:
    """Logistic-regression DIF of every item; ``scores`` persons x items of 0/1 (every item
    presented), persons matched on their total score over all the items (the studied one
    included, as for Mantel-Haenszel), ``focal`` True for the focal group's persons."""
    scores = np.asarray(scores, dtype=np.int64)
    group = np.asarray(focal, dtype=bool).astype(np.float64)
    total = scores.sum(axis=1).astype(np.float64)
    n = scores.shape[0]
    centred = total - total.mean()  # the same fits, better conditioned
    ones = np.ones(n)
    designs = (
        np.column_stack([ones, centred]),
        np.column_stack([ones, centred, group]),
        np.column_stack([ones, centred, group, centred * group]),
    )
    out = []
    for j, name in enumerate(items):
        y = scores[:, j].astype(np.float64)
        right = float(y.sum())
        if right in (0, n) or group.sum() in (0, n):
            out.append(LogisticDif(name, n, *([None] * 13)))
            continue
        null = right * math.log(right / n) + (n - right) * math.log((n - right) / n)
        (_, ll0), (b1, ll1), (b2, ll2) = (_logistic_fit(x, y) for x in designs)
        r0, r1, r2 = (_nagelkerke(ll, null, n) for ll in (ll0, ll1, ll2))
        uni = max(2 * (ll1 - ll0), 0.0)
        non = max(2 * (ll2 - ll1), 0.0)
        tot = max(2 * (ll2 - ll0), 0.0)
        p_uni, p_non, p_tot = _chi_sf(uni, 1), _chi_sf(non, 1), _chi_sf(tot, 2)
        out.append(
            LogisticDif(
                item=name,
                persons=n,
                group_effect=float(b1[2]),
                interaction=float(b2[3]),
                uniform_chi_square=uni,
                uniform_p_value=p_uni,
                uniform_delta_r2=r1 - r0,
                nonuniform_chi_square=non,
                nonuniform_p_value=p_non,
                nonuniform_delta_r2=r2 - r1,
                total_chi_square=tot,
                total_p_value=p_tot,
                total_delta_r2=r2 - r0,
                jodoin_gierl=_jodoin_gierl(r2 - r0, p_tot),
                uniform_class=_jodoin_gierl(r1 - r0, p_uni),
            )
        )
    return out


# --- items scored in more than two categories -----------------------------------------------


@dataclass(frozen=True)
class PolytomousDif:
    """DIF of an item scored 0..K: Mantel's (1963) test of ordered responses and the
    standardized mean difference (Dorans and Schmitt), persons matched on their total."""

    item: str
    chi_square: float | None
    p_value: float | None
    smd: float | None  # focal minus reference mean item score at equal total, focal weights
    effect: float | None  # smd / the item's standard deviation over both groups
    ets_class: str | None  # AA, BB or CC (Zwick, Thayer and Mazzeo 1997)


def polytomous_dif(
    item_scores: NDArray[np.int64],
    totals: NDArray[np.int64],
    focal: NDArray[np.bool_],
    item: str,
) -> PolytomousDif:
    """Mantel's chi-square (1 df) and the SMD of one item over persons matched on
    ``totals``. In stratum k with N_k persons (n_Rk reference, n_Fk focal), F_k the sum of
    the focal persons' scores, E(F_k) = n_Fk m_k (m_k the stratum's mean score) and
    Var(F_k) = n_Rk n_Fk (N_k S2_k - S1_k^2) / (N_k^2 (N_k - 1)) (S1, S2 the sums of the
    scores and of their squares): chi-square = (sum F - sum E)^2 / sum Var. SMD =
    sum_k (n_Fk / n_F)(mean_Fk - mean_Rk) over strata with both groups. Class: AA when
    p >= 0.05 or |effect| <= 0.17; CC when p < 0.05 and |effect| > 0.25; BB otherwise."""
    x = np.asarray(item_scores, dtype=np.float64)
    f_sum = e_sum = v_sum = smd = 0.0
    focal_total = 0
    for t in np.unique(totals):
        at = totals == t
        ref, foc = at & ~focal, at & focal
        n_r, n_f = int(ref.sum()), int(foc.sum())
        n = n_r + n_f
        if n_r == 0 or n_f == 0:
            continue
        s1, s2 = float(x[at].sum()), float((x[at] ** 2).sum())
        f_sum += float(x[foc].sum())
        e_sum += n_f * s1 / n
        if n > 1:
            v_sum += n_r * n_f * (n * s2 - s1 * s1) / (n * n * (n - 1))
        smd += n_f * (float(x[foc].mean()) - float(x[ref].mean()))
        focal_total += n_f
    if focal_total == 0 or v_sum <= 0:
        return PolytomousDif(item, None, None, None, None, None)
    chi = (f_sum - e_sum) ** 2 / v_sum
    p_value = _chi1_sf(chi)
    smd /= focal_total
    sd = float(x.std())
    effect = smd / sd if sd > 0 else None
    if effect is None or p_value >= 0.05 or abs(effect) <= 0.17:
        grade = "AA"
    elif abs(effect) > 0.25:
        grade = "CC"
    else:
        grade = "BB"
    return PolytomousDif(item, chi, p_value, smd, effect, grade)


# --- both methods, every focal group -------------------------------------------------------


def _mh_dict(r: MantelHaenszel) -> dict[str, object]:
    return {
        "alpha": r.alpha,
        "delta": r.delta,
        "se_delta": r.se_delta,
        "chi_square": r.chi_square,
        "p_value": r.p_value,
        "ets_class": r.ets_class,
    }


def _lr_dict(r: LogisticDif) -> dict[str, object]:
    out = dict(r.__dict__)
    out.pop("item")
    out.pop("persons")
    return out


def dif_report(
    scores: NDArray[np.int64], items: list[str], groups: list[str | None], reference: str
) -> dict[str, object]:
    """Mantel-Haenszel and logistic-regression DIF of the right/wrong items, the reference
    group against each other group in turn (focal groups in order of first appearance).

    ``scores`` is persons x items with -1 where an item was not presented; ``groups`` each
    person's group (None or blank: left out). Items whose scores are not all 0/1 are listed
    in ``skipped`` and, when they have scores, analysed in each comparison's ``polytomous``
    (:func:`polytomous_dif`, matched on the right/wrong total plus the item itself); persons
    not presented every analysed item are left out of the comparison
    (their count is reported), so every person is matched on the same total score.
    DifInputError when the reference group is absent, there is no other group or fewer than
    two right/wrong items."""
    scores = np.asarray(scores, dtype=np.int64)
    if len(groups) != scores.shape[0]:
        raise DifInputError("one group per person is needed")
    labels = [g.strip() if g is not None and g.strip() else None for g in groups]
    if reference not in labels:
        raise DifInputError(f"no person is in the reference group {reference!r}")
    focal_groups = list(dict.fromkeys(g for g in labels if g is not None and g != reference))
    if not focal_groups:
        raise DifInputError("every grouped person is in the reference group: no focal group")
    keep: list[int] = []
    skipped: list[dict[str, str]] = []
    for j, name in enumerate(items):
        seen = scores[:, j][scores[:, j] >= 0]
        if seen.size and int(seen.max()) <= 1:
            keep.append(j)
        else:
            skipped.append({"item": name, "reason": "scores other than 0 and 1"})
    if len(keep) < 2:
        raise DifInputError("DIF needs at least two right/wrong items to match persons on")
    sub = scores[:, keep]
    names = [items[j] for j in keep]
    complete = (sub >= 0).all(axis=1)
    comparisons: list[dict[str, object]] = []
    for focal_label in focal_groups:
        in_ref = np.array([g == reference for g in labels]) & complete
        in_foc = np.array([g == focal_label for g in labels]) & complete
        rows = in_ref | in_foc
        grouped = np.array([g in (reference, focal_label) for g in labels])
        matrix = sub[rows]
        focal = in_foc[rows]
        entry: dict[str, object] = {
            "focal": focal_label,
            "reference_persons": int(in_ref.sum()),
            "focal_persons": int(in_foc.sum()),
            "persons_left_out": int((grouped & ~complete).sum()),
        }
        polytomous: list[dict[str, object]] = []
        entry["polytomous"] = polytomous
        if in_ref.sum() == 0 or in_foc.sum() == 0:
            entry["items"] = []
        else:
            for j, name in enumerate(items):
                if j in keep or not (scores[:, j] >= 0).any():
                    continue
                # matched on the right/wrong total plus the studied item
                usable = complete & (scores[:, j] >= 0) & (in_ref | in_foc)
                studied = scores[usable, j]
                result = polytomous_dif(
                    studied, sub[usable].sum(axis=1) + studied, in_foc[usable], name
                )
                poly = dict(result.__dict__)
                poly.pop("item")
                polytomous.append({"item": name, "persons": int(usable.sum()), **poly})
            mh = mantel_haenszel(matrix, focal, names)
            lr = logistic_regression(matrix, focal, names)
            entry["items"] = [
                {"item": name, "mantel_haenszel": _mh_dict(m), "logistic": _lr_dict(r)}
                for name, m, r in zip(names, mh, lr, strict=True)
            ]
        comparisons.append(entry)
    return {
        "reference": reference,
        "items": names,
        "skipped": skipped,
        "comparisons": comparisons,
    }
