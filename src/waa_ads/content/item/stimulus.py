"""The shared stimulus model: a passage, a picture or a table that several items are shown
beside (QTI ``qti-assessment-stimulus``), independent of the XML it came from.

Pure data like :mod:`~waa_ads.content.item.definition`: a frozen model that round-trips
through a JSON-able dict, which is what the bank stores. The body is a sanitized XHTML
fragment (elements without a namespace, MathML and SVG with their own ``xmlns``), the
same form as an item's modal feedback; it holds no interaction.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from waa_ads.content.item.definition import ItemFormatError


class StimulusDefinition(BaseModel):
    """One shared stimulus, ready to store, render beside its items and export."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identifier: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=500)
    language: str | None = Field(default=None, max_length=35)
    body: str = ""
    """The ``qti-stimulus-body`` content as a sanitized XHTML fragment."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """``media``: each path the body uses, with the file's SHA-256 (as for items)."""
    import_notes: tuple[str, ...] = ()
    """What loading changed (markup the sanitizer removed, parts not kept)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (what the bank stores); fields at their defaults omitted."""
        return self.model_dump(mode="json", exclude_defaults=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StimulusDefinition:
        """Rebuild a stimulus from :meth:`to_dict` output; malformed data raises
        :class:`ItemFormatError` naming the offending field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "stimulus"
            raise ItemFormatError(f"invalid stimulus at {where}: {first['msg']}") from None
