"""Assembling a candidate's form from a published assessment version: pure and seeded, so
the same seed always gives the same form."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from waa_ads.assessments.definition import AssessmentDefinition, Pinned, PinnedItem


@dataclass(frozen=True, slots=True)
class FormEntry:
    position: int
    section: str
    item_id: uuid.UUID
    item_version_id: uuid.UUID
    weight: float


def assemble(definition: AssessmentDefinition, pinned: Pinned, seed: int) -> list[FormEntry]:
    """The form: fixed sections in their order (shuffled when the section says so), and
    ``draw`` distinct items from each selection section's pool. Adaptive sections give no
    entries here: delivery appends their items one at a time."""
    entries: list[FormEntry] = []
    by_id = {s.identifier: s for s in pinned.sections}
    for section in definition.sections:
        pin = by_id[section.identifier]
        if section.adaptive is not None:
            continue
        rng = random.Random(f"{seed}:{section.identifier}")  # noqa: S311 (not for secrets)
        chosen: list[PinnedItem]
        if pin.draw is not None:
            chosen = rng.sample(list(pin.pool), pin.draw)
        else:
            chosen = list(pin.items)
            if section.shuffle_items:
                rng.shuffle(chosen)
        for item in chosen:
            entries.append(
                FormEntry(
                    position=len(entries) + 1,
                    section=section.identifier,
                    item_id=item.item_id,
                    item_version_id=item.item_version_id,
                    weight=item.weight,
                )
            )
    return entries
