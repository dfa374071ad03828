"""``waa-ads integrity similarity RESPONSES.csv``: flagged pairs as CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from typer.testing import CliRunner

from waa_ads.cli import app
from waa_ads.integrity.simulate import honest, with_copying

runner = CliRunner()
LETTERS = "ABCD"


def _write(path: Path, *, with_key: bool, share: float = 0.8) -> set[tuple[str, ...]]:
    """Write simulated responses with three copiers; the planted pairs, sorted."""
    sim = with_copying(honest(300, 40, seed=21), pairs=3, share=share, seed=4)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["candidate", "item", "response", *(["correct"] if with_key else [])])
        for c in range(sim.codes.shape[0]):
            for i in range(sim.codes.shape[1]):
                row = [f"c{c:03d}", f"i{i:02d}", LETTERS[sim.codes[c, i]]]
                writer.writerow(row + ([str(int(sim.correct[c, i]))] if with_key else []))
    return {tuple(sorted((f"c{a:03d}", f"c{b:03d}"))) for a, b in sim.copiers}


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["integrity", "similarity", *args])
    return result.exit_code, result.stdout, result.stderr


def test_prints_the_planted_pairs_as_csv(tmp_path: Path) -> None:
    path = tmp_path / "responses.csv"
    planted = _write(path, with_key=True)
    code, out, err = _run(str(path))
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows, "planted copying is flagged"
    assert list(rows[0]) == [
        "candidate",
        "source",
        "index",
        "p_value",
        "q_value",
        "matches",
        "expected",
        "compared",
        "shared_wrong",
        "shared_answers",
    ]
    assert {tuple(sorted((r["candidate"], r["source"]))) for r in rows} <= planted
    first = rows[0]
    assert float(first["q_value"]) <= 0.01 and float(first["index"]) > 3
    shared = dict(part.split("=") for part in first["shared_answers"].split(";"))
    assert int(first["matches"]) == len(shared)
    assert set(first["shared_wrong"].split(";")) <= set(shared)
    assert "300 candidates, 40 items, 89700 ordered pairs tested" in err


def test_without_a_key_and_with_bonferroni(tmp_path: Path) -> None:
    path = tmp_path / "responses.csv"
    planted = _write(path, with_key=False, share=0.9)
    code, out, err = _run(str(path), "--correction", "bonferroni")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and all(r["shared_wrong"] == "" for r in rows)
    assert {tuple(sorted((r["candidate"], r["source"]))) for r in rows} <= planted
    assert "(bonferroni, alpha 0.01)" in err


def test_bad_input_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("candidate,response\nc1,A\n")
    code, out, err = _run(str(path))
    assert (code, out) == (2, "")
    assert "missing column(s) item" in err
    path.write_text("candidate,item,response,correct\nc1,i1,A,maybe\n")
    code, _, err = _run(str(path))
    assert code == 2 and "line 2: correct must be" in err
    path.write_text("candidate,item,response\nc1,i1,A\nc1,i1,B\n")
    code, _, err = _run(str(path))
    assert code == 2 and "line 3: a second response" in err
    code, _, err = _run(str(tmp_path / "absent.csv"))
    assert code == 2 and "cannot read" in err
    code, _, _ = _run(str(path), "--correction", "holm")
    assert code == 2
