"""``waa-ads export`` refuses what it cannot do with one ``error:`` line and exit status 2,
never a traceback: a bad option, an --out that is a file or cannot be written, a database
that does not answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner


def _export(tmp_path: Path, *args: str, database_url: str | None = None) -> tuple[int, str]:
    from waa_ads.cli import app as cli

    env = {
        "WAA_DATA_DIR": str(tmp_path / "data"),
        "WAA_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{tmp_path / 'none.db'}",
    }
    result = CliRunner().invoke(cli, ["export", *args], env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--status", "bogus"], "error: --status is one of draft, in_review, published, retired"),
        (["--format", "zip"], "error: --format is qti3 or native, not 'zip'"),
    ],
)
def test_a_bad_option_is_one_error_line(tmp_path: Path, args: list[str], expected: str) -> None:
    code, output = _export(tmp_path, "--out", str(tmp_path / "out"), *args)
    assert code == 2
    assert output.startswith(expected) and output.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("x")
    code, output = _export(tmp_path, "--out", str(target))
    assert (code, output) == (2, f"error: --out {target} is a file, not a folder\n")


def test_a_database_that_does_not_answer_is_one_error_line(tmp_path: Path) -> None:
    code, output = _export(
        tmp_path,
        "--out",
        str(tmp_path / "out"),
        database_url="postgresql+asyncpg://postgres@127.0.0.1:9/none",
    )
    assert code == 2
    assert output.startswith("error: cannot read the bank: ") and output.count("\n") == 1
    assert "Traceback" not in output
