"""The psychometrics domain's errors, each with a stable problem code."""

from __future__ import annotations

from waa_ads.core.errors import DomainError


class CalibrationInputError(DomainError):
    """The scores cannot be calibrated with the model asked for (an unknown model,
    polytomous scores for a dichotomous model, an item with one score category)."""

    status_code = 422
    code = "calibration-input-invalid"
    title = "Scores cannot be calibrated"
