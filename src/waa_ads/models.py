"""Imports every domain's ORM models so that ``Base.metadata`` describes the whole schema.

Alembic's env.py and the schema tests import this module, never a domain's models alone.
"""

from __future__ import annotations

from waa_ads.core.db import Base

metadata = Base.metadata

__all__ = ["Base", "metadata"]
