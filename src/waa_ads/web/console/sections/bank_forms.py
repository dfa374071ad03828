"""The item editor's forms: a native item document (docs/native-format.md) built from a
form of fields per interaction type, and the form filled back from a stored item where a
form can say everything the item says.

The API is the judge of the document: a refusal's ``detail`` names the place in the native
document (``interactions[0].choices[1].id: missing``), which :func:`field_of` turns into
the form's field, so the message shows beside it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import yaml
from lxml import etree

#: Interaction types with a form of their own; the others are written in the source view.
FORM_TYPES: Final = (
    "choice",
    "text_entry",
    "numeric_entry",
    "extended_text",
    "order",
    "match",
    "associate",
    "slider",
)
#: Types whose interaction sits in a line of text: no prompt of their own.
INLINE: Final = frozenset({"text_entry", "numeric_entry"})
#: Rows of options shown beyond those the item has, to add new ones.
SPARE_ROWS: Final = 2
#: Bank metadata fields of the form and where the API reports them.
METADATA_FIELDS: Final = {
    "tags": "metadata.tags",
    "subject": "metadata.subject",
    "standards": "metadata.standards",
    "estimated_time_s": "metadata.estimated_time_s",
    "change_note": "change_note",
}
_BANK_METADATA: Final = frozenset({"tags", "subject", "standards", "estimated_time_s"})
_QTI_NS: Final = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"


def _rows(prefix: str, choices: list[Mapping[str, Any]], minimum: int = 2) -> int:
    return max(len(choices) + SPARE_ROWS, minimum)


def stem_of(body: str) -> str | None:
    """The item body's markup without its interaction, as the native format writes it
    (elements without a namespace); ``None`` when the body holds more than one
    interaction or QTI elements a form cannot show (feedback, rubric blocks...)."""
    try:
        root = etree.fromstring(body.encode())
    except etree.XMLSyntaxError:
        return None
    found = 0
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        name = etree.QName(el).localname
        if name.endswith("-interaction"):
            found += 1
            parent = el.getparent()
            assert parent is not None
            alone = not (parent.text or "").strip() and not (el.tail or "").strip()
            if parent is not root and parent.getparent() is root and len(parent) == 1 and alone:
                root.remove(parent)
                continue
            _drop(el)
    if found != 1:
        return None
    for el in root.iterdescendants():
        if isinstance(el.tag, str) and etree.QName(el).localname.startswith("qti-"):
            return None
    parts = [root.text or ""]
    parts.extend(etree.tostring(child, encoding="unicode", with_tail=True) for child in root)
    # The body's elements are XHTML in the QTI namespace; the native format writes them
    # without one (MathML keeps its own).
    parts = [p.replace(f' xmlns="{_QTI_NS}"', "") for p in parts]
    return "".join(parts).strip()


def _drop(el: Any) -> None:
    """Remove ``el`` keeping its tail text."""
    parent = el.getparent()
    tail = el.tail or ""
    previous = el.getprevious()
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def editable(definition: Mapping[str, Any]) -> str | None:
    """The interaction type whose form can edit ``definition`` without losing anything,
    or ``None`` (then the source view edits it)."""
    interactions = definition.get("interactions") or []
    declarations = definition.get("response_declarations") or []
    if len(interactions) != 1 or len(declarations) != 1:
        return None
    interaction = interactions[0]
    kind = str(interaction.get("type"))
    if kind not in FORM_TYPES or interaction.get("response_identifier") != "RESPONSE":
        return None
    declaration = declarations[0]
    if any(declaration.get(k) for k in ("mapping", "area_mapping", "default_value")):
        return None
    processing = definition.get("response_processing")
    if processing not in (None, {"template": "match_correct"}):
        return None
    outcomes = [o.get("identifier") for o in definition.get("outcome_declarations") or []]
    if any(o != "SCORE" for o in outcomes):
        return None
    extra = set(definition) - {
        "identifier",
        "title",
        "language",
        "body",
        "interactions",
        "response_declarations",
        "outcome_declarations",
        "response_processing",
        "metadata",
        "rubric",
    }
    if any(definition.get(k) for k in extra):
        return None
    if stem_of(str(definition.get("body", ""))) is None:
        return None
    return kind


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _pair_text(pair: Any) -> str:
    return " ".join(pair) if isinstance(pair, list | tuple) else str(pair)


def values_from_definition(
    definition: Mapping[str, Any], version: Mapping[str, Any]
) -> dict[str, Any]:
    """The editor's field values for a stored item (one :func:`editable` accepts)."""
    interaction = definition["interactions"][0]
    declaration = definition["response_declarations"][0]
    correct = declaration.get("correct_response")
    kind = interaction["type"]
    values: dict[str, Any] = {
        "type": kind,
        "identifier": definition["identifier"],
        "title": definition.get("title", ""),
        "language": definition.get("language") or "",
        "stem": stem_of(str(definition.get("body", ""))) or "",
        "prompt": interaction.get("prompt") or "",
        "shuffle": bool(interaction.get("shuffle")),
        "tags": ", ".join(version.get("tags") or []),
        "subject": version.get("subject") or "",
        "standards": ", ".join(version.get("standards") or []),
        "estimated_time_s": _number(version.get("estimated_time_s")),
        "expected_version": version.get("version", ""),
        "rubric_version_id": version.get("rubric_version_id") or "",
    }
    if kind in ("choice", "order", "associate"):
        choices = interaction.get("choices") or []
        chosen = (
            set(correct if isinstance(correct, list) else [correct]) if kind == "choice" else set()
        )
        if kind == "order" and isinstance(correct, list):
            values["correct"] = " ".join(correct)
        for n, choice in enumerate(choices, start=1):
            values[f"choice-{n}-id"] = choice["identifier"]
            values[f"choice-{n}-content"] = choice.get("content", "")
            values[f"choice-{n}-fixed"] = bool(choice.get("fixed"))
            values[f"choice-{n}-correct"] = kind == "choice" and choice["identifier"] in chosen
            if choice.get("match_max") is not None:
                values[f"choice-{n}-match_max"] = _number(choice.get("match_max"))
        values["choice_rows"] = _rows("choice", choices, 4 if kind == "choice" else 3)
        values["max_choices"] = _number(interaction.get("max_choices", 1))
    if kind == "match":
        sets = interaction.get("match_sets") or [[], []]
        for side, entries in (("source", sets[0]), ("target", sets[1])):
            for n, choice in enumerate(entries, start=1):
                values[f"{side}-{n}-id"] = choice["identifier"]
                values[f"{side}-{n}-content"] = choice.get("content", "")
                values[f"{side}-{n}-match_max"] = _number(choice.get("match_max"))
            values[f"{side}_rows"] = _rows(side, entries, 3)
    if kind in ("match", "associate"):
        pairs = correct if isinstance(correct, list) else []
        values["pairs"] = "\n".join(_pair_text(p) for p in pairs)
        values["max_associations"] = _number(interaction.get("max_associations"))
    if kind in ("text_entry", "numeric_entry", "slider"):
        values["correct"] = _number(correct)
    if kind in ("text_entry", "numeric_entry"):
        values["expected_length"] = _number(interaction.get("expected_length"))
    if kind == "extended_text":
        values["expected_lines"] = _number(interaction.get("expected_lines"))
        values["format"] = interaction.get("format") or "plain"
    if kind == "slider":
        for key in ("lower_bound", "upper_bound", "step"):
            values[key] = _number(interaction.get(key))
    return values


def blank_values(kind: str) -> dict[str, Any]:
    """The editor's fields for a new item of ``kind``."""
    return {
        "type": kind,
        "choice_rows": 4,
        "source_rows": 3,
        "target_rows": 3,
        "max_choices": "1",
        "shuffle": kind in ("choice", "order"),
        "format": "plain",
        "lower_bound": "0",
        "upper_bound": "10",
        "step": "1",
    }


def _num(text: str) -> Any:
    """A number as typed (an int when whole); text that is no number is sent as it is,
    for the API to refuse with the field's name."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def _options(values: Mapping[str, Any], side: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    rows = int(values.get(f"{side}_rows") or 0)
    for n in range(1, rows + 1):
        ident = str(values.get(f"{side}-{n}-id", "")).strip()
        content = str(values.get(f"{side}-{n}-content", "")).strip()
        if not ident and not content:
            continue
        option: dict[str, Any] = {"id": ident or f"{side}_{n}", "content": content}
        if values.get(f"{side}-{n}-fixed"):
            option["fixed"] = True
        match_max = str(values.get(f"{side}-{n}-match_max", "")).strip()
        if match_max:
            option["match_max"] = _num(match_max)
        option["_row"] = n
        found.append(option)
    return found


def _clean(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in o.items() if k != "_row"} for o in options]


def native_document(values: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The native item the form describes. ``metadata`` is the stored item's own (media
    references and other keys are kept; the bank fields are sent beside the item)."""
    kind = str(values.get("type", ""))
    interaction: dict[str, Any] = {"type": kind}
    prompt = str(values.get("prompt", "")).strip()
    if prompt and kind not in INLINE:
        interaction["prompt"] = prompt
    correct: Any = None
    if kind in ("choice", "order", "associate"):
        options = _options(values, "choice")
        interaction["choices"] = _clean(options)
        if kind in ("choice", "order"):
            interaction["shuffle"] = bool(values.get("shuffle"))
        if kind == "choice":
            interaction["max_choices"] = _num(str(values.get("max_choices") or "1"))
            ticked = [o["id"] for o in options if values.get(f"choice-{o['_row']}-correct")]
            if ticked:
                single = interaction["max_choices"] == 1
                correct = ticked[0] if single and len(ticked) == 1 else ticked
        if kind == "order":
            order = str(values.get("correct", "")).replace(",", " ").split()
            if order:
                correct = order
    if kind == "match":
        interaction["sources"] = _clean(_options(values, "source"))
        interaction["targets"] = _clean(_options(values, "target"))
    if kind in ("match", "associate"):
        pairs = [" ".join(line.split()) for line in str(values.get("pairs", "")).splitlines()]
        if any(pairs):
            correct = [p for p in pairs if p]
        most = str(values.get("max_associations", "")).strip()
        if most:
            interaction["max_associations"] = _num(most)
    if kind in ("text_entry", "numeric_entry"):
        length = str(values.get("expected_length", "")).strip()
        if length:
            interaction["expected_length"] = _num(length)
        answer = str(values.get("correct", "")).strip()
        if answer:
            correct = _num(answer) if kind == "numeric_entry" else answer
    if kind == "extended_text":
        lines = str(values.get("expected_lines", "")).strip()
        if lines:
            interaction["expected_lines"] = _num(lines)
        interaction["format"] = str(values.get("format") or "plain")
    if kind == "slider":
        for key in ("lower_bound", "upper_bound", "step"):
            given = str(values.get(key, "")).strip()
            if given:
                interaction[key] = _num(given)
        answer = str(values.get("correct", "")).strip()
        if answer:
            correct = _num(answer)
    if correct is not None:
        interaction["correct"] = correct
    document: dict[str, Any] = {
        "format": "waa-ads/item@1",
        "identifier": str(values.get("identifier", "")).strip(),
        "title": str(values.get("title", "")).strip(),
    }
    language = str(values.get("language", "")).strip()
    if language:
        document["language"] = language
    document["body"] = str(values.get("stem", "")).strip()
    document["interactions"] = [interaction]
    if correct is not None:
        document["scoring"] = "match_correct"
    kept = {k: v for k, v in metadata.items() if k not in _BANK_METADATA}
    if kept:
        document["metadata"] = kept
    return document


def native_yaml(document: Mapping[str, Any]) -> str:
    """``document`` written as native YAML (block style, keys in the order given)."""
    text: str = yaml.safe_dump(
        dict(document), sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    return text


def bank_metadata(values: Mapping[str, Any]) -> dict[str, Any]:
    """The request's ``metadata`` (ItemMetadata) from the form."""

    def listed(name: str) -> list[str]:
        return [t.strip() for t in str(values.get(name, "")).split(",") if t.strip()]

    seconds = str(values.get("estimated_time_s", "")).strip()
    return {
        "tags": listed("tags"),
        "subject": str(values.get("subject", "")).strip() or None,
        "standards": listed("standards"),
        "estimated_time_s": _num(seconds) if seconds else None,
    }


_PATH: Final = re.compile(r"^(?P<path>[A-Za-z_][\w.\[\]]*): (?P<reason>.+)$", re.S)
_OPTION: Final = re.compile(r"^interactions\[0\]\.(choices|sources|targets)\[(\d+)\]\.?(\w*)")
_SIDE: Final = {"choices": "choice", "sources": "source", "targets": "target"}


def field_of(detail: str, values: Mapping[str, Any]) -> tuple[str, str] | None:
    """The form field a refusal of the native document names, and the reason: ``("title",
    "missing")`` for ``title: missing``; ``None`` when it names none."""
    found = _PATH.match(detail.strip())
    if found is not None:
        path, reason = found.group("path"), found.group("reason")
    else:
        # "body is not well-formed XHTML: ...": the place is the first word.
        path, _, rest = detail.strip().partition(" ")
        reason = rest or detail
    option = _OPTION.match(path)
    if option:
        side = _SIDE[option.group(1)]
        index = int(option.group(2))
        rows = [
            n
            for n in range(1, int(values.get(f"{side}_rows") or 0) + 1)
            if str(values.get(f"{side}-{n}-id", "")).strip()
            or str(values.get(f"{side}-{n}-content", "")).strip()
        ]
        row = rows[index] if index < len(rows) else index + 1
        part = option.group(3) if option.group(3) in ("id", "content", "match_max") else "id"
        return f"{side}-{row}-{part}", reason
    head = path.split(".")[0].split("[")[0]
    if head in ("identifier", "title", "language"):
        return head, reason
    if head == "body":
        return "stem", reason
    if path.startswith("interactions[0]."):
        key = path.removeprefix("interactions[0].").split(".")[0].split("[")[0]
        known = {
            "prompt",
            "max_choices",
            "expected_length",
            "expected_lines",
            "format",
            "lower_bound",
            "upper_bound",
            "step",
            "max_associations",
        }
        if key in known:
            return key, reason
        if key == "correct":
            pairs = values.get("type") in ("match", "associate")
            return ("pairs" if pairs else "correct"), reason
    return None


#: A native document to start from, for the types written in the source view.
SOURCE_TEMPLATES: Final = {
    "inline_choice": """identifier: my-item
title: Boiling point
body: "<p>Water boils at {{RESPONSE}} degrees Celsius.</p>"
interactions:
  - type: inline_choice
    choices: [{id: c90, content: "90"}, {id: c100, content: "100"}]
    correct: c100
scoring: match_correct
""",
    "gap_match": """identifier: my-item
title: Gases
body: "{{RESPONSE}}"
interactions:
  - type: gap_match
    prompt: Fill in the gaps.
    choices:
      - {id: co2, content: carbon dioxide, match_max: 1}
      - {id: o2, content: oxygen, match_max: 1}
    content: <p>Plants take in <gap identifier="g1"/> and give off <gap identifier="g2"/>.</p>
    correct: ["co2 g1", "o2 g2"]
scoring: match_correct
""",
    "hottext": """identifier: my-item
title: The verb
body: "{{RESPONSE}}"
interactions:
  - type: hottext
    prompt: Select the verb.
    content: >-
      <p>The dog <hottext identifier="barked">barked</hottext> at the
      <hottext identifier="cat">cat</hottext>.</p>
    correct: barked
scoring: match_correct
""",
    "hotspot": """identifier: my-item
title: The lake
body: "{{RESPONSE}}"
interactions:
  - type: hotspot
    prompt: Select the lake on the map.
    image: {src: images/map.png, alt: A map, width: 400, height: 300}
    choices:
      - {id: lake, shape: circle, coords: [120, 80, 30]}
      - {id: forest, shape: rect, coords: "200,150,320,260"}
    correct: lake
scoring: match_correct
""",
    "select_point": """identifier: my-item
title: The city
body: "{{RESPONSE}}"
interactions:
  - type: select_point
    prompt: Mark the city on the map.
    image: {src: images/map.png, alt: A map, width: 400, height: 300}
    area_mapping: [{shape: circle, coords: [100, 100, 20], value: 1}]
scoring: map_response_point
""",
    "upload": """identifier: my-item
title: Lab report
body: "<p>Upload your lab report as a PDF.</p>"
interactions:
  - type: upload
    types: [application/pdf]
""",
}


def source_template(kind: str) -> str:
    """A native YAML document of ``kind`` to start a new item from."""
    if kind in SOURCE_TEMPLATES:
        return SOURCE_TEMPLATES[kind]
    if kind in FORM_TYPES:
        values = blank_values(kind)
        values.update(
            {
                "identifier": "my-item",
                "title": "My item",
                "stem": "<p>The question.</p>",
                "choice-1-id": "a",
                "choice-1-content": "First",
                "choice-1-correct": True,
                "choice-2-id": "b",
                "choice-2-content": "Second",
                "correct": "b a" if kind == "order" else "",
            }
        )
        return native_yaml(native_document(values, {}))
    return SOURCE_TEMPLATES["inline_choice"]
