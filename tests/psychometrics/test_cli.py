"""``waa-ads psychometrics``: item analysis and calibration of a CSV from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from waa_ads.cli import app
from waa_ads.psychometrics import datasets, irt, linking

runner = CliRunner()


@pytest.fixture
def lsat7(tmp_path: Path) -> Path:
    path = tmp_path / "lsat7.csv"
    rows = ["person,q1,q2,q3,q4,q5"]
    for i, row in enumerate(datasets.expand(datasets.LSAT7)):
        rows.append(",".join([f"p{i}", *(str(v) for v in row)]))
    rows.append("late,1,,0,,1")  # two items not presented
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_calibrate_prints_the_documented_shape(lsat7: Path) -> None:
    result = runner.invoke(app, ["psychometrics", "calibrate", str(lsat7), "--model", "2pl"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["model"] == "2pl" and out["iterations"] > 0 and out["log_likelihood"] < 0
    assert [i["item"] for i in out["items"]] == ["q1", "q2", "q3", "q4", "q5"]
    for item in out["items"]:
        assert {"item", "a", "b", "d", "c", "se"} <= set(item)
        assert item["c"] == 0.0
        assert item["b"] == pytest.approx(-item["d"] / item["a"])
        assert set(item["se"]) == {"a", "b", "d"}


@pytest.mark.parametrize("model", ["rasch", "3pl", "gpcm", "grm"])
def test_every_model_runs_from_the_command_line(lsat7: Path, model: str) -> None:
    result = runner.invoke(app, ["psychometrics", "calibrate", str(lsat7), "--model", model])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["model"] == model and len(out["items"]) == 5
    if model == "3pl":
        assert all(0 < i["c"] < 0.5 for i in out["items"])


def test_item_analysis_prints_items_and_test(lsat7: Path) -> None:
    result = runner.invoke(app, ["psychometrics", "item-analysis", str(lsat7)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["test"]["persons"] == 1001 and 0 < out["test"]["alpha"] < 1
    assert out["items"][1]["presented"] == 1000 and out["items"][0]["presented"] == 1001


def test_bad_input_ends_with_a_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("person,q1\np1,x\n", encoding="utf-8")
    result = runner.invoke(app, ["psychometrics", "item-analysis", str(bad)])
    assert result.exit_code == 2 and "line 2: q1 is 'x'" in result.output
    poly = tmp_path / "poly.csv"
    poly.write_text("person,q1,q2\np1,2,0\np2,1,1\np3,0,1\n", encoding="utf-8")
    result = runner.invoke(app, ["psychometrics", "calibrate", str(poly), "--model", "2pl"])
    assert result.exit_code == 2 and "scores 0 and 1 only" in result.output
    result = runner.invoke(app, ["psychometrics", "calibrate", str(poly), "--model", "4pl"])
    assert result.exit_code == 2


def test_dif_compares_the_reference_group_with_each_other_group(tmp_path: Path) -> None:
    ref, _ = irt.simulate(
        "2pl", np.column_stack([np.ones(8), np.linspace(-1, 1, 8)]), np.full(8, 2.0), 400, seed=1
    )
    harder = np.column_stack([np.ones(8), np.linspace(-1, 1, 8)])
    harder[3, 1] -= 2.0
    foc, _ = irt.simulate("2pl", harder, np.full(8, 2.0), 400, seed=2)
    rows = ["person,sex,q1,q2,q3,q4,q5,q6,q7,q8"]
    for i, row in enumerate(np.vstack([ref, foc])):
        rows.append(",".join([f"p{i}", "F" if i < 400 else "M", *(str(v) for v in row)]))
    rows.append("p-none,,1,1,1,1,1,1,1,1")
    path = tmp_path / "dif.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = runner.invoke(
        app, ["psychometrics", "dif", str(path), "--group", "sex", "--reference", "F"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["reference"] == "F" and out["items"][0] == "q1" and out["skipped"] == []
    (comparison,) = out["comparisons"]
    assert comparison["focal"] == "M"
    assert (comparison["reference_persons"], comparison["focal_persons"]) == (400, 400)
    q4 = comparison["items"][3]
    assert q4["item"] == "q4" and q4["mantel_haenszel"]["ets_class"] == "C"
    assert q4["logistic"]["uniform_p_value"] < 1e-6 and q4["logistic"]["group_effect"] < -1
    bad = runner.invoke(
        app, ["psychometrics", "dif", str(path), "--group", "age", "--reference", "F"]
    )
    assert bad.exit_code == 2 and "no group column 'age'" in bad.output
    bad = runner.invoke(
        app, ["psychometrics", "dif", str(path), "--group", "sex", "--reference", "X"]
    )
    assert bad.exit_code == 2 and "no person is in the reference group 'X'" in bad.output


def test_link_and_score_from_calibrations(lsat7: Path, tmp_path: Path) -> None:
    calibrated = runner.invoke(app, ["psychometrics", "calibrate", str(lsat7)])
    assert calibrated.exit_code == 0, calibrated.output
    form_y = tmp_path / "y.json"
    form_y.write_text(calibrated.output, encoding="utf-8")
    items = linking.parameters_from_calibration(json.loads(calibrated.output))
    moved = linking.transform(items, 0.5, -0.2)  # theta_X = 0.5 theta_Y - 0.2
    form_x = tmp_path / "x.json"
    form_x.write_text(json.dumps({"model": "2pl", "items": moved.to_items()}), encoding="utf-8")
    result = runner.invoke(
        app, ["psychometrics", "link", str(form_x), str(form_y), "--method", "haebara"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["method"] == "haebara" and out["common_items"] == ["q1", "q2", "q3", "q4", "q5"]
    for found in out["methods"].values():
        assert found["slope"] == pytest.approx(2.0, abs=1e-4)
        assert found["intercept"] == pytest.approx(0.4, abs=1e-4)
    back = {i["item"]: i for i in out["items"]}
    for item in json.loads(calibrated.output)["items"]:
        assert back[item["item"]]["b"] == pytest.approx(item["b"], abs=1e-3)

    scored = runner.invoke(
        app,
        [
            *("psychometrics", "score", str(lsat7), "--calibration", str(form_y)),
            *("--slope", "100", "--intercept", "500", "--estimator", "wle"),
        ],
    )
    assert scored.exit_code == 0, scored.output
    persons = json.loads(scored.output)["persons"]
    assert len(persons) == 1001
    for person in persons[:50]:
        assert person["scaled"] == pytest.approx(100 * person["theta"] + 500)
        assert person["scaled_se"] == pytest.approx(100 * person["se"])
    refused = runner.invoke(app, ["psychometrics", "link", str(form_x), str(lsat7)])
    assert refused.exit_code == 2 and "not JSON" in refused.output


def test_cat_simulation_reports_recovery_length_and_exposure(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    items = [
        {"item": f"i{j}", "a": float(rng.uniform(0.8, 2)), "d": float(rng.normal()), "c": 0.0}
        for j in range(120)
    ]
    for j, item in enumerate(items):
        item["tags"] = ["alg" if j % 2 else "geo"]
    bank = tmp_path / "bank.json"
    bank.write_text(json.dumps({"model": "2pl", "items": items}), encoding="utf-8")
    args = ["cat", "simulate", "--bank", str(bank), "--candidates", "60", "--seed", "3"]
    result = runner.invoke(
        app, [*args, "--selection", "randomesque", "--content", "alg=0.5", "--content", "geo=0.5"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["candidates"] == 60 and out["bank_items"] == 120
    assert abs(out["bias"]) < 0.2 and out["rmse"] < 0.5 and 5 <= out["mean_length"] <= 30
    assert out["exposure"]["max"] <= 1 and len(out["exposure"]["most_exposed"]) == 10
    timed = runner.invoke(
        app, [*args, "--max-seconds", "300", "--seconds-per-item", "60", "--se-target", "0.01"]
    )
    assert timed.exit_code == 0, timed.output
    assert json.loads(timed.output)["stop_reasons"] == {"time": 60}
    assert json.loads(timed.output)["mean_length"] == 5
    refused = runner.invoke(app, ["cat", "simulate", "--candidates", "5"])
    assert refused.exit_code == 2 and "--bank" in refused.output
    bad = runner.invoke(app, [*args, "--min-items", "40", "--max-items", "30"])
    assert bad.exit_code == 2 and "min_items" in bad.output
    # a GPCM calibration's items (d a list per item) run too
    gpcm = [
        {
            "item": f"p{j}",
            "a": 1.2,
            "d": [float(x) for x in np.cumsum(-1.2 * np.sort(rng.normal(0, 1, 2)))],
        }
        for j in range(60)
    ]
    (tmp_path / "gpcm.json").write_text(json.dumps({"model": "gpcm", "items": gpcm}))
    poly = runner.invoke(
        app, ["cat", "simulate", "--bank", str(tmp_path / "gpcm.json"), "--candidates", "40"]
    )
    assert poly.exit_code == 0, poly.output
    assert json.loads(poly.output)["rmse"] < 0.5
