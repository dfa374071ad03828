from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from waa_ads.core.settings import DEFAULT_SECRET_KEY, Environment, Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_production_refuses_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAA_ENV", "production")
    monkeypatch.delenv("WAA_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="development default"):
        Settings(_env_file=None)


def test_production_refuses_a_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAA_ENV", "production")
    monkeypatch.setenv("WAA_SECRET_KEY", "x" * 31)
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(_env_file=None)


def test_production_accepts_a_long_random_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAA_ENV", "production")
    monkeypatch.setenv("WAA_SECRET_KEY", "k" * 32)
    settings = Settings(_env_file=None)
    assert settings.env is Environment.production


def test_development_allows_the_default_secret() -> None:
    settings = Settings(_env_file=None, env="development")
    assert settings.secret_key == DEFAULT_SECRET_KEY


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAA_MAX_BODY_BYTES", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("WAA_MAX_BODY_BYTES=4096\nWAA_REDIS_URL=redis://example:6379/3\n")
    settings = Settings(_env_file=env_file)
    assert settings.max_body_bytes == 4096
    assert settings.redis_url == "redis://example:6379/3"


def test_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path.as_posix()}/waa.db"
    assert settings.resolved_blob_dir == tmp_path / "blobs"


def test_readme_production_section_lists_every_setting() -> None:
    text = README.read_text()
    production = text.split("## Production", 1)[1]
    documented = set(re.findall(r"`(WAA_[A-Z0-9_]+)`", production))
    expected = {f"WAA_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from the README"
    assert documented - expected == set(), "README documents settings that do not exist"
