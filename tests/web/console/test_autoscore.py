"""The automated-scoring pages, in process on both backends: training from an uploaded CSV
(refused lines listed), the model page with its figures beside the gate, an activation
the gate refuses with each failed check, the gate's settings (a bad value at its field),
activation, and a rater's view of the model's explanation of a leased answer."""

from __future__ import annotations

import html as html_module
import random
import re

import httpx
import pytest
from fastapi import FastAPI

from tests.autoscore.world import essay_world, live_essays, training_csv
from tests.support.console import console_sign_in, field_errors, post_form
from tests.support.factories import Factory
from tests.web.console.test_scoring_french_browser import english_sentences
from waa_ads.autoscore import synthetic

pytestmark = pytest.mark.asyncio


def _text(html: str) -> str:
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


async def _french(client: httpx.AsyncClient, url: str) -> str:
    """The page's text as a reader who chose French (the ``waa_lang`` cookie) reads it,
    once no English sentence of the scoring pages' catalogue is left in its main part."""
    client.cookies.set("waa_lang", "fr")
    try:
        page = await client.get(url)
    finally:
        client.cookies.delete("waa_lang")
    assert page.status_code == 200, page.text
    assert '<html lang="fr"' in page.text
    main_html = page.text.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    # What candidates wrote (the training answers shown) is as they wrote it.
    main = _text(re.sub(r'<div class="response-text".*?</div>', " ", main_html, flags=re.S))
    # The model's file format, a name like a library's ("waa-ads-essay-model/1").
    main = main.replace("waa-ads-essay-model", " ")
    left = [english for english, pattern in english_sentences() if pattern.search(main)]
    assert left == [], f"English left on {url}: {left}"
    return main


# The pages only read and write through the API, whose backends are tested in
# tests/autoscore; the browser test runs them on PostgreSQL.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_train_gate_activate_and_explain_through_the_console(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    texts = [*live_essays(1), synthetic.gibberish(random.Random(3))]
    ew = await essay_world(app, client, make, texts)
    csrf = await console_sign_in(client, ew.world.admin)
    start = await client.get("/console")
    assert 'href="/console/autoscore"' in start.text
    overview = await client.get("/console/autoscore")
    assert overview.status_code == 200, overview.text
    assert "No essay item has answers scored by people yet" in _text(overview.text)

    chosen = await client.get("/console/autoscore/upload", params={"item_id": ew.item_id})
    assert chosen.status_code == 303
    assert chosen.headers["location"] == f"/console/autoscore/items/{ew.item_id}/upload"
    typo = await client.get("/console/autoscore/upload", params={"item_id": "E1"})
    assert typo.status_code == 303 and typo.headers["location"] == "/console/autoscore"
    upload = f"/console/autoscore/items/{ew.item_id}/upload"
    form = await client.get(upload)
    assert form.status_code == 200 and "Train a model of Essay" in _text(form.text)
    refused = await client.post(
        upload,
        data={"csrf_token": csrf, "folds": "3"},
        files={"file": ("bad.csv", b"id,text,score\n1,x,9\n", "text/csv")},
    )
    assert refused.status_code == 422
    assert "There is a problem line 2.score: 9 is not a whole 0..6" in _text(refused.text)
    done = await client.post(
        upload,
        data={"csrf_token": csrf, "folds": "3"},
        files={"file": ("train.csv", training_csv(80), "text/csv")},
    )
    assert done.status_code == 303, done.text
    model_url = done.headers["location"]
    assert model_url.startswith("/console/autoscore/models/")
    training = await client.get(model_url)
    assert training.status_code == 200, training.text
    runner = app.state.background.runner
    assert runner is not None
    await runner.wait_idle()

    page = await client.get(model_url)
    assert page.status_code == 200, page.text
    text = _text(page.text)
    assert "Acceptance gate as set today: not passed" in text
    assert "responses 80 200 Failed 80 human-scored responses, fewer than 200" in text
    assert "Two people 80" in text and "Model against people per candidate group" in text
    assert "Sentence embeddings not used" in text
    french = await _french(client, model_url)
    assert "Critères d'acceptation actuels : non satisfaits" in french
    assert "Plongements de phrases non utilisés" in french
    assert "réponses 80 200 Échoué 80 réponses notées par des personnes, moins de 200" in french
    assert "Deux personnes 80" in french

    gate_refused = await post_form(client, f"{model_url}/activate", csrf)
    assert gate_refused.status_code == 409
    text = _text(gate_refused.text)
    assert "Why the gate refused it" in text and "fewer than 200" in text
    assert "There is a problem" in text

    form = await client.get("/console/autoscore/settings")
    assert (
        'value="None"' not in form.text
        and 'id="max_abs_group_smd" name="max_abs_group_smd" type="text" value=""' in form.text
    )
    bad = await post_form(client, "/console/autoscore/settings", csrf, {"min_responses": "5"})
    assert bad.status_code == 422
    assert "min_responses" in field_errors(bad.text)
    saved = await post_form(
        client,
        "/console/autoscore/settings",
        csrf,
        {
            "min_qwk": "0.7",
            "max_below_human": "0.1",
            "max_abs_smd": "0.15",
            "max_abs_group_smd": "",
            "min_responses": "60",
            "check_share": "0",
        },
    )
    assert saved.status_code == 303, saved.text
    active = await post_form(client, f"{model_url}/activate", csrf)
    assert active.status_code == 303, active.text
    page = await client.get(model_url)
    assert "Retire: send answers to people again" in page.text

    routed = await client.post("/api/v1/autoscore/route", headers=ew.admin)
    assert routed.status_code == 202
    await runner.wait_idle()
    await ew.plan()
    lease = await ew.lease(ew.rater_headers[0])
    while lease is not None and lease["response"]["value"] != texts[1]:
        await ew.rate(ew.rater_headers[0], lease["lease_id"], 2)
        lease = await ew.lease(ew.rater_headers[0])
    assert lease is not None, "the gibberish answer waits for people"
    rater = ew.raters[0]
    client.cookies.clear()
    await console_sign_in(client, rater)
    explained = await client.get(f"/console/autoscore/leases/{lease['lease_id']}")
    assert explained.status_code == 200, explained.text
    text = _text(explained.text)
    assert "shown here once you have saved your rating" in text
    assert "Training answer 1: scored" in text
    assert "gibberish" not in text and "What moved the score" not in text
    await ew.rate(ew.rater_headers[0], lease["lease_id"], 2)
    text = _text((await client.get(f"/console/autoscore/leases/{lease['lease_id']}")).text)
    assert "Why it is with people gibberish" in text
    assert "What moved the score" in text
    french = await _french(client, f"/console/autoscore/leases/{lease['lease_id']}")
    assert "Pourquoi elle est confiée à des personnes charabia" in french
    assert "Réponse d'entraînement 1 : score" in french
    assert "Ce qui a fait varier le score" in french
    refused_rater = await client.get("/console/autoscore")
    assert refused_rater.status_code == 403
