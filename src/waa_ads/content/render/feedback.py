"""The feedback a candidate's outcomes select, rendered for the player.

QTI items carry three kinds of feedback: modal feedback (outside the body), and feedback
blocks and inlines (inside it). Each names an outcome variable (``outcome-identifier``), an
``identifier`` and ``show-hide``: it is *matched* when the outcome's value is the identifier
(or, for a multiple or ordered outcome, contains it); ``show`` feedback is shown when
matched, ``hide`` feedback when not.

:func:`candidate_view` (content/render/candidate.py) never sends feedback: the rendered
body holds none, whatever its ``show-hide``, because feedback may give the key away and the
assessment's feedback policy decides whether a candidate sees it. When the policy allows,
:func:`candidate_feedback` gives the feedback that the outcomes of response processing
select, one entry per shown feedback in order (the body's blocks and inlines in document
order, then the modal feedback), sanitized and with media pointed at delivery URLs like
the body. Feedback nested in shown feedback is itself shown or left out by its own
condition. Nothing else of the item is in an entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from waa_ads.content.item.definition import ItemDefinition
from waa_ads.content.render.candidate import (
    MediaResolver,
    _copy,
    _is_host,
    _local,
    _remove,
    _Renderer,
    _unwrap,
)
from waa_ads.content.render.sanitize import safe_xml_parser

_BODY_FEEDBACK = {"qti-feedback-block": "block", "qti-feedback-inline": "inline"}


def feedback_shown(
    outcomes: Mapping[str, Any], outcome_identifier: str, identifier: str, show_hide: str
) -> bool:
    """Whether feedback with this condition is shown for these outcome values."""
    value = outcomes.get(outcome_identifier)
    matched = identifier in value if isinstance(value, list | tuple) else value == identifier
    return matched if show_hide != "hide" else not matched


def _shown(el: etree._Element, outcomes: Mapping[str, Any]) -> bool:
    return feedback_shown(
        outcomes,
        el.get("outcome-identifier") or "",
        el.get("identifier") or "",
        el.get("show-hide") or "show",
    )


def _resolve_nested(holder: etree._Element, outcomes: Mapping[str, Any]) -> None:
    """Feedback inside shown feedback: unwrapped when shown, removed when not."""
    for el in list(holder.iter()):
        if el is holder or not isinstance(el.tag, str) or el.getparent() is None:
            continue
        if _is_host(el) and _local(el) in _BODY_FEEDBACK:
            if _shown(el, outcomes):
                _unwrap(el)
            else:
                _remove(el)


def candidate_feedback(
    item: ItemDefinition,
    outcomes: Mapping[str, Any],
    *,
    resolve_media: MediaResolver | None = None,
) -> list[dict[str, Any]]:
    """The feedback ``outcomes`` select for ``item``: a list of ``{"kind": "block" |
    "inline" | "modal", "title": str | None, "html": str}``, in the order of the module
    docs. ``outcomes`` are the item's outcome values after response processing (JSON
    shapes, as the scoring engine reports them)."""
    renderer = _Renderer(item, None, resolve_media)
    shown: list[dict[str, Any]] = []
    root = etree.fromstring(item.body.encode("utf-8"), safe_xml_parser())
    for el in root.iter():
        if not isinstance(el.tag, str) or not _is_host(el) or _local(el) not in _BODY_FEEDBACK:
            continue
        outer = el.getparent()
        nested = False
        while outer is not None:
            if isinstance(outer.tag, str) and _local(outer) in _BODY_FEEDBACK:
                nested = True
                break
            outer = outer.getparent()
        if nested or not _shown(el, outcomes):
            continue
        holder = _copy(el)
        _resolve_nested(holder, outcomes)
        html = renderer.html(renderer.nodes_of(holder)).strip()
        if html:
            shown.append({"kind": _BODY_FEEDBACK[_local(el)], "title": None, "html": html})
    for modal in item.modal_feedback:
        if not feedback_shown(
            outcomes, modal.outcome_identifier, modal.identifier, modal.show_hide
        ):
            continue
        html = renderer.html(renderer.fragment(modal.content)).strip()
        if html or modal.title:
            shown.append({"kind": "modal", "title": modal.title, "html": html})
    return shown
