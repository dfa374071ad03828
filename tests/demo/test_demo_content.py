"""The sample bank that ``waa-ads demo`` loads: every item parses, validates and scores as
its author meant, every interaction type is there, and every rubric and picture it names
exists and passes the same checks an author's upload would.

The content is read as package data (``importlib.resources`` on ``waa_ads.demo``), the
way the loader reads it, and each item is parsed by the same import path the loader uses.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml
from lxml import etree

from waa_ads.content import schemas
from waa_ads.content.interchange.native import load_native
from waa_ads.content.item.definition import (
    InteractionType,
    ItemDefinition,
)
from waa_ads.content.item.templates import instantiate
from waa_ads.content.item.validation import validate_item
from waa_ads.content.media.check import check_media
from waa_ads.content.render.candidate import candidate_view
from waa_ads.content.rubrics.document import parse_rubric, rubric_max_points
from waa_ads.content.transfer import candidates_from_bytes
from waa_ads.scoring.engine import evaluate

ROOT: Traversable = resources.files("waa_ads.demo").joinpath("content")
MEDIA_REF_RE = re.compile(r"\.\./media/([A-Za-z0-9._-]+)")
HUMAN_SCORED = frozenset(
    {InteractionType.EXTENDED_TEXT, InteractionType.UPLOAD, InteractionType.DRAWING}
)
#: Interactions whose response is not an answer (plays of a recording, a pass button):
#: they have no correct response.
NOT_ANSWERS = frozenset({InteractionType.MEDIA, InteractionType.END_ATTEMPT})
#: Interactions the bank gained last, shown by one item each.
ONCE = frozenset(
    {
        InteractionType.GRAPHIC_GAP_MATCH,
        InteractionType.GRAPHIC_ORDER,
        InteractionType.GRAPHIC_ASSOCIATE,
        InteractionType.END_ATTEMPT,
        InteractionType.MEDIA,
        InteractionType.DRAWING,
        InteractionType.POSITION_OBJECT,
    }
)
GRAPHIC = frozenset(
    {
        InteractionType.HOTSPOT,
        InteractionType.SELECT_POINT,
        InteractionType.GRAPHIC_GAP_MATCH,
        InteractionType.GRAPHIC_ORDER,
        InteractionType.GRAPHIC_ASSOCIATE,
    }
)


@cache
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(ROOT.joinpath("manifest.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def entries() -> list[dict[str, Any]]:
    return list(manifest()["items"])


def raw(entry: dict[str, Any]) -> bytes:
    return ROOT.joinpath("items", str(entry["file"])).read_bytes()


@cache
def item(name: str) -> ItemDefinition:
    """The item in ``items/<name>``, parsed the way the demo loader parses it."""
    (candidate,) = candidates_from_bytes(name, ROOT.joinpath("items", name).read_bytes())
    assert candidate.item is not None, f"{name}: {candidate.error}"
    return candidate.item


def files_in(folder: str) -> list[str]:
    return sorted(p.name for p in ROOT.joinpath(folder).iterdir() if p.is_file())


ENTRY_IDS = [str(e["file"]) for e in entries()]


def score(name: str, responses: dict[str, Any]) -> tuple[Any, dict[str, Any], list[str]]:
    result = evaluate(item(name), responses)
    return result.outcomes.get("SCORE"), result.outcomes, result.notes


# --- the manifest -----------------------------------------------------------------------------


def test_manifest_lists_every_item_file_once_and_nothing_else() -> None:
    listed = [str(e["file"]) for e in entries()]
    assert len(listed) == len(set(listed)), [n for n, c in Counter(listed).items() if c > 1]
    assert sorted(listed) == files_in("items")


def test_bank_section_is_a_valid_bank() -> None:
    bank = schemas.BankCreate.model_validate(manifest()["bank"])
    assert bank.slug == "sample"
    assert bank.description


def test_bank_size_and_formats() -> None:
    names = [str(e["file"]) for e in entries()]
    native = [n for n in names if n.endswith((".yaml", ".yml"))]
    qti = [n for n in names if n.endswith(".xml")]
    assert len(names) >= 32
    assert len(native) >= 8
    assert len(qti) >= 8
    assert len(native) + len(qti) == len(names)


@pytest.mark.parametrize("entry", entries(), ids=ENTRY_IDS)
def test_entry_metadata_is_valid(entry: dict[str, Any]) -> None:
    assert set(entry) <= {"file", "subject", "tags", "rubric"}
    metadata = schemas.ItemMetadata(tags=entry["tags"], subject=entry["subject"])
    assert metadata.subject in {"language", "mathematics", "science", "geography"}
    assert metadata.tags
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", tag) for tag in metadata.tags)


# --- items --------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", entries(), ids=ENTRY_IDS)
def test_item_parses_validates_and_loses_nothing(entry: dict[str, Any]) -> None:
    name = str(entry["file"])
    definition = item(name)
    validate_item(definition)
    # Nothing was removed by the body sanitizer: the content is what its author wrote.
    assert definition.import_notes == ()
    assert definition.language == "en"
    assert definition.identifier.startswith("sample-")
    assert definition.interactions
    # The stored form round-trips, as the item bank stores it.
    assert ItemDefinition.from_dict(definition.to_dict()) == definition


def test_item_identifiers_are_unique() -> None:
    identifiers = [item(str(e["file"])).identifier for e in entries()]
    assert len(identifiers) == len(set(identifiers))


@pytest.mark.parametrize(
    "entry", [e for e in entries() if str(e["file"]).endswith(".yaml")], ids=str
)
def test_native_metadata_agrees_with_the_manifest(entry: dict[str, Any]) -> None:
    definition = load_native(raw(entry))
    assert definition.metadata["subject"] == entry["subject"]
    assert definition.metadata["tags"] == entry["tags"]
    assert definition.rubric_ref == entry.get("rubric")


def test_every_interaction_type_is_covered_at_least_twice() -> None:
    counts = Counter(i.type for e in entries() for i in item(str(e["file"])).interactions)
    # A portable custom interaction runs code its item brings: the demo has none (the tests'
    # own, tests/fixtures/pci/likert.js, is imported and answered in tests/web).
    assert set(counts) == set(InteractionType) - {InteractionType.PORTABLE_CUSTOM}
    assert {t: c for t, c in counts.items() if c < (1 if t in ONCE else 2)} == {}


def _expressions(node: Any) -> Iterator[dict[str, Any]]:
    """Every expression (``{"op": ...}``) in a dumped rule tree."""
    if isinstance(node, dict):
        if "op" in node:
            yield node
        for value in node.values():
            yield from _expressions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _expressions(value)


def _rule_expressions(definition: ItemDefinition) -> list[dict[str, Any]]:
    processing = definition.response_processing
    rules = processing.rules if processing is not None and processing.rules else ()
    return [e for rule in rules for e in _expressions(rule.model_dump(mode="json"))]


def test_text_entry_variants_are_all_present() -> None:
    """Exact, case-insensitive and pattern text entries; numeric entries with an absolute
    and a relative tolerance."""
    kinds: set[str] = set()
    for entry in entries():
        definition = item(str(entry["file"]))
        types = {i.type for i in definition.interactions}
        processing = definition.response_processing
        if processing is None:
            continue
        expressions = _rule_expressions(definition)
        if InteractionType.TEXT_ENTRY in types:
            if processing.template == "match_correct":
                kinds.add("exact")
            if any(
                not m.case_sensitive
                for d in definition.response_declarations
                for m in (d.mapping.entries if d.mapping else ())
            ):
                kinds.add("case-insensitive")
            if any(e["op"] == "pattern_match" for e in expressions):
                kinds.add("pattern")
        if InteractionType.NUMERIC_ENTRY in types:
            kinds.update(
                f"numeric-{e['tolerance_mode']}"
                for e in expressions
                if e["op"] == "equal" and e.get("tolerance_mode") in ("absolute", "relative")
            )
    assert kinds == {
        "exact",
        "case-insensitive",
        "pattern",
        "numeric-absolute",
        "numeric-relative",
    }


def test_a_custom_rule_marks_negatively_with_a_floor() -> None:
    """At least one item subtracts for wrong answers in its own rules and bounds the score
    below (by ``max`` or by a ``lt`` test); the cases in SCORE_CASES show both at work."""
    found = []
    for entry in entries():
        ops = {e["op"] for e in _rule_expressions(item(str(entry["file"])))}
        negative = "subtract" in ops or "map_response" in ops
        if negative and ops & {"max", "lt"}:
            found.append(entry["file"])
    assert len(found) >= 2


# --- rubrics ------------------------------------------------------------------------------------


def test_rubric_files_are_the_manifest_rubrics() -> None:
    listed = [str(r) for r in manifest()["rubrics"]]
    assert sorted(listed) == files_in("rubrics")


@pytest.mark.parametrize("name", files_in("rubrics"))
def test_rubric_parses_and_its_id_is_its_file_stem(name: str) -> None:
    rubric = parse_rubric(ROOT.joinpath("rubrics", name).read_text(encoding="utf-8"))
    assert rubric.id == PurePosixPath(name).stem
    assert rubric_max_points(rubric) > 0


def test_one_analytic_and_one_holistic_rubric() -> None:
    kinds = sorted(
        parse_rubric(ROOT.joinpath("rubrics", name).read_text(encoding="utf-8")).kind
        for name in files_in("rubrics")
    )
    assert kinds == ["analytic", "holistic"]


@pytest.mark.parametrize("entry", entries(), ids=ENTRY_IDS)
def test_rubrics_attach_to_extended_text_items_with_a_matching_maximum(
    entry: dict[str, Any],
) -> None:
    definition = item(str(entry["file"]))
    types = {i.type for i in definition.interactions}
    stem = entry.get("rubric")
    # Every essay or short answer names its rubric, and only those do (the bank refuses a
    # rubric on any other item).
    assert (stem is not None) == (InteractionType.EXTENDED_TEXT in types)
    if stem is None:
        return
    assert f"{stem}.yaml" in manifest()["rubrics"]
    rubric = parse_rubric(ROOT.joinpath("rubrics", f"{stem}.yaml").read_text(encoding="utf-8"))
    outcome = definition.outcome_declaration("SCORE")
    assert outcome is not None
    assert outcome.external_scored == "human"
    assert outcome.normal_maximum == rubric_max_points(rubric)


def test_every_rubric_is_used() -> None:
    used = {e.get("rubric") for e in entries()}
    assert {PurePosixPath(str(r)).stem for r in manifest()["rubrics"]} <= used


# --- media --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", files_in("media"))
def test_media_file_passes_the_media_checks(name: str) -> None:
    assert name.endswith((".svg", ".wav"))
    declared = "image/svg+xml" if name.endswith(".svg") else "audio/wav"
    check = check_media(
        ROOT.joinpath("media", name).read_bytes(), declared_type=declared, filename=name
    )
    assert check.content_type == declared
    if declared == "image/svg+xml":
        assert check.width and check.height


def _referenced_media(entry: dict[str, Any]) -> set[str]:
    return set(MEDIA_REF_RE.findall(raw(entry).decode("utf-8")))


@pytest.mark.parametrize("entry", entries(), ids=ENTRY_IDS)
def test_media_references_exist_and_fit_their_pictures(entry: dict[str, Any]) -> None:
    definition = item(str(entry["file"]))
    media = set(files_in("media"))
    referenced = _referenced_media(entry)
    assert referenced <= media
    # Every reference in the parsed item is one of those the loader finds in the file.
    body = etree.fromstring(definition.body.encode())
    sources = {el.get("src") for el in body.iter("{*}img")}
    for interaction in definition.interactions:
        if interaction.graphic is not None:
            sources.add(interaction.graphic.src)
    for source in sources:
        assert source is not None
        assert source.startswith("../media/")
        assert source.removeprefix("../media/") in referenced
    # A graphic interaction is drawn at the picture's own size, so hotspot and area
    # coordinates (in picture pixels) land where the author put them.
    for interaction in definition.interactions:
        if interaction.type not in GRAPHIC:
            continue
        graphic = interaction.graphic
        assert graphic is not None and graphic.src is not None
        name = graphic.src.removeprefix("../media/")
        check = check_media(ROOT.joinpath("media", name).read_bytes(), filename=name)
        assert (graphic.width, graphic.height) == (str(check.width), str(check.height))
        assert check.width is not None and check.height is not None
        coords: list[tuple[float, ...]] = [
            c.coords for c in (*interaction.choices, *interaction.hotspots) if c.coords
        ]
        declaration = definition.response_declaration(interaction.response_identifier)
        assert declaration is not None
        if declaration.area_mapping is not None:
            coords.extend(e.coords for e in declaration.area_mapping.entries)
        assert coords
        for numbers in coords:
            assert all(0 <= n <= max(check.width, check.height) for n in numbers)


@pytest.mark.parametrize("entry", entries(), ids=ENTRY_IDS)
def test_item_renders_for_a_candidate_with_its_media_resolved(entry: dict[str, Any]) -> None:
    definition = item(str(entry["file"]))
    asked: list[str] = []

    def resolve(path: str) -> str:
        asked.append(path)
        return "/delivery/media/" + path.rsplit("/", 1)[-1]

    view = candidate_view(definition, shuffle_seed=7, resolve_media=resolve)
    payload = json.dumps(view, ensure_ascii=False)
    assert len(view["interactions"]) == len(definition.interactions)
    assert "../media/" not in payload
    assert {p.removeprefix("../media/") for p in asked} == _referenced_media(entry)
    # Authors' scoring notes stay in the bank; the candidate never receives them.
    notes = definition.metadata.get("scoring_notes")
    if notes:
        assert str(notes)[:40] not in payload


def test_every_media_file_is_used() -> None:
    used = set().union(*(_referenced_media(e) for e in entries()))
    assert used == set(files_in("media"))


# --- scoring ------------------------------------------------------------------------------------


def _auto_scored() -> list[dict[str, Any]]:
    return [e for e in entries() if item(str(e["file"])).response_processing is not None]


def test_only_essays_and_uploads_are_left_to_people() -> None:
    for entry in entries():
        definition = item(str(entry["file"]))
        types = {i.type for i in definition.interactions}
        if definition.response_processing is None:
            assert types <= HUMAN_SCORED, entry["file"]
            assert all(d.correct_response is None for d in definition.response_declarations)
            outcome = definition.outcome_declaration("SCORE")
            assert outcome is not None and outcome.external_scored == "human"
            assert outcome.normal_maximum is not None and outcome.normal_maximum > 0
        else:
            assert not types & HUMAN_SCORED, entry["file"]


@pytest.mark.parametrize("entry", _auto_scored(), ids=[str(e["file"]) for e in _auto_scored()])
def test_correct_response_scores_the_maximum(entry: dict[str, Any]) -> None:
    name = str(entry["file"])
    definition = item(name)
    others = {i.response_identifier for i in definition.interactions if i.type in NOT_ANSWERS}
    responses = {
        d.identifier: d.correct_response
        for d in definition.response_declarations
        if d.identifier not in others
    }
    assert all(value is not None for value in responses.values())
    value, outcomes, notes = score(name, responses)
    assert notes == []
    assert outcomes["MAXSCORE"] is not None and outcomes["MAXSCORE"] > 0
    assert value == pytest.approx(outcomes["MAXSCORE"])


@pytest.mark.parametrize("entry", entries(), ids=ENTRY_IDS)
def test_no_response_scores_zero(entry: dict[str, Any]) -> None:
    name = str(entry["file"])
    definition = item(name)
    for responses in ({}, {d.identifier: None for d in definition.response_declarations}):
        value, _, notes = score(name, responses)
        assert notes == []
        assert value == 0


# (file, responses, expected SCORE): the scoring rules the content promises its candidates.
SCORE_CASES: list[tuple[str, dict[str, Any], float]] = [
    # exact text entry: letter case matters in a chemical symbol
    ("text-symbol-sodium.xml", {"RESPONSE": "Na"}, 1),
    ("text-symbol-sodium.xml", {"RESPONSE": "NA"}, 0),
    # case-insensitive text entry
    ("text-capital-canada.yaml", {"RESPONSE": "OTTAWA"}, 1),
    ("text-capital-canada.yaml", {"RESPONSE": "ottawa"}, 1),
    ("text-capital-canada.yaml", {"RESPONSE": "Toronto"}, 0),
    # pattern text entries
    ("text-largest-ocean.yaml", {"RESPONSE": "the Pacific Ocean"}, 1),
    ("text-largest-ocean.yaml", {"RESPONSE": "pacific"}, 1),
    ("text-largest-ocean.yaml", {"RESPONSE": "Atlantic"}, 0),
    ("text-water-formula.xml", {"RESPONSE": " H₂O "}, 1),
    ("text-water-formula.xml", {"RESPONSE": "h2o"}, 0),
    ("text-water-formula.xml", {"RESPONSE": "HO2"}, 0),
    # numeric entries with a tolerance (absolute, relative) and exact
    ("numeric-circle-area.xml", {"RESPONSE": 28.27}, 1),
    ("numeric-circle-area.xml", {"RESPONSE": "28.2"}, 1),
    ("numeric-circle-area.xml", {"RESPONSE": 28.5}, 0),
    ("numeric-sun-distance.xml", {"RESPONSE": 145}, 1),
    ("numeric-sun-distance.xml", {"RESPONSE": 157.5}, 1),
    ("numeric-sun-distance.xml", {"RESPONSE": 160}, 0),
    ("numeric-fahrenheit.yaml", {"RESPONSE": 77.4}, 1),
    ("numeric-fahrenheit.yaml", {"RESPONSE": 78}, 0),
    ("numeric-train-speed.xml", {"RESPONSE": 75.0}, 1),
    ("numeric-train-speed.xml", {"RESPONSE": 75.5}, 0),
    ("numeric-hexagon-sides.xml", {"RESPONSE": 8}, 0),
    # partial credit through map_response, bounded below by 0
    ("multi-mammals.xml", {"RESPONSE": ["dolphin", "bat"]}, 2),
    ("multi-mammals.xml", {"RESPONSE": ["dolphin", "bat", "whale", "shark"]}, 2),
    ("multi-mammals.xml", {"RESPONSE": ["dolphin", "shark", "frog"]}, 0),
    ("multi-renewable.yaml", {"RESPONSE": ["solar", "wind", "coal"]}, 1),
    ("match-capitals.xml", {"RESPONSE": [["kenya", "nairobi"], ["peru", "lima"]]}, 2),
    ("match-capitals.xml", {"RESPONSE": [["japan", "sydney"]]}, 0),
    ("associate-opposites.xml", {"RESPONSE": [["modern", "ancient"]]}, 1),
    ("gap-water-cycle.xml", {"RESPONSE": [["evaporation", "g1"], ["erosion", "g2"]]}, 1),
    ("hotspot-rainfall.xml", {"RESPONSE": ["jan"]}, 1),
    ("hotspot-rainfall.xml", {"RESPONSE": ["jan", "feb"]}, 0),
    # all-or-nothing items
    ("order-planets.xml", {"RESPONSE": ["mercury", "earth", "venus", "mars"]}, 0),
    ("match-animal-groups.yaml", {"RESPONSE": [["frog", "amphibian"], ["eagle", "bird"]]}, 0),
    (
        "associate-equivalents.yaml",
        {"RESPONSE": [["pct50", "half"], ["dec025", "quarter"], ["pct60", "three-fifths"]]},
        1,
    ),
    ("hottext-adjectives.xml", {"RESPONSE": ["tired", "slowly"]}, 0),
    ("hotspot-town-map.yaml", {"RESPONSE": "bakery"}, 0),
    # negative marking with a floor (custom rules)
    ("negative-body-facts.xml", {"S1": True, "S2": False, "S3": False}, 1),
    ("negative-body-facts.xml", {"S1": True, "S2": False}, 2),
    ("negative-body-facts.xml", {"S1": False, "S2": True, "S3": False}, 0),
    ("negative-body-facts.xml", {"S1": True, "S2": True, "S3": False}, 0),
    ("negative-metals.yaml", {"RESPONSE": ["iron", "copper", "wood"]}, 1),
    ("negative-metals.yaml", {"RESPONSE": ["iron", "wood", "glass"]}, 0),
    ("negative-metals.yaml", {"RESPONSE": ["wood", "glass", "plastic"]}, 0),
    # select point scored with map_response_point
    ("point-number-line.xml", {"RESPONSE": [430, 70]}, 1),
    ("point-number-line.xml", {"RESPONSE": [400, 60]}, 0),
    ("point-coordinates.yaml", {"RESPONSE": [[110, 260], [235, 110]]}, 2),
    ("point-coordinates.yaml", {"RESPONSE": [[235, 110], [260, 110]]}, 1),
    ("point-coordinates.yaml", {"RESPONSE": [[110, 110], [235, 260]]}, 0),
    # sliders: an estimate within 5, and an exact angle
    ("slider-water-surface.xml", {"RESPONSE": 75}, 1),
    ("slider-water-surface.xml", {"RESPONSE": 60}, 0),
    ("slider-triangle-angle.yaml", {"RESPONSE": 35}, 0),
    # true/false, boolean and identifier-based
    ("tf-sound-vacuum.xml", {"RESPONSE": True}, 0),
    ("tf-sahara.yaml", {"RESPONSE": False}, 0),
    ("tf-odd-sum.xml", {"RESPONSE": "F"}, 0),
    # labels on a picture, a mark each
    (
        "graphic-gap-plant.xml",
        {"RESPONSE": [["flower", "top"], ["root", "middle"], ["leaf", "bottom"]]},
        1,
    ),
    # an order on a picture: all or nothing
    ("graphic-order-river.xml", {"RESPONSE": ["source", "meander", "waterfall", "estuary"]}, 0),
    # links on a picture: a wrong one costs half a mark, never below 0
    (
        "graphic-associate-food.xml",
        {"RESPONSE": [["grass", "rabbit"], ["fox", "rabbit"], ["owl", "seeds"]]},
        1.5,
    ),
    ("graphic-associate-food.xml", {"RESPONSE": [["fox", "owl"]]}, 0),
    # passing scores 0, a wrong answer -1
    ("end-attempt-longest-river.xml", {"RESPONSE": "congo"}, -1),
    ("end-attempt-longest-river.xml", {"RESPONSE": "congo", "PASS": True}, 0),
    ("end-attempt-longest-river.xml", {"RESPONSE": "nile", "PASS": False}, 1),
    # an object placed on a stage, scored by area
    ("position-boat-sea.xml", {"RESPONSE": [500, 300]}, 1),
    ("position-boat-sea.xml", {"RESPONSE": [300, 240]}, 0),
    # the plays of the recording are not scored
    ("media-bell-rings.xml", {"PLAYS": 2, "RESPONSE": "three"}, 1),
    ("media-bell-rings.xml", {"PLAYS": 1, "RESPONSE": "four"}, 0),
]


@pytest.mark.parametrize(
    ("name", "responses", "expected"),
    SCORE_CASES,
    ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(SCORE_CASES)],
)
def test_item_scores_as_its_text_promises(
    name: str, responses: dict[str, Any], expected: float
) -> None:
    value, _, notes = score(name, responses)
    assert notes == []
    assert value == pytest.approx(expected)


# --- a cloned item ------------------------------------------------------------------------------


def test_the_train_item_is_cloned_each_candidate_with_their_own_numbers_and_key() -> None:
    """numeric-train-speed.xml is an item template: each draw prints its own distance and
    time, and only its own speed scores."""
    definition = item("numeric-train-speed.xml")
    assert definition.is_template
    drawn = set()
    for seed in range(40):
        instance = instantiate(definition, seed)
        values = {d.identifier: d.default_value for d in instance.template_declarations}
        speed, hours, distance = values["SPEED"], values["HOURS"], values["DISTANCE"]
        assert 40 <= speed <= 120 and speed % 5 == 0 and 2 <= hours <= 5
        assert distance == speed * hours
        html = candidate_view(instance, shuffle_seed=None)["html"]
        assert f"travels {distance} km in {hours} hours" in html
        assert evaluate(instance, {"RESPONSE": float(speed)}).outcomes["SCORE"] == 1
        assert evaluate(instance, {"RESPONSE": float(speed + 5)}).outcomes["SCORE"] == 0
        drawn.add((speed, hours))
    assert len(drawn) > 20
