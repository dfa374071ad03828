"""Settings for tests: a fixed secret, a data directory of the test's own, cheap Argon2id."""

from __future__ import annotations

import tempfile
from pathlib import Path

from waa_ads.core.settings import Environment, Settings

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": Environment.test,
        "secret_key": TEST_SECRET,
        "data_dir": Path(tempfile.mkdtemp(prefix="waa-data-")),
        "log_json": True,
        # Cheap Argon2id parameters: tests only.
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "argon2_parallelism": 1,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
