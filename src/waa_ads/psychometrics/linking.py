"""IRT scale linking between two calibrations through common items, and scaled scores
(pure: parameters in, numbers out).

Form X's calibration is put on form Y's scale by theta_Y = A * theta_X + B. In the
slope-intercept form of ``irt`` the item parameters follow as

- a_Y = a_X / A;
- every intercept d_Y = d_X - k * a_X * B / A, with k the category's score for the GPCM
  (``k * a * theta + d_k``) and 1 for the 2PL/3PL/GRM intercepts;
- b_Y = A * b_X + B for every difficulty or step; c is unchanged.

Four estimates of (A, B) from the common items (matched by item name):

- **mean-sigma**: A = sd(b_Y) / sd(b_X), B = mean(b_Y) - A * mean(b_X), over every b of
  the common items (each step of a polytomous item);
- **mean-mean**: A = mean(a_X) / mean(a_Y), B as above;
- **Stocking-Lord**: (A, B) minimizing the squared difference between the common items'
  test characteristic curves (expected total score) of Y and of X transformed, summed over
  a grid of theta on Y's scale weighted by N(0, 1);
- **Haebara**: the same with the squared differences of every category probability of
  every common item (item characteristic curves), summed.

The two characteristic-curve criteria are minimized by ``scipy.optimize.minimize`` (BFGS)
from the mean-sigma values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from waa_ads.psychometrics.errors import CalibrationInputError
from waa_ads.psychometrics.irt import (
    DICHOTOMOUS,
    MODELS,
    Calibration,
    ItemEstimate,
    category_probabilities,
    quadrature,
)

Array = NDArray[np.float64]
METHODS = ("mean-sigma", "mean-mean", "stocking-lord", "haebara")


@dataclass(frozen=True)
class ItemParameters:
    """The parameters of a calibration's items in ``irt``'s internal layout: ``params`` is
    (items, width) with ``[a, d]`` (rasch, 2pl), ``[a, d, logit c]`` (3pl) or
    ``[a, d_1 .. d_{K-1}]`` (gpcm, grm, padded with zeros), ``ncat`` categories per item."""

    model: str
    items: list[str]
    params: Array
    ncat: Array

    def subset(self, names: Sequence[str]) -> ItemParameters:
        index = {name: j for j, name in enumerate(self.items)}
        rows = [index[n] for n in names]
        return ItemParameters(self.model, list(names), self.params[rows], self.ncat[rows])

    def probabilities(self, theta: Array) -> Array:
        """P[j, q, k] of every item at every theta."""
        return category_probabilities(self.model, self.params, theta, self.ncat)

    def to_calibration(self) -> Calibration:
        """An ``irt.Calibration`` of these items for the ability estimators (no fit)."""
        estimates = [
            ItemEstimate(i["item"], i["a"], i["d"], i["b"], i["c"], {}, {}) for i in self.to_items()
        ]
        return Calibration(
            self.model, estimates, self.params, self.ncat, float("nan"), 0, True, 0.0, 0.0
        )

    def to_items(self) -> list[dict[str, Any]]:
        """The items as ``calibrate`` prints them (a, d, b, c; no SEs or fit)."""
        out: list[dict[str, Any]] = []
        for j, name in enumerate(self.items):
            a = float(self.params[j, 0])
            if self.model in DICHOTOMOUS:
                d = float(self.params[j, 1])
                c = float(1 / (1 + math.exp(-self.params[j, 2]))) if self.model == "3pl" else 0.0
                out.append({"item": name, "a": a, "d": d, "b": -d / a, "c": c})
                continue
            steps = int(self.ncat[j]) - 1
            ds = [float(v) for v in self.params[j, 1 : 1 + steps]]
            if self.model == "gpcm":
                full = [0.0, *ds]
                bs = [-(full[k] - full[k - 1]) / a for k in range(1, steps + 1)]
            else:
                bs = [-v / a for v in ds]
            out.append({"item": name, "a": a, "d": ds, "b": bs, "c": None})
        return out


def parameters_from_calibration(calibration: Mapping[str, Any]) -> ItemParameters:
    """The items of a ``calibrate`` reply (``{"model", "items": [{"item", "a", "d", "c"}]}``).
    CalibrationInputError when the model is unknown or an item lacks a usable parameter."""
    model = calibration.get("model")
    if model not in MODELS:
        raise CalibrationInputError(f"model is {model!r}, not one of {', '.join(MODELS)}")
    raw = calibration.get("items")
    if not isinstance(raw, list) or not raw:
        raise CalibrationInputError("the calibration lists no items")
    names: list[str] = []
    rows: list[list[float]] = []
    ncat: list[float] = []
    for n, item in enumerate(raw):
        if not isinstance(item, Mapping) or not isinstance(item.get("item"), str):
            raise CalibrationInputError(f"item {n + 1} has no name")
        name = item["item"]
        try:
            a = float(item["a"])
            if model in DICHOTOMOUS:
                d = float(item["d"])
                row = [a, d]
                if model == "3pl":
                    c = float(item["c"])
                    if not 0 < c < 1:
                        raise ValueError
                    row.append(math.log(c / (1 - c)))
                ncat.append(2.0)
            else:
                steps = [float(v) for v in item["d"]]
                if not steps:
                    raise ValueError
                row = [a, *steps]
                ncat.append(float(len(steps) + 1))
        except (KeyError, TypeError, ValueError):
            raise CalibrationInputError(
                f"item {name!r} lacks a usable a, d{' or c' if model == '3pl' else ''}"
            ) from None
        if not all(math.isfinite(v) for v in row) or a <= 0:
            raise CalibrationInputError(f"item {name!r} needs a finite, positive slope")
        if a > 50 or any(abs(v) > 500 for v in row):
            raise CalibrationInputError(f"item {name!r} has parameters outside any usable scale")
        names.append(name)
        rows.append(row)
    if len(set(names)) != len(names):
        raise CalibrationInputError("an item appears twice in the calibration")
    width = max(len(r) for r in rows)
    params = np.zeros((len(rows), width))
    for j, r in enumerate(rows):
        params[j, : len(r)] = r
    return ItemParameters(str(model), names, params, np.array(ncat))


def transform(parameters: ItemParameters, slope: float, intercept: float) -> ItemParameters:
    """The items on the scale theta' = slope * theta + intercept."""
    p = parameters.params.copy()
    a = p[:, 0].copy()
    p[:, 0] = a / slope
    if parameters.model in DICHOTOMOUS or parameters.model == "grm":
        last = 2 if parameters.model in DICHOTOMOUS else p.shape[1]
        p[:, 1:last] -= (a * intercept / slope)[:, None]
    else:  # gpcm: k * a * theta + d_k
        k = np.arange(1, p.shape[1])
        p[:, 1:] -= (a * intercept / slope)[:, None] * k[None, :]
    steps = np.arange(1, p.shape[1])[None, :] < parameters.ncat[:, None]
    if parameters.model not in DICHOTOMOUS:
        p[:, 1:] = np.where(steps, p[:, 1:], 0.0)
    return ItemParameters(parameters.model, parameters.items, p, parameters.ncat)


def _difficulties(parameters: ItemParameters) -> Array:
    values: list[float] = []
    for item in parameters.to_items():
        b = item["b"]
        values.extend(b if isinstance(b, list) else [b])
    return np.array(values)


@dataclass(frozen=True)
class Linking:
    """theta_Y = slope * theta_X + intercept by ``method``; ``criterion`` the value of the
    characteristic-curve loss at the solution (None for the moment methods)."""

    method: str
    slope: float
    intercept: float
    criterion: float | None = None


def _loss(x: ItemParameters, y: ItemParameters, theta: Array, weights: Array, method: str) -> Any:
    target = y.probabilities(theta)  # (J,Q,K)
    score = np.arange(target.shape[2])
    if method == "stocking-lord":
        tcc_y = (target * score).sum(axis=2).sum(axis=0)

        def f(v: Array) -> float:
            moved = transform(x, float(v[0]), float(v[1])).probabilities(theta)
            tcc_x = (moved * score).sum(axis=2).sum(axis=0)
            return float(weights @ (tcc_y - tcc_x) ** 2)

        return f

    def g(v: Array) -> float:
        moved = transform(x, float(v[0]), float(v[1])).probabilities(theta)
        return float(weights @ ((target - moved) ** 2).sum(axis=(0, 2)))

    return g


def link(
    form_x: ItemParameters,
    form_y: ItemParameters,
    *,
    points: int = 41,
    bound: float = 4.0,
) -> tuple[list[str], dict[str, Linking]]:
    """Every method's (A, B) putting form X on form Y's scale through the items both have,
    and the common items' names (in form Y's order). CalibrationInputError when the two
    use different models or share fewer than two items."""
    if form_x.model != form_y.model:
        raise CalibrationInputError(
            f"form X is calibrated with {form_x.model}, form Y with {form_y.model}"
        )
    in_x = set(form_x.items)
    common = [name for name in form_y.items if name in in_x]
    if len(common) < 2:
        raise CalibrationInputError("linking needs at least two items common to both forms")
    x, y = form_x.subset(common), form_y.subset(common)
    mismatched = [n for n, cx, cy in zip(common, x.ncat, y.ncat, strict=True) if cx != cy]
    if mismatched:
        raise CalibrationInputError(
            f"common item {mismatched[0]!r} has different score categories on the two forms"
        )
    bx, by = _difficulties(x), _difficulties(y)
    sd_x, sd_y = float(bx.std()), float(by.std())
    if sd_x <= 1e-9 or sd_y <= 1e-9:
        raise CalibrationInputError("the common items' difficulties do not vary on both forms")
    out: dict[str, Linking] = {}
    slope = sd_y / sd_x
    out["mean-sigma"] = Linking("mean-sigma", slope, float(by.mean() - slope * bx.mean()))
    slope_mm = float(x.params[:, 0].mean() / y.params[:, 0].mean())
    out["mean-mean"] = Linking("mean-mean", slope_mm, float(by.mean() - slope_mm * bx.mean()))
    from scipy.optimize import minimize  # imported when used: the API starts without it

    theta, weights = quadrature(points, bound)
    start = np.array([out["mean-sigma"].slope, out["mean-sigma"].intercept])
    for method in ("stocking-lord", "haebara"):
        loss = _loss(x, y, theta, weights, method)
        found = minimize(loss, start, method="BFGS", options={"gtol": 1e-10})
        out[method] = Linking(method, float(found.x[0]), float(found.x[1]), float(found.fun))
    if not all(math.isfinite(v.slope) and math.isfinite(v.intercept) for v in out.values()):
        raise CalibrationInputError("the common items do not give a finite linking")
    return common, out


def link_calibrations(
    form_x: Mapping[str, Any], form_y: Mapping[str, Any], method: str = "stocking-lord"
) -> dict[str, Any]:
    """The command line's and the API's reply: every method's slope and intercept, the
    common items, and form X's items on form Y's scale by ``method``."""
    if method not in METHODS:
        raise CalibrationInputError(f"method is {method!r}, not one of {', '.join(METHODS)}")
    x = parameters_from_calibration(form_x)
    y = parameters_from_calibration(form_y)
    common, found = link(x, y)
    chosen = found[method]
    return {
        "model": x.model,
        "method": method,
        "slope": chosen.slope,
        "intercept": chosen.intercept,
        "common_items": common,
        "methods": {
            name: {"slope": v.slope, "intercept": v.intercept, "criterion": v.criterion}
            for name, v in found.items()
        },
        "items": transform(x, chosen.slope, chosen.intercept).to_items(),
    }


def scaled_scores(
    theta: Array,
    se: Array,
    slope: float,
    intercept: float,
    *,
    lowest: float | None = None,
    highest: float | None = None,
) -> tuple[Array, Array]:
    """Scaled scores slope * theta + intercept with their SEs |slope| * se, clipped to
    [lowest, highest] when given (a clipped score keeps its SE)."""
    if slope == 0 or not math.isfinite(slope) or not math.isfinite(intercept):
        raise CalibrationInputError("the scale's slope must be finite and not 0")
    scaled = slope * np.asarray(theta, float) + intercept
    if lowest is not None or highest is not None:
        scaled = np.clip(scaled, lowest, highest)
    out_se: Array = abs(slope) * np.asarray(se, float)
    out: Array = np.asarray(scaled, float)
    return out, out_se
