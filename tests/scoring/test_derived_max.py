"""The maximum of an item with its own response processing that states none: the score
its key earns, in the engine and in an attempt's result."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update

from tests.support.exams import World, begin, wait_for_state
from tests.support.factories import Factory
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.delivery.models import Attempt
from waa_ads.scoring import service as scoring
from waa_ads.scoring.engine import derived_max_score, evaluate
from waa_ads.scoring.models import AttemptResult, ItemScore
from waa_ads.scoring.service import ObjectiveScorer

QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "items" / "qti"


def custom_item(
    identifier: str = "C1",
    *,
    points: str = "2",
    correct: bool = True,
    outcomes: str = "",
    rules: str | None = None,
    mapping: str = "",
) -> str:
    """A single-choice item (A, B, C; key B) whose own rules set SCORE to ``points`` when
    the response matches the key, and which declares no maximum."""
    key = "<qti-correct-response><qti-value>B</qti-value></qti-correct-response>"
    if rules is None:
        rules = f"""<qti-response-condition><qti-response-if>
        <qti-match><qti-variable identifier="RESPONSE"/><qti-correct identifier="RESPONSE"/>
        </qti-match>
        <qti-set-outcome-value identifier="SCORE">
          <qti-base-value base-type="float">{points}</qti-base-value>
        </qti-set-outcome-value>
      </qti-response-if></qti-response-condition>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="{QTI3}" identifier="{identifier}" title="Custom {identifier}"
    adaptive="false" time-dependent="false" xml:lang="en">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
    {key if correct else ""}{mapping}
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float">
    <qti-default-value><qti-value>0</qti-value></qti-default-value>
  </qti-outcome-declaration>{outcomes}
  <qti-item-body>
    <qti-choice-interaction response-identifier="RESPONSE" max-choices="1">
      <qti-prompt>Pick one</qti-prompt>
      <qti-simple-choice identifier="A">Alpha</qti-simple-choice>
      <qti-simple-choice identifier="B">Beta</qti-simple-choice>
      <qti-simple-choice identifier="C">Gamma</qti-simple-choice>
    </qti-choice-interaction>
  </qti-item-body>
  <qti-response-processing>{rules}</qti-response-processing>
</qti-assessment-item>"""


def _item(xml: str) -> ItemDefinition:
    return parse_item(xml)


def test_own_rules_without_a_stated_maximum_take_the_score_of_the_key() -> None:
    item = _item(custom_item())
    assert derived_max_score(item) == 2.0
    # The outcomes stay those the item declares; the maximum goes with the score.
    assert evaluate(item, {"RESPONSE": "B"}).outcomes == {"SCORE": 2.0}
    right = ObjectiveScorer().score(item, {"RESPONSE": "B"})
    wrong = ObjectiveScorer().score(item, {"RESPONSE": "A"})
    assert (right.score, right.max_score) == (2.0, 2.0)
    assert (wrong.score, wrong.max_score) == (0.0, 2.0)
    slider = parse_item((FIXTURES / "slider.v2p1.xml").read_bytes())
    assert derived_max_score(slider) == 2.0  # the key scores 2, a near miss 1
    near = ObjectiveScorer().score(slider, {"RESPONSE": 31})
    assert (near.score, near.max_score) == (1.0, 2.0)


def test_a_stated_maximum_is_kept() -> None:
    normal = custom_item().replace(
        'base-type="float">\n    <qti-default-value>',
        'base-type="float" normal-maximum="5">\n    <qti-default-value>',
    )
    assert "normal-maximum" in normal
    item = _item(normal)
    assert derived_max_score(item) is None
    assert ObjectiveScorer().score(item, {"RESPONSE": "B"}).max_score == 5.0
    declared = _item(
        custom_item(
            outcomes="""
  <qti-outcome-declaration identifier="MAXSCORE" cardinality="single" base-type="float">
    <qti-default-value><qti-value>3</qti-value></qti-default-value>
  </qti-outcome-declaration>"""
        )
    )
    assert evaluate(declared, {"RESPONSE": "A"}).outcomes["MAXSCORE"] == 3.0


def test_a_declared_maximum_without_a_value_is_filled_in() -> None:
    item = _item(
        custom_item(
            points="4",
            outcomes="""
  <qti-outcome-declaration identifier="MAXSCORE" cardinality="single" base-type="float"/>""",
        )
    )
    assert evaluate(item, {"RESPONSE": "C"}).outcomes == {"SCORE": 0.0, "MAXSCORE": 4.0}


def test_the_best_mapping_counts_when_it_beats_the_key() -> None:
    mapping = """<qti-mapping default-value="0">
      <qti-map-entry map-key="B" mapped-value="1"/>
      <qti-map-entry map-key="C" mapped-value="3"/>
    </qti-mapping>"""
    rules = """<qti-set-outcome-value identifier="SCORE">
      <qti-map-response identifier="RESPONSE"/></qti-set-outcome-value>"""
    item = _item(custom_item(mapping=mapping, rules=rules))
    assert derived_max_score(item) == 3.0
    key = ObjectiveScorer().score(item, {"RESPONSE": "B"})
    assert (key.score, key.max_score) == (1.0, 3.0)


def test_without_a_key_a_positive_score_is_never_out_of_zero() -> None:
    rules = """<qti-response-condition><qti-response-if>
        <qti-match><qti-variable identifier="RESPONSE"/>
          <qti-base-value base-type="identifier">C</qti-base-value></qti-match>
        <qti-set-outcome-value identifier="SCORE">
          <qti-base-value base-type="float">2</qti-base-value>
        </qti-set-outcome-value>
      </qti-response-if></qti-response-condition>"""
    item = _item(custom_item(correct=False, rules=rules))
    assert derived_max_score(item) is None
    assert evaluate(item, {"RESPONSE": "A"}).outcomes == {"SCORE": 0.0}
    right = ObjectiveScorer().score(item, {"RESPONSE": "C"})
    assert (right.score, right.max_score) == (2.0, 2.0)


@pytest.mark.asyncio
async def test_an_attempt_result_reads_the_derived_maximum(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup(tagged={})
    item_id = await world.publish_item(custom_item())
    definition = world.definition(
        sections=[{"identifier": "s", "title": "S", "items": [{"item_id": item_id}]}],
        scoring={"release": "immediately"},
    )
    person = await make.candidate(world.org, name="Cand")
    administration, codes = await world.open_administration(
        slug="custom", definition=definition, title="Now", candidate_ids=[person.id]
    )
    attempt_id, headers = await begin(client, codes[0])
    view = await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
    ref = view.json()["items"][0]["ref"]
    saved = await client.put(
        f"/api/v1/attempts/{attempt_id}/responses/{ref}",
        json={"seq": 1, "value": "B"},
        headers=headers,
    )
    assert saved.status_code == 200, saved.text
    submitted = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    assert await wait_for_state(app, attempt_id, "released") == "released"

    mine = await client.get(f"/api/v1/attempts/{attempt_id}/result", headers=headers)
    assert mine.status_code == 200, mine.text
    assert (mine.json()["raw"], mine.json()["max_raw"]) == (2.0, 2.0)
    detail = await client.get(f"/api/v1/results/{attempt_id}", headers=world.headers)
    assert detail.status_code == 200, detail.text
    assert [(i["score"], i["max_score"]) for i in detail.json()["items"]] == [(2.0, 2.0)]

    # Scoring the whole administration at once (on PostgreSQL, the bulk scorer) agrees.
    db = app.state.db
    ids = [uuid.UUID(attempt_id)]
    async with db.transaction() as session:
        await session.execute(delete(AttemptResult).where(AttemptResult.attempt_id.in_(ids)))
        await session.execute(update(Attempt).where(Attempt.id.in_(ids)).values(state="submitted"))
    scored = await scoring.score_administration(db, world.org.id, uuid.UUID(administration["id"]))
    assert scored == 1
    async with db.transaction(write=False) as session:
        rows = (
            await session.execute(
                select(ItemScore.score, ItemScore.max_score).where(ItemScore.attempt_id.in_(ids))
            )
        ).all()
        totals = (
            await session.execute(
                select(AttemptResult.raw, AttemptResult.max_raw).where(
                    AttemptResult.attempt_id.in_(ids)
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [(2.0, 2.0)]
    assert [tuple(t) for t in totals] == [(2.0, 2.0)]
