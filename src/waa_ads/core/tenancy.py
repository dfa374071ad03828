"""Tenancy: every domain row carries ``organization_id`` and every query is scoped here.

Rows of another organization are indistinguishable from rows that do not exist: both are a
404, never a 403, so a caller learns nothing about other tenants.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from waa_ads.core.errors import NotFound


class Tenanted(Protocol):
    organization_id: Any
    id: Any


T = TypeVar("T")
SelectT = TypeVar("SelectT", bound=Select[Any])


def scoped(stmt: SelectT, model: Any, organization_id: uuid.UUID) -> SelectT:
    """Restrict a SELECT to one organization's rows of ``model``."""
    column: InstrumentedAttribute[Any] = model.organization_id
    return stmt.where(column == organization_id)


async def get_scoped(
    session: AsyncSession,
    model: type[T],
    row_id: Any,
    organization_id: uuid.UUID,
    *,
    what: str | None = None,
    for_update: bool = False,
    error: type[NotFound] = NotFound,
) -> T:
    """The row with ``row_id`` if it belongs to ``organization_id``; ``error`` (a
    :class:`NotFound`, the domain's own case where it has one) otherwise."""
    row = await session.get(model, row_id, with_for_update=for_update)
    if row is None or getattr(row, "organization_id", None) != organization_id:
        name = what or getattr(model, "__tablename__", model.__name__).replace("_", " ")
        raise error(f"{name} {row_id} not found")
    return row
