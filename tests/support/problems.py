"""Reading a refusal the way a client does: by its problem code, never its sentence."""

from __future__ import annotations

import httpx


def problem(response: httpx.Response) -> str:
    """The code of a refusal (the end of its problem ``type``): what a client matches on,
    never the ``detail`` sentence."""
    return str(response.json()["type"]).rsplit("/", 1)[-1]
