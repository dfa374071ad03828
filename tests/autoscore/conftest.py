"""One model trained on synthetic essays, shared by the tests of the model library."""

from __future__ import annotations

import pytest

from waa_ads.autoscore import synthetic
from waa_ads.autoscore.model import TrainConfig, TrainedModel, TrainingSet, train


def training_set(n: int, seed: int) -> TrainingSet:
    e = synthetic.essays(n, seed=seed)
    return TrainingSet(
        ids=e.ids,
        texts=e.texts,
        scores=e.scores,
        min_score=0,
        max_score=4,
        second_scores=list(e.second_scores),
        groups=list(e.groups),
        prompt_text=synthetic.PROMPT,
    )


@pytest.fixture(scope="session")
def trained() -> tuple[TrainingSet, TrainedModel, list[tuple[float, str]]]:
    data = training_set(260, seed=11)
    calls: list[tuple[float, str]] = []
    model = train(data, TrainConfig(), progress=lambda f, m: calls.append((f, m)))
    return data, model, calls
