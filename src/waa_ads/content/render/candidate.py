"""The candidate's view of an item: sanitized HTML with accessible form controls, and a
JSON description of each interaction, with nothing that gives an answer away.

:func:`candidate_view` is the only way an item reaches a candidate's player. Its payload
holds the item's identifier and language, the body as an HTML fragment, and per
interaction its type, response identifier, response cardinality and base type, prompt,
options (in presentation order) and limits. It never holds a correct response, a mapping
or area mapping, response processing, outcome declarations or their values, modal
feedback, feedback or template conditions, printed variables, rubric references or
scorer-facing rubric blocks, stylesheets (CSS can read input values out through
attribute selectors), import notes or item metadata (which may hold statistics). It is
built from an allow-list: only the fields named here are copied.

Rendering rules:

* The body is sanitized again (defence in depth: stored items may come from older
  imports), then every QTI interaction element is replaced by HTML form controls whose
  values are the item's own identifiers: radio buttons or check boxes in a ``fieldset``
  (choice, hot text, hotspot), ``select`` (inline choice, gaps, order positions,
  association pairs), a grid of check boxes (match), text inputs (text and numeric entry,
  point coordinates), ``textarea`` (extended text), ``input type=file`` (upload) and
  ``input type=range`` (slider). Every control has a label: a ``label`` element, or
  ``aria-labelledby``/``aria-label`` where the visible text is block content. The words
  the renderer itself adds ("Blank 1", "Pair 1, item 2", a default button's text...) come
  from the catalogue, in the language asked for (the attempt's).
* Options are shuffled only where the interaction says ``shuffle`` and a seed is given,
  deterministically from ``(seed, item identifier, response identifier)``; options marked
  ``fixed`` keep their positions. Without a seed (an author's preview) document order is
  kept.
* Feedback (modal, blocks and inlines) is always removed, whatever its ``show-hide``: it may
  give the key away, and the assessment's feedback policy decides whether a candidate sees
  it (content/render/feedback.py renders what the outcomes select). Template blocks and
  inlines are removed when they start hidden (``show-hide="show"``) and unwrapped, without
  their condition, when they start visible (``show-hide="hide"``). Printed variables are
  removed. A rubric block is kept only when
  its ``view`` includes ``candidate``.
* Accessibility catalogs: an inline element whose ``data-catalog-idref`` names a catalog
  with a card to show becomes a term: the element inside a ``button`` (``aria-expanded``,
  ``aria-controls``) followed by its card, hidden until the candidate opens it
  (static/catalog.js); a block that refers to one (a paragraph, a ``div``, an interaction)
  gets a Help button opening such a card at its start, or just before it. Every candidate
  gets the ``glossary-on-screen`` cards and the ``keyword-translation`` entries in the
  attempt's language (when that is not the item's); the cards of other supports
  (``linguistic-guidance``, ``spoken``, ``sign-language``...) only a candidate whose
  accommodations name them, and a ``braille`` card's text is a visually hidden span beside
  the term for a braille display. The cards' content is sanitized again and made phrasing
  content (block elements become spans, a video or sound from the item's media keeps its
  controls) so that it fits where the term stands; no other card, and nothing else of the
  catalog, reaches the candidate.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lxml import etree

from waa_ads.content.item.definition import (
    CardEntry,
    CatalogCard,
    Choice,
    Graphic,
    Interaction,
    InteractionType,
    ItemDefinition,
    ItemFormatError,
)
from waa_ads.content.item.stimulus import StimulusDefinition
from waa_ads.content.item.supports import FOR_EVERYONE
from waa_ads.content.render.pci import frame_fields as pci_frame_fields
from waa_ads.content.render.sanitize import (
    QTI3_NS,
    safe_xml_parser,
    sanitize_body,
    sanitize_fragment_html,
    serialize_children,
    serialize_polyglot,
)
from waa_ads.core import i18n
from waa_ads.core.i18n import gettext as _
from waa_ads.core.i18n import ngettext

PAYLOAD_FORMAT = 1

#: HTML elements that are not phrasing content: a label or legend may not hold them.
_BLOCK_ELEMENTS = frozenset(
    {
        "address", "article", "aside", "blockquote", "details", "dialog", "div", "dl",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "ul",
        "video", "audio", "summary",
    }
)  # fmt: skip
_CONDITIONAL = frozenset({"qti-template-block", "qti-template-inline"})
#: Elements that may become a glossary term: phrasing content that is not interactive.
_TERM_HOSTS = frozenset(
    {
        "span", "em", "strong", "b", "i", "u", "abbr", "dfn", "cite", "code", "kbd", "mark",
        "q", "s", "samp", "small", "sub", "sup", "var", "bdi", "bdo", "time", "data",
    }
)  # fmt: skip
#: What a term may not hold (a button's content is phrasing and not interactive).
_NOT_IN_TERM = _BLOCK_ELEMENTS | frozenset(
    {"a", "button", "input", "select", "textarea", "label", "iframe", "object", "embed"}
)
#: Blocks that hold their Help button at their start (others have it just before them).
_HELP_INSIDE = frozenset(
    {
        "div", "p", "section", "article", "aside", "blockquote", "li", "td", "th", "dd",
        "figcaption", "header", "footer", "main", "nav", "address",
    }
)  # fmt: skip
#: Where nothing but their own children may stand (a Help button there breaks them).
_NO_HELP_BESIDE = frozenset(
    {"ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "tr", "select", "optgroup",
     "colgroup", "picture", "video", "audio", "math", "svg", "button", "label"}
)  # fmt: skip
#: Media a card may play (a sign-language video), kept as they are.
_CARD_MEDIA = frozenset({"video", "audio"})
_LIST_ROLES = {"ul": "list", "ol": "list", "li": "listitem", "dl": "list", "dt": "term"}
_ALWAYS_REMOVED = frozenset(
    {
        "qti-printed-variable",
        "qti-modal-feedback",
        "qti-feedback-block",
        "qti-feedback-inline",
        "qti-stylesheet",
        "qti-catalog-info",
    }
)
_MEDIA_URL_ATTRIBUTES = {
    "img": ("src", "longdesc"),
    "audio": ("src",),
    "video": ("src", "poster"),
    "source": ("src",),
    "track": ("src",),
    "object": ("data",),
}
_ID_UNSAFE_RE = re.compile(r"[^A-Za-z0-9_-]+")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

MediaResolver = Callable[[str], str]

#: The host page a portable custom interaction runs in (web/router.py).
PCI_FRAME_URL = "/player/pci-frame"


# --- tree helpers ------------------------------------------------------------------------------


def _local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _ns(el: etree._Element) -> str | None:
    tag = el.tag
    if isinstance(tag, str) and tag.startswith("{"):
        return tag[1:].split("}", 1)[0]
    return None


def _is_host(el: etree._Element) -> bool:
    return _ns(el) in (QTI3_NS, None)


def _remove(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _replace(old: etree._Element, new: etree._Element) -> None:
    new.tail = old.tail
    parent = old.getparent()
    assert parent is not None
    parent.replace(old, new)


def _unwrap(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    index = parent.index(el)
    if el.text:
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + el.text
        else:
            parent.text = (parent.text or "") + el.text
    children = list(el)
    tail = el.tail
    parent.remove(el)
    for offset, child in enumerate(children):
        parent.insert(index + offset, child)
    if tail:
        if children:
            children[-1].tail = (children[-1].tail or "") + tail
        elif index > 0:
            parent[index - 1].tail = (parent[index - 1].tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def _el(tag: str, attrs: dict[str, str | None] | None = None, *children: Any) -> etree._Element:
    """A namespace-free element; ``children`` are elements or strings (text)."""
    element = etree.Element(tag)
    for key, value in (attrs or {}).items():
        if value is not None:
            element.set(key, value)
    _append(element, children)
    return element


def _append(parent: etree._Element, children: Iterable[Any]) -> None:
    for child in children:
        if child is None:
            continue
        if isinstance(child, str):
            if len(parent):
                last = parent[-1]
                last.tail = (last.tail or "") + child
            else:
                parent.text = (parent.text or "") + child
        elif isinstance(child, list | tuple):
            _append(parent, child)
        else:
            parent.append(child)


def _is_phrasing(nodes: Sequence[Any]) -> bool:
    for node in nodes:
        if isinstance(node, str):
            continue
        for el in node.iter():
            if isinstance(el.tag, str) and _ns(el) is None and _local(el) in _BLOCK_ELEMENTS:
                return False
    return True


def _text_of(nodes: Sequence[Any]) -> str:
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            parts.append(node)
        else:
            parts.append("".join(str(t) for t in node.itertext()))
    return " ".join("".join(parts).split())


# --- the renderer ------------------------------------------------------------------------------


class _Renderer:
    def __init__(
        self,
        item: ItemDefinition,
        shuffle_seed: int | None,
        resolve_media: MediaResolver | None,
        supports: Iterable[str] = (),
    ) -> None:
        self.item = item
        self.supports = frozenset(supports) | FOR_EVERYONE
        self.seed = shuffle_seed
        # The URLs the resolver gave for the item's own media: the only ones a card's video
        # may play (a path the item does not hold comes back as written, and is not one).
        self.item_media: set[str] = set()
        self.resolve_media: MediaResolver | None = None
        if resolve_media is not None:

            def resolved(path: str, resolve: MediaResolver = resolve_media) -> str:
                url = resolve(path)
                if url != path:
                    self.item_media.add(url)
                return url

            self.resolve_media = resolved
        self.prefix = "waa-" + (_ID_UNSAFE_RE.sub("-", item.identifier).strip("-") or "item")
        self.descriptions: list[dict[str, Any]] = []
        self.inline_count = 0
        self.used_ids: set[str] = set()

    # ids and randomness

    def new_id(self, *parts: str) -> str:
        base = "-".join([self.prefix, *(_ID_UNSAFE_RE.sub("-", p).strip("-") for p in parts)])
        candidate, n = base, 1
        while candidate in self.used_ids:
            n += 1
            candidate = f"{base}-{n}"
        self.used_ids.add(candidate)
        return candidate

    def arrange(
        self, interaction: Interaction, options: Sequence[Choice], part: str = ""
    ) -> list[Choice]:
        """The options in presentation order: shuffled around the fixed ones when the
        interaction shuffles and a seed was given, else in document order."""
        if not interaction.shuffle or self.seed is None:
            return list(options)
        # Not security-sensitive: the order is shown to the candidate anyway; what matters is
        # that it is reproducible from the attempt's seed.
        rng = random.Random(  # noqa: S311
            f"{self.seed}|{self.item.identifier}|{interaction.response_identifier}|{part}"
        )
        movable = [c for c in options if not c.fixed]
        rng.shuffle(movable)
        moved = iter(movable)
        return [c if c.fixed else next(moved) for c in options]

    # fragments

    def fragment(self, markup: str | None, *, keep: frozenset[str] = frozenset()) -> list[Any]:
        """A stored XHTML fragment as sanitized nodes ready to insert (strings are text).
        QTI elements named in ``keep`` (``qti-gap``, ``qti-hottext``) stay for the caller
        to turn into controls."""
        if not markup:
            return []
        holder = _parse_fragment(markup)
        return self.nodes_of(holder, keep=keep)

    def nodes_of(self, holder: etree._Element, *, keep: frozenset[str] = frozenset()) -> list[Any]:
        self.finish(holder, keep=keep)
        nodes: list[Any] = []
        if holder.text:
            nodes.append(holder.text)
        for child in list(holder):
            tail = child.tail
            child.tail = None
            nodes.append(child)
            if tail:
                nodes.append(tail)
        return nodes

    def html(self, nodes: Sequence[Any]) -> str:
        holder = etree.Element("div")
        _append(holder, [_copy(n) for n in nodes])
        return serialize_children(holder)

    def finish(self, root: etree._Element, *, keep: frozenset[str] = frozenset()) -> None:
        """Drop or unwrap the QTI elements a candidate must not see as such (all but
        interactions and those in ``keep``), and point media at their delivery URLs."""
        for el in list(root.iter()):
            if el is root or not isinstance(el.tag, str) or not _is_host(el):
                continue
            if el.getparent() is None:  # inside something removed already
                continue
            local = _local(el)
            if local in _CONDITIONAL:
                if (el.get("show-hide") or "show") == "hide":
                    _unwrap(el)
                else:
                    _remove(el)
            elif local in _ALWAYS_REMOVED:
                _remove(el)
            elif local == "qti-position-object-stage":
                # Each of its interactions is drawn on the stage's picture (below).
                for child in list(el):
                    if isinstance(child.tag, str) and not _local(child).endswith("-interaction"):
                        _remove(child)
            elif local == "qti-rubric-block":
                views = (el.get("view") or "").split()
                if "candidate" in views:
                    _unwrap(el)
                else:
                    _remove(el)
        for el in list(root.iter()):
            if el is root or not isinstance(el.tag, str) or not _is_host(el):
                continue
            local = _local(el)
            if (
                local.startswith("qti-")
                and not local.endswith("-interaction")
                and local not in keep
            ):
                _unwrap(el)
        if self.resolve_media is not None:
            for el in root.iter():
                if not isinstance(el.tag, str) or not _is_host(el):
                    continue
                for attr in _MEDIA_URL_ATTRIBUTES.get(_local(el), ()):
                    value = el.get(attr)
                    if value and not _SCHEME_RE.match(value) and not value.startswith("//"):
                        el.set(attr, self.resolve_media(value))

    def media_url(self, src: str | None) -> str | None:
        if not src or self.resolve_media is None or _SCHEME_RE.match(src):
            return src
        return self.resolve_media(src)

    # accessibility catalogs

    def terms(self, root: etree._Element) -> None:
        """Give each element that refers to a catalog with something to show the
        candidate its help: an inline element becomes a term the candidate can open; a
        block (a paragraph, a ``div``, an interaction...) gets a Help button at its start
        (or just before it) that opens the same kind of card. The attribute is removed from
        every element."""
        for el in list(root.iter()):
            if not isinstance(el.tag, str) or el.get("data-catalog-idref") is None:
                continue
            name = str(el.attrib.pop("data-catalog-idref")).strip()
            catalog = self.item.catalog(name)
            if catalog is None or el.getparent() is None:
                continue
            sections = [
                section
                for card in catalog.cards
                if (section := self.card_section(card)) is not None
            ]
            braille = self.braille(catalog.cards)
            if not sections and braille is None:
                continue
            inline = _local(el) in _TERM_HOSTS and not any(
                isinstance(d.tag, str) and (_local(d) in _NOT_IN_TERM or d.get("id"))
                for d in el.iter()
            )
            if inline:
                self.term(el, name, sections, braille)
            else:
                self.block_help(el, name, sections, braille)

    def term(
        self,
        el: etree._Element,
        name: str,
        sections: list[etree._Element],
        braille: etree._Element | None,
    ) -> None:
        """``el`` inside a button that opens its card, the braille text after it."""
        holder = _el("span", {"class": "waa-term"})
        _replace(el, holder)
        el.tail = None
        if not sections:
            _append(holder, [el, braille])
            return
        card_id = self.new_id("term", name)
        button = _el(
            "button",
            {
                "type": "button",
                "class": "waa-term-button",
                "aria-expanded": "false",
                "aria-controls": card_id,
            },
            el,
        )
        card = _el("span", {"class": "waa-term-card", "id": card_id, "hidden": "hidden"})
        _append(card, sections)
        _append(holder, [button, braille, card])

    def block_help(
        self,
        el: etree._Element,
        name: str,
        sections: list[etree._Element],
        braille: etree._Element | None,
    ) -> None:
        """A Help button (and its card, and the braille text) at the start of a block that
        may hold it, else just before the element; nowhere inside a list, a table or a
        select, where it would break their structure."""
        parent = el.getparent()
        assert parent is not None
        holder = _el("span", {"class": "waa-term waa-help"})
        if sections:
            card_id = self.new_id("help", name)
            button = _el(
                "button",
                {
                    "type": "button",
                    "class": "waa-term-button waa-help-button",
                    "aria-expanded": "false",
                    "aria-controls": card_id,
                },
                _("Help"),
            )
            # What the help is for, in the button's name: a screen reader's list of
            # buttons then tells one block's Help from another's.
            words = _text_of([el]).split()
            if words:
                excerpt = " ".join(words[:6]) + ("…" if len(words) > 6 else "")
                button.append(_el("span", {"class": "visually-hidden"}, f": {excerpt}"))
            card = _el("span", {"class": "waa-term-card", "id": card_id, "hidden": "hidden"})
            _append(card, sections)
            _append(holder, [button, braille, card])
        else:
            _append(holder, [braille])
        local = _local(el)
        if _is_host(el) and local in _HELP_INSIDE:
            holder.tail = el.text
            el.text = None
            el.insert(0, holder)
        elif _local(parent) not in _NO_HELP_BESIDE:
            parent.insert(parent.index(el), holder)

    def braille(self, cards: Sequence[CatalogCard]) -> etree._Element | None:
        """The braille text of a catalog for assistive technology (a visually hidden span),
        when the candidate has the support and the catalog a braille card."""
        if "braille" not in self.supports:
            return None
        for card in cards:
            if card.support != "braille":
                continue
            entry = (
                CardEntry(content=card.content)
                if card.content
                else _pick_entry(card.entries, i18n.current(), self.item.language)
            )
            if entry is None:
                continue
            text = _text_of(self.fragment(entry.content))
            if text:
                return _el(
                    "span",
                    {
                        "class": "visually-hidden waa-braille",
                        "data-support": "braille",
                        "lang": entry.language,
                    },
                    text,
                )
        return None

    def card_section(self, card: CatalogCard) -> etree._Element | None:
        """The part of a card (a term's or a block's) that shows ``card``, or ``None`` when
        the player does not show that support to this candidate (or has nothing in the
        attempt's language). The glossary and translations are for everyone; any other
        support only for a candidate who has it (braille is not a section: see
        :meth:`braille`)."""
        language = i18n.current()
        entry: CardEntry | None
        if card.support == "keyword-translation":
            if _same_language(language, self.item.language):
                return None
            entry = next((e for e in card.entries if _same_language(e.language, language)), None)
        elif card.support == "glossary-on-screen" or (
            card.support in self.supports and card.support != "braille"
        ):
            entry = (
                CardEntry(content=card.content)
                if card.content
                else _pick_entry(card.entries, language, self.item.language)
            )
        else:
            return None
        if entry is None or not entry.content.strip():
            return None
        nodes = self.fragment(entry.content)
        for node in nodes:
            if isinstance(node, str):
                continue
            for el in list(node.iter()):
                if isinstance(el.tag, str) and _local(el).endswith("-interaction"):
                    _remove(el)
        section = _el(
            "span",
            {"class": "waa-term-support", "data-support": card.support, "lang": entry.language},
        )
        if card.support == "spoken":
            # What the player reads aloud: the text, apart from the labels it adds.
            _append(section, [_el("span", {"class": "waa-spoken-text"}, nodes)])
        else:
            _append(section, nodes)
        for el in list(section.iter()):
            if el is section or not isinstance(el.tag, str):
                continue
            local = _local(el)
            if local in _CARD_MEDIA:
                self.card_media(el)
                continue
            if local in _BLOCK_ELEMENTS or local in _LIST_ROLES or local in ("dd", "h1"):
                el.tag = "span"
                el.set("class", "waa-card-block")
                if local in _LIST_ROLES:
                    el.set("role", _LIST_ROLES[local])
            for attribute in ("id", "data-catalog-idref"):
                if attribute in el.attrib:
                    del el.attrib[attribute]
        if not "".join(str(t) for t in section.itertext()).strip() and not any(
            isinstance(d.tag, str) and _local(d) in (*_CARD_MEDIA, "img") for d in section.iter()
        ):
            return None
        return section

    def card_media(self, el: etree._Element) -> None:
        """A video or a sound in a card (a sign-language video): played from the item's
        own media only, with the browser's controls, never on its own."""
        for source in [el, *(c for c in el if isinstance(c.tag, str) and _local(c) == "source")]:
            src = source.get("src")
            if src is not None and src not in self.item_media:
                if source is el:
                    del el.attrib["src"]
                else:
                    _remove(source)
        for child in list(el):
            if (
                isinstance(child.tag, str)
                and _local(child) == "track"
                and child.get("src") not in self.item_media
            ):
                _remove(child)
        if el.get("src") is None and not any(
            isinstance(c.tag, str) and _local(c) == "source" for c in el
        ):
            _remove(el)
            return
        el.set("controls", "controls")
        el.set("preload", "metadata")
        if "id" in el.attrib:
            del el.attrib["id"]

    # labelled controls

    def labelled(self, control: etree._Element, content: list[Any], css: str) -> etree._Element:
        """``control`` with ``content`` as its accessible name, in a wrapper ``div``: a
        ``label`` when the content is phrasing, else a ``div`` it is labelled by."""
        control_id = control.get("id") or self.new_id("control")
        control.set("id", control_id)
        if _is_phrasing(content):
            return _el(
                "div", {"class": css}, control, " ", _el("label", {"for": control_id}, content)
            )
        label_id = f"{control_id}-label"
        control.set("aria-labelledby", label_id)
        return _el(
            "div",
            {"class": css},
            control,
            " ",
            _el("div", {"id": label_id, "class": "waa-option-content"}, content),
        )

    def group(
        self, interaction: Interaction, kind: str, *children: Any
    ) -> tuple[etree._Element, str]:
        """A ``fieldset`` for an interaction, named by its prompt (a ``legend`` when the
        prompt is phrasing content, else a ``div`` the fieldset is labelled by)."""
        group_id = self.new_id(interaction.response_identifier)
        prompt = self.fragment(interaction.prompt)
        fieldset = _el(
            "fieldset",
            {
                "id": group_id,
                "class": f"waa-interaction waa-{kind}",
                "data-response-identifier": interaction.response_identifier,
                "data-interaction-type": interaction.type.value,
            },
        )
        if prompt:
            prompt_id = f"{group_id}-prompt"
            if _is_phrasing(prompt):
                fieldset.append(_el("legend", {"id": prompt_id, "class": "waa-prompt"}, prompt))
            else:
                fieldset.set("aria-labelledby", prompt_id)
                fieldset.append(_el("div", {"id": prompt_id, "class": "waa-prompt"}, prompt))
        _append(fieldset, children)
        return fieldset, group_id

    @staticmethod
    def name_single_control(
        fieldset: etree._Element, control: etree._Element, fallback: str
    ) -> None:
        """A lone control in a group is named by the prompt itself (a legend names the
        group, not the control), or by ``fallback`` when there is no prompt."""
        if control.get("aria-label") or control.get("aria-labelledby"):
            return
        prompt_id = f"{fieldset.get('id')}-prompt"
        if any(el.get("id") == prompt_id for el in fieldset):
            control.set("aria-labelledby", prompt_id)
        else:
            control.set("aria-label", fallback)

    # descriptions

    def describe(self, interaction: Interaction, dom_id: str, **fields: Any) -> None:
        declaration = self.item.response_declaration(interaction.response_identifier)
        description: dict[str, Any] = {
            "type": interaction.type.value,
            "response_identifier": interaction.response_identifier,
            "cardinality": declaration.cardinality.value if declaration else None,
            "base_type": (
                declaration.base_type.value if declaration and declaration.base_type else None
            ),
            "dom_id": dom_id,
            "prompt": self.html(self.fragment(interaction.prompt)) if interaction.prompt else None,
            "shuffled": bool(interaction.shuffle and self.seed is not None),
        }
        for key, value in fields.items():
            description[key] = (
                {k: v for k, v in value.items() if v is not None}
                if isinstance(value, dict)
                else value
            )
        self.descriptions.append(description)

    def option(self, choice: Choice, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "identifier": choice.identifier,
            "content": self.html(self.fragment(choice.content)),
        }
        out.update({k: v for k, v in extra.items() if v is not None})
        return out

    def graphic(
        self, graphic: Graphic | None
    ) -> tuple[etree._Element | None, dict[str, Any] | None]:
        """The picture a graphic interaction draws on, as an ``img``, and its description.

        QTI 2 gives it as an ``object``; the sanitizer drops objects outside graphic
        interactions, so an image object is turned into an ``img`` (with its fallback text
        as ``alt``) before the fragment is sanitized.
        """
        if graphic is None:
            return None, None
        try:
            holder = etree.fromstring(f"<div>{graphic.markup}</div>".encode(), safe_xml_parser())
        except etree.XMLSyntaxError:
            holder = etree.Element("div")
        element = next((c for c in holder if isinstance(c.tag, str)), None)
        if element is not None and _local(element) == "object":
            media_type = (element.get("type") or graphic.media_type or "").lower()
            alt = " ".join("".join(str(t) for t in element.itertext()).split())
            holder = etree.Element("div")
            if media_type.startswith("image/"):
                holder.append(
                    _el(
                        "img",
                        {
                            "src": element.get("data"),
                            "alt": alt,
                            "width": element.get("width"),
                            "height": element.get("height"),
                        },
                    )
                )
        sanitize_body(holder)
        nodes = self.nodes_of(holder)
        picture = next((n for n in nodes if not isinstance(n, str)), None)
        figure = _el("div", {"class": "waa-graphic"}, picture) if picture is not None else None
        described = {
            "src": self.media_url(graphic.src),
            "media_type": graphic.media_type,
            "width": graphic.width,
            "height": graphic.height,
            "alt": picture.get("alt") if picture is not None else None,
        }
        return figure, {k: v for k, v in described.items() if v is not None}

    # interactions

    def render(self, interaction: Interaction) -> etree._Element:
        method = getattr(self, f"_render_{interaction.type.value}")
        element: etree._Element = method(interaction)
        return element

    def _max_choices(self, interaction: Interaction) -> int:
        """How many options may be chosen; 0 is no limit. A single response allows one; a
        multiple response without max-choices is read as no limit (what its author meant
        by declaring a multiple response), not QTI's default of 1."""
        declaration = self.item.response_declaration(interaction.response_identifier)
        if declaration is not None and declaration.cardinality.value == "single":
            return 1
        if interaction.max_choices is not None:
            return interaction.max_choices
        return 0 if declaration is not None else 1

    def _choice_like(self, interaction: Interaction, kind: str) -> etree._Element:
        max_choices = self._max_choices(interaction)
        input_type = "radio" if max_choices == 1 else "checkbox"
        options = self.arrange(interaction, interaction.choices)
        rid = interaction.response_identifier
        rows = []
        for position, choice in enumerate(options, start=1):
            control = _el(
                "input",
                {
                    "type": input_type,
                    "name": rid,
                    "value": choice.identifier,
                    "id": self.new_id(rid, str(position)),
                },
            )
            rows.append(self.labelled(control, self.fragment(choice.content), "waa-option"))
        orientation = interaction.orientation or "vertical"
        fieldset, group_id = self.group(
            interaction,
            kind,
            _el("div", {"class": f"waa-options waa-{orientation}"}, rows),
        )
        self.describe(
            interaction,
            group_id,
            options=[self.option(c) for c in options],
            limits={"max_choices": max_choices, "min_choices": interaction.min_choices or 0},
            orientation=interaction.orientation,
        )
        return fieldset

    def _render_choice(self, interaction: Interaction) -> etree._Element:
        return self._choice_like(interaction, "choice")

    def _render_order(self, interaction: Interaction) -> etree._Element:
        options = self.arrange(interaction, interaction.choices)
        rid = interaction.response_identifier
        count = len(options)
        rows = []
        for position, choice in enumerate(options, start=1):
            select_id = self.new_id(rid, str(position))
            select = _el(
                "select",
                {"id": select_id, "name": f"{rid}.{choice.identifier}",
                 "data-choice": choice.identifier},
                _el("option", {"value": ""}, "—"),
                [_el("option", {"value": str(n)}, str(n)) for n in range(1, count + 1)],
            )  # fmt: skip
            content_id = f"{select_id}-label"
            select.set("aria-labelledby", content_id)
            rows.append(
                _el(
                    "li",
                    {"class": "waa-order-option", "data-choice": choice.identifier},
                    _el("div", {"id": content_id, "class": "waa-option-content"},
                        self.fragment(choice.content)),
                    " ",
                    select,
                )
            )  # fmt: skip
        fieldset, group_id = self.group(
            interaction, "order", _el("ol", {"class": "waa-options"}, rows)
        )
        self.describe(
            interaction,
            group_id,
            options=[self.option(c) for c in options],
            limits={"max_choices": interaction.max_choices, "min_choices": interaction.min_choices},
            orientation=interaction.orientation,
        )
        return fieldset

    def _render_inline_choice(self, interaction: Interaction) -> etree._Element:
        self.inline_count += 1
        options = self.arrange(interaction, interaction.choices)
        rid = interaction.response_identifier
        select_id = self.new_id(rid)
        select = _el(
            "select",
            {
                "id": select_id,
                "name": rid,
                "class": "waa-interaction waa-inline-choice",
                "data-response-identifier": rid,
                "data-interaction-type": interaction.type.value,
                "aria-label": _("Blank %(number)d", number=self.inline_count),
                "required": "required" if interaction.required else None,
            },
            _el("option", {"value": ""}, "—"),
            [
                _el("option", {"value": c.identifier}, _text_of(self.fragment(c.content)))
                for c in options
            ],
        )
        self.describe(
            interaction,
            select_id,
            options=[self.option(c, text=_text_of(self.fragment(c.content))) for c in options],
            limits={"required": interaction.required},
        )
        return select

    def _render_text_entry(self, interaction: Interaction) -> etree._Element:
        self.inline_count += 1
        rid = interaction.response_identifier
        input_id = self.new_id(rid)
        numeric = interaction.type is InteractionType.NUMERIC_ENTRY
        declaration = self.item.response_declaration(rid)
        is_integer = bool(
            declaration and declaration.base_type and declaration.base_type.value == "integer"
        )
        control = _el(
            "input",
            {
                "type": "text",
                "id": input_id,
                "name": rid,
                "class": f"waa-interaction waa-{interaction.type.value.replace('_', '-')}",
                "data-response-identifier": rid,
                "data-interaction-type": interaction.type.value,
                "inputmode": ("numeric" if is_integer else "decimal") if numeric else None,
                "size": str(interaction.expected_length) if interaction.expected_length else None,
                "placeholder": interaction.placeholder_text,
                "aria-label": interaction.placeholder_text
                or _("Blank %(number)d", number=self.inline_count),
                "autocomplete": "off",
                "spellcheck": "false",
            },
        )
        self.describe(
            interaction,
            input_id,
            limits={
                "expected_length": interaction.expected_length,
                "pattern_mask": interaction.pattern_mask,
                "base": interaction.base,
                "format": interaction.format,
            },
            placeholder=interaction.placeholder_text,
        )
        return control

    _render_numeric_entry = _render_text_entry

    def _render_extended_text(self, interaction: Interaction) -> etree._Element:
        rid = interaction.response_identifier
        count = max(1, interaction.max_strings or 1)
        areas = []
        for n in range(1, count + 1):
            area_id = self.new_id(rid, str(n))
            areas.append(
                _el(
                    "textarea",
                    {
                        "id": area_id,
                        "name": rid,
                        "rows": str(interaction.expected_lines or 6),
                        "placeholder": interaction.placeholder_text,
                        "aria-label": _("Answer %(number)d", number=n) if count > 1 else None,
                        "spellcheck": "false",
                    },
                    "",
                )
            )
        fieldset, group_id = self.group(interaction, "extended-text", areas)
        if count == 1:
            self.name_single_control(fieldset, areas[0], _("Answer"))
        self.describe(
            interaction,
            group_id,
            limits={
                "expected_length": interaction.expected_length,
                "expected_lines": interaction.expected_lines,
                "max_strings": interaction.max_strings,
                "min_strings": interaction.min_strings,
                "pattern_mask": interaction.pattern_mask,
                "format": interaction.format,
            },
            placeholder=interaction.placeholder_text,
        )
        return fieldset

    def _render_match(self, interaction: Interaction) -> etree._Element:
        rid = interaction.response_identifier
        if len(interaction.match_sets) != 2:
            raise ItemFormatError("a match interaction needs two match sets")
        sources = self.arrange(interaction, interaction.match_sets[0], "source")
        targets = self.arrange(interaction, interaction.match_sets[1], "target")
        head = _el("tr", {}, _el("td", {}))
        target_ids = []
        for position, target in enumerate(targets, start=1):
            th_id = self.new_id(rid, "target", str(position))
            target_ids.append(th_id)
            head.append(_el("th", {"scope": "col", "id": th_id}, self.fragment(target.content)))
        body_rows = []
        for row, source in enumerate(sources, start=1):
            th_id = self.new_id(rid, "source", str(row))
            cells = [_el("th", {"scope": "row", "id": th_id}, self.fragment(source.content))]
            for column, target in enumerate(targets):
                cells.append(
                    _el(
                        "td",
                        {},
                        _el(
                            "input",
                            {
                                "type": "checkbox",
                                "name": rid,
                                "value": f"{source.identifier} {target.identifier}",
                                "id": self.new_id(rid, str(row), str(column + 1)),
                                "aria-labelledby": f"{th_id} {target_ids[column]}",
                            },
                        ),
                    )
                )
            body_rows.append(_el("tr", {}, cells))
        table = _el(
            "table",
            {"class": "waa-match-grid"},
            _el("thead", {}, head),
            _el("tbody", {}, body_rows),
        )
        fieldset, group_id = self.group(interaction, "match", table)
        self.describe(
            interaction,
            group_id,
            source_options=[
                self.option(c, match_max=c.match_max, match_min=c.match_min) for c in sources
            ],
            target_options=[
                self.option(c, match_max=c.match_max, match_min=c.match_min) for c in targets
            ],
            limits={
                "max_associations": interaction.max_associations,
                "min_associations": interaction.min_associations,
            },
        )
        return fieldset

    def _render_associate(self, interaction: Interaction) -> etree._Element:
        rid = interaction.response_identifier
        options = self.arrange(interaction, interaction.choices)
        listing = _el(
            "ul",
            {"class": "waa-options"},
            [_el("li", {"data-choice": c.identifier}, self.fragment(c.content)) for c in options],
        )
        pairs = interaction.max_associations or max(1, len(options) // 2)
        rows = []
        for n in range(1, pairs + 1):
            selects = []
            for side in (1, 2):
                selects.append(
                    _el(
                        "select",
                        {
                            "id": self.new_id(rid, "pair", str(n), str(side)),
                            "name": f"{rid}.{n}",
                            "aria-label": _("Pair %(number)d, item %(side)d", number=n, side=side),
                        },
                        _el("option", {"value": ""}, "—"),
                        [
                            _el(
                                "option",
                                {"value": c.identifier},
                                _text_of(self.fragment(c.content)),
                            )
                            for c in options
                        ],
                    )
                )
            rows.append(_el("div", {"class": "waa-association"}, selects[0], " ", selects[1]))
        fieldset, group_id = self.group(interaction, "associate", listing, rows)
        self.describe(
            interaction,
            group_id,
            options=[self.option(c, match_max=c.match_max, match_min=c.match_min) for c in options],
            limits={
                "max_associations": interaction.max_associations,
                "min_associations": interaction.min_associations,
            },
        )
        return fieldset

    def _render_gap_match(self, interaction: Interaction) -> etree._Element:
        rid = interaction.response_identifier
        options = self.arrange(interaction, interaction.choices)
        labels = {c.identifier: _text_of(self.fragment(c.content)) or c.identifier for c in options}
        bank = _el(
            "ul",
            {"class": "waa-gap-options"},
            [_el("li", {"data-choice": c.identifier}, self.fragment(c.content)) for c in options],
        )
        content = self.fragment(interaction.content, keep=frozenset({"qti-gap"}))
        holder = _el("div", {"class": "waa-gap-content"}, content)
        for gap_number, gap in enumerate(list(holder.iter("qti-gap")), start=1):
            identifier = gap.get("identifier") or ""
            select = _el(
                "select",
                {
                    "id": self.new_id(rid, "gap", identifier or str(gap_number)),
                    "name": f"{rid}.{identifier}",
                    "data-gap": identifier,
                    "aria-label": _("Gap %(number)d", number=gap_number),
                    "required": "required" if gap.get("required") == "true" else None,
                },
                _el("option", {"value": ""}, "—"),
                [_el("option", {"value": c.identifier}, labels[c.identifier]) for c in options],
            )
            _replace(gap, select)
        fieldset, group_id = self.group(interaction, "gap-match", bank, holder)
        self.describe(
            interaction,
            group_id,
            options=[
                self.option(c, match_max=c.match_max, match_min=c.match_min, image=c.image or None)
                for c in options
            ],
            gaps=[{"identifier": g.identifier, "required": g.required} for g in interaction.gaps],
            limits={
                "max_associations": interaction.max_associations,
                "min_associations": interaction.min_associations,
            },
        )
        return fieldset

    def _render_hottext(self, interaction: Interaction) -> etree._Element:
        rid = interaction.response_identifier
        max_choices = self._max_choices(interaction)
        input_type = "radio" if max_choices == 1 else "checkbox"
        holder = _el(
            "div",
            {"class": "waa-hottext-content"},
            self.fragment(interaction.content, keep=frozenset({"qti-hottext"})),
        )
        for position, hot in enumerate(list(holder.iter("qti-hottext")), start=1):
            control_id = self.new_id(rid, str(position))
            label = _el(
                "label",
                {"class": "waa-hottext", "for": control_id},
                _el(
                    "input",
                    {
                        "type": input_type,
                        "name": rid,
                        "value": hot.get("identifier") or "",
                        "id": control_id,
                    },
                ),
            )
            label[0].tail = hot.text
            for child in list(hot):
                label.append(child)
            _replace(hot, label)
        fieldset, group_id = self.group(interaction, "hottext", holder)
        self.describe(
            interaction,
            group_id,
            options=[self.option(c) for c in interaction.choices],
            limits={"max_choices": max_choices, "min_choices": interaction.min_choices or 0},
        )
        return fieldset

    def _render_hotspot(self, interaction: Interaction) -> etree._Element:
        rid = interaction.response_identifier
        max_choices = self._max_choices(interaction)
        input_type = "radio" if max_choices == 1 else "checkbox"
        figure, graphic = self.graphic(interaction.graphic)
        rows = []
        options = []
        for position, choice in enumerate(interaction.choices, start=1):
            label = choice.attributes.get("hotspot-label") or _text_of(
                self.fragment(choice.content)
            )
            label = label or _("Area %(number)d", number=position)
            control = _el(
                "input",
                {
                    "type": input_type,
                    "name": rid,
                    "value": choice.identifier,
                    "id": self.new_id(rid, str(position)),
                    "data-shape": choice.shape.value if choice.shape else None,
                    "data-coords": ",".join(_num(c) for c in choice.coords) or None,
                },
            )
            rows.append(self.labelled(control, [label], "waa-option"))
            options.append(
                {
                    "identifier": choice.identifier,
                    "label": label,
                    "shape": choice.shape.value if choice.shape else None,
                    "coords": list(choice.coords),
                }
            )
        fieldset, group_id = self.group(
            interaction, "hotspot", figure, _el("div", {"class": "waa-options"}, rows)
        )
        self.describe(
            interaction,
            group_id,
            graphic=graphic,
            options=options,
            limits={"max_choices": max_choices, "min_choices": interaction.min_choices or 0},
        )
        return fieldset

    def _point_fields(
        self, rid: str, max_choices: int, word: Callable[[int], str]
    ) -> list[etree._Element]:
        """One "x y" text field per point the response may hold (a labelled ``div`` each)."""
        fields = []
        for n in range(1, (max_choices or 1) + 1):
            field_id = self.new_id(rid, str(n))
            fields.append(
                _el(
                    "div",
                    {"class": "waa-point"},
                    _el("label", {"for": field_id}, word(n)),
                    " ",
                    _el(
                        "input",
                        {
                            "type": "text",
                            "id": field_id,
                            "name": rid,
                            "inputmode": "numeric",
                            "autocomplete": "off",
                        },
                    ),
                )
            )
        return fields

    def _render_position_object(self, interaction: Interaction) -> etree._Element:
        """The stage's picture with an "x y" field per placing of the object (where its
        centre goes, in the stage's own pixels), as a select point is; the object's picture
        is shown beside it."""
        rid = interaction.response_identifier
        max_choices = self._max_choices(interaction)
        figure, stage = self.graphic(interaction.stage)
        thing, placed = self.graphic(interaction.graphic)
        fields = self._point_fields(
            rid, max_choices, lambda n: _("Place %(number)d (x y)", number=n)
        )
        if thing is not None:
            thing.set("class", "waa-position-object")
        fieldset, group_id = self.group(interaction, "position-object", thing, figure, fields)
        self.describe(
            interaction,
            group_id,
            graphic=stage,
            object=placed,
            limits={"max_choices": max_choices, "min_choices": interaction.min_choices or 0},
        )
        return fieldset

    def _render_select_point(self, interaction: Interaction) -> etree._Element:
        rid = interaction.response_identifier
        max_choices = self._max_choices(interaction)
        figure, graphic = self.graphic(interaction.graphic)
        fields = self._point_fields(
            rid, max_choices, lambda n: _("Point %(number)d (x y)", number=n)
        )
        fieldset, group_id = self.group(interaction, "select-point", figure, fields)
        self.describe(
            interaction,
            group_id,
            graphic=graphic,
            limits={"max_choices": max_choices, "min_choices": interaction.min_choices or 0},
        )
        return fieldset

    def _render_upload(self, interaction: Interaction) -> etree._Element:
        rid = interaction.response_identifier
        input_id = self.new_id(rid, "file")
        control = _el(
            "input",
            {
                "type": "file",
                "id": input_id,
                "name": rid,
                "accept": ",".join(interaction.upload_types) or None,
            },
        )
        fieldset, group_id = self.group(interaction, "upload", control)
        self.name_single_control(fieldset, control, _("File to upload"))
        self.describe(interaction, group_id, accept=list(interaction.upload_types))
        return fieldset

    def _render_slider(self, interaction: Interaction) -> etree._Element:
        rid = interaction.response_identifier
        input_id = self.new_id(rid, "range")
        control = _el(
            "input",
            {
                "type": "range",
                "id": input_id,
                "name": rid,
                "min": _num(interaction.lower_bound)
                if interaction.lower_bound is not None
                else None,
                "max": _num(interaction.upper_bound)
                if interaction.upper_bound is not None
                else None,
                "step": _num(interaction.step) if interaction.step is not None else None,
                "aria-orientation": interaction.orientation,
            },
        )
        output = _el("output", {"for": input_id, "class": "waa-slider-value"}, "")
        fieldset, group_id = self.group(interaction, "slider", control, " ", output)
        self.name_single_control(fieldset, control, _("Value"))
        self.describe(
            interaction,
            group_id,
            limits={
                "lower_bound": interaction.lower_bound,
                "upper_bound": interaction.upper_bound,
                "step": interaction.step,
                "step_label": interaction.step_label,
                "reverse": interaction.reverse,
            },
            orientation=interaction.orientation,
        )
        return fieldset

    # graphic interactions with areas: order, associate and gap match on a picture

    @staticmethod
    def area_label(choice: Choice, position: int) -> str:
        return choice.attributes.get("hotspot-label") or _("Area %(number)d", number=position)

    def area(self, choice: Choice, position: int, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "identifier": choice.identifier,
            "label": self.area_label(choice, position),
            "shape": choice.shape.value if choice.shape else None,
            "coords": list(choice.coords),
        }
        out.update({k: v for k, v in extra.items() if v is not None})
        return out

    @staticmethod
    def area_attributes(choice: Choice) -> dict[str, str | None]:
        return {
            "data-shape": choice.shape.value if choice.shape else None,
            "data-coords": ",".join(_num(c) for c in choice.coords) or None,
        }

    def _render_graphic_order(self, interaction: Interaction) -> etree._Element:
        rid = interaction.response_identifier
        figure, graphic = self.graphic(interaction.graphic)
        areas = list(interaction.choices)
        positions = interaction.max_choices or len(areas)
        rows = []
        for position, choice in enumerate(areas, start=1):
            select_id = self.new_id(rid, str(position))
            label_id = f"{select_id}-label"
            select = _el(
                "select",
                {
                    "id": select_id,
                    "name": f"{rid}.{choice.identifier}",
                    "data-choice": choice.identifier,
                    "aria-labelledby": label_id,
                    **self.area_attributes(choice),
                },
                _el("option", {"value": ""}, "—"),
                [_el("option", {"value": str(n)}, str(n)) for n in range(1, positions + 1)],
            )
            rows.append(
                _el(
                    "li",
                    {"class": "waa-order-option", "data-choice": choice.identifier},
                    _el(
                        "div",
                        {"id": label_id, "class": "waa-option-content"},
                        self.area_label(choice, position),
                    ),
                    " ",
                    select,
                )
            )
        fieldset, group_id = self.group(
            interaction, "graphic-order", figure, _el("ol", {"class": "waa-options"}, rows)
        )
        self.describe(
            interaction,
            group_id,
            graphic=graphic,
            options=[self.area(c, n) for n, c in enumerate(areas, start=1)],
            limits={"max_choices": interaction.max_choices, "min_choices": interaction.min_choices},
        )
        return fieldset

    def _render_graphic_associate(self, interaction: Interaction) -> etree._Element:
        rid = interaction.response_identifier
        figure, graphic = self.graphic(interaction.graphic)
        areas = list(interaction.choices)
        labels = [self.area_label(c, n) for n, c in enumerate(areas, start=1)]
        pairs = interaction.max_associations or max(1, len(areas) // 2)
        rows = []
        for n in range(1, pairs + 1):
            selects = [
                _el(
                    "select",
                    {
                        "id": self.new_id(rid, "pair", str(n), str(side)),
                        "name": f"{rid}.{n}",
                        "aria-label": _("Pair %(number)d, area %(side)d", number=n, side=side),
                    },
                    _el("option", {"value": ""}, "—"),
                    [
                        _el("option", {"value": c.identifier, **self.area_attributes(c)}, label)
                        for c, label in zip(areas, labels, strict=True)
                    ],
                )
                for side in (1, 2)
            ]
            rows.append(_el("div", {"class": "waa-association"}, selects[0], " ", selects[1]))
        fieldset, group_id = self.group(interaction, "graphic-associate", figure, rows)
        self.describe(
            interaction,
            group_id,
            graphic=graphic,
            options=[
                self.area(c, n, match_max=c.match_max, match_min=c.match_min)
                for n, c in enumerate(areas, start=1)
            ],
            limits={
                "max_associations": interaction.max_associations,
                "min_associations": interaction.min_associations,
            },
        )
        return fieldset

    def gap_label(self, choice: Choice) -> str:
        """What a gap image or text is called in a list: its ``object-label``, else its
        picture's alternative text, else its text."""
        label = choice.attributes.get("object-label")
        if label:
            return label
        nodes = self.fragment(choice.content)
        for node in nodes:
            if isinstance(node, str):
                continue
            for el in node.iter():
                if isinstance(el.tag, str) and _local(el) == "img" and el.get("alt"):
                    return str(el.get("alt"))
        return _text_of(nodes) or choice.identifier

    def _render_graphic_gap_match(self, interaction: Interaction) -> etree._Element:
        rid = interaction.response_identifier
        figure, graphic = self.graphic(interaction.graphic)
        options = self.arrange(interaction, interaction.choices)
        labels = {c.identifier: self.gap_label(c) for c in options}
        bank = _el(
            "ul",
            {"class": "waa-gap-options"},
            [
                _el("li", {"data-choice": c.identifier, "data-label": labels[c.identifier]},
                    self.fragment(c.content))
                for c in options
            ],
        )  # fmt: skip
        rows = []
        for position, hotspot in enumerate(interaction.hotspots, start=1):
            select_id = self.new_id(rid, "area", hotspot.identifier)
            select = _el(
                "select",
                {
                    "id": select_id,
                    "name": f"{rid}.{hotspot.identifier}",
                    "data-gap": hotspot.identifier,
                    **self.area_attributes(hotspot),
                },
                _el("option", {"value": ""}, "—"),
                [_el("option", {"value": c.identifier}, labels[c.identifier]) for c in options],
            )
            rows.append(
                _el(
                    "div",
                    {"class": "waa-gap-area"},
                    _el("label", {"for": select_id}, self.area_label(hotspot, position)),
                    " ",
                    select,
                )
            )
        fieldset, group_id = self.group(
            interaction, "graphic-gap-match", bank, figure, _el("div", {"class": "waa-areas"}, rows)
        )
        self.describe(
            interaction,
            group_id,
            graphic=graphic,
            options=[
                self.option(
                    c,
                    label=labels[c.identifier],
                    match_max=c.match_max,
                    match_min=c.match_min,
                    image=c.image or None,
                )
                for c in options
            ],
            hotspots=[
                self.area(h, n, match_max=h.match_max, match_min=h.match_min)
                for n, h in enumerate(interaction.hotspots, start=1)
            ],
            limits={
                "max_associations": interaction.max_associations,
                "min_associations": interaction.min_associations,
            },
        )
        return fieldset

    def _render_drawing(self, interaction: Interaction) -> etree._Element:
        """The picture to draw on; the player lays its canvas, pen and buttons over it and
        sends the drawing as a PNG file (the response), as an upload is sent."""
        figure, graphic = self.graphic(interaction.graphic)
        note_id = self.new_id(interaction.response_identifier, "drawing")
        fieldset, group_id = self.group(
            interaction,
            "drawing",
            figure,
            _el(
                "p",
                {"id": note_id, "class": "waa-drawing-state"},
                _("Your drawing is saved as a picture."),
            ),
        )
        self.describe(interaction, group_id, graphic=graphic, accept=["image/png"])
        return fieldset

    # end attempt and media

    def _render_end_attempt(self, interaction: Interaction) -> etree._Element:
        self.inline_count += 1
        rid = interaction.response_identifier
        button_id = self.new_id(rid)
        title = interaction.title or _("End this question")
        button = _el(
            "button",
            {
                "type": "button",
                "id": button_id,
                "class": "waa-interaction waa-end-attempt",
                "data-response-identifier": rid,
                "data-interaction-type": interaction.type.value,
                "aria-pressed": "false",
            },
            title,
        )
        self.describe(interaction, button_id, button_label=title)
        return button

    def media_element(self, interaction: Interaction) -> tuple[etree._Element | None, str]:
        """The ``audio`` or ``video`` a media interaction plays (with controls), and which."""
        media = interaction.graphic
        if media is None:
            return None, "audio"
        try:
            holder = etree.fromstring(f"<div>{media.markup}</div>".encode(), safe_xml_parser())
        except etree.XMLSyntaxError:
            holder = etree.Element("div")
        element = next((c for c in holder if isinstance(c.tag, str)), None)
        if element is not None and _local(element) == "object":
            media_type = (element.get("type") or media.media_type or "").lower()
            kind = "video" if media_type.startswith("video/") else "audio"
            holder = etree.Element("div")
            holder.append(
                _el(kind, {"src": element.get("data"), "width": element.get("width"),
                           "height": element.get("height") if kind == "video" else None})
            )  # fmt: skip
        sanitize_body(holder)
        nodes = self.nodes_of(holder)
        player = next(
            (n for n in nodes if not isinstance(n, str) and _local(n) in ("audio", "video")), None
        )
        if player is None:
            return None, "audio"
        player.set("controls", "controls")
        player.set("preload", "metadata")
        if interaction.loop:
            player.set("loop", "loop")
        return player, _local(player)

    def _render_media(self, interaction: Interaction) -> etree._Element:
        rid = interaction.response_identifier
        player, kind = self.media_element(interaction)
        plays_id = self.new_id(rid, "plays")
        if player is not None:
            player.set("id", self.new_id(rid, kind))
            player.set("aria-describedby", plays_id)
        limit = interaction.max_plays or 0
        note = (
            ngettext("You may play this %(num)d time.", "You may play this %(num)d times.", limit)
            if limit
            else _("You may play this as often as you like.")
        )
        # The plays so far (the response) are kept by the player on the fieldset.
        fieldset, group_id = self.group(
            interaction,
            "media",
            _el("div", {"class": f"waa-media waa-media-{kind}"}, player),
            _el("p", {"id": plays_id, "class": "waa-media-plays"}, note),
        )
        media = interaction.graphic
        self.describe(
            interaction,
            group_id,
            media={
                "kind": kind,
                "src": self.media_url(media.src) if media else None,
                "width": media.width if media else None,
                "height": media.height if media else None,
            },
            limits={
                "autostart": interaction.autostart,
                "min_plays": interaction.min_plays,
                "max_plays": interaction.max_plays,
                "loop": interaction.loop,
            },
        )
        return fieldset

    # portable custom interactions

    def _render_portable_custom(self, interaction: Interaction) -> etree._Element:
        """A sandboxed frame (scripts, no same origin) of this origin's PCI host page,
        which loads the PCI's modules and runs it (static/pci-frame.js); the player sends
        it the description (modules, markup, configuration) and reads its response."""
        rid = interaction.response_identifier
        group_id = self.new_id(rid)
        wrapper = _el(
            "div",
            {
                "id": group_id,
                "class": "waa-interaction waa-pci",
                "data-response-identifier": rid,
                "data-interaction-type": interaction.type.value,
            },
        )
        prompt = self.fragment(interaction.prompt)
        frame = _el(
            "iframe",
            {
                "id": f"{group_id}-frame",
                "class": "waa-pci-frame",
                "src": PCI_FRAME_URL,
                "sandbox": "allow-scripts",
                "referrerpolicy": "no-referrer",
                "tabindex": "0",
                "title": _("Interactive question"),
            },
        )
        if prompt:
            prompt_id = f"{group_id}-prompt"
            wrapper.append(_el("div", {"id": prompt_id, "class": "waa-prompt"}, prompt))
            frame.set("aria-labelledby", prompt_id)
        wrapper.append(frame)
        pci = interaction.pci
        modules: list[dict[str, Any]] = []
        for module in pci.modules if pci else ():
            urls: list[str] = []
            for path in (module.primary_path, module.fallback_path):
                if not path:
                    continue
                url = self.media_url(path) or path
                if url == path and not path.lower().endswith(".js"):
                    url = self.media_url(path + ".js") or path
                if url != path or self.resolve_media is None:
                    urls.append(url)  # a path the item's media lacks is not tried
            modules.append({"id": module.id, "urls": urls})
        self.describe(
            interaction,
            group_id,
            pci={
                "type_identifier": pci.type_identifier if pci else "",
                "module": pci.module if pci else None,
                "modules": modules,
                "markup": self.html(self.fragment(pci.markup)) if pci else "",
                "properties": dict(pci.properties) if pci else {},
                **(pci_frame_fields(self.item, pci, self.resolve_media) if pci else {}),
            },
        )
        return wrapper

    def label_frame(self, wrapper: etree._Element) -> None:
        """A PCI without a prompt is named by the text just before it (the question)."""
        frame = next((c for c in wrapper if isinstance(c.tag, str) and _local(c) == "iframe"), None)
        if frame is None or frame.get("aria-labelledby"):
            return
        before = wrapper.getprevious()
        while before is not None and not "".join(str(t) for t in before.itertext()).strip():
            before = before.getprevious()
        if before is None:
            return
        label_id = before.get("id") or self.new_id(wrapper.get("id") or "pci", "label")
        before.set("id", label_id)
        frame.set("aria-labelledby", label_id)


def _same_language(a: str | None, b: str | None) -> bool:
    """Whether two language tags name the same language (``fr`` and ``fr-CA`` do)."""
    if not a or not b:
        return False
    return a.lower().split("-")[0] == b.lower().split("-")[0]


def _pick_entry(
    entries: Sequence[CardEntry], language: str, item_language: str | None
) -> CardEntry | None:
    """The entry in the attempt's language, else the default one, else the one in the
    item's language, else the first."""
    for wanted in (
        lambda e: _same_language(e.language, language),
        lambda e: e.default,
        lambda e: _same_language(e.language, item_language),
    ):
        found = next((e for e in entries if wanted(e)), None)
        if found is not None:
            return found
    return entries[0] if entries else None


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _copy(node: Any) -> Any:
    if isinstance(node, str):
        return node
    clone = etree.fromstring(etree.tostring(node))
    clone.tail = None
    return clone


def _parse_fragment(markup: str) -> etree._Element:
    """A stored fragment (namespace-free XHTML with QTI element names) parsed into a
    ``div``, sanitized; tag soup falls back to the HTML fragment sanitizer."""
    try:
        holder = etree.fromstring(f"<div>{markup}</div>".encode(), safe_xml_parser())
    except etree.XMLSyntaxError:
        holder = etree.fromstring(
            f"<div>{sanitize_fragment_html(markup)}</div>".encode(), safe_xml_parser()
        )
    sanitize_body(holder)
    return holder


def candidate_view(
    item: ItemDefinition,
    *,
    shuffle_seed: int | None,
    resolve_media: MediaResolver | None = None,
    locale: str | None = None,
    supports: Iterable[str] = (),
) -> dict[str, Any]:
    """The payload a candidate's player receives for ``item`` (JSON-able dict).

    ``shuffle_seed`` (the attempt's seed) fixes the order of shuffled options; ``None``
    keeps document order. ``resolve_media``, when given, maps each relative media path of
    the item (``images/map.png``) to the URL the player fetches it from. ``locale`` is the
    language of the words the renderer adds (the accessible names of blanks, gaps, pairs
    and areas, the default end-attempt button, the notes under drawings and media), the
    locale in force when ``None``; the item's own text stays as its author wrote it.
    ``supports``: the candidate's accessibility supports (content/item/supports.py), whose
    catalog cards are shown besides the glossary and translations every candidate gets.

    Keys: ``format`` (1), ``item_identifier``, ``language``, ``html`` (the body as a
    polyglot HTML fragment) and ``interactions`` (one description per interaction, in
    document order: ``type``, ``response_identifier``, ``cardinality``, ``base_type``,
    ``dom_id`` of the rendered control or group, ``prompt``, ``shuffled``, and per type
    ``options`` / ``source_options`` / ``target_options`` / ``gaps`` / ``graphic`` /
    ``limits`` / ``accept`` / ``placeholder`` / ``orientation``). Raises
    :class:`ItemFormatError` when the body holds an interaction the item does not
    describe.
    """
    with i18n.use_locale(locale if locale is not None else i18n.current()):
        return _candidate_view(item, shuffle_seed, resolve_media, supports)


def _candidate_view(
    item: ItemDefinition,
    shuffle_seed: int | None,
    resolve_media: MediaResolver | None,
    supports: Iterable[str],
) -> dict[str, Any]:
    renderer = _Renderer(item, shuffle_seed, resolve_media, supports)
    try:
        root = etree.fromstring(item.body.encode("utf-8"), safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise ItemFormatError(f"the stored body is not well-formed XML ({exc.msg})") from None
    sanitize_body(root)
    renderer.finish(root)
    for element in list(root.iter()):
        if not isinstance(element.tag, str) or not _is_host(element):
            continue
        if element.getparent() is None and element is not root:
            continue
        local = _local(element)
        if not local.endswith("-interaction"):
            continue
        rid = element.get("response-identifier") or ""
        interaction = item.interaction_for(rid)
        if interaction is None:
            raise ItemFormatError(
                f"the body holds <{local}> for response {rid!r}, which the item does not describe"
            )
        rendered = renderer.render(interaction)
        catalog_ref = element.get("data-catalog-idref")
        if catalog_ref is not None:
            # The interaction's help (terms(), below) stands before its control.
            rendered.set("data-catalog-idref", catalog_ref)
        _replace(element, rendered)
        if interaction.type is InteractionType.PORTABLE_CUSTOM:
            renderer.label_frame(rendered)
    renderer.terms(root)
    html = serialize_polyglot(list(root), leading_text=root.text or "")
    return {
        "format": PAYLOAD_FORMAT,
        "item_identifier": item.identifier,
        "language": item.language,
        "html": html,
        "interactions": renderer.descriptions,
    }


def stimulus_view(
    stimulus: StimulusDefinition, *, resolve_media: MediaResolver | None = None
) -> dict[str, Any]:
    """What a candidate's player receives of a shared stimulus: ``identifier``,
    ``title``, ``language`` and ``html`` (its body sanitized again and serialized as a
    polyglot HTML fragment, QTI markup unwrapped, media resolved as an item's are).
    Nothing else of the bank's record."""
    placeholder = ItemDefinition(
        identifier=stimulus.identifier, title=stimulus.title, body="<qti-item-body/>"
    )
    renderer = _Renderer(placeholder, None, resolve_media)
    holder = _parse_fragment(stimulus.body)
    renderer.finish(holder)
    for element in list(holder.iter()):
        # A stored body holds no interaction (the reader refuses one); should a stored
        # form say otherwise, it is never shown as a control.
        if isinstance(element.tag, str) and _local(element).endswith("-interaction"):
            _remove(element)
    return {
        "identifier": stimulus.identifier,
        "title": stimulus.title,
        "language": stimulus.language,
        "html": serialize_children(holder),
    }
