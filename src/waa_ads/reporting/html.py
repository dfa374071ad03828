"""HTML renderings (Jinja2) of the cohort and item reports: one self-contained document
(its style in the page, charts as ``data:`` PNGs) to save or mail, from the same
:class:`~waa_ads.reporting.cohort.CohortReport` the PDF is drawn from."""

from __future__ import annotations

import base64
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from waa_ads.core import i18n
from waa_ads.reporting import charts
from waa_ads.reporting.cohort import CohortReport, distractor_rows, fmt, pct, yes_no

_env = Environment(
    loader=PackageLoader("waa_ads.reporting", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
i18n.install(_env)
_env.filters["fmt"] = fmt
_env.filters["pct"] = pct
_env.globals["yes_no"] = yes_no


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def curves_for(report: CohortReport) -> list[dict[str, Any]]:
    """Each calibrated item's characteristic curves as a chart with its alt text."""
    from waa_ads.reporting.service import item_curves

    out = []
    for item in report.items:
        if not item.irt:
            continue
        curves = item_curves(item.irt)
        if curves is None:
            continue
        png, alt = charts.characteristic_curves(
            curves,
            title=f"{item.item} ({item.irt.get('model')})",
            ylabel=i18n.gettext("Probability"),
        )
        out.append({"item": item.item, "src": _data_uri(png), "alt": alt, "irt": item.irt})
    return out


def distractors_for(report: CohortReport) -> list[dict[str, Any]]:
    """Each choice item's distractor plot (with its alt text) and table rows."""
    out = []
    for item in report.items:
        if not item.distractor_plot:
            continue
        png, alt = charts.distractors(item.item, item.options)
        out.append(
            {"item": item.item, "src": _data_uri(png), "alt": alt, "rows": distractor_rows(item)}
        )
    return out


def cohort_html(report: CohortReport) -> str:
    """The report as one page, written in ``report.language`` (the requester's)."""
    with i18n.use_locale(i18n.best_match([report.language]) if report.language else None):
        png, alt = charts.distribution(
            report.scaled_scores, cut=report.pass_cut, color=report.brand_color
        )
        return _env.get_template("cohort.html").render(
            report=report,
            distribution={"src": _data_uri(png), "alt": alt},
            curves=curves_for(report),
            distractors=distractors_for(report),
        )
