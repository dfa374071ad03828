"""Item characteristic, item information and test information curves as PNG bytes, drawn
with matplotlib's Agg backend (server side, no display, no fonts fetched). Deterministic:
the same parameters give the same bytes. Each function returns the PNG and an alt text,
both in the language in force (the reader's)."""

from __future__ import annotations

import io
import threading
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.figure import Figure

from waa_ads.core import i18n
from waa_ads.core.i18n import _
from waa_ads.psychometrics import irt
from waa_ads.psychometrics.linking import ItemParameters

THETA: Final = np.linspace(-4.0, 4.0, 161)
INK: Final = "#1b1b1b"
GRID: Final = "#d0d0d0"
COLORS: Final = ("#1f4e8c", "#b35900", "#2e7d32", "#8e24aa", "#c62828", "#00838f")
_LOCK = threading.Lock()
_RC: Final[dict[str, Any]] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
}


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return buffer.getvalue()


def _decimal(value: float, digits: int) -> str:
    """A figure of an alt text, in the locale's way (``0.52``, « 0,52 »)."""
    if i18n.current() == i18n.DEFAULT:
        return f"{value:.{digits}f}"
    return i18n.format_number(value, digits)


def item_curves(items: ItemParameters, item: str) -> tuple[bytes, str]:
    """One item's category probability curves (for a right/wrong item: P(right)) and its
    information on a second axis."""
    one = items.subset([item])
    probs = one.probabilities(THETA)[0]  # (Q, K)
    info = irt.item_information(one.to_calibration(), THETA)[0]
    with _LOCK, matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        fig = Figure(figsize=(5.6, 3.0))
        ax = fig.add_subplot()
        if items.model in irt.DICHOTOMOUS:
            ax.plot(THETA, probs[:, 1], color=COLORS[0], linewidth=1.6, label=_("P(right)"))
        else:
            for k in range(int(one.ncat[0])):
                color = COLORS[k % len(COLORS)]
                ax.plot(
                    THETA,
                    probs[:, k],
                    color=color,
                    linewidth=1.4,
                    label=_("P(score %(score)s)", score=k),
                )
        ax.set_ylim(0, 1)
        ax.set_xlabel(_("Ability (θ)"))
        ax.set_ylabel(_("Probability"))
        ax.grid(True, color=GRID, linewidth=0.6)
        right = ax.twinx()
        right.plot(THETA, info, color=INK, linestyle="--", linewidth=1.2, label=_("information"))
        right.set_ylabel(_("Information"))
        right.set_ylim(0, max(float(info.max()) * 1.1, 0.1))
        handles = ax.get_legend_handles_labels()
        extra = right.get_legend_handles_labels()
        ax.legend(handles[0] + extra[0], handles[1] + extra[1], frameon=False, fontsize=7)
        ax.set_title(f"{item} ({items.model})")
        fig.tight_layout()
        data = _png(fig)
    peak = float(THETA[int(info.argmax())])
    alt = _(
        "Characteristic curves of %(item)s (%(model)s) against ability from -4 to 4; its "
        "information peaks at %(peak)s near theta %(theta)s.",
        item=item,
        model=items.model,
        peak=_decimal(float(info.max()), 2),
        theta=_decimal(peak, 1),
    )
    return data, alt


def test_curves(items: ItemParameters) -> tuple[bytes, str]:
    """The test information and the standard error 1/sqrt(information)."""
    info, se = irt.test_information(items.to_calibration(), THETA)
    with _LOCK, matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        fig = Figure(figsize=(5.6, 3.0))
        ax = fig.add_subplot()
        ax.plot(THETA, info, color=COLORS[0], linewidth=1.6, label=_("test information"))
        ax.set_xlabel(_("Ability (θ)"))
        ax.set_ylabel(_("Information"))
        ax.grid(True, color=GRID, linewidth=0.6)
        right = ax.twinx()
        right.plot(THETA, se, color=COLORS[1], linestyle="--", linewidth=1.4, label="SE(θ)")
        right.set_ylabel(_("Standard error"))
        right.set_ylim(0, min(float(se.max()) * 1.05, 3.0))
        handles = ax.get_legend_handles_labels()
        extra = right.get_legend_handles_labels()
        ax.legend(handles[0] + extra[0], handles[1] + extra[1], frameon=False, fontsize=7)
        ax.set_title(
            i18n.ngettext(
                "Test information, %(num)d item (%(model)s)",
                "Test information, %(num)d items (%(model)s)",
                len(items.items),
                model=items.model,
            )
        )
        fig.tight_layout()
        data = _png(fig)
    peak = float(THETA[int(info.argmax())])
    alt = i18n.ngettext(
        "Test information of %(num)d item against ability from -4 to 4, highest (%(peak)s, "
        "SE %(se)s) near theta %(theta)s.",
        "Test information of %(num)d items against ability from -4 to 4, highest (%(peak)s, "
        "SE %(se)s) near theta %(theta)s.",
        len(items.items),
        peak=_decimal(float(info.max()), 2),
        se=_decimal(float(se.min()), 2),
        theta=_decimal(peak, 1),
    )
    return data, alt
