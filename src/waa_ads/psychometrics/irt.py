"""Item response theory by marginal maximum likelihood (pure: arrays in, arrays out).

Parameterization (slope-intercept, no 1.702 constant), with theta ~ N(0, 1):

- ``2pl``:  P(x=1) = sigmoid(a*theta + d); ``b = -d/a``;
- ``3pl``:  P(x=1) = c + (1 - c)*sigmoid(a*theta + d); c has a Beta(5, 17) prior (mode 0.2),
  estimated on the logit scale;
- ``rasch``: the 2PL with one slope ``a`` shared by every item (equivalent to the Rasch model
  with a free ability variance a**2);
- ``gpcm``: P(x=k) proportional to exp(k*a*theta + d_k), d_0 = 0 (mirt's ``gpcm`` form);
  step difficulties ``b_k = -(d_k - d_{k-1})/a``;
- ``grm``:  P(x>=k) = sigmoid(a*theta + d_k), d_1 > d_2 > ...; ``b_k = -d_k/a``.

Estimation is Bock-Aitkin EM over a fixed grid of 61 points on [-6, 6] weighted by the
standard normal density. The E-step is a handful of matrix products (one per score
category); the M-step takes damped Newton steps on every item at once, with the gradient
of each item's expected complete-data log-likelihood from central differences of log P and
the Hessian from differences of that gradient. Standard errors come from the empirical
cross-product of the persons' score vectors of the marginal log-likelihood (mirt's
``SE.type = "crossprod"``), plus the prior's curvature for 3PL guessing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from waa_ads.psychometrics.errors import CalibrationInputError

Array = NDArray[np.float64]
MODELS = ("rasch", "2pl", "3pl", "gpcm", "grm")
DICHOTOMOUS = frozenset({"rasch", "2pl", "3pl"})
GUESS_PRIOR = (5.0, 17.0)  # Beta(alpha, beta) on c for the 3PL
_EPS = 1e-12
_H = 1e-5


def quadrature(points: int = 61, bound: float = 6.0) -> tuple[Array, Array]:
    """Equally spaced nodes on [-bound, bound] and standard normal weights summing to 1."""
    nodes = np.linspace(-bound, bound, points)
    weights = np.exp(-0.5 * nodes**2)
    return nodes, weights / weights.sum()


def _sigmoid(z: Array) -> Array:
    out: Array = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def category_probabilities(model: str, params: Array, theta: Array, ncat: Array) -> Array:
    """P[j, q, k]: the probability that item j is scored k at ability theta[q].

    ``params`` is (items, width): ``[a, d]`` for rasch and 2pl, ``[a, d, logit c]`` for 3pl,
    ``[a, d_1 .. d_{K-1}]`` for gpcm and grm; ``ncat`` the number of categories per item
    (categories at or beyond it get probability 0)."""
    a = params[:, :1, None]  # (J,1,1)
    th = theta[None, :, None]  # (1,Q,1)
    if model in DICHOTOMOUS:
        p = _sigmoid(a[..., 0] * theta[None, :] + params[:, 1:2])
        if model == "3pl":
            c = _sigmoid(params[:, 2:3])
            p = c + (1.0 - c) * p
        return np.stack([1.0 - p, p], axis=2)
    kmax = int(ncat.max())
    k = np.arange(kmax)
    valid = k[None, :] < ncat[:, None]  # (J,K)
    if model == "gpcm":
        d = np.concatenate([np.zeros((params.shape[0], 1)), params[:, 1:kmax]], axis=1)
        z = k[None, None, :] * a * th + d[:, None, :]
        z = np.where(valid[:, None, :], z, -np.inf)
        z = z - z.max(axis=2, keepdims=True)
        e = np.exp(z)
        probs: Array = e / e.sum(axis=2, keepdims=True)
        return probs
    # grm: cumulative P(x >= k), k = 1 .. K-1, then differences.
    star = _sigmoid(a * th + params[:, None, 1:kmax])  # (J,Q,K-1)
    star = np.where(valid[:, None, 1:], star, 0.0)
    ones = np.ones((*star.shape[:2], 1))
    zeros = np.zeros((*star.shape[:2], 1))
    cum = np.concatenate([ones, star, zeros], axis=2)
    probs = cum[:, :, :-1] - cum[:, :, 1:]
    return np.where(valid[:, None, :], np.clip(probs, 0.0, 1.0), 0.0)


def _log_prob(model: str, params: Array, theta: Array, ncat: Array) -> Array:
    return np.log(np.clip(category_probabilities(model, params, theta, ncat), _EPS, None))


@dataclass(frozen=True)
class ItemEstimate:
    """One item's estimates. ``d`` is one intercept (dichotomous) or one per step; ``b``
    likewise; ``se`` holds the standard error of each reported parameter."""

    item: str
    a: float
    d: float | list[float]
    b: float | list[float]
    c: float | None
    se: dict[str, float | list[float] | None]
    fit: dict[str, float]


@dataclass(frozen=True)
class Calibration:
    model: str
    items: list[ItemEstimate]
    params: Array  # internal (items, width) parameters
    ncat: Array
    log_likelihood: float
    iterations: int
    converged: bool
    max_change: float
    persons: float

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "items": [
                {"item": e.item, "a": e.a, "b": e.b, "d": e.d, "c": e.c, "se": e.se, "fit": e.fit}
                for e in self.items
            ],
            "log_likelihood": self.log_likelihood,
            "iterations": self.iterations,
            "converged": self.converged,
            "max_change": self.max_change,
            "persons": self.persons,
        }


@dataclass
class _Problem:
    model: str
    scores: NDArray[np.int64]  # (N,J), -1 when not presented
    weights: Array  # (N,) frequency weights
    ncat: Array  # (J,)
    theta: Array
    prior: Array
    free: NDArray[np.bool_]  # (J,width) which parameters are estimated
    indicators: list[NDArray[np.float32]] = field(default_factory=list)

    def __post_init__(self) -> None:
        kmax = int(self.ncat.max())
        self.indicators = [(self.scores == k).astype(np.float32) for k in range(kmax)]

    def log_lik_matrix(self, params: Array) -> Array:
        """log P(x_i | theta_q) for every person and node, (N,Q)."""
        logp = _log_prob(self.model, params, self.theta, self.ncat).astype(np.float32)
        out = np.zeros((self.scores.shape[0], self.theta.size), dtype=np.float64)
        for k, ind in enumerate(self.indicators):
            out += ind @ logp[:, :, k]
        return out

    def posterior(self, params: Array) -> tuple[Array, float]:
        ll = self.log_lik_matrix(params) + np.log(self.prior)[None, :]
        top = ll.max(axis=1, keepdims=True)
        post = np.exp(ll - top)
        total = post.sum(axis=1, keepdims=True)
        marginal = float(self.weights @ (np.log(total[:, 0]) + top[:, 0]))
        return post / total, marginal

    def expected_counts(self, post: Array) -> Array:
        weighted = (post * self.weights[:, None]).astype(np.float32)
        return np.stack([ind.T @ weighted for ind in self.indicators], axis=2).astype(np.float64)


def _log_prior(model: str, params: Array) -> Array:
    if model != "3pl":
        return np.zeros(params.shape[0])
    alpha, beta = GUESS_PRIOR
    c = _sigmoid(params[:, 2])
    out: Array = (alpha - 1) * np.log(c + _EPS) + (beta - 1) * np.log(1 - c + _EPS)
    return out


def _dlogp(problem: _Problem, params: Array) -> Array:
    """d log P[j,q,k] / d param m, (J,Q,K,width), by central differences."""
    width = params.shape[1]
    base = _log_prob(problem.model, params, problem.theta, problem.ncat)
    out = np.zeros((*base.shape, width))
    for m in range(width):
        if not problem.free[:, m].any():
            continue
        step = np.zeros_like(params)
        step[:, m] = _H
        up = _log_prob(problem.model, params + step, problem.theta, problem.ncat)
        down = _log_prob(problem.model, params - step, problem.theta, problem.ncat)
        out[..., m] = (up - down) / (2 * _H)
    return out


def _objective(problem: _Problem, params: Array, counts: Array) -> Array:
    logp = _log_prob(problem.model, params, problem.theta, problem.ncat)
    objective: Array = (counts * logp).sum(axis=(1, 2)) + _log_prior(problem.model, params)
    return objective


def _gradient(problem: _Problem, params: Array, counts: Array) -> Array:
    grad = np.einsum("jqk,jqkm->jm", counts, _dlogp(problem, params))
    if problem.model == "3pl":
        alpha, beta = GUESS_PRIOR
        grad[:, 2] += (alpha - 1) - (alpha + beta - 2) * _sigmoid(params[:, 2])
    out: Array = grad * problem.free
    return out


def _hessian(problem: _Problem, params: Array, counts: Array) -> Array:
    width = params.shape[1]
    hess = np.zeros((params.shape[0], width, width))
    for m in range(width):
        if not problem.free[:, m].any():
            continue
        step = np.zeros_like(params)
        step[:, m] = 1e-4
        g_up = _gradient(problem, params + step, counts)
        g_down = _gradient(problem, params - step, counts)
        hess[:, :, m] = (g_up - g_down) / 2e-4
    hess = 0.5 * (hess + np.transpose(hess, (0, 2, 1)))
    fixed = ~problem.free
    for m in range(width):
        hess[fixed[:, m], m, :] = 0.0
        hess[fixed[:, m], :, m] = 0.0
        hess[fixed[:, m], m, m] = -1.0
    return hess


def _valid(model: str, params: Array, ncat: Array) -> NDArray[np.bool_]:
    ok: NDArray[np.bool_] = np.asarray(
        np.isfinite(params).all(axis=1) & (np.abs(params) < 50).all(axis=1), dtype=bool
    )
    if model == "grm":
        for j in range(params.shape[0]):
            d = params[j, 1 : int(ncat[j])]
            ok[j] &= bool(np.all(np.diff(d) < 0))
    if model in ("2pl", "3pl", "gpcm", "grm"):
        ok &= params[:, 0] > 1e-3
    return ok


def _newton(problem: _Problem, params: Array, counts: Array, steps: int = 2) -> Array:
    for _ in range(steps):
        grad = _gradient(problem, params, counts)
        hess = _hessian(problem, params, counts)
        width = params.shape[1]
        # Levenberg damping keeps each step an ascent direction.
        eig = np.linalg.eigvalsh(hess)
        eig_max, eig_min = eig.max(axis=1), eig.min(axis=1)
        shift = np.where(eig_max > -1e-6, eig_max + 0.05 * np.abs(eig_min) + 1e-3, 0.0)
        system = hess - shift[:, None, None] * np.eye(width)[None]
        delta = -np.linalg.solve(system, grad[:, :, None])[:, :, 0] * problem.free
        # shrink the whole step (never clip components: that could turn it downhill)
        longest = np.abs(delta).max(axis=1, keepdims=True)
        delta = delta / np.maximum(longest, 1.0)
        before = _objective(problem, params, counts)
        scale = np.ones(params.shape[0])
        new = params + delta
        for _ in range(20):
            after = _objective(problem, new, counts)
            good = _valid(problem.model, new, problem.ncat) & (after >= before - 1e-9)
            if good.all():
                break
            scale = np.where(good, scale, scale * 0.5)
            new = params + delta * scale[:, None]
        bad = ~(_valid(problem.model, new, problem.ncat) & (after >= before - 1e-9))
        new[bad] = params[bad]
        params = new
        if problem.model == "rasch":
            params = _shared_slope_step(problem, params, counts)
    return params


def _shared_slope_step(problem: _Problem, params: Array, counts: Array) -> Array:
    """One Newton step on the slope the Rasch items share, intercepts held."""

    def total(a: float) -> float:
        trial = params.copy()
        trial[:, 0] = a
        return float(_objective(problem, trial, counts).sum())

    a = float(params[0, 0])
    h = 1e-4
    f0, fp, fm = total(a), total(a + h), total(a - h)
    grad = (fp - fm) / (2 * h)
    curv = (fp - 2 * f0 + fm) / h**2
    step = -grad / curv if curv < 0 else 0.1 * np.sign(grad)
    step = float(np.clip(step, -0.5, 0.5))
    for _ in range(20):
        if a + step > 1e-3 and total(a + step) >= f0 - 1e-9:
            break
        step *= 0.5
    else:
        step = 0.0
    out = params.copy()
    out[:, 0] = a + step
    return out


def _start_values(model: str, scores: NDArray[np.int64], weights: Array, ncat: Array) -> Array:
    """Slope 1 and intercepts from the logits of the observed category proportions."""
    items = scores.shape[1]
    kmax = int(ncat.max())
    width = 3 if model == "3pl" else (2 if model in DICHOTOMOUS else kmax)
    params = np.zeros((items, width))
    params[:, 0] = 1.0
    for j in range(items):
        seen = scores[:, j] >= 0
        w = weights[seen]
        x = scores[seen, j]
        n = w.sum()
        props = np.array([(w * (x == k)).sum() for k in range(int(ncat[j]))]) / n
        props = np.clip(props, 0.01, 0.99)
        if model in DICHOTOMOUS:
            p = props[1]
            if model == "3pl":
                p = min(max((p - 0.2) / 0.8, 0.05), 0.95)
                params[j, 2] = np.log(0.2 / 0.8)
            params[j, 1] = 1.7 * np.log(p / (1 - p))  # sd of the logistic ~1.7 on theta
        else:
            tail = np.clip(np.cumsum(props[::-1])[::-1][1:], 0.01, 0.99)
            cum = np.log(tail / (1 - tail))  # logits of P(x >= k), decreasing in k
            if model == "grm":
                cum = cum - 1e-3 * np.arange(cum.size)
                params[j, 1 : 1 + cum.size] = cum
            else:
                params[j, 1 : 1 + cum.size] = np.cumsum(cum)
    return params


def _free_mask(model: str, ncat: Array, width: int) -> NDArray[np.bool_]:
    free = np.ones((ncat.size, width), dtype=bool)
    if model == "rasch":
        free[:, 0] = False  # the shared slope has its own step
    if model in ("gpcm", "grm"):
        for j, k in enumerate(ncat):
            free[j, int(k) :] = False
    return free


def _check(model: str, scores: NDArray[np.int64], ncat: Array) -> None:
    if model not in MODELS:
        raise CalibrationInputError(f"unknown model {model!r}; one of {', '.join(MODELS)}")
    if scores.ndim != 2 or scores.shape[0] < 2 or scores.shape[1] < 1:
        raise CalibrationInputError("need at least two persons and one item")
    if model in DICHOTOMOUS and scores.max() > 1:
        raise CalibrationInputError(f"the {model} model takes scores 0 and 1 only")
    if (ncat < 2).any():
        raise CalibrationInputError("every item needs at least two observed score categories")


def calibrate(
    scores: NDArray[np.int64],
    model: str,
    items: list[str] | None = None,
    weights: Array | None = None,
    *,
    max_iterations: int = 500,
    tolerance: float = 1e-4,
    quadrature_points: int = 61,
    standard_errors: bool = True,
) -> Calibration:
    """Fit ``model`` to ``scores`` (persons x items, integer scores 0..K-1, -1 when the item
    was not presented) by EM. ``weights`` are frequency weights per row (a pattern table).
    Converged means the largest parameter change of an iteration fell below ``tolerance``
    and the gradient of every item's expected log-likelihood is near zero."""
    scores = np.asarray(scores, dtype=np.int64)
    weights = np.ones(scores.shape[0]) if weights is None else np.asarray(weights, float)
    ncat = (scores.max(axis=0) + 1).astype(np.float64) if scores.size else np.zeros(0)
    _check(model, scores, ncat)
    if model in DICHOTOMOUS:
        ncat = np.full(scores.shape[1], 2.0)
    names = items or [f"item{j + 1}" for j in range(scores.shape[1])]
    theta, prior = quadrature(quadrature_points)
    params = _start_values(model, scores, weights, ncat)
    problem = _Problem(model, scores, weights, ncat, theta, prior, np.zeros(1, dtype=bool))
    problem.free = _free_mask(model, ncat, params.shape[1])
    converged = False
    change = np.inf
    iterations = 0
    for _ in range(max_iterations):
        iterations += 1
        post, _ = problem.posterior(params)
        counts = problem.expected_counts(post)
        new = _newton(problem, params, counts)
        change = float(np.abs(new - params).max())
        params = new
        if change < tolerance:
            # a small change is not enough on its own: an item whose steps were all
            # refused would also stop moving; its gradient must vanish too
            gradient = _gradient(problem, params, problem.expected_counts(post))
            converged = bool(np.abs(gradient).max() <= 1e-3 * max(float(weights.sum()), 1.0))
            break
    _, loglik = problem.posterior(params)
    cov = _crossprod_covariance(problem, params) if standard_errors else None
    fit = _item_fit(problem, params)
    estimates = _report(model, names, params, ncat, cov, fit)
    return Calibration(
        model,
        estimates,
        params,
        ncat,
        loglik,
        iterations,
        converged,
        change,
        float(weights.sum()),
    )


def _columns(problem: _Problem) -> tuple[NDArray[np.int64], int]:
    """Column of each (item, parameter) in the joint covariance; -1 when fixed."""
    cols = -np.ones(problem.free.shape, dtype=np.int64)
    n = 0
    if problem.model == "rasch":
        cols[:, 0] = 0
        n = 1
    for j in range(problem.free.shape[0]):
        for m in range(problem.free.shape[1]):
            if problem.free[j, m]:
                cols[j, m] = n
                n += 1
    return cols, n


def _crossprod_covariance(problem: _Problem, params: Array) -> tuple[Array, NDArray[np.int64]]:
    """Inverse of sum_i w_i s_i s_i' (s_i: person i's gradient of the marginal
    log-likelihood), with the guessing prior's curvature added for the 3PL."""
    post, _ = problem.posterior(params)
    dlogp = _dlogp(problem, params)  # (J,Q,K,W)
    if problem.model == "rasch":
        free = problem.free.copy()
        free[:, 0] = True
        step = np.zeros_like(params)
        step[:, 0] = _H
        up = _log_prob(problem.model, params + step, problem.theta, problem.ncat)
        down = _log_prob(problem.model, params - step, problem.theta, problem.ncat)
        dlogp[..., 0] = (up - down) / (2 * _H)
    cols, ncols = _columns(problem)
    persons = problem.scores.shape[0]
    score = np.zeros((persons, ncols))
    for j in range(problem.scores.shape[1]):
        x = problem.scores[:, j]
        seen = x >= 0
        if not seen.any():
            continue
        # d log P(x_ij | theta_q) for each person's own category: (Q, n_seen, W)
        g = dlogp[j][:, x[seen], :]
        contrib = np.einsum("nq,qnw->nw", post[seen], g)
        for m in range(params.shape[1]):
            if cols[j, m] >= 0:
                score[seen, cols[j, m]] += contrib[:, m]
    info = (score * problem.weights[:, None]).T @ score
    if problem.model == "3pl":
        alpha, beta = GUESS_PRIOR
        c = _sigmoid(params[:, 2])
        for j in range(params.shape[0]):
            info[cols[j, 2], cols[j, 2]] += (alpha + beta - 2) * c[j] * (1 - c[j])
    try:
        cov: Array = np.asarray(np.linalg.inv(info), dtype=np.float64)
    except np.linalg.LinAlgError:
        cov = np.asarray(np.linalg.pinv(info), dtype=np.float64)
    return cov, cols


def _item_fit(problem: _Problem, params: Array, groups: int = 10) -> list[dict[str, float]]:
    """A Q1-style fit per item, by the leave-one-out posterior: for item j each person's
    posterior given their other items; persons in ``groups`` groups of equal size by the
    mean of that posterior; per group the observed mean score on j against the mean the
    model predicts from those posteriors; chi-square summed over groups, df = groups minus
    the item's parameters. A screening statistic (Yen's Q1 with posterior grouping), not
    Orlando and Thissen's S-X2."""
    post, _ = problem.posterior(params)
    probs = category_probabilities(problem.model, params, problem.theta, problem.ncat)
    values = np.arange(probs.shape[2])
    fits: list[dict[str, float]] = []
    for j in range(problem.scores.shape[1]):
        x = problem.scores[:, j]
        seen = x >= 0
        own = probs[j][:, np.where(seen, x, 0)].T  # (N,Q) P(x_ij | theta_q)
        loo = np.where(seen[:, None], post / np.clip(own, _EPS, None), post)
        loo /= loo.sum(axis=1, keepdims=True)
        centre = np.round(loo @ problem.theta, 4)  # float32 E-step noise apart
        rows = np.flatnonzero(seen)
        # persons with the same centre (the same other answers) share a group, so that a
        # group's edge never splits them by the order of the rows
        _, inverse = np.unique(centre[rows], return_inverse=True)
        weight_c = np.bincount(inverse, weights=problem.weights[rows])
        before = (np.cumsum(weight_c) - weight_c) / weight_c.sum()
        group_of = np.minimum((before * groups).astype(np.int64), groups - 1)[inverse]
        chi = 0.0
        used = 0
        for g in range(groups):
            members = rows[group_of == g]
            if members.size == 0:
                continue
            w = problem.weights[members]
            n = float(w.sum())
            if n < 1:
                continue
            expected = (w[:, None] * (loo[members] @ probs[j])).sum(axis=0) / n
            mean = float(expected @ values)
            var = float(expected @ values**2) - mean**2
            observed = float((w * x[members]).sum() / n)
            if var > 1e-9:
                chi += n * (observed - mean) ** 2 / var
                used += 1
        npar = int(problem.free[j].sum()) + (1 if problem.model == "rasch" else 0)
        df = max(used - npar, 1)
        fits.append({"q1": float(chi), "df": float(df), "p_value": _chi2_sf(chi, df)})
    return fits


def _chi2_sf(x: float, df: int) -> float:
    """Upper tail of chi-square, by the Wilson-Hilferty normal approximation."""
    if x <= 0:
        return 1.0
    z = ((x / df) ** (1 / 3) - (1 - 2 / (9 * df))) / np.sqrt(2 / (9 * df))
    return float(0.5 * _erfc(z / np.sqrt(2)))


def _erfc(x: float) -> float:
    return math.erfc(x)


def _report(
    model: str,
    names: list[str],
    params: Array,
    ncat: Array,
    covariance: tuple[Array, NDArray[np.int64]] | None,
    fit: list[dict[str, float]],
) -> list[ItemEstimate]:
    def var(j: int, m: int, n: int | None = None) -> float:
        if covariance is None:
            return float("nan")
        cov, cols = covariance
        i = cols[j, m]
        k = cols[j, m if n is None else n]
        if i < 0 or k < 0:
            return 0.0
        return float(cov[i, k])

    def se(value: float) -> float | None:
        return float(np.sqrt(value)) if np.isfinite(value) and value >= 0 else None

    out: list[ItemEstimate] = []
    for j, name in enumerate(names):
        a = float(params[j, 0])
        va = var(j, 0)
        if model in DICHOTOMOUS:
            d = float(params[j, 1])
            # delta method for b = -d/a
            vb = (va * d**2 / a**4) + var(j, 1) / a**2 - 2 * d / a**3 * var(j, 0, 1)
            c: float | None = 0.0
            ses: dict[str, float | list[float] | None] = {
                "a": se(va),
                "d": se(var(j, 1)),
                "b": se(vb),
            }
            if model == "3pl":
                c = float(_sigmoid(params[j, 2:3])[0])
                ses["c"] = se(var(j, 2) * (c * (1 - c)) ** 2)
            out.append(ItemEstimate(name, a, d, -d / a, c, ses, fit[j]))
            continue
        steps = int(ncat[j]) - 1
        ds = [float(v) for v in params[j, 1 : 1 + steps]]
        if model == "gpcm":
            full = [0.0, *ds]
            bs = [-(full[k] - full[k - 1]) / a for k in range(1, steps + 1)]
        else:
            bs = [-v / a for v in ds]
        out.append(
            ItemEstimate(
                name,
                a,
                ds,
                bs,
                None,
                {
                    "a": se(va),
                    "d": [se(var(j, 1 + k)) for k in range(steps)],  # type: ignore[misc]
                },
                fit[j],
            )
        )
    return out


# --- ability, information -----------------------------------------------------------------


def item_information(calibration: Calibration, theta: Array) -> Array:
    """Fisher information of each item at each theta, (items, len(theta)):
    sum_k (dP_k/dtheta)^2 / P_k, the derivative by central differences."""
    model, params, ncat = calibration.model, calibration.params, calibration.ncat
    h = 1e-4
    p = category_probabilities(model, params, theta, ncat)
    dp = (
        category_probabilities(model, params, theta + h, ncat)
        - category_probabilities(model, params, theta - h, ncat)
    ) / (2 * h)
    info: Array = (dp**2 / np.clip(p, _EPS, None)).sum(axis=2)
    return info


def test_information(calibration: Calibration, theta: Array) -> tuple[Array, Array]:
    """The test information and the standard error 1/sqrt(information) at each theta."""
    info = item_information(calibration, theta).sum(axis=0)
    return info, 1.0 / np.sqrt(np.clip(info, _EPS, None))


@dataclass(frozen=True)
class Abilities:
    theta: Array
    se: Array


def _person_loglik(calibration: Calibration, scores: NDArray[np.int64], theta: Array) -> Array:
    """log L(theta) per person and grid point, (N, len(theta))."""
    logp = _log_prob(calibration.model, calibration.params, theta, calibration.ncat)
    out = np.zeros((scores.shape[0], theta.size))
    for k in range(logp.shape[2]):
        out += (scores == k).astype(np.float64) @ logp[:, :, k]
    return out


def eap(calibration: Calibration, scores: NDArray[np.int64], points: int = 61) -> Abilities:
    """Posterior mean and posterior SD under the N(0,1) prior."""
    theta, prior = quadrature(points)
    ll = _person_loglik(calibration, np.asarray(scores, np.int64), theta) + np.log(prior)
    post = np.exp(ll - ll.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    mean = post @ theta
    sd = np.sqrt(np.clip(post @ theta**2 - mean**2, 0, None))
    return Abilities(mean, sd)


def _max_likelihood(calibration: Calibration, scores: NDArray[np.int64], bound: float) -> Array:
    """Each person's maximum of log L on [-bound, bound]: a grid of 481 points, then three
    bracketed refinements, each ten times finer (robust where Newton steps are not)."""
    grid = np.linspace(-bound, bound, 481)
    best = grid[_person_loglik(calibration, scores, grid).argmax(axis=1)]
    step = grid[1] - grid[0]
    for _ in range(3):
        candidates = [np.clip(best + off, -bound, bound) for off in np.linspace(-step, step, 21)]
        values = np.array([_person_loglik_at(calibration, scores, t) for t in candidates]).T
        best = np.array(candidates).T[np.arange(best.size), values.argmax(axis=1)]
        step = step / 10
    out: Array = np.asarray(best, dtype=np.float64)
    return out


def _person_loglik_at(calibration: Calibration, scores: NDArray[np.int64], theta: Array) -> Array:
    p = category_probabilities(calibration.model, calibration.params, theta, calibration.ncat)
    logp = np.log(np.clip(p, _EPS, None))  # (J,N,K)
    seen = scores >= 0
    idx = np.where(seen, scores, 0)
    picked = np.take_along_axis(logp.transpose(1, 0, 2), idx[:, :, None], axis=2)[:, :, 0]
    out: Array = np.where(seen, picked, 0.0).sum(axis=1)
    return out


def test_information_at(
    calibration: Calibration, scores: NDArray[np.int64], theta: Array
) -> tuple[Array, Array]:
    """Information of each person's own items at that person's theta, and 1/sqrt of it."""
    info_items = item_information(calibration, theta)  # (J,N)
    info = (info_items.T * (scores >= 0)).sum(axis=1)
    return info, 1.0 / np.sqrt(np.clip(info, _EPS, None))


def mle(calibration: Calibration, scores: NDArray[np.int64], bound: float = 6.0) -> Abilities:
    """Maximum likelihood ability, searched on [-bound, bound]: all-correct and all-wrong
    patterns (no finite MLE) land on the bound."""
    scores = np.asarray(scores, np.int64)
    best = _max_likelihood(calibration, scores, bound)
    _, se = test_information_at(calibration, scores, best)
    return Abilities(best, se)


def wle(calibration: Calibration, scores: NDArray[np.int64], bound: float = 6.0) -> Abilities:
    """Weighted likelihood ability: the maximum of log L + 0.5 log I(theta). For the Rasch,
    2PL and GPCM models (exponential families) this is exactly Warm's estimator; for the 3PL
    and GRM it is the Jeffreys-prior form of it. Finite for extreme patterns."""
    scores = np.asarray(scores, np.int64)
    seen = (scores >= 0).astype(np.float64)

    def on_grid(grid: Array) -> Array:
        """0.5 log I(theta) of each person's own items at every grid point, (N, T)."""
        info = item_information(calibration, grid)  # (J,T)
        out: Array = 0.5 * np.log(np.clip(seen @ info, _EPS, None))
        return out

    def own(theta: Array) -> Array:
        """0.5 log I at each person's own theta, (N,)."""
        info = item_information(calibration, theta)  # (J,N)
        out: Array = 0.5 * np.log(np.clip((info.T * seen).sum(axis=1), _EPS, None))
        return out

    grid = np.linspace(-bound, bound, 481)
    ll = _person_loglik(calibration, scores, grid) + on_grid(grid)
    best = grid[ll.argmax(axis=1)]
    step = grid[1] - grid[0]
    for _ in range(3):
        candidates = [np.clip(best + off, -bound, bound) for off in np.linspace(-step, step, 21)]
        values = np.array(
            [_person_loglik_at(calibration, scores, t) + own(t) for t in candidates]
        ).T
        best = np.array(candidates).T[np.arange(best.size), values.argmax(axis=1)]
        step = step / 10
    _, se = test_information_at(calibration, scores, best)
    return Abilities(best, se)


def simulate(
    model: str,
    params: Array,
    ncat: Array,
    persons: int,
    seed: int,
) -> tuple[NDArray[np.int64], Array]:
    """Scores of ``persons`` simulated examinees (theta ~ N(0,1)) on items with the given
    internal parameters, and their true abilities. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(persons)
    probs = category_probabilities(model, np.asarray(params, float), theta, np.asarray(ncat))
    cum = np.cumsum(probs, axis=2)  # (J,N,K)
    u = rng.random((probs.shape[0], persons, 1))
    scores = (u > cum).sum(axis=2).T.astype(np.int64)
    return np.minimum(scores, (np.asarray(ncat) - 1).astype(np.int64)[None, :]), theta
