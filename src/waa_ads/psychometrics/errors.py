"""The psychometrics domain's errors, each with a stable problem code."""

from __future__ import annotations

from waa_ads.core.errors import DomainError, NotFound
from waa_ads.core.i18n import N_


class CalibrationInputError(DomainError):
    """The scores cannot be calibrated with the model asked for (an unknown model,
    polytomous scores for a dichotomous model, an item with one score category)."""

    status_code = 422
    code = "calibration-input-invalid"
    title = N_("Scores cannot be calibrated")


class DifInputError(DomainError):
    """The scores and groups cannot be analysed for DIF (no reference group among them, no
    other group, fewer than two right/wrong items)."""

    status_code = 422
    code = "dif-input-invalid"
    title = N_("Scores and groups cannot be analysed for DIF")


class ParametersNotFound(NotFound):
    """No IRT parameters for what was asked (the administration's items were never
    calibrated, or the item has none)."""

    code = "irt-parameters-not-found"
    title = N_("No IRT parameters")


class CalibrationRunNotFound(NotFound):
    """No calibration run with this id in the caller's organization."""

    code = "calibration-run-not-found"
    title = N_("Calibration run not found")
