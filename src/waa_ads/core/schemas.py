"""Reply bodies of the core routes: the health probes and the server's version."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Liveness(BaseModel):
    status: Literal["ok"]


class DependencyStatus(BaseModel):
    status: Literal["ok", "error", "not_configured"]
    latency_ms: float | None = None
    detail: str | None = None


class Readiness(BaseModel):
    status: Literal["ok", "error"]
    dependencies: dict[str, DependencyStatus]


class VersionInfo(BaseModel):
    name: str
    version: str
    api: str
