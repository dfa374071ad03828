"""An organization's default language from the command line."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from waa_ads.cli import app

runner = CliRunner()


def _invoke(tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
    env.update({"WAA_DATA_DIR": str(tmp_path), "WAA_LOG_LEVEL": "WARNING"})
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_an_organization_is_created_in_a_language_and_changes_it(tmp_path: Path) -> None:
    code, out = _invoke(tmp_path, "org", "create", "acme", "--name", "Acme", "--language", "fr")
    assert code == 0, out
    code, out = _invoke(tmp_path, "org", "create", "beta", "--name", "Beta")
    assert code == 0, out
    code, out = _invoke(tmp_path, "org", "list")
    assert code == 0
    assert "acme\tUTC\tAcme\tfr" in out and "beta\tUTC\tBeta\ten" in out

    code, out = _invoke(tmp_path, "org", "set-language", "beta", "ar-XB")
    assert code == 0, out
    assert "organization beta: default language ar-XB" in out
    assert "beta\tUTC\tBeta\tar-XB" in _invoke(tmp_path, "org", "list")[1]


def test_a_language_the_product_does_not_speak_is_refused(tmp_path: Path) -> None:
    assert _invoke(tmp_path, "org", "create", "acme", "--name", "Acme")[0] == 0
    code, out = _invoke(tmp_path, "org", "set-language", "acme", "xx")
    assert code == 2
    assert "'xx' is not a language" in out
    code, out = _invoke(tmp_path, "org", "create", "beta", "--name", "Beta", "--language", "de")
    assert code == 2 and "'de' is not a language" in out
    code, out = _invoke(tmp_path, "org", "set-language", "nobody", "fr")
    assert code == 2 and "no organization 'nobody'" in out
    out = _invoke(tmp_path, "org", "list")[1]
    assert "acme\tUTC\tAcme\ten" in out and "beta" not in out
