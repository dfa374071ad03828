"""Which language variant of each form item a candidate is shown.

An item may have translations (``item.translation_of``): each a language variant answered
exactly as the item (content/item/variants.py). An attempt shows, for each item, the
variant in the attempt's language, else in its administration's language, else the item
itself. The form keeps the item's own row (``ref``, ``item_version_id``): responses are
stored under it and statistics count it as one item whatever the language it was read in.
What was shown is recorded on the row (``variant_version_id``, ``language``) so that
scoring applies the shown variant's response processing (its keys may differ: a text
entry's accepted words are the language's own) and a reload shows the same variant.

A variant is a translation's published version, taken when first shown and then kept for
the attempt; a switch of the attempt's language shows the variant of the new language.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments.models import Administration
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.content.item.variants import variant_mismatch
from waa_ads.content.models import Item, ItemVersion, VersionStatus
from waa_ads.delivery.models import Attempt, AttemptItem

DefinitionOf = Callable[[uuid.UUID], Awaitable[ItemDefinition]]


async def wanted_languages(session: AsyncSession, attempt: Attempt) -> list[str]:
    """The languages to show the attempt's items in, best first: the attempt's, then its
    administration's."""
    wanted: list[str] = []
    if attempt.locale:
        wanted.append(attempt.locale)
    administration_locale = (
        await session.execute(
            select(Administration.locale).where(Administration.id == attempt.administration_id)
        )
    ).scalar_one_or_none()
    if administration_locale and administration_locale not in wanted:
        wanted.append(administration_locale)
    return wanted


async def deliver(
    session: AsyncSession,
    attempt: Attempt,
    rows: Sequence[AttemptItem],
    definition_of: DefinitionOf,
) -> dict[str, uuid.UUID]:
    """The item version to show for each of ``rows`` (by ``ref``): a variant's or the
    item's own. Records a changed choice on the rows (flushed with the caller's unit of
    work). A variant that no longer matches its item (its item was edited since) is not
    shown: the item is."""
    shown = {row.ref: row.variant_version_id or row.item_version_id for row in rows}
    if not rows:
        return shown
    if attempt.locale and all(row.language == attempt.locale for row in rows):
        return shown  # every item shown in the attempt's language already (no query)
    wanted = await wanted_languages(session, attempt)
    if all(
        row.language is not None and row.language == (wanted or [row.language])[0] for row in rows
    ):
        return shown  # shown in the attempt's language already: nothing can be better
    item_ids = {row.item_id for row in rows}
    found_languages = await session.execute(
        select(Item.id, Item.language).where(Item.id.in_(item_ids))
    )
    language_of: dict[uuid.UUID, str] = {}
    for item_id, language in found_languages.all():
        language_of[item_id] = language
    variants: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
    if wanted:
        found = await session.execute(
            select(Item.translation_of, Item.language, ItemVersion.id)
            .join(
                ItemVersion,
                (ItemVersion.item_id == Item.id) & (ItemVersion.version == Item.published_version),
            )
            .where(
                Item.translation_of.in_(item_ids),
                Item.language.in_(wanted),
                Item.archived_at.is_(None),
                ItemVersion.status == VersionStatus.published.value,
            )
        )
        for source_id, language, published_id in found.all():
            assert source_id is not None
            variants[(source_id, language)] = published_id
    for row in rows:
        choice: tuple[uuid.UUID | None, str | None] = (None, language_of.get(row.item_id))
        for language in wanted:
            if language == language_of.get(row.item_id):
                break
            if row.language == language and row.variant_version_id is not None:
                choice = (row.variant_version_id, language)  # kept once shown
                break
            version_id = variants.get((row.item_id, language))
            if version_id is not None and await _answers_as(
                definition_of, row.item_version_id, version_id
            ):
                choice = (version_id, language)
                break
        if (row.variant_version_id, row.language) != choice:
            row.variant_version_id, row.language = choice
        shown[row.ref] = row.variant_version_id or row.item_version_id
    await session.flush()
    return shown


async def _answers_as(
    definition_of: DefinitionOf, item_version_id: uuid.UUID, variant_version_id: uuid.UUID
) -> bool:
    source = await definition_of(item_version_id)
    variant = await definition_of(variant_version_id)
    return variant_mismatch(source, variant) is None


async def scoring_versions(
    session: AsyncSession, attempt_id: uuid.UUID
) -> dict[uuid.UUID, uuid.UUID]:
    """For the attempt's items shown as a variant: the item's version -> the variant's
    version, whose response processing scores the response."""
    rows = await session.execute(
        select(AttemptItem.item_version_id, AttemptItem.variant_version_id).where(
            AttemptItem.attempt_id == attempt_id, AttemptItem.variant_version_id.is_not(None)
        )
    )
    return {source: variant for source, variant in rows.all() if variant is not None}
