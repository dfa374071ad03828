"""What a scorecard shows, as plain data, and the receipt that binds its figures to the
release recorded in the audit chain. Pure: no I/O.

A scorecard's *figures* are the lines a reader would quote (``Scaled score: 512``): each
has a stable ``name``, the ``label`` printed before it and the ``value`` printed after it,
already formatted. The same list is printed on the page, embedded in the PDF as JSON, and
stored with the receipt, so verifying compares strings, never floats.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from waa_ads.core import i18n
from waa_ads.core.i18n import N_

#: The embedded JSON's format name; a reader refuses any other.
RECEIPT_FORMAT: Final = "waa-ads-receipt/1"
#: The embedded file's name inside the PDF.
RECEIPT_FILE: Final = "receipt.json"
#: Crockford's base32 alphabet (no I, L, O, U): codes survive being read aloud and retyped.
_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_B32: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#: 16 characters = 80 bits: guessing a code is hopeless even with millions issued.
CODE_LENGTH: Final = 16
#: A percentile is printed only among at least this many released results.
MIN_PERCENTILE_COHORT: Final = 5
#: The likely range printed around a scaled score: +-1.96 standard errors (95%).
RANGE_Z: Final = 1.96


@dataclass(frozen=True)
class Figure:
    name: str
    label: str
    value: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "label": self.label, "value": self.value}


@dataclass(frozen=True)
class SectionFigure:
    identifier: str
    title: str
    raw: float
    max_raw: float

    @property
    def share(self) -> float | None:
        return self.raw / self.max_raw if self.max_raw > 0 else None


@dataclass(frozen=True)
class Feedback:
    """A rater's released feedback on one item a person scored."""

    item_ref: str
    title: str
    score: float | None
    max_score: float
    comment: str | None
    levels: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Estimate:
    """Cohort-dependent figures, fixed when the receipt is issued."""

    scaled_se: float | None = None
    percentile: float | None = None
    cohort: int = 0


@dataclass(frozen=True)
class Scorecard:
    """Everything one scorecard prints (see :func:`figures`)."""

    organization_name: str
    brand_color: str | None
    logo: bytes | None
    language: str
    candidate_name: str | None
    candidate_ref: str
    assessment_title: str
    administration_title: str
    attempt_id: str
    revision: int
    released_at: str | None
    raw: float
    max_raw: float
    scaled: float
    band: str | None
    passed: bool | None
    sections: list[SectionFigure]
    feedback: list[Feedback]
    estimate: Estimate
    code: str | None = None
    verify_url: str | None = None
    preview: bool = False


def number(value: float) -> str:
    """A score as printed: whole numbers without decimals, others to two places."""
    if math.isfinite(value) and value == round(value):
        return str(round(value))
    return f"{value:.2f}"


PASS: Final = N_("Pass")
NOT_PASSED: Final = N_("Not passed")
#: The printed label of each figure, marked for the catalogue (the receipt keeps the
#: English; a section's or an item's label is the organization's own title).
LABELS: Final = {
    "candidate": N_("Candidate"),
    "assessment": N_("Assessment"),
    "administration": N_("Session"),
    "revision": N_("Result revision"),
    "raw": N_("Raw score"),
    "scaled": N_("Scaled score"),
    "standard_error": N_("Standard error"),
    "likely_range": N_("Likely range (95%)"),
    "band": N_("Band"),
    "outcome": N_("Outcome"),
    "percentile": N_("Percentile"),
    "released": N_("Released"),
}


def outcome(passed: bool | None) -> str | None:
    return None if passed is None else (PASS if passed else NOT_PASSED)


def figures(card: Scorecard) -> list[Figure]:
    """The figures a scorecard prints, in print order (absent ones are left out)."""
    out = [
        Figure("candidate", LABELS["candidate"], card.candidate_name or card.candidate_ref),
        Figure("assessment", LABELS["assessment"], card.assessment_title),
        Figure("administration", LABELS["administration"], card.administration_title),
        Figure("revision", LABELS["revision"], str(card.revision)),
        Figure("raw", LABELS["raw"], f"{number(card.raw)} / {number(card.max_raw)}"),
        Figure("scaled", LABELS["scaled"], number(card.scaled)),
    ]
    se = card.estimate.scaled_se
    if se is not None:
        low, high = card.scaled - RANGE_Z * se, card.scaled + RANGE_Z * se
        out.append(Figure("standard_error", LABELS["standard_error"], f"{se:.1f}"))
        places = 0 if se >= 5 else 1
        out.append(
            Figure("likely_range", LABELS["likely_range"], f"{low:.{places}f} to {high:.{places}f}")
        )
    if card.band is not None:
        out.append(Figure("band", LABELS["band"], card.band))
    passed = outcome(card.passed)
    if passed is not None:
        out.append(Figure("outcome", LABELS["outcome"], passed))
    if card.estimate.percentile is not None:
        out.append(
            Figure(
                "percentile",
                LABELS["percentile"],
                f"{card.estimate.percentile:.0f} (of {card.estimate.cohort} candidates)",
            )
        )
    for section in card.sections:
        out.append(
            Figure(
                f"section:{section.identifier}",
                section.title,
                f"{number(section.raw)} / {number(section.max_raw)}",
            )
        )
    for item in card.feedback:
        if item.score is not None:
            out.append(
                Figure(
                    f"item:{item.item_ref}",
                    f"{item.title}{_RATED}",
                    f"{number(item.score)} / {number(item.max_score)}",
                )
            )
    if card.released_at is not None:
        out.append(Figure("released", LABELS["released"], card.released_at))
    return out


_NUMBER: Final = re.compile(r"-?\d+(?:\.(\d+))?")
_RATED: Final = " (rated)"


def _number(text: str) -> str:
    """A number as the receipt writes it, in the current locale with as many decimals."""
    match = _NUMBER.fullmatch(text.strip())
    if match is None:
        return text
    decimals = len(match.group(1) or "")
    return i18n.format_number(float(text), decimals)


def printed_number(value: float) -> str:
    """:func:`number` in the locale in force (``7.50``, « 7,50 »)."""
    text = number(value)
    return text if i18n.current() == i18n.DEFAULT else _number(text)


def _fraction(text: str) -> str:
    parts = text.split(" / ")
    return " / ".join(_number(part) for part in parts) if len(parts) == 2 else text


def printed(figure: Figure) -> Figure:
    """``figure`` as the page prints it in the locale in force: its label from the
    catalogue, its numbers and date in the locale's way. The receipt keeps the English
    figure (locale-neutral values), which is what is verified; in English the two are the
    same."""
    if i18n.current() == i18n.DEFAULT:
        return figure
    name, label, value = figure.name, figure.label, figure.value
    if name in LABELS:
        label = i18n.gettext(LABELS[name])
    elif name.startswith("item:") and label.endswith(_RATED):
        label = i18n.gettext("%(title)s (rated)", title=label.removesuffix(_RATED))
    if name in ("raw", "likely_range") or name.startswith(("section:", "item:")):
        if name == "likely_range" and " to " in value:
            low, high = value.split(" to ", 1)
            value = i18n.gettext("%(low)s to %(high)s", low=_number(low), high=_number(high))
        else:
            value = _fraction(value)
    elif name in ("scaled", "standard_error", "revision"):
        value = _number(value)
    elif name == "outcome" and value in (PASS, NOT_PASSED):
        value = i18n.gettext(value)
    elif name == "percentile":
        match = re.fullmatch(r"(\d+) \(of (\d+) candidates\)", value)
        if match is not None:
            value = i18n.ngettext(
                "%(percentile)s (of %(num)d candidate)",
                "%(percentile)s (of %(num)d candidates)",
                int(match.group(2)),
                percentile=_number(match.group(1)),
            )
    elif name == "released":
        with contextlib.suppress(ValueError):
            value = i18n.format_date(datetime.fromisoformat(value), "long")
    return Figure(name, label, value)


def percentile_rank(score: float, cohort: Sequence[float]) -> float | None:
    """The share of the cohort below ``score`` plus half of those equal to it, in percent
    (the mid-rank definition); None below :data:`MIN_PERCENTILE_COHORT`."""
    if len(cohort) < MIN_PERCENTILE_COHORT:
        return None
    below = sum(1 for s in cohort if s < score)
    equal = sum(1 for s in cohort if s == score)
    return 100.0 * (below + 0.5 * equal) / len(cohort)


def receipt_code(secret: str, release_hash: str, attempt_id: str, revision: int) -> str:
    """The verification code of a released revision: a keyed hash of the release event's
    hash, so it is the same every time it is derived and cannot be guessed from ids."""
    digest = hmac.new(
        secret.encode(), f"receipt:{release_hash}:{attempt_id}:{revision}".encode(), "sha256"
    ).digest()
    text = base64.b32encode(digest).decode()[:CODE_LENGTH]
    return text.translate(str.maketrans(_B32, _CROCKFORD))


def format_code(code: str) -> str:
    """``ABCD-EFGH-JKMN-PQRS`` for print."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


_CODE_FIXES: Final = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def normalize_code(text: str) -> str | None:
    """A code as typed (dashes, spaces, lower case, O for 0) in its stored form; None when
    it cannot be a code at all."""
    cleaned = re.sub(r"[\s-]", "", text).upper().translate(_CODE_FIXES)
    if len(cleaned) != CODE_LENGTH or any(c not in _CROCKFORD for c in cleaned):
        return None
    return cleaned


def receipt_payload(code: str, items: Iterable[Figure], verify_url: str | None) -> bytes:
    """The JSON embedded in a scorecard: its code and the figures it prints."""
    body: dict[str, Any] = {
        "format": RECEIPT_FORMAT,
        "code": code,
        "verify_url": verify_url,
        "figures": [f.to_dict() for f in items],
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, indent=1).encode()


class ReceiptUnreadable(ValueError):
    """The embedded receipt is missing or not one this system wrote."""


def parse_payload(data: bytes) -> tuple[str, list[Figure]]:
    """The code and figures of an embedded receipt; :class:`ReceiptUnreadable` else."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReceiptUnreadable("the embedded receipt is not JSON") from exc
    if not isinstance(body, dict) or body.get("format") != RECEIPT_FORMAT:
        raise ReceiptUnreadable("the embedded receipt is not a WAA-ADS receipt")
    code, items = body.get("code"), body.get("figures")
    if not isinstance(code, str) or not isinstance(items, list):
        raise ReceiptUnreadable("the embedded receipt has no code or no figures")
    out = []
    for item in items:
        if not (
            isinstance(item, dict)
            and all(isinstance(item.get(k), str) for k in ("name", "label", "value"))
        ):
            raise ReceiptUnreadable("a figure of the embedded receipt is malformed")
        out.append(Figure(item["name"], item["label"], item["value"]))
    return code, out


def figures_from_dicts(rows: Iterable[dict[str, Any]]) -> list[Figure]:
    return [Figure(str(r["name"]), str(r["label"]), str(r["value"])) for r in rows]


def first_difference(shown: Sequence[Figure], issued: Sequence[Figure]) -> str | None:
    """The first way ``shown`` differs from ``issued`` as a sentence, or None."""
    theirs = {f.name: f for f in issued}
    for figure in shown:
        original = theirs.get(figure.name)
        if original is None:
            return f"{figure.label} ({figure.value}) was not on the issued scorecard"
        if figure.value != original.value:
            return (
                f"{original.label} reads {figure.value!r}; the released value is {original.value!r}"
            )
    ours = {f.name for f in shown}
    for original in issued:
        if original.name not in ours:
            return f"{original.label} ({original.value}) is missing"
    return None


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def printed_difference(page_text: str, issued: Sequence[Figure]) -> str | None:
    """The first issued figure whose ``label value`` line is not in the page text, as a
    sentence naming what the page shows instead (when it can tell), or None."""
    text = _squash(page_text)
    for figure in issued:
        expected = _squash(f"{figure.label} {figure.value}")
        if re.search(re.escape(expected) + r"(?![\w.])", text):
            continue
        seen = re.search(re.escape(_squash(figure.label)) + r" (\S+(?: / \S+)?)", text)
        shows = f" reads {seen.group(1)!r}" if seen else " is not printed"
        return f"the printed {figure.label}{shows}; the released value is {figure.value!r}"
    return None


def digest(items: Iterable[Figure]) -> str:
    """SHA-256 of the figures' canonical JSON: one value to compare or log."""
    text = json.dumps([f.to_dict() for f in items], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
