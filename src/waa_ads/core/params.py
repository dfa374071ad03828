"""Request parameter types: bounded integers, and the base of partial-update bodies.

An integer the client sends must fit the column it is compared with: PostgreSQL's driver
raises ``OverflowError`` (a 500) on a Python int beyond 64 bits, and ``INTEGER`` columns
stop at 2**31 - 1. Every integer a route accepts uses one of these types (or its own
``le=``), so an out-of-range number is a 422 naming the parameter before any query runs.
``tests/core/test_params.py`` walks the OpenAPI document to keep it that way.

The bounds are ``annotated_types`` metadata, so one type serves a path, a query, a form
field and a body field alike (FastAPI and pydantic both apply and document them).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

INT32_MAX = 2**31 - 1
"""The largest value of an SQL ``INTEGER`` column."""

INT64_MAX = 2**63 - 1
"""The largest value of an SQL ``BIGINT`` column."""

Version = Annotated[int, Ge(1), Le(INT32_MAX)]
"""A version number of an item, rubric or assessment (``INTEGER`` columns)."""

Seq = Annotated[int, Ge(0), Le(INT64_MAX)]
"""A sequence number compared with a ``BIGINT`` column (the audit chain, saves)."""

Seed = Annotated[int, Ge(0), Le(INT64_MAX)]
"""A shuffle seed (attempts store theirs in a ``BIGINT`` column)."""


def _drop_null_alternatives(schema: dict[str, Any], model: type[Any]) -> None:
    """Document a :class:`PatchModel`'s non-nullable fields as what they accept: the
    ``anyOf [T, null]`` of their ``T | None`` annotation becomes ``T``, without a default."""
    nullable: frozenset[str] = getattr(model, "nullable", frozenset())
    for name, prop in schema.get("properties", {}).items():
        if name in nullable or not isinstance(prop, dict):
            continue
        options = prop.get("anyOf")
        if not isinstance(options, list) or {"type": "null"} not in options:
            continue
        rest = [option for option in options if option != {"type": "null"}]
        del prop["anyOf"]
        if len(rest) == 1:
            prop.update(rest[0])
        else:
            prop["anyOf"] = rest
        if prop.get("default", ...) is None:
            del prop["default"]


class PatchModel(BaseModel):
    """The body of a partial update (``PATCH``): an omitted field keeps its value.

    ``null`` is a value only for the fields named in ``nullable`` (a column that may be
    empty: sending ``null`` clears it). Any other field refuses an explicit ``null`` with a
    422 naming it, instead of failing on a ``NOT NULL`` column or being silently ignored;
    its OpenAPI schema says so (the field is optional, but not nullable).
    """

    nullable: ClassVar[frozenset[str]] = frozenset()

    model_config = ConfigDict(json_schema_extra=_drop_null_alternatives)

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_meaningful(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise PydanticCustomError(
                "null_not_allowed",
                "{field} cannot be null: omit it to keep its value",
                {"field": info.field_name},
            )
        return value
