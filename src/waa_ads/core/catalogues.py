"""Keeping the message catalogues: extraction, completeness, and hard-coded strings.

``waa-ads i18n extract`` reads every source file of each area (:data:`~waa_ads.core.i18n.AREAS`)
for messages (``_()``, ``gettext``, ``ngettext``, ``pgettext``, ``N_`` in Python and
templates, ``{% trans %}`` blocks; ``t()``, ``nt()``, ``pt()`` in the browser's modules),
writes ``locales/<area>.pot`` and brings every locale's ``<area>.po`` up to date (new
messages empty, gone ones dropped, translations kept).

``waa-ads i18n check`` (part of ``make check``) fails when

* a template is out of date with the code (run ``extract``),
* a locale lacks a translation, has a fuzzy one, or a plural message lacks a form,
* a translation drops or invents a placeholder, or
* a template or browser module shows a sentence that does not go through the catalogue.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from waa_ads.core.i18n import AREAS, LANGUAGES, area_of

PACKAGE_ROOT: Final = Path(__file__).resolve().parent.parent
LOCALES: Final = PACKAGE_ROOT / "locales"

PY_KEYWORDS: Final = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "N_": None,
    "lazy_gettext": None,
    "lazy_pgettext": ((1, "c"), 2),
}
JS_KEYWORDS: Final = {"t": None, "nt": (1, 2), "pt": ((1, "c"), 2)}

#: Source files whose sentences are not in the catalogue yet (shrinks to empty).
NOT_YET: Final[frozenset[str]] = frozenset()

#: Words shown as they are in every language.
UNTRANSLATED: Final = frozenset(
    {"WAA-ADS", "QTI", "LTI", "API", "CSV", "PDF", "JSON", "YAML", "ID", "KR-20"}
)
_UNTRANSLATED_TERM: Final = re.compile(
    r"(?<![\w-])(?:"
    + "|".join(re.escape(term) for term in sorted(UNTRANSLATED, key=len, reverse=True))
    + r")(?![\w-])"
)


def source_files() -> dict[str, list[Path]]:
    """Every source file with messages, by area."""
    found: dict[str, list[Path]] = {area: [] for area in AREAS}
    for path in sorted(PACKAGE_ROOT.rglob("*")):
        if path.suffix not in {".py", ".html", ".js"} or "locales" in path.parts:
            continue
        relative = path.relative_to(PACKAGE_ROOT).as_posix()
        area = area_of(relative)
        if area is not None:
            found[area].append(path)
    return found


def _method(path: Path) -> tuple[str, dict[str, str]]:
    if path.suffix == ".py":
        return "python", {}
    if path.suffix == ".js":
        return "javascript", {}
    return "jinja2.ext:babel_extract", {"trimmed": "true", "newstyle_gettext": "true"}


def extract(area: str, files: Iterable[Path]) -> Catalog:
    """The template catalogue of ``area``."""
    catalog = _new_catalog(area)
    for path in files:
        method, options = _method(path)
        keywords = JS_KEYWORDS if path.suffix == ".js" else PY_KEYWORDS
        relative = path.relative_to(PACKAGE_ROOT).as_posix()
        for lineno, message, comments, context in extract_from_file(
            method, str(path), keywords=keywords, options=options, comment_tags=("i18n:",)
        ):
            catalog.add(
                message,
                None,
                [(relative, lineno)],
                auto_comments=comments,
                context=context,
                flags=("python-format",) if _has_python_placeholder(message) else (),
            )
    return catalog


def _new_catalog(area: str, locale: str | None = None) -> Catalog:
    return Catalog(
        locale=locale,
        domain=area,
        header_comment=f"# WAA-ADS messages of the {area} area.\n",
        project="WAA-ADS",
        version="1",
        copyright_holder="WAA-ADS contributors",
        msgid_bugs_address="",
        fuzzy=False,
        charset="utf-8",
    )


def _has_python_placeholder(message: str | tuple[str, ...]) -> bool:
    texts = message if isinstance(message, tuple) else (message,)
    return any(re.search(r"%\([a-z_]+\)[sd]", text) for text in texts if text)


def _po_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, omit_header=False, sort_output=True, include_lineno=False)
    return _without_dates(buffer.getvalue())


def _without_dates(data: bytes) -> bytes:
    # The creation and revision dates change on every write; they carry nothing here.
    return re.sub(rb'"(POT-Creation-Date|PO-Revision-Date): [^"]*\\n"\n', b"", data)


def real_locales() -> list[str]:
    return [code for code, lang in LANGUAGES.items() if not lang.pseudo and code != "en"]


def run_extract(areas: Iterable[str] = ()) -> list[str]:
    """Write the templates of ``areas`` (all when empty) and update every locale's
    catalogues of them; the files changed."""
    chosen = set(areas)
    unknown = chosen - set(AREAS)
    if unknown:
        raise ValueError(f"no such area: {', '.join(sorted(unknown))} (areas: {', '.join(AREAS)})")
    changed: list[str] = []
    for area, files in source_files().items():
        if chosen and area not in chosen:
            continue
        template = extract(area, files)
        changed += _write(LOCALES / f"{area}.pot", _po_bytes(template))
        for code in real_locales():
            target = LOCALES / code / "LC_MESSAGES" / f"{area}.po"
            if target.exists():
                catalog = read_po(io.BytesIO(target.read_bytes()), locale=code, domain=area)
            else:
                catalog = _new_catalog(area, code)
            catalog.update(template, no_fuzzy_matching=True)
            catalog.obsolete.clear()
            changed += _write(target, _po_bytes(catalog))
    return changed


def _write(path: Path, data: bytes) -> list[str]:
    if path.exists() and path.read_bytes() == data:
        return []
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return [path.relative_to(PACKAGE_ROOT).as_posix()]


@dataclass(frozen=True)
class Finding:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def check() -> list[Finding]:
    """Everything wrong with the catalogues and the sources (empty when all is well)."""
    findings: list[Finding] = []
    templates: dict[str, Catalog] = {}
    for area, files in source_files().items():
        template = extract(area, files)
        templates[area] = template
        written = LOCALES / f"{area}.pot"
        if not written.exists() or written.read_bytes() != _po_bytes(template):
            findings.append(
                Finding(
                    f"locales/{area}.pot", "out of date with the code: run `waa-ads i18n extract`"
                )
            )
        for path in files:
            findings += hard_coded(path)
    for code in real_locales():
        for area, template in templates.items():
            findings += completeness(code, area, template)
        findings += consistency(code)
    return findings


def consistency(code: str) -> list[Finding]:
    """English sentences translated differently in two areas of ``code``. Every area of a
    locale is merged into one set of translations at run time, so one of the two would
    silently win on every page; give one of them a context (``pgettext``) instead."""
    seen: dict[tuple[str | None, str], dict[str, str]] = {}
    for area in AREAS:
        path = LOCALES / code / "LC_MESSAGES" / f"{area}.po"
        if not path.exists():
            continue
        catalog = read_po(io.BytesIO(path.read_bytes()), locale=code, domain=area)
        for message in catalog:
            if not message.id or not message.string or isinstance(message.id, (tuple, list)):
                continue
            key = (message.context, str(message.id))
            seen.setdefault(key, {}).setdefault(str(message.string), area)
    return [
        Finding(
            f"locales/{code}/LC_MESSAGES",
            f"{msgid!r} is translated differently in {', '.join(sorted(set(found.values())))}: "
            + " / ".join(repr(text) for text in found),
        )
        for (_, msgid), found in sorted(seen.items(), key=lambda kv: kv[0][1])
        if len(found) > 1
    ]


def completeness(
    code: str, area: str, template: Catalog, translation: Catalog | None = None
) -> list[Finding]:
    """What ``code``'s catalogue of ``area`` lacks against ``template``: the file in
    ``locales``, or ``translation`` when given."""
    where = f"locales/{code}/LC_MESSAGES/{area}.po"
    path = LOCALES / code / "LC_MESSAGES" / f"{area}.po"
    if translation is None and not path.exists():
        return (
            [Finding(where, "missing: run `waa-ads i18n extract`, then translate it")]
            if len(template)
            else []
        )
    catalog = (
        translation
        if translation is not None
        else read_po(io.BytesIO(path.read_bytes()), locale=code, domain=area)
    )
    findings: list[Finding] = []
    for message in template:
        if not message.id:
            continue
        translated = catalog.get(message.id, context=message.context)
        label = message.id[0] if isinstance(message.id, tuple) else message.id
        if translated is None:
            findings.append(Finding(where, f"not in the catalogue: {label!r}"))
            continue
        if translated.fuzzy:
            findings.append(Finding(where, f"fuzzy: {label!r}"))
        strings = (
            translated.string if isinstance(translated.string, tuple) else (translated.string,)
        )
        if isinstance(message.id, tuple) and len(strings) != catalog.num_plurals:
            findings.append(Finding(where, f"needs {catalog.num_plurals} plural forms: {label!r}"))
        if not all(strings):
            findings.append(Finding(where, f"not translated: {label!r}"))
            continue
        wanted = _placeholders(message.id)
        for string in strings:
            if _placeholders(string) - wanted or (
                not isinstance(message.id, tuple) and _placeholders(string) != wanted
            ):
                findings.append(Finding(where, f"placeholders differ from the English: {label!r}"))
                break
    return findings


_PLACEHOLDER: Final = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|%[sd]")


def _placeholders(message: object) -> set[str]:
    texts = tuple(message) if isinstance(message, (tuple, list)) else (message,)
    found: set[str] = set()
    for text in texts:
        found.update(_PLACEHOLDER.findall(str(text or "")))
    # %(num)d may be left out of a singular form ("one answer").
    return found


# --- hard-coded sentences ----------------------------------------------------------------


def hard_coded(path: Path) -> list[Finding]:
    relative = path.relative_to(PACKAGE_ROOT).as_posix()
    if relative in NOT_YET:
        return []
    if path.suffix == ".html":
        return [
            Finding(f"{relative}:{line}", f"not in the catalogue: {text!r}")
            for line, text in template_texts(path.read_text())
        ]
    if path.suffix == ".js":
        return [
            Finding(f"{relative}:{line}", f"not in the catalogue: {text!r}")
            for line, text in script_texts(path.read_text())
        ]
    return []


_JINJA: Final = re.compile(
    r"\{#.*?#\}|\{%-?\s*trans\b.*?endtrans\s*-?%\}|\{\{.*?\}\}|\{%.*?%\}", re.S
)
_TEXT_ATTRIBUTES: Final = frozenset(
    {"title", "alt", "placeholder", "aria-label", "aria-roledescription", "label"}
)
_WORD: Final = re.compile(r"[^\W\d_]{2,}")


def _shows_words(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped in UNTRANSLATED:
        return False
    # A name such as WAA-ADS or KR-20 is one term, not two words.
    return any(
        word not in UNTRANSLATED for word in _WORD.findall(_UNTRANSLATED_TERM.sub(" ", stripped))
    )


def template_texts(source: str) -> Iterator[tuple[int, str]]:
    """Text a template shows (between tags, or in an attribute a person reads) that is
    written in it rather than looked up."""

    def blank(match: re.Match[str]) -> str:
        # Keep line numbers; a Jinja expression stands for a value, not a word.
        return "\x00" + "\n" * match.group(0).count("\n")

    stripped = _JINJA.sub(blank, source)
    parser = _TextFinder()
    parser.feed(stripped)
    parser.close()
    yield from parser.found


class _TextFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        for name, value in attrs:
            if value and name in _TEXT_ATTRIBUTES and _shows_words(value.replace("\x00", "")):
                self.found.append((self.getpos()[0], value))
            if value and name == "value" and ("type", "submit") in attrs and _shows_words(value):
                self.found.append((self.getpos()[0], value))

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        text = data.replace("\x00", " ")
        if _shows_words(text):
            self.found.append((self.getpos()[0], " ".join(text.split())))


_JS_STRING: Final = re.compile(r"""(?P<q>["'`])(?P<body>(?:\\.|(?!(?P=q)).)*)(?P=q)""", re.S)
_JS_CALL_BEFORE: Final = re.compile(r"(?:\b(?:t|nt|pt)\(\s*|\b(?:nt|pt)\([^()]*,\s*)$")
_JS_IGNORE: Final = re.compile(
    r"\b(?:querySelector(?:All)?|closest|matches|getElementById|createElement|setAttribute|getAttribute|removeAttribute|toggleAttribute|hasAttribute|addEventListener|removeEventListener|fetch|import)\(\s*$"
)
_PROSE: Final = re.compile(r"[A-Za-z][a-z']*[ ][a-z]+|^[A-Z][a-z]{2,}[.!?:]?$")


def script_texts(source: str) -> Iterator[tuple[int, str]]:
    """String literals of a browser module that read as a sentence for a person and are
    not an argument of ``t``/``nt``/``pt``. A line ending in ``// i18n: not shown`` is
    skipped (a log line, a selector)."""
    without_comments = _strip_js_comments(source)
    for match in _JS_STRING.finditer(without_comments):
        body = match.group("body")
        start = match.start()
        line_start = without_comments.rfind("\n", 0, start) + 1
        line_end = without_comments.find("\n", start)
        line_number = without_comments.count("\n", 0, start) + 1
        original_line = (
            source.splitlines()[line_number - 1] if line_number <= len(source.splitlines()) else ""
        )
        if "i18n: not shown" in original_line:
            continue
        before = without_comments[max(0, start - 200) : start]
        if _JS_CALL_BEFORE.search(before) or _JS_IGNORE.search(before):
            continue
        if before.rstrip().endswith("import") or before.rstrip().endswith("from"):
            continue
        text = re.sub(r"\$\{[^}]*\}", "", body)
        if _PROSE.search(text) and _shows_words(text):
            yield line_number, text
        del line_start, line_end


def _strip_js_comments(source: str) -> str:
    out: list[str] = []
    i = 0
    n = len(source)
    quote = ""
    while i < n:
        ch = source[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(source[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = ""
            i += 1
            continue
        if ch in "\"'`":
            quote = ch
            out.append(ch)
            i += 1
            continue
        if source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end == -1 else end
            i = end
            continue
        if source.startswith("/*", i):
            end = source.find("*/", i + 2)
            end = n if end == -1 else end + 2
            out.append("\n" * source.count("\n", i, end))
            i = end
            continue
        out.append(ch)
        i += 1
    return "".join(out)
