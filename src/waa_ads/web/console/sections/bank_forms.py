"""The item editor's forms: a native item document built from a form of fields per
interaction type, and the form filled back from a stored item where it can be."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def editable(definition: Mapping[str, Any]) -> str | None:
    """The interaction type whose form can edit ``definition``, or ``None``."""
    return None
