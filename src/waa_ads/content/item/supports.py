"""The accessibility supports of QTI 3.0 catalogs (``qti-card support="..."``) a candidate
may be given: the names this product knows, and the check of a candidate's list.

A candidate's supports are an accommodation of their roster entry (docs/assessments.md):
the player shows an item's cards of those supports to that candidate only. Two supports
are shown to every candidate and need no accommodation (:data:`FOR_EVERYONE`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Shown to every candidate, whatever their accommodations.
FOR_EVERYONE = frozenset({"glossary-on-screen", "keyword-translation"})

#: Supports the player presents in a way of their own (docs/player.md, "Glossary and
#: translations"): a text card, a card with a Listen control, a sign-language video, text
#: for a braille display.
PRESENTED = frozenset({"linguistic-guidance", "spoken", "sign-language", "braille"})

#: The QTI 3.0 support names a candidate may be given; a card of another of them (or of
#: an ``ext:`` extension) is shown to a candidate who has it as a text card.
KNOWN = frozenset(
    {
        *PRESENTED,
        "audio-description",
        "illustrated-glossary",
        "simplified-language",
        "tactile",
    }
)

#: ``ext:`` and a name: a support an organization defines for itself.
_EXTENSION_RE = re.compile(r"^ext:[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

#: The most supports one candidate may be given.
MAX_SUPPORTS = 32


def is_known(name: str) -> bool:
    """Whether ``name`` is a support a candidate may be given."""
    return name in KNOWN or _EXTENSION_RE.match(name) is not None


def check_supports(names: Iterable[str]) -> list[str]:
    """A candidate's supports as stored: each name once, sorted. Raises ``ValueError``
    naming the first name that is not a known support (the glossary and keyword
    translations are refused too: every candidate has them already)."""
    seen: set[str] = set()
    for raw in names:
        name = raw.strip()
        if name in FOR_EVERYONE:
            raise ValueError(f"{name!r} is shown to every candidate and is not an accommodation")
        if not is_known(name):
            raise ValueError(
                f"unknown accessibility support {name!r}: use one of "
                f"{', '.join(sorted(KNOWN))} or an extension such as ext:my-support"
            )
        seen.add(name)
    if len(seen) > MAX_SUPPORTS:
        raise ValueError(f"at most {MAX_SUPPORTS} accessibility supports")
    return sorted(seen)


def split_supports(text: str) -> list[str]:
    """A list of supports written in one cell or option: names separated by spaces,
    commas or semicolons."""
    return [part for part in re.split(r"[\s,;]+", text) if part]
