"""The problems of the model registry and routing (the model library's own are in
``errors.py``), one class per case a client may tell apart by its stable ``code``."""

from __future__ import annotations

from waa_ads.core.errors import Conflict, NotFound, Unprocessable
from waa_ads.core.i18n import N_


class EssayModelNotFound(NotFound):
    """No such model in the caller's organization (also one of another organization)."""

    code = "essay-model-not-found"
    title = N_("Essay model not found")


class NoModelForItem(NotFound):
    """No active model scores this response's item (nor had one decided on it)."""

    code = "essay-model-not-active"
    title = N_("No active essay model for this item")


class GateFailed(Conflict):
    """Activation refused: the model's cross-validated report does not pass the
    organization's acceptance gate. ``checks`` lists every check with its value, limit and
    reason; nobody may override it."""

    code = "essay-model-gate-failed"
    title = N_("The model does not pass the acceptance gate")


class ModelStateConflict(Conflict):
    """The model is not in a state that allows this (activating one still training or
    failed, retiring one that is not active)."""

    code = "essay-model-state-conflict"
    title = N_("Essay model is not in a state that allows this")


class TrainingRequestInvalid(Unprocessable):
    """An item version of another item, a criterion the rubric lacks, or too few resolved
    human scores to train from."""

    code = "essay-model-training-invalid"
    title = N_("Cannot train a model from this")


class TrainingCsvInvalid(Unprocessable):
    """An uploaded training CSV that is not UTF-8, lacks the ``id``, ``text`` and ``score``
    columns, or has rows that do not parse (``invalid_params`` names the lines)."""

    code = "essay-model-csv-invalid"
    title = N_("Training CSV cannot be read")
