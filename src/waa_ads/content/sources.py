"""Turning what an author sends (native YAML/JSON, QTI XML, the stored form) into an item."""

from __future__ import annotations

import json

from waa_ads.content.item.definition import ItemDefinition, ItemFormatError
from waa_ads.content.item.validation import validate_item
from waa_ads.content.schemas import ItemMetadata, ItemSource


def parse_source(source: ItemSource) -> ItemDefinition:
    """Parse and validate an item; a malformed one raises ItemFormatError (422) with the
    reason."""
    item = _parse(source)
    check_document_metadata(item)
    return item


def check_document_metadata(item: ItemDefinition) -> None:
    """The bank metadata an item carries in its own ``metadata`` (tags, subject...) must be
    well-formed: it becomes the version's tags and subject."""
    try:
        ItemMetadata.from_document(item.metadata)
    except ValueError as exc:
        raise ItemFormatError(str(exc)) from None


def _parse(source: ItemSource) -> ItemDefinition:
    if source.format == "qti":
        from waa_ads.content.interchange.qti.reader import parse_item

        if not isinstance(source.content, str):
            raise ItemFormatError("a QTI item is sent as XML text")
        return parse_item(source.content.encode("utf-8"))
    if source.format == "native":
        from waa_ads.content.interchange.native import load_native

        text = source.content if isinstance(source.content, str) else json.dumps(source.content)
        return load_native(text)
    if not isinstance(source.content, dict):
        raise ItemFormatError("a stored item definition is sent as a JSON object")
    item = ItemDefinition.from_dict(source.content)
    validate_item(item)
    return item
