"""The console's training page with *Add sentence-embedding features*, in a real browser:
on a server with no embedding model the box is refused with the reason and nothing is
trained; on a server whose WAA_ESSAY_EMBEDDING_MODEL_DIR points at a (tiny, random)
embedding model the trained model's page says it used it. Axe on each page and
screenshots (console-autoscore-embeddings-*.png)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.autoscore.embedding_model import write_model
from tests.autoscore.world import training_csv
from tests.rating.world import RUBRIC, essay
from tests.support.browser import check_axe, checked_page, shot
from tests.support.live_exams import ok
from tests.support.servers import serve
from tests.web.console.conftest import Site, sign_in
from tests.web.console.test_results_browser import api_as

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _essay_item(site: Site) -> str:
    """A published essay item with the rating tests' rubric: its id."""
    api = api_as(site.one, site.admin)
    tag = secrets.token_hex(3)
    bank = ok(api.post("/api/v1/banks", json={"slug": f"emb-{tag}", "name": f"Embeddings {tag}"}))
    rubric = ok(api.post("/api/v1/rubrics", json={"slug": f"emb-{tag}", "yaml": RUBRIC}))
    item = ok(
        api.post(
            f"/api/v1/banks/{bank['id']}/items",
            json={
                "source": {"format": "qti", "content": essay(f"M{tag}")},
                "rubric_version_id": rubric["version"]["id"],
            },
        )
    )["item"]
    ok(api.post(f"/api/v1/items/{item['id']}/publish"))
    api.close()
    return str(item["id"])


def _upload_with_embeddings(page: Any, base: str, item_id: str) -> None:
    page.goto(f"{base}/console/autoscore/items/{item_id}/upload")
    page.get_by_label("Cross-validation folds").fill("3")
    page.get_by_label("CSV file").set_input_files(
        {"name": "train.csv", "mimeType": "text/csv", "buffer": training_csv(80)}
    )
    page.get_by_label("Add sentence-embedding features").check()
    # A busy machine may take a while to store the file and answer.
    page.get_by_role("button", name="Upload and train").click(timeout=60_000)


def test_training_with_embeddings_refused_without_a_model_and_used_with_one(
    site: Site, admin_page: Any, browser: Any, tmp_path: Any
) -> None:
    item_id = _essay_item(site)
    api = api_as(site.one, site.admin)

    # No embedding model on this server: the page says why, keeps the box ticked, and
    # nothing is trained.
    page = admin_page
    _upload_with_embeddings(page, site.one, item_id)
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("no sentence-embedding model is installed")
    expect(summary).to_contain_text("WAA_ESSAY_EMBEDDING_MODEL_DIR")
    expect(page.get_by_label("Add sentence-embedding features")).to_be_checked()
    check_axe(page, "autoscore upload without an embedding model")
    shot(page, "console-autoscore-embeddings-01-refused")
    assert ok(api.get("/api/v1/autoscore/models", params={"item_id": item_id})) == []

    # A server of the same site whose setting points at a tiny embedding model folder.
    folder = write_model(tmp_path / "tiny-bert")
    env = {**site.env, "WAA_ESSAY_EMBEDDING_MODEL_DIR": str(folder)}
    log = site.data_dir / f"embeddings-{secrets.token_hex(3)}.log"
    with serve(env, log) as base, checked_page(browser) as other:
        sign_in(other, base, site.admin)
        _upload_with_embeddings(other, base, item_id)
        expect(other.get_by_role("heading", level=1)).to_contain_text("model version 1")
        model_id = other.url.rsplit("/", 1)[-1]
        deadline = time.monotonic() + 180
        while ok(api.get(f"/api/v1/autoscore/models/{model_id}"))["status"] == "training":
            assert time.monotonic() < deadline, "training took over 3 minutes"
            time.sleep(0.5)
        other.reload()
        facts = other.locator("dl.facts").first
        expect(facts).to_contain_text("used: tiny-bert")
        expect(facts).to_contain_text("embedding model tiny-bert")
        expect(other.get_by_role("table", name="Cross-validated agreement")).to_be_visible()
        check_axe(other, "autoscore model with embeddings")
        shot(other, "console-autoscore-embeddings-02-trained")
    trained = ok(api.get(f"/api/v1/autoscore/models/{model_id}"))
    assert trained["status"] == "trained", trained["error"]
    assert trained["config"]["embeddings"] is True
    assert trained["metrics"]["features"] > 0
    api.close()
