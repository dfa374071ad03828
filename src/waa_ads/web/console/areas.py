"""The console's areas, each a router of its own module, in the order of the navigation."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter

ROUTERS: Final[list[APIRouter]] = []
