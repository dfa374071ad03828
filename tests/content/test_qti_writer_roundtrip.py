"""Property: for generated items using every supported construct, writing QTI 3.0 and
reading it back gives the same item, and the written document validates."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.support.qti3_schema import check_qti3
from waa_ads.content.interchange.qti.common import QTI3_NS, default_nsmap
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.interchange.qti.writer import interaction_element, write_item
from waa_ads.content.item.definition import (
    INLINE_INTERACTIONS,
    AreaMapEntry,
    AreaMapping,
    BaseType,
    Cardinality,
    Choice,
    Expression,
    Gap,
    Graphic,
    Interaction,
    InteractionType,
    ItemDefinition,
    MapEntry,
    ModalFeedback,
    OutcomeDeclaration,
    PciModule,
    PortableCustom,
    ResponseBranch,
    ResponseCondition,
    ResponseDeclaration,
    ResponseMapping,
    ResponseProcessing,
    Rule,
    SetOutcomeValue,
    Shape,
    Stylesheet,
)
from waa_ads.content.item.validation import validate_item

identifiers = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,6}", fullmatch=True)
words = st.text(alphabet="abcdefghij XYZ&<>'\"é", min_size=1, max_size=12).filter(str.strip)


@st.composite
def fragments(draw: st.DrawFn) -> str:
    text = escape(draw(words))
    if draw(st.booleans()):
        return f"{text} <b>{escape(draw(words))}</b>"
    return text


def unique_ids(draw: st.DrawFn, count: int, taken: set[str]) -> list[str]:
    # A drawn name already taken gets a numeric suffix instead of being drawn again: a
    # redraw loop can spin for thousands of draws when the data drawn from runs short.
    out: list[str] = []
    for _ in range(count):
        candidate = drawn = draw(identifiers)
        suffix = 1
        while candidate in taken:
            candidate = f"{drawn}_{suffix}"
            suffix += 1
        taken.add(candidate)
        out.append(candidate)
    return out


def choices(draw: st.DrawFn, ids: list[str], *, associable: bool = False) -> tuple[Choice, ...]:
    return tuple(
        Choice(
            identifier=i,
            content=draw(fragments()),
            fixed=draw(st.booleans()),
            match_max=draw(st.integers(0, 3)) if associable else None,
            match_min=draw(st.none() | st.integers(0, 1)) if associable else None,
            attributes=draw(st.sampled_from([{}, {"class": "wide"}, {"template-identifier": "T"}])),
        )
        for i in ids
    )


def mapping_for(draw: st.DrawFn, keys: list[Any], *, strings: bool = False) -> ResponseMapping:
    low = draw(st.none() | st.sampled_from([-1.0, 0.0]))
    high = draw(st.none() | st.sampled_from([1.0, 2.5]))
    chosen = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=4, unique_by=repr))
    return ResponseMapping(
        default_value=draw(st.sampled_from([0.0, -0.5, 0.25])),
        lower_bound=low,
        upper_bound=high,
        entries=tuple(
            MapEntry(
                key=k,
                value=draw(st.sampled_from([1.0, 0.5, -1.0, 2.0, 0.1])),
                case_sensitive=draw(st.booleans()) if strings else True,
            )
            for k in chosen
        ),
    )


IMG = Graphic(
    markup='<img src="images/map.png" alt="map" width="200" height="100"/>',
    src="images/map.png",
    width="200",
    height="100",
)
# A picture object is read and written as an img (test_qti_writer.py); an object that
# is not an image stays an object.
OBJECT = Graphic(
    markup='<object data="images/map.mp4" type="video/mp4" width="200" height="100"/>',
    src="images/map.mp4",
    media_type="video/mp4",
    width="200",
    height="100",
)

AUDIO = Graphic(markup='<audio src="sounds/bell.ogg"/>', src="sounds/bell.ogg")


@st.composite
def interaction_and_declaration(
    draw: st.DrawFn, response: str, taken: set[str]
) -> tuple[Interaction, ResponseDeclaration]:
    kind = draw(st.sampled_from(list(InteractionType)))
    common: dict[str, Any] = {
        "type": kind,
        "response_identifier": response,
        "attributes": draw(st.sampled_from([{}, {"class": "qti-labels-none"}])),
    }
    if kind not in INLINE_INTERACTIONS and kind not in (
        InteractionType.POSITION_OBJECT,
        InteractionType.PORTABLE_CUSTOM,
    ):
        common["prompt"] = draw(st.none() | fragments())
    card, base = Cardinality.SINGLE, BaseType.IDENTIFIER
    correct: Any = None
    mapping: ResponseMapping | None = None
    area: AreaMapping | None = None
    fields: dict[str, Any] = {}
    if kind in (InteractionType.CHOICE, InteractionType.ORDER, InteractionType.INLINE_CHOICE):
        ids = unique_ids(draw, draw(st.integers(2, 4)), taken)
        fields["choices"] = choices(draw, ids)
        fields["shuffle"] = draw(st.booleans())
        if kind is InteractionType.CHOICE:
            many = draw(st.booleans())
            fields["max_choices"] = draw(st.sampled_from([0, 2])) if many else 1
            fields["min_choices"] = draw(st.none() | st.just(1))
            fields["orientation"] = draw(st.none() | st.sampled_from(["horizontal", "vertical"]))
            card = Cardinality.MULTIPLE if many else Cardinality.SINGLE
            picked = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=2, unique=True))
            correct = picked if many else picked[0]
            mapping = draw(st.none() | st.builds(lambda: mapping_for(draw, ids)))
        elif kind is InteractionType.ORDER:
            card = Cardinality.ORDERED
            correct = draw(st.permutations(ids))
        else:
            fields["required"] = draw(st.none() | st.booleans())
            correct = draw(st.sampled_from(ids))
    elif kind in (InteractionType.TEXT_ENTRY, InteractionType.NUMERIC_ENTRY):
        fields["expected_length"] = draw(st.none() | st.integers(1, 40))
        fields["pattern_mask"] = draw(st.none() | st.just("[0-9]+"))
        fields["placeholder_text"] = draw(st.none() | st.just("answer"))
        if kind is InteractionType.TEXT_ENTRY:
            base = BaseType.STRING
            correct = draw(st.none() | st.just("Paris"))
            mapping = draw(
                st.none()
                | st.builds(lambda: mapping_for(draw, ["Paris", "paris", "Rome"], strings=True))
            )
        else:
            base = draw(st.sampled_from([BaseType.INTEGER, BaseType.FLOAT]))
            correct = 42 if base is BaseType.INTEGER else draw(st.sampled_from([3.14, -0.5, 1e-05]))
    elif kind in (InteractionType.MATCH, InteractionType.GAP_MATCH, InteractionType.ASSOCIATE):
        card = Cardinality.MULTIPLE
        fields["shuffle"] = draw(st.booleans())
        fields["max_associations"] = draw(st.none() | st.integers(0, 3))
        if kind is InteractionType.MATCH:
            left = unique_ids(draw, 2, taken)
            right = unique_ids(draw, 2, taken)
            fields["match_sets"] = (
                choices(draw, left, associable=True),
                choices(draw, right, associable=True),
            )
            pairs = [[a, b] for a in left for b in right]
            base = BaseType.DIRECTED_PAIR
        elif kind is InteractionType.GAP_MATCH:
            texts = unique_ids(draw, 2, taken)
            gaps = unique_ids(draw, 2, taken)
            fields["choices"] = choices(draw, texts, associable=True)
            fields["gaps"] = (Gap(identifier=gaps[0]), Gap(identifier=gaps[1], required=True))
            fields["content"] = (
                f'<p>{escape(draw(words))} <qti-gap identifier="{gaps[0]}"/> and '
                f'<qti-gap identifier="{gaps[1]}" required="true"/>.</p>'
            )
            pairs = [[a, b] for a in texts for b in gaps]
            base = BaseType.DIRECTED_PAIR
        else:
            ids = unique_ids(draw, 3, taken)
            fields["choices"] = choices(draw, ids, associable=True)
            pairs = [sorted([a, b]) for a in ids for b in ids if a < b]
            base = BaseType.PAIR
        correct = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=2, unique_by=repr))
        if fields["max_associations"]:
            correct = correct[: fields["max_associations"]]
        mapping = draw(st.none() | st.builds(lambda: mapping_for(draw, pairs)))
    elif kind is InteractionType.HOTTEXT:
        ids = unique_ids(draw, 2, taken)
        texts = [escape(draw(words)) for _ in ids]
        fields["content"] = (
            "<p>"
            + " ".join(
                f'<qti-hottext identifier="{i}">{t}</qti-hottext>'
                for i, t in zip(ids, texts, strict=True)
            )
            + "</p>"
        )
        fields["choices"] = tuple(
            Choice(identifier=i, content=t) for i, t in zip(ids, texts, strict=True)
        )
        fields["max_choices"] = 1
        correct = ids[0]
    elif kind in (InteractionType.HOTSPOT, InteractionType.SELECT_POINT):
        fields["graphic"] = draw(st.sampled_from([IMG, OBJECT]))
        fields["max_choices"] = draw(st.sampled_from([1, 2]))
        card = Cardinality.SINGLE if fields["max_choices"] == 1 else Cardinality.MULTIPLE
        if kind is InteractionType.HOTSPOT:
            ids = unique_ids(draw, 2, taken)
            fields["choices"] = (
                Choice(identifier=ids[0], shape=Shape.CIRCLE, coords=(50.0, 50.0, 10.0)),
                Choice(identifier=ids[1], shape=Shape.POLY, coords=(0.0, 0.0, 20.5, 0.0, 10.0, 15.0),
                       attributes={"hotspot-label": "corner"}),
            )  # fmt: skip
            correct = ids[0] if card is Cardinality.SINGLE else ids
        else:
            base = BaseType.POINT
            correct = [10, 20] if card is Cardinality.SINGLE else [[10, 20], [30, -4]]
            area = AreaMapping(
                default_value=-0.5,
                lower_bound=draw(st.none() | st.just(0.0)),
                entries=(
                    AreaMapEntry(shape=Shape.RECT, coords=(0, 0, 50, 50), value=1.0),
                    AreaMapEntry(shape=Shape.ELLIPSE, coords=(100, 50, 20, 10), value=0.5),
                    AreaMapEntry(shape=Shape.DEFAULT, value=0.0),
                ),
            )
    elif kind in (
        InteractionType.GRAPHIC_ORDER,
        InteractionType.GRAPHIC_ASSOCIATE,
        InteractionType.GRAPHIC_GAP_MATCH,
    ):
        fields["graphic"] = IMG
        ids = unique_ids(draw, 3, taken)
        associable = kind is not InteractionType.GRAPHIC_ORDER
        spots = tuple(
            Choice(
                identifier=i,
                shape=Shape.CIRCLE,
                coords=(30.0 * (n + 1), 50.0, 10.0),
                match_max=draw(st.sampled_from([1, 2])) if associable else None,
                attributes={"hotspot-label": f"spot {n}"} if n else {},
            )
            for n, i in enumerate(ids)
        )
        if kind is InteractionType.GRAPHIC_ORDER:
            card, fields["choices"] = Cardinality.ORDERED, spots
            fields["max_choices"] = draw(st.none() | st.just(3))
            correct = draw(st.permutations(ids))
        else:
            card = Cardinality.MULTIPLE
            fields["max_associations"] = draw(st.none() | st.integers(1, 3))
            if kind is InteractionType.GRAPHIC_ASSOCIATE:
                fields["choices"] = spots
                pairs = [sorted([a, b]) for a in ids for b in ids if a < b]
                base = BaseType.PAIR
            else:
                labels = unique_ids(draw, 2, taken)
                fields["choices"] = tuple(
                    Choice(
                        identifier=label,
                        content=f'<img src="images/{label}.png" alt="{label}"/>',
                        image=True,
                        match_max=1,
                    )
                    for label in labels
                )
                fields["hotspots"] = spots
                pairs = [[a, b] for a in labels for b in ids]
                base = BaseType.DIRECTED_PAIR
            correct = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=2, unique_by=repr))
            if fields["max_associations"]:
                correct = correct[: fields["max_associations"]]
            mapping = draw(st.none() | st.builds(lambda: mapping_for(draw, pairs)))
    elif kind is InteractionType.POSITION_OBJECT:
        base = BaseType.POINT
        fields["graphic"] = IMG
        fields["stage"] = IMG
        fields["max_choices"] = draw(st.sampled_from([1, 2]))
        card = Cardinality.SINGLE if fields["max_choices"] == 1 else Cardinality.MULTIPLE
        correct = [10, 20] if card is Cardinality.SINGLE else [[10, 20], [30, 4]]
    elif kind is InteractionType.DRAWING:
        base = BaseType.FILE
        fields["graphic"] = IMG
    elif kind is InteractionType.END_ATTEMPT:
        base = BaseType.BOOLEAN
        fields["title"] = draw(st.sampled_from(["Skip", "I am done"]))
    elif kind is InteractionType.MEDIA:
        base = BaseType.INTEGER
        fields["graphic"] = AUDIO
        fields["autostart"] = draw(st.booleans())
        fields["min_plays"] = draw(st.none() | st.just(1))
        fields["max_plays"] = draw(st.none() | st.integers(0, 3))
        fields["loop"] = draw(st.none() | st.booleans())
    elif kind is InteractionType.PORTABLE_CUSTOM:
        base = BaseType.INTEGER
        correct = draw(st.none() | st.integers(1, 5))
        fields["pci"] = PortableCustom(
            type_identifier="urn:example:likert",
            module=draw(st.none() | st.just("likert")),
            modules=(
                PciModule(
                    id="likert",
                    primary_path="modules/likert.js",
                    fallback_path=draw(st.none() | st.just("modules/old.js")),
                ),
            ),
            markup=draw(st.sampled_from(["", "<div>Scale</div>"])),
            properties=draw(st.sampled_from([{}, {"levels": "5", "low": "a & b"}])),
        )
    elif kind is InteractionType.EXTENDED_TEXT:
        base = BaseType.STRING
        card = draw(st.sampled_from([Cardinality.SINGLE, Cardinality.ORDERED]))
        fields["expected_lines"] = draw(st.none() | st.integers(1, 20))
        fields["format"] = draw(st.none() | st.sampled_from(["plain", "xhtml"]))
        fields["max_strings"] = 3 if card is Cardinality.ORDERED else None
    elif kind is InteractionType.UPLOAD:
        base = BaseType.FILE
        fields["upload_types"] = draw(
            st.sampled_from([(), ("application/pdf",), ("image/png", "image/jpeg")])
        )
    else:  # slider
        base = draw(st.sampled_from([BaseType.INTEGER, BaseType.FLOAT]))
        fields["lower_bound"] = 0.0
        fields["upper_bound"] = draw(st.sampled_from([10.0, 100.0]))
        fields["step"] = draw(st.none() | st.just(2.0))
        fields["step_label"] = draw(st.none() | st.booleans())
        fields["reverse"] = draw(st.none() | st.booleans())
        fields["orientation"] = draw(st.none() | st.just("vertical"))
        correct = 4 if base is BaseType.INTEGER else 4.5
    declaration = ResponseDeclaration(
        identifier=response,
        cardinality=card,
        base_type=base,
        correct_response=correct,
        mapping=mapping,
        area_mapping=area,
    )
    return Interaction(**common, **fields), declaration


def float_expression(
    draw: st.DrawFn, declarations: list[ResponseDeclaration], depth: int
) -> Expression:
    mapped = [d.identifier for d in declarations if d.mapping is not None]
    options = (
        ["base", "sum", "size"] + (["map"] if mapped else []) + (["cond"] if depth < 2 else [])
    )
    choice = draw(st.sampled_from(options))
    if choice == "base" or depth >= 3:
        return Expression(
            op="base_value",
            attrs={"base_type": "float", "value": draw(st.sampled_from([0.0, 1.0, 0.5, -2.25]))},
        )
    if choice == "map":
        return Expression(op="map_response", attrs={"identifier": draw(st.sampled_from(mapped))})
    if choice == "size":
        target = draw(st.sampled_from(declarations)).identifier
        return Expression(
            op="integer_to_float",
            args=(
                Expression(
                    op="container_size",
                    args=(Expression(op="variable", attrs={"identifier": target}),),
                ),
            ),
        )
    return Expression(op="sum", args=tuple(float_expression(draw, declarations, depth + 1) for _ in range(draw(st.integers(1, 3)))))  # fmt: skip


def condition(draw: st.DrawFn, declarations: list[ResponseDeclaration]) -> Expression:
    declaration = draw(st.sampled_from(declarations))
    variable = Expression(op="variable", attrs={"identifier": declaration.identifier})
    kind = draw(st.sampled_from(["null", "match", "not", "and", "equal"]))
    if kind == "null":
        return Expression(op="is_null", args=(variable,))
    if kind == "match":
        return Expression(
            op="match",
            args=(variable, Expression(op="correct", attrs={"identifier": declaration.identifier})),
        )
    if kind == "not":
        return Expression(op="not", args=(condition(draw, declarations),))
    if kind == "and":
        return Expression(
            op=draw(st.sampled_from(["and", "or"])),
            args=(condition(draw, declarations), condition(draw, declarations)),
        )
    return Expression(
        op="equal",
        attrs=draw(st.sampled_from([{}, {"tolerance_mode": "absolute", "tolerance": [0.5]},
                                    {"tolerance_mode": "relative", "tolerance": [1.0, 2.0], "include_upper_bound": False}])),
        args=(float_expression(draw, declarations, 2), float_expression(draw, declarations, 2)),
    )  # fmt: skip


def rules(draw: st.DrawFn, declarations: list[ResponseDeclaration]) -> tuple[Rule, ...]:
    def set_score() -> SetOutcomeValue:
        return SetOutcomeValue(
            identifier="SCORE", expression=float_expression(draw, declarations, 0)
        )

    out: list[Rule] = [set_score()]
    if draw(st.booleans()):
        out.append(
            ResponseCondition(
                branches=tuple(
                    ResponseBranch(condition=condition(draw, declarations), rules=(set_score(),))
                    for _ in range(draw(st.integers(1, 2)))
                ),
                otherwise=draw(st.none() | st.just((set_score(),))),
            )
        )
    if draw(st.booleans()):
        out.append(
            SetOutcomeValue(
                identifier="FEEDBACK",
                expression=Expression(
                    op="base_value", attrs={"base_type": "identifier", "value": "done"}
                ),
            )
        )
    return tuple(out)


@st.composite
def items(draw: st.DrawFn) -> ItemDefinition:
    taken: set[str] = {"RESPONSE", "SCORE", "MAXSCORE", "FEEDBACK"}
    count = draw(st.integers(1, 3))
    responses = ["RESPONSE", *unique_ids(draw, count - 1, taken)]
    pairs = [draw(interaction_and_declaration(r, taken)) for r in responses]
    interactions = [i for i, _ in pairs]
    declarations = [d for _, d in pairs]
    body = etree.Element(f"{{{QTI3_NS}}}qti-item-body", nsmap=default_nsmap(QTI3_NS))
    intro = etree.SubElement(body, f"{{{QTI3_NS}}}p")
    intro.text = draw(words)
    for interaction in interactions:
        holder = (
            etree.SubElement(body, f"{{{QTI3_NS}}}p")
            if interaction.type in INLINE_INTERACTIONS
            else body
        )
        interaction_element(holder, interaction)
    body_xml = etree.tostring(body, encoding="unicode")
    outcomes = [
        OutcomeDeclaration(identifier="SCORE", base_type=BaseType.FLOAT,
                           default_value=draw(st.none() | st.just(0.0)),
                           normal_maximum=draw(st.none() | st.just(5.0))),
        OutcomeDeclaration(identifier="FEEDBACK", base_type=BaseType.IDENTIFIER,
                           attributes=draw(st.sampled_from([{}, {"view": "candidate"}]))),
    ]  # fmt: skip
    first = declarations[0]
    templates: list[str | None] = [None, "match_correct"]
    if first.mapping is not None:
        templates.append("map_response")
    if first.area_mapping is not None:
        templates.append("map_response_point")
    template = draw(st.sampled_from(templates))
    own_rules = rules(draw, declarations) if template is None or draw(st.booleans()) else None
    processing: ResponseProcessing | None = ResponseProcessing(template=template, rules=own_rules)
    if template is None and draw(st.integers(0, 4)) == 0:
        processing = None  # no response processing at all (a human-scored item)
    item = ItemDefinition(
        identifier=draw(identifiers),
        title=draw(words),
        language=draw(st.none() | st.sampled_from(["en", "nl-BE"])),
        label=draw(st.none() | st.just("L-1")),
        adaptive=draw(st.booleans()),
        time_dependent=draw(st.booleans()),
        tool_name=draw(st.none() | st.just("Editor")),
        tool_version=draw(st.none() | st.just("1.2")),
        body=body_xml,
        interactions=tuple(interactions),
        response_declarations=tuple(declarations),
        outcome_declarations=tuple(outcomes),
        response_processing=processing,
        modal_feedback=draw(st.sampled_from([(), (ModalFeedback(outcome_identifier="FEEDBACK", identifier="done", title="Done", content="<p>Thanks</p>"),)])),
        stylesheets=draw(st.sampled_from([(), (Stylesheet(href="item.css", media="screen"),)])),
    )  # fmt: skip
    validate_item(item)
    return item


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)
@given(items())
def test_read_write_read_preserves_every_construct(item: ItemDefinition) -> None:
    written = write_item(item)
    check_qti3(written)
    read = parse_item(written)
    assert read == item
    again = parse_item(write_item(read))
    assert again == read
    assert ItemDefinition.from_dict(read.to_dict()) == read
