"""The console's areas: every module of :mod:`waa_ads.web.console.sections` with a
``router``, in name order."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter

from waa_ads.web.console import sections


def routers() -> list[APIRouter]:
    found: list[APIRouter] = []
    for module in sorted(pkgutil.iter_modules(sections.__path__), key=lambda m: m.name):
        loaded = importlib.import_module(f"{sections.__name__}.{module.name}")
        router = getattr(loaded, "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return found
