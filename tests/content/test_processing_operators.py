"""mathOperator, statsOperator, repeat, index with a variable ``n`` and the duration
comparisons in items: read from QTI 2.2 and 3.0 (the same item either way), scored, written
as QTI 3.0 (checked against the schema subset) and read back with the same outcomes,
imported and scored through the API, used by template processing, written in the native
format, and scored in bulk as one by one."""

from __future__ import annotations

import io
import json
import math
import statistics
import uuid
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update

from tests.support.exams import World, begin, wait_for_state
from tests.support.factories import Factory, login
from tests.support.qti3_schema import check_qti3
from waa_ads.auth.models import Role
from waa_ads.content.interchange.native import load_native
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.interchange.qti.writer import write_item
from waa_ads.content.item.definition import ItemDefinition, ItemFormatError
from waa_ads.content.item.templates import instantiate
from waa_ads.delivery.models import Attempt
from waa_ads.scoring import service as scoring
from waa_ads.scoring.engine import evaluate
from waa_ads.scoring.models import AttemptResult, ItemScore
from waa_ads.scoring.vectorized import score_batch

FIXTURES = Path(__file__).parents[1] / "fixtures" / "items"
PROCESSING = FIXTURES / "processing"
FAMILIES = ("math", "stats", "repeat_index", "duration")
VERSIONS = ("v2p2", "v3p0")

TAN_44_6 = round(math.tan(math.radians(44.6)), 6)

# Each family's responses (RESPONSE, and for duration the built-in duration in seconds)
# and the outcomes they give.
CASES: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {
    "math": [
        ({"RESPONSE": 45}, {"SCORE": 1.0, "SIGN": 0, "WHOLE": 45, "UP": 45, "SLOPE": 1.0,
                            "DIGITS": math.log10(45)}),
        ({"RESPONSE": 44.6}, {"SCORE": 1.0, "SIGN": -1, "WHOLE": 44, "UP": 45,
                              "SLOPE": TAN_44_6, "DIGITS": math.log10(44.6)}),
        # log(0) is outside the domain: NULL
        ({"RESPONSE": 0}, {"SCORE": 0.0, "SIGN": -1, "WHOLE": 0, "UP": 0, "SLOPE": 0.0,
                           "DIGITS": None}),
        ({"RESPONSE": -3.5}, {"SCORE": 0.0, "SIGN": -1, "WHOLE": -4, "UP": -3,
                              "SLOPE": round(math.tan(math.radians(-3.5)), 6), "DIGITS": None}),
        ({}, {"SCORE": 0.0, "SIGN": None, "WHOLE": None, "UP": None, "SLOPE": None,
              "DIGITS": None}),
    ],
    "stats": [
        # popVariance of 2, 4, 9 and the answer; sampleVariance of one value is NULL
        ({"RESPONSE": 5}, {"SCORE": 1.0, "SPREAD": 6.5, "SAMPLE": None}),
        ({"RESPONSE": 5.004}, {"SCORE": 1.0, "SPREAD": statistics.pvariance([2.0, 4.0, 9.0, 5.004]),
                               "SAMPLE": None}),
        ({"RESPONSE": 1.5}, {"SCORE": 0.0, "SPREAD": 8.796875, "SAMPLE": None}),
        ({}, {"SCORE": 0.0, "SPREAD": 26 / 3, "SAMPLE": None}),
    ],
    "repeat_index": [
        ({"RESPONSE": ["mercury", "venus", "earth"]},
         {"SCORE": 1.0, "PLACE": 2, "AT_PLACE": "venus", "ECHO": ["mercury", "mercury"],
          "COUNT": 6}),
        ({"RESPONSE": ["venus", "mercury", "earth"]},
         {"SCORE": 0.0, "PLACE": 2, "AT_PLACE": "mercury", "ECHO": ["venus", "venus"],
          "COUNT": 6}),
        ({"RESPONSE": ["earth", "venus", "mercury"]},
         {"SCORE": 1.0, "PLACE": 2, "AT_PLACE": "venus", "ECHO": ["earth", "earth"],
          "COUNT": 6}),
        ({}, {"SCORE": 0.0, "PLACE": 2, "AT_PLACE": None, "ECHO": None, "COUNT": 0}),
    ],
    "duration": [
        ({"RESPONSE": "B", "duration": 12.5}, {"SCORE": 2.0, "SLOW": False}),
        ({"RESPONSE": "B", "duration": 30}, {"SCORE": 1.0, "SLOW": False}),  # not shorter
        ({"RESPONSE": "B", "duration": 60}, {"SCORE": 1.0, "SLOW": True}),
        ({"RESPONSE": "A", "duration": 5}, {"SCORE": 0.0, "SLOW": False}),
        ({"RESPONSE": "B"}, {"SCORE": 1.0, "SLOW": None}),  # no duration: NULL
    ],
}  # fmt: skip


def _read(family: str, version: str) -> ItemDefinition:
    return parse_item((PROCESSING / f"{family}.{version}.xml").read_bytes())


def _again(item: ItemDefinition) -> ItemDefinition:
    """The item written as QTI 3.0 (checked against the schema subset) and read back."""
    written = write_item(item)
    check_qti3(written)
    return parse_item(written)


@pytest.mark.parametrize("family", FAMILIES)
def test_qti_2_2_and_3_0_give_the_same_item(family: str) -> None:
    v2, v3 = (_read(family, v) for v in VERSIONS)
    assert v2.response_processing == v3.response_processing
    assert v2.outcome_declarations == v3.outcome_declarations
    assert ItemDefinition.from_dict(v3.to_dict()) == v3


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("family", FAMILIES)
def test_scored_and_scored_the_same_after_export(family: str, version: str) -> None:
    item = _read(family, version)
    again = _again(item)
    assert again.response_processing == item.response_processing
    for responses, expected in CASES[family]:
        for version_read in (item, again):
            result = evaluate(version_read, responses)
            assert result.notes == [], result.notes
            assert result.outcomes == expected, responses


def test_the_export_writes_the_qti_3_elements() -> None:
    written = {f: write_item(_read(f, "v2p2")).decode() for f in FAMILIES}
    assert '<qti-math-operator name="atan2">' in written["math"]
    assert '<qti-math-operator name="toDegrees">' in written["math"]
    assert '<qti-stats-operator name="popVariance">' in written["stats"]
    assert '<qti-repeat number-repeats="PLACE">' in written["repeat_index"]
    assert '<qti-index n="PLACE">' in written["repeat_index"]
    assert "<qti-duration-lt>" in written["duration"]
    assert "<qti-duration-gte>" in written["duration"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (('name="atan2"', 'name="arctan2"'), "bad name attribute: 'arctan2' is not one of sin"),
        (
            ('<qti-base-value base-type="integer">1</qti-base-value>\n            </qti-math-operator>',
             "</qti-math-operator>"),
            "atan2 takes 2 sub-expressions, found 1 (<qti-math-operator> at line 22)",
        ),
        (('name="floor"><qti-variable', 'name="floor" base="2"><qti-variable'),
         "unknown attribute 'base'"),
        (('<qti-variable identifier="RESPONSE"/></qti-math-operator>\n    </qti-set-outcome-value>\n'
          '    <qti-set-outcome-value identifier="UP">',
          '<qti-multiple><qti-variable identifier="RESPONSE"/></qti-multiple></qti-math-operator>\n'
          '    </qti-set-outcome-value>\n    <qti-set-outcome-value identifier="UP">'),
         "an operand of <math_operator> must be a single value, not multiple"),
    ],
)  # fmt: skip
def test_a_math_operator_that_cannot_work_is_refused_naming_it(
    change: tuple[str, str], reason: str
) -> None:
    source = (PROCESSING / "math.v3p0.xml").read_text()
    assert change[0] in source, change
    with pytest.raises(ItemFormatError) as caught:
        parse_item(source.replace(*change, 1))
    assert reason in caught.value.detail


@pytest.mark.parametrize(
    ("family", "change", "reason"),
    [
        ("stats", ('name="popVariance"', 'name="median"'), "'median' is not one of mean"),
        ("stats", ('<qti-stats-operator name="sampleVariance">\n        <qti-multiple><qti-variable identifier="RESPONSE"/></qti-multiple>',
                   '<qti-stats-operator name="sampleVariance">\n        <qti-variable identifier="RESPONSE"/>'),
         "must be a multiple or ordered container, not single"),
        ("repeat_index", ('number-repeats="2"', 'number-repeats="0"'),
         "number-repeats must be at least 1"),
        ("repeat_index", ('number-repeats="PLACE"', 'number-repeats="PLACES"'),
         "number_repeats refers to 'PLACES', which is not declared"),
        ("repeat_index", ('<qti-index n="PLACE"><qti-variable identifier="RESPONSE"/></qti-index>\n'
                          "    </qti-set-outcome-value>",
                          '<qti-index n="SCORE"><qti-variable identifier="RESPONSE"/></qti-index>\n'
                          "    </qti-set-outcome-value>"),
         "n refers to 'SCORE', which is not a single integer"),
        ("repeat_index", ('n="1"', 'n="1st"'), "'1st' is neither an integer nor a variable"),
        ("duration", ('<qti-base-value base-type="duration">60</qti-base-value>',
                      '<qti-base-value base-type="float">60</qti-base-value>'),
         "an operand of <duration_gte> must be duration, but <base_value> gives float"),
    ],
)  # fmt: skip
def test_other_expressions_that_cannot_work_are_refused(
    family: str, change: tuple[str, str], reason: str
) -> None:
    source = (PROCESSING / f"{family}.v3p0.xml").read_text()
    assert change[0] in source, change
    with pytest.raises(ItemFormatError) as caught:
        parse_item(source.replace(*change, 1))
    assert reason in caught.value.detail


# --- template processing ----------------------------------------------------------------------


def _half_up(value: float) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize("version", VERSIONS)
def test_template_processing_repeats_draws_and_indexes_by_a_variable(version: str) -> None:
    import waa_ads.scoring.engine  # noqa: F401  (installs the template evaluator)

    item = parse_item((FIXTURES / "templates" / f"statistics.{version}.xml").read_bytes())
    check_qti3(write_item(item))
    sizes = set()
    for seed in range(30):
        instance = instantiate(item, seed)
        values = {d.identifier: d.default_value for d in instance.template_declarations}
        data = values["DATA"]
        # repeat drew N values, each drawn again (not one value repeated)
        assert len(data) == values["N"] and 3 <= values["N"] <= 6
        assert all(1 <= v <= 20 for v in data) and len(set(data)) > 1
        assert values["K"] == math.ceil(values["N"] / 2)
        assert values["PICK"] == data[values["K"] - 1]
        assert values["MEAN"] == _half_up(statistics.fmean(data))
        assert values["SD"] == pytest.approx(statistics.stdev(data), rel=1e-15)
        assert instance.response_declarations[0].correct_response == values["MEAN"]
        assert ", ".join(str(v) for v in data) in instance.body
        assert evaluate(instance, {"RESPONSE": values["MEAN"]}).outcomes == {"SCORE": 1.0}
        assert evaluate(instance, {"RESPONSE": values["MEAN"] + 1}).outcomes == {"SCORE": 0.0}
        sizes.add(values["N"])
    assert sizes == {3, 4, 5, 6}
    # The same seed gives the same instance.
    assert instantiate(item, 11) == instantiate(item, 11)


# --- the native format ------------------------------------------------------------------------


def test_the_native_format_reads_these_expressions_in_dict_form() -> None:
    source = (PROCESSING / "math_stats.yaml").read_text()
    item = load_native(source)
    expected = [
        (36, {"SCORE": 1.0, "TIMES": 2, "SPREAD": 0.5, "ECHO": [36, 36], "PICKED": 36}),
        (37, {"SCORE": 0.0, "TIMES": 2, "SPREAD": 0.0, "ECHO": [37, 37], "PICKED": 37}),
        (None, {"SCORE": 0.0, "TIMES": 2, "SPREAD": None, "ECHO": None, "PICKED": None}),
    ]
    again = _again(item)
    stored = ItemDefinition.from_dict(item.to_dict())
    assert stored == item
    for response, outcomes in expected:
        responses = {} if response is None else {"RESPONSE": response}
        for version in (item, again, stored):
            assert evaluate(version, responses).outcomes == outcomes
    for change, reason in [
        (("name: popSD", "name: median"), "bad name attribute: 'median' is not one of mean"),
        (("name: atan2", "name: arctan"), "bad name attribute: 'arctan' is not one of sin"),
        (
            ("number_repeats: TIMES", "number_repeats: 0"),
            "number-repeats must be at least 1 (<qti-repeat>",
        ),
        (("n: TIMES", "n: SPREAD"), "n refers to 'SPREAD', which is not a single integer"),
    ]:
        assert change[0] in source, change
        with pytest.raises(ItemFormatError) as caught:
            load_native(source.replace(*change))
        assert reason in caught.value.detail


# --- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_score_item_on_the_command_line(family: str) -> None:
    from typer.testing import CliRunner

    from waa_ads.cli import app as cli

    responses, expected = CASES[family][0]
    result = CliRunner().invoke(
        cli,
        ["score-item", str(PROCESSING / f"{family}.v2p2.xml"), "--response", json.dumps(responses)],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"outcomes": expected, "notes": []}


# --- the API ----------------------------------------------------------------------------------


async def _score_cases(
    client: httpx.AsyncClient, headers: dict[str, str], bank_id: str, version: str
) -> None:
    """Score every family's cases through the API on the bank's version-1 items."""
    listed = (
        await client.get("/api/v1/items", params={"bank_id": bank_id}, headers=headers)
    ).json()["items"]
    by_identifier = {i["identifier"]: i["id"] for i in listed}
    for family in FAMILIES:
        identifier = _read(family, version).identifier
        url = f"/api/v1/items/{by_identifier[identifier]}/versions/1/score"
        for responses, expected in CASES[family]:
            scored = await client.post(url, json={"responses": responses}, headers=headers)
            assert scored.status_code == 200, scored.text
            assert scored.json()["notes"] == []
            assert scored.json()["outcomes"] == expected, (family, responses)


async def _new_bank(client: httpx.AsyncClient, headers: dict[str, str], slug: str) -> str:
    bank = await client.post("/api/v1/banks", json={"slug": slug, "name": slug}, headers=headers)
    assert bank.status_code == 201, bank.text
    bank_id: str = bank.json()["id"]
    return bank_id


async def _import(
    client: httpx.AsyncClient, headers: dict[str, str], bank_id: str, name: str, data: bytes
) -> None:
    imported = await client.post(
        f"/api/v1/banks/{bank_id}/import",
        files={"file": (name, data, "application/octet-stream")},
        headers=headers,
    )
    assert imported.status_code == 201, imported.text


@pytest.mark.asyncio
@pytest.mark.parametrize("version", VERSIONS)
async def test_imported_scored_exported_and_reimported_through_the_api(
    client: httpx.AsyncClient, make: Factory, version: str
) -> None:
    org = await make.organization()
    headers = await login(client, await make.user(org, Role.admin, Role.author))
    bank_id = await _new_bank(client, headers, "ops")
    for family in FAMILIES:
        created = await client.post(
            f"/api/v1/banks/{bank_id}/items",
            json={
                "source": {
                    "format": "qti",
                    "content": (PROCESSING / f"{family}.{version}.xml").read_text(),
                }
            },
            headers=headers,
        )
        assert created.status_code == 201, created.text
    await _score_cases(client, headers, bank_id, version)

    # Exported as a QTI 3.0 package and as native files, read back into other banks: the
    # same outcomes.
    package = await client.get(
        f"/api/v1/banks/{bank_id}/export", params={"format": "qti3"}, headers=headers
    )
    assert package.status_code == 200, package.text
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        written = [n for n in archive.namelist() if n.endswith(".xml") and n != "imsmanifest.xml"]
        assert len(written) == len(FAMILIES), written
        for name in written:
            check_qti3(archive.read(name))
    qti_copy = await _new_bank(client, headers, "ops-qti")
    await _import(client, headers, qti_copy, "ops.zip", package.content)
    await _score_cases(client, headers, qti_copy, version)

    native = await client.get(
        f"/api/v1/banks/{bank_id}/export", params={"format": "native"}, headers=headers
    )
    assert native.status_code == 200, native.text
    native_copy = await _new_bank(client, headers, "ops-native")
    with zipfile.ZipFile(io.BytesIO(native.content)) as archive:
        names = archive.namelist()
        assert len(names) == len(FAMILIES)
        for name in names:
            await _import(client, headers, native_copy, name.split("/")[-1], archive.read(name))
    await _score_cases(client, headers, native_copy, version)


# --- scoring many at once ---------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_score_batch_gives_what_evaluate_gives(family: str) -> None:
    item = _read(family, "v3p0")
    batch = [responses for responses, _ in CASES[family]] * 3
    result = score_batch(item, batch)
    for row, responses in enumerate(batch):
        assert result.evaluation(row) == evaluate(item, responses)
        assert result.scores[row] == evaluate(item, responses).outcomes["SCORE"]


async def _item_scores(app: FastAPI, attempt_ids: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    async with app.state.db.transaction(write=False) as session:
        rows = await session.execute(
            select(ItemScore.attempt_id, ItemScore.item_ref, ItemScore.score, ItemScore.outcomes)
            .where(ItemScore.attempt_id.in_(attempt_ids))
            .order_by(ItemScore.attempt_id, ItemScore.item_ref)
        )
        return [tuple(r) for r in rows.all()]


@pytest.mark.asyncio
async def test_an_administration_scored_at_once_scores_as_one_by_one(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    app, client = live_app, live_client
    world = await World(client, live_make).setup(tagged={})
    # The refs on the form are the items' identifiers.
    sources = {
        "math-ramp": (PROCESSING / "math.v3p0.xml").read_text(),
        "stats-mean": (PROCESSING / "stats.v2p2.xml").read_text(),
        "repeat-index": (PROCESSING / "repeat_index.v3p0.xml").read_text(),
        "template-statistics": (FIXTURES / "templates" / "statistics.v3p0.xml").read_text(),
    }
    items = [{"item_id": await world.publish_item(xml)} for xml in sources.values()]
    definition = world.definition(
        sections=[{"identifier": "s", "title": "S", "items": items}],
        scoring={"release": "immediately"},
    )
    people = [await live_make.candidate(world.org, name=f"Cand {n}") for n in range(4)]
    administration, codes = await world.open_administration(
        slug="math-ops", definition=definition, title="Now", candidate_ids=[p.id for p in people]
    )
    answers: list[dict[str, Any]] = [
        {"M": 45, "S": 5, "R": ["mercury", "venus", "earth"], "T": 10.0},
        {"M": 44.6, "S": 1.5, "R": ["venus", "mercury", "earth"], "T": 9.5},
        {"M": 0, "S": 5.004, "R": ["earth", "venus", "mercury"]},
        {"M": 45, "S": 5},
    ]
    refs = {"M": "math-ramp", "S": "stats-mean", "R": "repeat-index", "T": "template-statistics"}
    attempt_ids: list[uuid.UUID] = []
    for code, chosen in zip(codes, answers, strict=True):
        attempt_id, headers = await begin(client, code)
        for seq, (key, value) in enumerate(chosen.items(), start=1):
            saved = await client.put(
                f"/api/v1/attempts/{attempt_id}/responses/{refs[key]}",
                json={"seq": seq, "value": value},
                headers=headers,
            )
            assert saved.status_code == 200 and saved.json()["accepted"], saved.text
        submitted = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
        assert submitted.status_code == 200, submitted.text
        assert await wait_for_state(app, attempt_id, "released") == "released"
        attempt_ids.append(uuid.UUID(attempt_id))
    one_by_one = await _item_scores(app, attempt_ids)
    by_attempt = {(a, ref): (score, outcomes) for a, ref, score, outcomes in one_by_one}
    first, second, third, fourth = attempt_ids
    assert by_attempt[(first, "math-ramp")][0] == 1.0
    assert by_attempt[(first, "math-ramp")][1]["SIGN"] == 0
    assert by_attempt[(second, "math-ramp")][1]["WHOLE"] == 44
    assert by_attempt[(third, "math-ramp")][1]["DIGITS"] is None
    assert by_attempt[(first, "stats-mean")][1]["SPREAD"] == 6.5
    assert by_attempt[(second, "stats-mean")][0] == 0.0
    assert by_attempt[(first, "repeat-index")][1]["ECHO"] == ["mercury", "mercury"]
    assert by_attempt[(third, "repeat-index")][0] == 1.0
    assert by_attempt[(fourth, "repeat-index")][0] == 0.0

    # The whole administration scored again at once (on PostgreSQL, the bulk scorer).
    db = app.state.db
    async with db.transaction() as session:
        await session.execute(
            delete(AttemptResult).where(AttemptResult.attempt_id.in_(attempt_ids))
        )
        await session.execute(
            update(Attempt).where(Attempt.id.in_(attempt_ids)).values(state="submitted")
        )
    scored = await scoring.score_administration(db, world.org.id, uuid.UUID(administration["id"]))
    assert scored == 4
    assert await _item_scores(app, attempt_ids) == one_by_one
