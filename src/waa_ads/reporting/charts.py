"""Charts as PNG bytes, drawn by matplotlib's Agg backend (no display, no fonts fetched).

Every chart is deterministic: the same data gives the same bytes (no timestamp or software
tag in the PNG), so a regenerated scorecard is byte for byte the one issued. Each function
also returns the chart's *alt text*, a sentence a screen reader can read instead. Axis
labels, legends and alt texts are in the locale in force (the document's).
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Sequence
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from waa_ads.core import i18n
from waa_ads.core.i18n import N_, _

DEFAULT_COLOR: Final = "#1f4e8c"
EXPECTED_SCORE: Final = N_("Expected score")
INK: Final = "#1b1b1b"
GRID: Final = "#d0d0d0"
DPI: Final = 150
#: pyplot keeps global state; figures built directly are thread-safe, but font caches and
#: rcParams are shared, so charts are drawn one at a time per process.
_LOCK = threading.Lock()
_RC: Final[dict[str, Any]] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "svg.hashsalt": "waa-ads",
}


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def section_profile(
    sections: Sequence[tuple[str, float | None]], color: str | None = None
) -> tuple[bytes, str]:
    """Horizontal bars: each section's score as a percentage of its maximum. Profiles
    repeat across a cohort (a few sections of a few points each), so the pictures of the
    most recent ones are kept: the same input gives the same bytes anyway."""
    return _section_profile(tuple((t, s) for t, s in sections), color, i18n.current())


@functools.lru_cache(maxsize=2048)
def _section_profile(
    sections: tuple[tuple[str, float | None], ...],
    color: str | None,
    locale: str | None = None,
) -> tuple[bytes, str]:
    with i18n.use_locale(locale):
        return _draw_section_profile(sections, color)


def _percent(share: float) -> str:
    """A whole percentage (0-100) as the locale writes it."""
    if i18n.current() == i18n.DEFAULT:
        return f"{share:.0f}%"
    return i18n.format_percent(share / 100)


def _draw_section_profile(
    sections: tuple[tuple[str, float | None], ...], color: str | None
) -> tuple[bytes, str]:
    labels = [title for title, _ in sections]
    shares = [0.0 if share is None else share * 100 for _, share in sections]
    with _LOCK, matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        height = 0.5 + 0.4 * max(len(labels), 1)
        fig = Figure(figsize=(6.0, height))
        ax = fig.add_subplot()
        positions = list(range(len(labels)))[::-1]
        ax.barh(positions, shares, color=color or DEFAULT_COLOR, height=0.6)
        ax.set_yticks(positions, labels)
        ax.set_xlim(0, 100)
        ax.set_xlabel(_("Score as % of the section's maximum"))
        ax.xaxis.grid(True, color=GRID, linewidth=0.6)
        ax.set_axisbelow(True)
        for pos, share in zip(positions, shares, strict=True):
            if share > 85:  # no room after the bar: inside it, white on the bar's colour
                ax.text(share - 1.5, pos, _percent(share), va="center", ha="right", color="white")
            else:
                ax.text(share + 1.5, pos, _percent(share), va="center", color=INK)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        # Fixed margins (tight_layout measures every label, a third of the drawing time):
        # the left one grows with the longest section title.
        longest = max((len(t) for t in labels), default=4)
        fig.subplots_adjust(
            left=min(0.08 + 0.0125 * longest, 0.45), right=0.97, top=0.95,
            bottom=0.55 / height + 0.12,
        )  # fmt: skip
        data = _png(fig)
    alt = _(
        "Section profile: %(sections)s.",
        sections="; ".join(
            f"{title} {_percent(share)}" for title, share in zip(labels, shares, strict=True)
        ),
    )
    return data, alt


def distribution(
    scores: Sequence[float],
    *,
    cut: float | None = None,
    bins: int = 20,
    color: str | None = None,
) -> tuple[bytes, str]:
    """A histogram of scaled scores, with the pass mark as a dashed line."""
    with _LOCK, matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        fig = Figure(figsize=(6.5, 2.8))
        ax = fig.add_subplot()
        if scores:
            ax.hist(list(scores), bins=bins, color=color or DEFAULT_COLOR, edgecolor="white")
        if cut is not None:
            ax.axvline(cut, color="#b00020", linestyle="--", linewidth=1.2, label=_("pass mark"))
            ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(_("Scaled score"))
        ax.set_ylabel(_("Candidates"))
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        data = _png(fig)
    if scores:
        alt = i18n.ngettext(
            "Histogram of %(num)d scaled score from %(low)s to %(high)s",
            "Histogram of %(num)d scaled scores from %(low)s to %(high)s",
            len(scores),
            low=_whole(min(scores)),
            high=_whole(max(scores)),
        )
    else:
        alt = _("No scores yet")
    if cut is not None:
        alt = _("%(chart)s; pass mark %(cut)s", chart=alt, cut=format(cut, "g"))
    return data, alt + "."


def _whole(value: float) -> str:
    return f"{value:.0f}" if i18n.current() == i18n.DEFAULT else i18n.format_number(value, 0)


def characteristic_curves(
    curves: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    title: str,
    ylabel: str | None = None,
) -> tuple[bytes, str]:
    """Lines of (label, abilities, values): item characteristic or category curves.
    ``ylabel``: the vertical axis (``Expected score`` when not given)."""
    ylabel = ylabel if ylabel is not None else _(EXPECTED_SCORE)
    with _LOCK, matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        fig = Figure(figsize=(5.0, 2.8))
        ax = fig.add_subplot()
        for label, xs, ys in curves:
            ax.plot(list(xs), list(ys), label=label, linewidth=1.4)
        ax.set_xlabel(_("Ability (θ)"))
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, color=GRID, linewidth=0.6)
        if len(curves) > 1:
            ax.legend(frameon=False, fontsize=7)
        fig.tight_layout()
        data = _png(fig)
    return data, i18n.ngettext(
        "%(title)s: %(num)d curve of %(quantity)s against ability.",
        "%(title)s: %(num)d curves of %(quantity)s against ability.",
        len(curves),
        title=title,
        quantity=ylabel.lower(),
    )


def distractors(item: str, options: Sequence[dict[str, Any]]) -> tuple[bytes, str]:
    """The distractor plot of a choice item: for each option (``option``, ``key``,
    ``groups``: its share in each score group, lowest first), the share of each score
    group choosing it. The key is a solid line, distractors dashed; a distractor that the
    upper 27% choose more than the lower 27% (``upper`` > ``lower``) is named in the title
    and the alt text."""
    groups = max((len(o.get("groups") or []) for o in options), default=0)
    attracting = [o["option"] for o in options if not o["key"] and o["upper"] > o["lower"]]
    title = _("%(item)s: options by score group", item=item)
    if attracting:
        title = _(
            "%(item)s: options by score group (%(options)s attracts high scorers)",
            item=item,
            options=", ".join(attracting),
        )
    with _LOCK, matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        fig = Figure(figsize=(5.0, 2.8))
        ax = fig.add_subplot()
        xs = list(range(1, groups + 1))
        for o in options:
            shares = [100 * s for s in o.get("groups") or []]
            if not shares:
                continue
            label = _("%(option)s (key)", option=o["option"]) if o["key"] else str(o["option"])
            ax.plot(
                xs, shares, label=label, marker="o", markersize=3,
                linewidth=2.2 if o["key"] else 1.2, linestyle="-" if o["key"] else "--",
            )  # fmt: skip
        ax.set_xticks(xs, [f"{x}" for x in xs])
        ax.set_xlabel(_("Score group (fifths by total score, 1 = lowest)"))
        ax.set_ylabel(_("% choosing"))
        ax.set_ylim(0, 100)
        ax.set_title(title, fontsize=9)
        ax.grid(True, color=GRID, linewidth=0.6)
        ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.subplots_adjust(left=0.12, right=0.78, top=0.88, bottom=0.17)
        data = _png(fig)
    parts = [
        (_("%(option)s (key)", option=o["option"]) if o["key"] else str(o["option"]))
        + " "
        + ", ".join(_percent(100 * s) for s in o.get("groups") or [])
        for o in options
    ]
    alt = _(
        "Distractor plot of %(item)s: share of each score group, lowest to highest, "
        "choosing each option: %(options)s",
        item=item,
        options="; ".join(parts),
    )
    if attracting:
        alt = _(
            "%(chart)s. %(options)s attracts high scorers more than low ones",
            chart=alt,
            options=", ".join(attracting),
        )
    return data, alt + "."
