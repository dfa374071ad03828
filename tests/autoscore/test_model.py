from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score  # type: ignore[import-untyped]

from tests.autoscore.conftest import training_set
from waa_ads.autoscore import synthetic
from waa_ads.autoscore.errors import ModelCorrupt, ModelVersionMismatch, TrainingDataInvalid
from waa_ads.autoscore.model import MAGIC, TrainConfig, TrainedModel, TrainingSet, train

Trained = tuple[TrainingSet, TrainedModel, list[tuple[float, str]]]


def test_report_is_cross_validated_against_the_humans(trained: Trained) -> None:
    data, model, calls = trained
    report = model.report
    assert report.n == 260 and report.folds == 5
    # The synthetic scores carry rater noise: the model agrees about as well as people do.
    assert report.model.qwk > 0.7
    assert report.human is not None
    expected = cohen_kappa_score(data.scores, data.second_scores, weights="quadratic")
    assert report.human.qwk == pytest.approx(expected)
    assert abs(report.model.smd) < 0.15
    assert {g.group for g in report.groups} == {"A", "B"}
    assert all(abs(g.smd) < 0.3 for g in report.groups)
    assert report.library_versions["scikit-learn"]
    assert calls[0][0] == 0.0 and calls[-1] == (1.0, "done")
    assert [f for f, _ in calls] == sorted(f for f, _ in calls)
    # Held-out routing at other tolerances: a wider tolerance keeps at least as many.
    assert [r.tolerance for r in report.routing] == [0, 1, 2]
    shares = [r.auto_share for r in report.routing]
    assert shares == sorted(shares)
    assert report.routing[1].auto_share == report.auto_share
    assert report.routing[1].auto == report.auto


def test_conformal_sets_cover_held_out_answers_near_the_target(trained: Trained) -> None:
    _, model, _ = trained
    assert model.report.coverage == pytest.approx(0.9, abs=0.06)
    fresh = synthetic.essays(400, seed=99)
    for level in (0.8, 0.9):
        sets = model.prediction_sets(fresh.texts, level)
        covered = np.mean([s in ps for s, ps in zip(fresh.scores, sets, strict=True)])
        assert covered == pytest.approx(level, abs=0.07)
        assert all(ps == list(range(ps[0], ps[-1] + 1)) for ps in sets if ps)


def test_confident_scores_are_given_and_doubtful_ones_go_to_people(trained: Trained) -> None:
    _, model, _ = trained
    fresh = synthetic.essays(120, seed=7)
    strict = model.with_routing(tolerance=0, confidence=0.8)
    predictions = strict.predict(fresh.texts, fresh.ids)
    assert [p.id for p in predictions] == fresh.ids
    low = [p for p in predictions if p.route == "human"]
    auto = [p for p in predictions if p.route == "auto"]
    assert low and all(p.reason and p.reason.startswith("low confidence") for p in low)
    assert all(p.confidence < 0.8 for p in low) and all(p.confidence >= 0.8 for p in auto)
    assert "< 0.80" in (low[0].reason or "")
    # With a tolerance of a point, most synthetic answers are confident.
    lenient = model.predict(fresh.texts)
    assert sum(p.route == "auto" for p in lenient) > len(lenient) * 0.8


def test_a_share_of_confident_answers_is_drawn_for_a_check(trained: Trained) -> None:
    _, model, _ = trained
    fresh = synthetic.essays(200, seed=8)
    checked = model.with_routing(check_share=0.3).predict(fresh.texts, fresh.ids)
    drawn = [p.id for p in checked if p.reason == "quality check sample"]
    assert 0.15 < len(drawn) / len(checked) < 0.45
    again = model.with_routing(check_share=0.3).predict(fresh.texts, fresh.ids)
    assert [p.id for p in again if p.reason == "quality check sample"] == drawn


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda rng: "   ", "empty"),
        (lambda rng: "water cycle", "too short"),
        (synthetic.gibberish, "gibberish"),
        (lambda rng: "aaaa " * 30, "gibberish"),
        (synthetic.other_language, "not in the training language"),
        (synthetic.off_topic, "off-topic"),
        (lambda rng: synthetic.PROMPT, "copied from the prompt"),
        (lambda rng: " ".join(synthetic.essay(0.9, rng) for _ in range(10)), "too long"),
    ],
)
def test_answers_unlike_the_training_data_go_to_people_with_the_reason(
    trained: Trained, make: object, reason: str
) -> None:
    _, model, _ = trained
    assert callable(make)
    [prediction] = model.predict([make(random.Random(3))])
    assert (prediction.route, prediction.reason) == ("human", reason)


def test_ordinary_answers_pass_the_screens(trained: Trained) -> None:
    _, model, _ = trained
    fresh = synthetic.essays(150, seed=21)
    reasons = [p.reason for p in model.predict(fresh.texts) if p.route == "human"]
    assert not [r for r in reasons if r and not r.startswith("low confidence")]


def test_explanation_names_features_and_human_scored_neighbours(trained: Trained) -> None:
    data, model, _ = trained
    text = synthetic.essay(0.9, random.Random(4))
    explanation = model.explain(text, k=3)
    assert explanation.score == model.predict([text])[0].score
    assert len(explanation.up) == 3 and len(explanation.down) == 3
    assert all(c.contribution > 0 for c in explanation.up)
    assert all(c.contribution < 0 for c in explanation.down)
    ids = dict(zip(data.ids, data.scores, strict=True))
    similarities = [n.similarity for n in explanation.neighbours]
    assert similarities == sorted(similarities, reverse=True)
    assert all(ids[n.id] == n.score for n in explanation.neighbours)
    # A training answer's nearest neighbour is itself.
    assert model.explain(data.texts[5], k=1).neighbours[0].id == data.ids[5]


def test_bytes_round_trip_gives_identical_predictions(trained: Trained, tmp_path: Path) -> None:
    _, model, _ = trained
    blob = model.to_bytes()
    assert blob == model.to_bytes() and blob.startswith(MAGIC)
    assert b"pickle" not in blob
    again = TrainedModel.from_bytes(blob)
    fresh = synthetic.essays(50, seed=5)
    assert again.predict(fresh.texts, fresh.ids) == model.predict(fresh.texts, fresh.ids)
    assert again.explain(fresh.texts[0]) == model.explain(fresh.texts[0])
    assert again.report == model.report
    model.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "report.json").read_text())["n"] == 260
    assert TrainedModel.load(tmp_path / "m").predict(fresh.texts) == model.predict(fresh.texts)


def test_damaged_bytes_are_refused(trained: Trained, tmp_path: Path) -> None:
    _, model, _ = trained
    blob = bytearray(model.to_bytes())
    blob[-40] ^= 0x01
    with pytest.raises(ModelCorrupt, match="SHA-256"):
        TrainedModel.from_bytes(bytes(blob))
    with pytest.raises(ModelCorrupt, match="not a WAA-ADS"):
        TrainedModel.from_bytes(b"\x80\x04 a pickle, perhaps")
    with pytest.raises(ModelCorrupt, match="no model"):
        TrainedModel.load(tmp_path / "nothing")


def _rewritten(blob: bytes, change: object) -> bytes:
    """The model with its metadata changed and a matching SHA-256, as a model written by
    another installation would be."""
    body = blob[len(MAGIC) + 65 :]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(body)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "model.json":
                meta = json.loads(data)
                assert callable(change)
                change(meta)
                data = json.dumps(meta).encode()
            dst.writestr(name, data)
    new = out.getvalue()
    return MAGIC + hashlib.sha256(new).hexdigest().encode() + b"\n" + new


def test_a_model_from_other_library_versions_is_refused(trained: Trained) -> None:
    _, model, _ = trained
    blob = _rewritten(
        model.to_bytes(), lambda meta: meta["library_versions"].update(numpy="1.26.4")
    )
    with pytest.raises(ModelVersionMismatch, match=r"numpy 1\.26\.4 \(running "):
        TrainedModel.from_bytes(blob)
    for change in (
        lambda meta: meta.pop("word"),
        lambda meta: meta["config"].update(confidence=5),
        lambda meta: meta.update(config=[]),
    ):
        with pytest.raises(ModelCorrupt, match="malformed"):
            TrainedModel.from_bytes(_rewritten(model.to_bytes(), change))


def test_unusable_training_data_is_refused() -> None:
    data = training_set(30, seed=2)
    with pytest.raises(TrainingDataInvalid, match="at least 20"):
        train(dataclasses.replace(data, ids=data.ids[:15], texts=data.texts[:15],
                                  scores=data.scores[:15], second_scores=None, groups=None))  # fmt: skip
    with pytest.raises(TrainingDataInvalid, match="same score"):
        train(dataclasses.replace(data, scores=[2] * 30))
    with pytest.raises(TrainingDataInvalid, match=r"outside 0\.\.4"):
        train(dataclasses.replace(data, scores=[5, *data.scores[1:]]))
    with pytest.raises(TrainingDataInvalid, match="same length"):
        train(dataclasses.replace(data, texts=data.texts[:-1]))
    with pytest.raises(TrainingDataInvalid, match="confidence"):
        TrainConfig(confidence=1.0)
