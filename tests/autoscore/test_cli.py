from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from waa_ads.autoscore import synthetic
from waa_ads.autoscore.model import MODEL_FILE
from waa_ads.cli import app

runner = CliRunner()


def write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def training_csv(path: Path, n: int = 60) -> Path:
    e = synthetic.essays(n, seed=4)
    rows: list[list[object]] = [
        [i, t, s, s2 if k % 2 else "", g]
        for k, (i, t, s, s2, g) in enumerate(
            zip(e.ids, e.texts, e.scores, e.second_scores, e.groups, strict=True)
        )
    ]
    return write(path, ["id", "text", "score", "score2", "group"], rows)


def test_train_then_predict_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = runner.invoke(
        app,
        ["essay-model", "train", str(training_csv(tmp_path / "train.csv")), "--out", str(out),
         "--folds", "3", "--max-score", "5"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["metrics"]["n"] == 60 and printed["metrics"]["max_score"] == 5
    assert printed["metrics"]["human"]["n"] == 30
    assert printed["gate"]["passed"] is False  # fewer responses than the gate asks for
    assert any(c["name"] == "responses" and not c["passed"] for c in printed["gate"]["checks"])
    assert (out / MODEL_FILE).exists()

    rng = random.Random(2)
    answers = write(
        tmp_path / "test.csv",
        ["id", "text"],
        [["a1", synthetic.essay(0.8, rng)], ["a2", ""], ["a3", synthetic.gibberish(rng)]],
    )
    result = runner.invoke(app, ["essay-model", "predict", str(out), str(answers)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert [r["id"] for r in rows] == ["a1", "a2", "a3"]
    assert list(rows[0]) == ["id", "score", "confidence", "route", "reason"]
    assert (rows[1]["route"], rows[1]["reason"]) == ("human", "empty")
    assert (rows[2]["route"], rows[2]["reason"]) == ("human", "gibberish")
    assert 0 <= int(rows[0]["score"]) <= 5 and 0.0 <= float(rows[0]["confidence"]) <= 1.0

    (out / MODEL_FILE).write_bytes((out / MODEL_FILE).read_bytes()[:-10])
    result = runner.invoke(app, ["essay-model", "predict", str(out), str(answers)])
    assert result.exit_code == 2
    assert "SHA-256" in result.stderr


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        (["id", "text"], [["1", "an answer"]], "missing column score"),
        (["id", "text", "score"], [["1", "an answer", "three"]], "line 2: score is 'three'"),
        (["id", "text", "score"], [[str(i), "an answer", i % 3] for i in range(5)], "5 scored"),
        (["id", "text", "score"], [["1", "a", "1"], ["1", "b", "2"]], "id '1' appears twice"),
    ],
)
def test_a_bad_training_csv_ends_with_one_line_and_exit_code_2(
    tmp_path: Path, header: list[str], rows: list[list[object]], message: str
) -> None:
    path = write(tmp_path / "bad.csv", header, rows)
    result = runner.invoke(app, ["essay-model", "train", str(path), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_a_missing_file_or_model_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["essay-model", "train", str(tmp_path / "none.csv"), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 2 and "cannot read" in result.stderr
    answers = write(tmp_path / "a.csv", ["id", "text"], [["1", "x"]])
    result = runner.invoke(app, ["essay-model", "predict", str(tmp_path), str(answers)])
    assert result.exit_code == 2 and "no model" in result.stderr
