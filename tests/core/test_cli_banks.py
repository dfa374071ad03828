"""Organizations and item banks from the command line, and importing into a new bank."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from waa_ads.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "items" / "qti"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
    env.update({"WAA_DATA_DIR": str(tmp_path), "WAA_LOG_LEVEL": "WARNING"})
    return env


def _invoke(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=_env(tmp_path))
    return result.exit_code, result.output


def test_a_fresh_install_gets_an_organization_a_bank_and_items(tmp_path: Path) -> None:
    code, out = _invoke(tmp_path, "org", "create", "acme", "--name", "Acme Exams")
    assert code == 0, out
    assert "organization acme" in out
    code, out = _invoke(tmp_path, "org", "list")
    assert code == 0 and "acme\tUTC\tAcme Exams" in out

    code, out = _invoke(tmp_path, "bank", "create", "algebra", "--name", "Algebra I")
    assert code == 0, out
    code, out = _invoke(tmp_path, "bank", "list")
    assert code == 0 and "algebra\t" in out and "Algebra I" in out

    item = next(FIXTURES.glob("*.xml"))
    code, out = _invoke(tmp_path, "import", str(item), "--bank", "geometry", "--create-bank")
    assert code == 0, out
    assert '"imported": 1' in out
    code, out = _invoke(tmp_path, "bank", "list")
    assert "geometry\t" in out and "algebra\t" in out

    # Without --create-bank an unknown bank is refused, naming it.
    code, out = _invoke(tmp_path, "import", str(item), "--bank", "physics")
    assert code == 2 and "no item bank 'physics'" in out


def test_a_refused_import_creates_no_bank(tmp_path: Path) -> None:
    assert _invoke(tmp_path, "org", "create", "acme", "--name", "Acme")[0] == 0
    broken = tmp_path / "broken.xml"
    broken.write_text("<qti-assessment-item")
    code, out = _invoke(tmp_path, "import", str(broken), "--bank", "new-bank", "--create-bank")
    assert code == 2, out
    code, out = _invoke(tmp_path, "bank", "list")
    assert code == 0 and "new-bank" not in out


def test_bad_names_and_duplicates_are_clear_errors(tmp_path: Path) -> None:
    assert _invoke(tmp_path, "org", "create", "acme", "--name", "Acme")[0] == 0
    code, out = _invoke(tmp_path, "org", "create", "acme", "--name", "Again")
    assert code == 2 and "already exists" in out
    code, out = _invoke(tmp_path, "bank", "create", "Not A Slug", "--name", "X")
    assert code == 2 and "slug" in out.lower()
    assert _invoke(tmp_path, "bank", "create", "main", "--name", "Main")[0] == 0
    code, out = _invoke(tmp_path, "bank", "create", "main", "--name", "Main")
    assert code == 2 and "already exists" in out
    assert _invoke(tmp_path, "org", "create", "other", "--name", "Other")[0] == 0
    code, out = _invoke(tmp_path, "bank", "list")
    assert code == 2 and "--organization" in out
