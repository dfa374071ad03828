"""Item templates: reading and writing, values per seed, printing and scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

import waa_ads.scoring.engine as engine
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.interchange.qti.writer import write_item
from waa_ads.content.item.definition import ItemDefinition, ItemFormatError
from waa_ads.content.item.templates import format_value, instance_for, instantiate
from waa_ads.content.render.candidate import candidate_view

FIXTURES = Path(__file__).parent.parent / "fixtures" / "items" / "templates"


def load(name: str) -> ItemDefinition:
    return parse_item((FIXTURES / name).read_bytes())


def values(item: ItemDefinition) -> dict[str, object]:
    return {d.identifier: d.default_value for d in item.template_declarations}


def test_qti_2_and_3_read_the_same_and_round_trip() -> None:
    older, newer = load("addition.v2p2.xml"), load("addition.v3p0.xml")
    assert older == newer
    for name in ("addition.v3p0.xml", "price.v3p0.xml", "parity.v2p2.xml"):
        item = load(name)
        assert item.is_template
        assert parse_item(write_item(item)) == item
        assert ItemDefinition.from_dict(item.to_dict()) == item


def test_same_seed_same_values_and_seeds_vary() -> None:
    item = load("addition.v3p0.xml")
    assert instantiate(item, 7) == instantiate(item, 7)
    assert instance_for(item, 99, "i1") == instance_for(item, 99, "i1")
    seen = {tuple(values(instantiate(item, seed)).values()) for seed in range(50)}
    assert len(seen) > 10


def test_constraint_is_honoured_and_key_follows_values() -> None:
    item = load("addition.v3p0.xml")
    for seed in range(200):
        instance = instantiate(item, seed)
        a, b = values(instance)["A"], values(instance)["B"]
        assert a != b
        assert 1 <= a <= 20 and 1 <= b <= 20  # type: ignore[operator]
        assert instance.response_declarations[0].correct_response == a + b  # type: ignore[operator]


def test_unsatisfiable_constraint_falls_back_to_defaults() -> None:
    xml = (
        (FIXTURES / "addition.v3p0.xml")
        .read_text()
        .replace('<qti-random-integer min="1" max="20"/>', '<qti-random-integer min="4" max="4"/>')
    )
    instance = instantiate(parse_item(xml), 3)
    assert values(instance) == {"A": 2, "B": 3}


def test_printed_variables_and_math_variables() -> None:
    item = load("addition.v3p0.xml")
    instance = instantiate(item, 11)
    a, b = values(instance)["A"], values(instance)["B"]
    html = candidate_view(instance, shuffle_seed=None)["html"]
    assert f"What is {a} + {b}?" in html
    assert f"<mn>{a}</mn><mo>+</mo><mn>{b}</mn>" in html
    price = instantiate(load("price.v3p0.xml"), 5)
    html = candidate_view(price, shuffle_seed=None)["html"]
    assert f"costs {values(price)['PRICE']:.2f} euros" in html
    assert format_value(3.14159, format="%.2f") == "3.14"
    assert format_value(7, format="%03d") == "007"
    assert format_value(255, base=16) == "ff"
    assert format_value([1, 2, 3], container=True, delimiter=", ") == "1, 2, 3"
    assert format_value([1, 2, 3], container=True, index=2) == "2"
    assert format_value(2.0) == "2"


def test_template_condition_chooses_key_and_block() -> None:
    item = load("parity.v2p2.xml")
    kinds = set()
    for seed in range(40):
        instance = instantiate(item, seed)
        n = values(instance)["N"]
        parity = "even" if n % 2 == 0 else "odd"  # type: ignore[operator]
        kinds.add(parity)
        assert instance.response_declarations[0].correct_response == parity
        html = candidate_view(instance, shuffle_seed=None)["html"]
        assert ("Hint: look at the last digit" in html) == (parity == "even")
        assert engine.evaluate(instance, {"RESPONSE": parity}).outcomes["SCORE"] == 1.0
        other = "odd" if parity == "even" else "even"
        assert engine.evaluate(instance, {"RESPONSE": other}).outcomes["SCORE"] == 0.0
    assert kinds == {"even", "odd"}


def test_each_candidate_scored_against_their_own_values() -> None:
    item = load("addition.v3p0.xml")
    first, second = instance_for(item, 1, "i1"), instance_for(item, 2, "i1")
    right_first = first.response_declarations[0].correct_response
    right_second = second.response_declarations[0].correct_response
    assert right_first != right_second
    assert engine.evaluate(first, {"RESPONSE": right_first}).outcomes["SCORE"] == 1.0
    assert engine.evaluate(second, {"RESPONSE": right_second}).outcomes["SCORE"] == 1.0
    assert engine.evaluate(second, {"RESPONSE": right_first}).outcomes["SCORE"] == 0.0
    price = instance_for(load("price.v3p0.xml"), 4, "i2")
    total = price.response_declarations[0].correct_response
    assert engine.evaluate(price, {"RESPONSE": round(total, 2)}).outcomes["SCORE"] == 1.0
    assert engine.evaluate(price, {"RESPONSE": total + 1}).outcomes["SCORE"] == 0.0


def test_candidate_payload_holds_no_template_processing_or_key() -> None:
    item = load("addition.v3p0.xml")
    instance = instantiate(item, 21)
    payload = json.dumps(candidate_view(instance, shuffle_seed=None))
    assert "qti-template" not in payload.lower()
    assert "random-integer" not in payload.lower()
    assert "printed" not in payload.lower()
    assert f'"{instance.response_declarations[0].correct_response}"' not in payload


@pytest.mark.parametrize(
    ("replace", "by", "reason"),
    [
        ("<qti-template-constraint>", "<qti-template-constraint-x>", "qti-template-constraint-x"),
        ('<qti-printed-variable identifier="A"/>',
         '<qti-printed-variable identifier="A" field="x"/>', "unsupported attribute 'field'"),
        ('<qti-random-integer min="1" max="20"/>', '<qti-random-integer min="9" max="2"/>',
         "max is less than min"),
    ],
)  # fmt: skip
def test_import_refuses_unsupported_constructs(replace: str, by: str, reason: str) -> None:
    xml = (FIXTURES / "addition.v3p0.xml").read_text()
    if replace == "<qti-template-constraint>":
        xml = xml.replace("</qti-template-constraint>", "</qti-template-constraint-x>")
    xml = xml.replace(replace, by, 1)
    with pytest.raises(ItemFormatError) as caught:
        parse_item(xml)
    assert reason in caught.value.detail


def test_random_values_stay_refused_in_response_processing() -> None:
    xml = (
        (FIXTURES / "price.v3p0.xml")
        .read_text()
        .replace('<qti-correct identifier="RESPONSE"/>', '<qti-random-float min="1" max="2"/>')
    )
    with pytest.raises(ItemFormatError) as caught:
        parse_item(xml)
    assert "only in template processing" in caught.value.detail


def test_exports_of_cloned_items_fit_the_qti3_schema() -> None:
    """Written as QTI 3.0, every template fixture (QTI 2.2 and 3.0 sources) and the demo's
    cloned item fit the schema subset the product ships, template elements included; a
    misspelt template rule or a template block without show-hide does not."""
    from tests.support.qti3_schema import check_qti3

    demo = Path(__file__).parents[2] / "src/waa_ads/demo/content/items/numeric-train-speed.xml"
    sources = [*sorted(FIXTURES.glob("*.xml")), demo]
    assert len(sources) >= 5
    for source in sources:
        written = write_item(parse_item(source.read_bytes()))
        assert b"<qti-template-processing>" in written, source.name
        check_qti3(written)
    written = write_item(load("parity.v2p2.xml"))
    for broken in (
        written.replace(b"qti-template-else>", b"qti-template-otherwise>"),
        written.replace(b' show-hide="show"', b""),
        written.replace(b"<qti-random>", b"<qti-random-pick>").replace(
            b"</qti-random>", b"</qti-random-pick>"
        ),
    ):
        with pytest.raises(etree.DocumentInvalid):
            check_qti3(broken)
