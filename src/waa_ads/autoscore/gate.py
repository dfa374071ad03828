"""The acceptance gate a model must pass before it may score live (pure).

The defaults are the usual criteria for operational automated scoring: quadratic weighted
kappa at least 0.70, no more than 0.10 below the human-human kappa on the same responses,
and a standardized mean difference within ±0.15; an organization may tighten them and may
require per-group differences within a limit (fairness).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from waa_ads.autoscore.model import TrainingReport


@dataclass(frozen=True)
class Gate:
    """``max_abs_group_smd`` None: per-group differences are reported, not required.
    ``require_human``: fail when there are no second human scores to compare with."""

    min_qwk: float = 0.70
    max_below_human: float = 0.10
    max_abs_smd: float = 0.15
    max_abs_group_smd: float | None = None
    min_responses: int = 200
    require_human: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GateCheck:
    name: str
    value: float | None
    threshold: float | None
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        value = self.value if self.value is None or math.isfinite(self.value) else None
        return {**asdict(self), "value": value}


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    checks: list[GateCheck]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [c.to_dict() for c in self.checks]}


def _defined(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def evaluate(report: TrainingReport, gate: Gate) -> GateVerdict:
    """Check ``report`` against every criterion of ``gate``; each check says why it passed
    or failed. An undefined statistic (NaN) fails the check that needs it."""
    checks: list[GateCheck] = []
    n = report.n
    checks.append(
        GateCheck(
            "responses",
            float(n),
            float(gate.min_responses),
            n >= gate.min_responses,
            f"{n} human-scored responses"
            + ("" if n >= gate.min_responses else f", fewer than {gate.min_responses}"),
        )
    )
    qwk = report.model.qwk
    ok = _defined(qwk) and qwk >= gate.min_qwk
    checks.append(
        GateCheck(
            "qwk",
            qwk,
            gate.min_qwk,
            ok,
            f"model-human QWK {qwk:.3f} {'>=' if ok else '<'} {gate.min_qwk:.2f}"
            if _defined(qwk)
            else "model-human QWK undefined",
        )
    )
    if report.human is None or not _defined(report.human.qwk):
        checks.append(
            GateCheck(
                "qwk below human",
                None,
                gate.max_below_human,
                not gate.require_human,
                "no second human scores to compare with"
                + (" (required)" if gate.require_human else ""),
            )
        )
    else:
        # Compared on the doubly scored responses, so both kappas see the same answers.
        model_qwk = report.model_on_double.qwk if report.model_on_double else qwk
        gap = report.human.qwk - model_qwk
        ok = _defined(gap) and gap <= gate.max_below_human + 1e-12
        checks.append(
            GateCheck(
                "qwk below human",
                gap,
                gate.max_below_human,
                ok,
                f"human-human QWK {report.human.qwk:.3f}, model {model_qwk:.3f} on the same "
                f"{report.human.n} responses: {gap:+.3f} below"
                + ("" if ok else f", more than {gate.max_below_human:.2f}"),
            )
        )
    smd = report.model.smd
    ok = _defined(smd) and abs(smd) <= gate.max_abs_smd
    checks.append(
        GateCheck(
            "smd",
            smd,
            gate.max_abs_smd,
            ok,
            f"standardized mean difference {smd:+.3f}, limit ±{gate.max_abs_smd:.2f}"
            if _defined(smd)
            else "standardized mean difference undefined",
        )
    )
    if gate.max_abs_group_smd is not None:
        limit = gate.max_abs_group_smd
        if not report.groups:
            checks.append(
                GateCheck("group smd", None, limit, False, "no group large enough to check")
            )
        for group in report.groups:
            ok = _defined(group.smd) and abs(group.smd) <= limit
            checks.append(
                GateCheck(
                    f"group smd: {group.group}",
                    group.smd,
                    limit,
                    ok,
                    f"{group.n} responses, standardized mean difference {group.smd:+.3f}, "
                    f"limit ±{limit:.2f}"
                    if _defined(group.smd)
                    else f"{group.n} responses, standardized mean difference undefined",
                )
            )
    return GateVerdict(all(c.passed for c in checks), checks)
