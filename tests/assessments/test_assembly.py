"""Assembling a candidate's form (assessments.assembly): seeded, fixed sections in order,
draws of distinct items from pools."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from waa_ads.assessments.assembly import FormEntry, assemble
from waa_ads.assessments.definition import AssessmentDefinition, Pinned, PinnedItem

BANK = uuid.UUID(int=1)


def _item(n: int, weight: float = 1.0) -> PinnedItem:
    return PinnedItem(
        item_id=uuid.UUID(int=1000 + n),
        item_version_id=uuid.UUID(int=2000 + n),
        version=1,
        weight=weight,
    )


def _world(
    *, fixed: int = 3, pool: int = 6, draw: int = 2, shuffle: bool = False
) -> tuple[AssessmentDefinition, Pinned]:
    fixed_items = [_item(n, weight=n + 1) for n in range(fixed)]
    pool_items = [_item(100 + n) for n in range(pool)]
    definition = AssessmentDefinition.model_validate(
        {
            "title": "Form",
            "sections": [
                {
                    "identifier": "fixed",
                    "title": "Fixed",
                    "items": [{"item_id": str(i.item_id)} for i in fixed_items],
                    "shuffle_items": shuffle,
                },
                {
                    "identifier": "drawn",
                    "title": "Drawn",
                    "selection": {"bank_id": str(BANK), "count": draw},
                },
            ],
        }
    )
    pinned = Pinned.model_validate(
        {
            "sections": [
                {"identifier": "fixed", "items": [i.model_dump() for i in fixed_items]},
                {"identifier": "drawn", "pool": [i.model_dump() for i in pool_items], "draw": draw},
            ]
        }
    )
    return definition, pinned


def _ids(form: list[FormEntry], section: str | None = None) -> list[uuid.UUID]:
    return [e.item_id for e in form if section is None or e.section == section]


def test_fixed_sections_keep_their_order_and_draws_come_from_the_pool() -> None:
    definition, pinned = _world()
    form = assemble(definition, pinned, seed=7)
    assert [e.position for e in form] == list(range(1, 6))
    assert [e.section for e in form] == ["fixed"] * 3 + ["drawn"] * 2
    assert _ids(form, "fixed") == [_item(n).item_id for n in range(3)]
    pool = {i.item_id: i for i in pinned.sections[1].pool}
    drawn = _ids(form, "drawn")
    assert len(set(drawn)) == 2
    assert set(drawn) <= set(pool)
    for entry in form:
        if entry.section == "drawn":
            assert entry.item_version_id == pool[entry.item_id].item_version_id


def test_each_entry_carries_its_pinned_version_and_weight() -> None:
    definition, pinned = _world()
    form = assemble(definition, pinned, seed=1)
    fixed = [e for e in form if e.section == "fixed"]
    assert [e.item_version_id for e in fixed] == [_item(n).item_version_id for n in range(3)]
    assert [e.weight for e in fixed] == [1.0, 2.0, 3.0]


def test_the_same_seed_gives_the_same_form_and_seeds_differ() -> None:
    definition, pinned = _world(fixed=6, pool=20, draw=5, shuffle=True)
    assert assemble(definition, pinned, seed=42) == assemble(definition, pinned, seed=42)
    forms = {tuple(_ids(assemble(definition, pinned, seed=s))) for s in range(20)}
    assert len(forms) > 1


def test_shuffled_sections_hold_the_same_items_in_another_order() -> None:
    definition, pinned = _world(fixed=8, shuffle=True)
    orders = {tuple(_ids(assemble(definition, pinned, seed=s), "fixed")) for s in range(10)}
    assert len(orders) > 1
    assert all(sorted(order) == sorted(_item(n).item_id for n in range(8)) for order in orders)


def test_an_unshuffled_section_is_never_reordered() -> None:
    definition, pinned = _world(fixed=8)
    for seed in range(10):
        assert _ids(assemble(definition, pinned, seed), "fixed") == [
            _item(n).item_id for n in range(8)
        ]


def test_a_draw_of_the_whole_pool_takes_every_item_once() -> None:
    definition, pinned = _world(pool=4, draw=4)
    assert sorted(_ids(assemble(definition, pinned, seed=3), "drawn")) == sorted(
        i.item_id for i in pinned.sections[1].pool
    )


@given(
    seed=st.integers(min_value=0, max_value=2**63),
    pool=st.integers(min_value=1, max_value=30),
    data=st.data(),
)
def test_any_seed_gives_a_complete_form_without_repeats(seed: int, pool: int, data: Any) -> None:
    draw = data.draw(st.integers(min_value=1, max_value=pool))
    definition, pinned = _world(fixed=4, pool=pool, draw=draw, shuffle=True)
    form = assemble(definition, pinned, seed)
    assert len(form) == 4 + draw
    assert len(set(_ids(form))) == len(form)
    assert [e.position for e in form] == list(range(1, len(form) + 1))
