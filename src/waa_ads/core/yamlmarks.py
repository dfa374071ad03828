"""Strict YAML loading and naming where in a document a problem stands (pure).

The YAML documents the product accepts (rubrics, integrity policies) are read with
:class:`StrictLoader`: safe YAML without aliases (no "billion laughs") and without duplicate
keys (which PyYAML would otherwise resolve silently to the last one). Problems are reported
with :func:`field_path`, a path such as ``rules[1].when``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import yaml


class StrictLoader(yaml.SafeLoader):
    """Safe YAML without aliases and without duplicate keys. Subclass it and set
    ``document_kind`` to name the document in the alias refusal."""

    document_kind: ClassVar[str] = "document"

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"anchors and aliases are not allowed in a {self.document_kind}",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def field_path(parts: Any) -> str:
    """A field's path for people: ``("rules", 1, "when")`` is ``rules[1].when``; the empty
    path is ``(document)``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"
