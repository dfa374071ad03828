"""Imports every domain's ORM models so that ``Base.metadata`` describes the whole schema.

Alembic's env.py and the schema tests import this module, never a domain's models alone.
"""

from __future__ import annotations

from waa_ads.assessments import models as assessment_models
from waa_ads.audit import models as audit_models
from waa_ads.auth import models as auth_models
from waa_ads.autoscore import models as autoscore_models
from waa_ads.content import models as content_models
from waa_ads.core import ratelimit as core_ratelimit
from waa_ads.core.db import Base
from waa_ads.delivery import models as delivery_models
from waa_ads.integrations import models as integration_models
from waa_ads.integrity import models as integrity_models
from waa_ads.psychometrics import models as psychometrics_models
from waa_ads.rating import models as rating_models
from waa_ads.reporting import models as reporting_models
from waa_ads.scoring import models as scoring_models

metadata = Base.metadata

__all__ = [
    "Base",
    "assessment_models",
    "audit_models",
    "auth_models",
    "autoscore_models",
    "content_models",
    "core_ratelimit",
    "delivery_models",
    "integration_models",
    "integrity_models",
    "metadata",
    "psychometrics_models",
    "rating_models",
    "reporting_models",
    "scoring_models",
]
