"""Languages: the message catalogues, the locale of the current request, and formatting.

Every sentence a person reads (the player, the console, e-mails, reports, problem titles)
is written in English in the code and looked up in a gettext catalogue for the locale in
force. The catalogues live in ``waa_ads/locales/<locale>/LC_MESSAGES/<area>.po``: one file
per area of the product (see :data:`AREAS`), so each can be translated on its own; at run
time every area of a locale is merged into one set of translations.

The locale in force is a context variable, set per request by the page or API that
negotiated it (:func:`use_locale`) and read by :func:`gettext` and the Jinja callables.
The server keeps times in UTC and durations in seconds; only their formatting
(:func:`format_datetime`, :func:`format_number`, :func:`format_duration`) follows the
locale.

Two pseudo-locales exist for tests and translators, made from the English template at load
time: ``en-XA`` (accented and bracketed, so an untranslated string stands out as plain
English) and ``ar-XB`` (the same text mirrored right to left, to check layouts for Arabic
and Hebrew).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, Final, Literal

from babel import Locale as BabelLocale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations


@dataclass(frozen=True)
class Language:
    """A locale the product speaks: its tag, its name in itself, and its direction."""

    code: str
    name: str
    direction: str = "ltr"
    #: The locale numbers and dates are formatted in (a pseudo-locale borrows one).
    formats: str = ""
    pseudo: bool = False

    @property
    def format_locale(self) -> str:
        return self.formats or self.code.replace("-", "_")


#: The default and fallback: the language the code is written in.
DEFAULT: Final = "en"

LANGUAGES: Final[Mapping[str, Language]] = {
    lang.code: lang
    for lang in (
        Language("en", "English"),
        Language("fr", "Français"),
        Language("en-XA", "[Ëñĝĺîšĥ]", formats="en", pseudo=True),
        Language("ar-XB", "English (mirrored)", direction="rtl", formats="ar", pseudo=True),
    )
}

#: The areas of the product, each with its own catalogue file (``<area>.po``), and the
#: source files whose strings it holds (globs under ``src/waa_ads``; a file belongs to the
#: first area that matches it).
AREAS: Final[Mapping[str, tuple[str, ...]]] = {
    "player": ("web/static/*.js", "web/templates/*.html", "web/*.py"),
    "console": (
        "web/console/templates/*.html",
        "web/console/templates/banks/*.html",
        "web/console/templates/assessments/*.html",
        "web/console/static/console.js",
        "web/console/static/banks.js",
        "web/console/static/assessments.js",
        "web/console/*.py",
        "web/console/sections/bank*.py",
        "web/console/sections/assessment*.py",
        "web/console/sections/item*.py",
        "web/console/sections/media*.py",
        "web/console/sections/rubric*.py",
    ),
    "console-delivery": (
        "web/console/templates/administrations/*.html",
        "web/console/templates/proctor/*.html",
        "web/console/templates/integrity/*.html",
        "web/console/static/administrations.js",
        "web/console/static/proctor.js",
        "web/console/sections/administration*.py",
        "web/console/sections/proctor*.py",
        "web/console/sections/integrity*.py",
    ),
    "console-scoring": (
        "web/console/templates/rating/*.html",
        "web/console/templates/autoscore/*.html",
        "web/console/templates/results/*.html",
        "web/console/static/rating.js",
        "web/console/sections/rating*.py",
        "web/console/sections/autoscore*.py",
        "web/console/sections/result*.py",
    ),
    "console-analysis": (
        "web/console/templates/reports/*.html",
        "web/console/templates/psychometrics/*.html",
        "web/console/templates/organization/*.html",
        "web/console/templates/integrations/*.html",
        "web/console/templates/audit/*.html",
        "web/console/static/reports.js",
        "web/console/sections/*.py",
    ),
    "server": ("**/*.html", "**/*.js", "**/*.py"),
}


def _glob(pattern: str) -> re.Pattern[str]:
    """A path glob where ``*`` stays within one folder and ``**/`` spans any."""
    out = ""
    for part in re.split(r"(\*\*/|\*)", pattern):
        out += "(?:.*/)?" if part == "**/" else "[^/]*" if part == "*" else re.escape(part)
    return re.compile(out + "$")


_AREA_GLOBS: Final = {area: tuple(_glob(g) for g in globs) for area, globs in AREAS.items()}


def area_of(relative: str) -> str | None:
    """The area whose catalogue holds the messages of a source file (relative to the
    package, with ``/``): the first whose globs match it."""
    for area, globs in _AREA_GLOBS.items():
        if any(glob.match(relative) for glob in globs):
            return area
    return None


_current: ContextVar[str] = ContextVar("waa_locale", default=DEFAULT)
#: The locale in force (set per request by the middleware, per page by its handler).
locale_var: Final = _current

#: The cookie holding a reader's own choice of language (the switcher on every page).
LANGUAGE_COOKIE: Final = "waa_lang"

_LOCALES_PACKAGE: Final = "waa_ads.locales"


def language(code: str) -> Language:
    """The language ``code`` names; ``KeyError`` for one the product does not speak."""
    return LANGUAGES[code]


def is_supported(code: str | None) -> bool:
    return code is not None and code in LANGUAGES


def current() -> str:
    """The locale in force for this request or task."""
    return _current.get()


def current_language() -> Language:
    return LANGUAGES[_current.get()]


@contextmanager
def use_locale(code: str | None) -> Iterator[str]:
    """Run a block in ``code`` (the default for ``None`` or a locale not spoken)."""
    chosen = code if code is not None and code in LANGUAGES else DEFAULT
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def set_locale(code: str | None) -> str:
    """Set the locale for the rest of this context (a request handler's task)."""
    chosen = code if code is not None and is_supported(code) else DEFAULT
    _current.set(chosen)
    return chosen


# --- negotiation -----------------------------------------------------------------------

_ACCEPT_ENTRY: Final = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$"
)


def parse_accept_language(header: str | None) -> list[str]:
    """The tags of an ``Accept-Language`` header, most wanted first (q=0 dropped)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:32]):
        match = _ACCEPT_ENTRY.match(part)
        if match is None:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if quality <= 0 or match.group(1) == "*":
            continue
        weighted.append((-quality, position, match.group(1)))
    return [tag for _, _, tag in sorted(weighted)]


def best_match(
    wanted: list[str] | tuple[str, ...], available: tuple[str, ...] | None = None
) -> str | None:
    """The first of ``wanted`` (tags such as ``fr-CA``) the product speaks, by exact tag
    then by language alone; ``None`` when none is spoken."""
    offered = available if available is not None else tuple(LANGUAGES)
    lowered = {code.lower(): code for code in offered}
    for tag in wanted:
        exact = lowered.get(tag.lower())
        if exact is not None:
            return exact
        primary = tag.split("-")[0].lower()
        for code in offered:
            if code.lower() == primary:
                return code
    return None


def cookie_choice(cookie_header: str | None) -> str | None:
    """The language chosen with the switcher (the ``waa_lang`` cookie), if it is one the
    product speaks."""
    if not cookie_header or LANGUAGE_COOKIE not in cookie_header:
        return None
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == LANGUAGE_COOKIE and is_supported(value.strip()):
            return value.strip()
    return None


def negotiate(*choices: str | None, accept_language: str | None = None) -> str:
    """The first of ``choices`` the product speaks (an explicit choice, a candidate's,
    an administration's, an organization's), else the best of ``Accept-Language``, else
    the default."""
    for choice in choices:
        if choice and is_supported(choice):
            return choice
    return best_match(parse_accept_language(accept_language)) or DEFAULT


# --- catalogues ------------------------------------------------------------------------


def _po_files(code: str) -> list[tuple[str, bytes]]:
    folder = resources.files(_LOCALES_PACKAGE).joinpath(code, "LC_MESSAGES")
    if not folder.is_dir():
        return []
    return sorted(
        (entry.name, entry.read_bytes())
        for entry in folder.iterdir()
        if entry.is_file() and entry.name.endswith(".po")
    )


def _template_files() -> list[tuple[str, bytes]]:
    folder = resources.files(_LOCALES_PACKAGE)
    return sorted(
        (entry.name, entry.read_bytes())
        for entry in folder.iterdir()
        if entry.is_file() and entry.name.endswith(".pot")
    )


def _translations_of(catalog: Catalog) -> Translations:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


@cache
def catalogues(code: str) -> tuple[Catalog, ...]:
    """The catalogues of every area for ``code`` (for a pseudo-locale, made from the
    templates)."""
    lang = LANGUAGES[code]
    if lang.pseudo:
        made = []
        for name, data in _template_files():
            template = read_po(io.BytesIO(data), locale="en", domain=name[:-4])
            made.append(_pseudo_catalog(template, mirrored=lang.direction == "rtl"))
        return tuple(made)
    return tuple(
        read_po(io.BytesIO(data), locale=lang.format_locale, domain=name[:-3])
        for name, data in _po_files(code)
    )


@cache
def translations(code: str) -> Translations:
    """Every area's translations for ``code``, merged; empty for English."""
    merged = Translations()
    for catalog in catalogues(code) if code in LANGUAGES else ():
        made = _translations_of(catalog)
        merged.merge(made)
        # Merging keeps the messages, not the plural rule: the locale's, not English's.
        merged.plural = made.plural
    return merged


def gettext(message: str, **variables: Any) -> str:
    """``message`` in the current locale, with ``%(name)s`` filled from ``variables``."""
    text = translations(_current.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    """The plural form for ``n`` in the current locale; ``%(num)d`` is ``n``."""
    text = translations(_current.get()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


def pgettext(context: str, message: str, **variables: Any) -> str:
    """``message`` in ``context`` (the same English word meaning two things)."""
    text = str(translations(_current.get()).pgettext(context, message))
    return text % variables if variables else text


def npgettext(context: str, singular: str, plural: str, n: int, **variables: Any) -> str:
    text = str(translations(_current.get()).npgettext(context, singular, plural, n))
    return text % {"num": n, **variables}


_ = gettext


class LazyString:
    """A message looked up when it is shown, not when the module defining it is imported
    (for module-level tables such as navigation labels and problem titles)."""

    __slots__ = ("context", "message")

    def __init__(self, message: str, context: str | None = None) -> None:
        self.message = message
        self.context = context

    def __str__(self) -> str:
        if self.context is not None:
            return pgettext(self.context, self.message)
        return gettext(self.message)

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))

    def __repr__(self) -> str:
        return f"LazyString({self.message!r})"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self.message)


def lazy_gettext(message: str) -> LazyString:
    return LazyString(message)


def lazy_pgettext(context: str, message: str) -> LazyString:
    return LazyString(message, context)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without looking it up (a class attribute, a
    table entry); whoever shows it calls :func:`gettext` on it then."""
    return message


# --- the player's catalogue ------------------------------------------------------------


def client_catalogue(code: str, areas: tuple[str, ...] = ("player",)) -> dict[str, Any]:
    """The messages of ``areas`` in ``code`` for the browser: ``{msgid: text}`` and, for a
    plural message, ``{singular: {category: text}}`` keyed by CLDR plural category (the
    browser picks one with ``Intl.PluralRules``). A context is joined to the id with
    ``\\u0004`` as gettext does."""
    return _client_catalogue(code, areas)


@cache
def _client_catalogue(code: str, areas: tuple[str, ...]) -> dict[str, Any]:
    lang = LANGUAGES[code]
    messages: dict[str, Any] = {}
    format_locale = BabelLocale.parse(lang.format_locale)
    for catalog in catalogues(code):
        if catalog.domain not in areas:
            continue
        plural_index = _plural_function(catalog)
        for message in catalog:
            if not message.id or not message.string or message.fuzzy:
                continue
            key_id = str(message.id[0] if isinstance(message.id, (tuple, list)) else message.id)
            key = f"{message.context}\u0004{key_id}" if message.context else key_id
            if isinstance(message.id, tuple):
                forms = message.string if isinstance(message.string, tuple) else (message.string,)
                by_category: dict[str, str] = {}
                for n in (*range(0, 200), 1000, 1_000_000):
                    category = format_locale.plural_form(n)
                    index = min(plural_index(n), len(forms) - 1)
                    if category not in by_category and forms[index]:
                        by_category[category] = str(forms[index])
                messages[key] = by_category
            elif isinstance(message.string, str):
                messages[key] = message.string
    return {"locale": code, "dir": lang.direction, "messages": messages}


def _plural_function(catalog: Catalog) -> Any:
    import gettext as std_gettext

    return std_gettext.c2py(catalog.plural_expr)


# --- pseudo-locales --------------------------------------------------------------------

_ACCENTED: Final = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "àƀçđéƒĝĥîĵķĺɱñöþʠŕšţûṽŵẋýžÅƁÇĐÉƑĜĤÎĴĶĹṀÑÖÞǪŔŠŢÛṼŴẊÝŽ",
)
# What must survive untouched: placeholders, HTML tags and entities.
_KEEP: Final = re.compile(r"(%\([a-z_]+\)[sd]|%[sd]|\{[a-z_]+\}|<[^>]+>|&[a-z#0-9]+;)")
_RLO: Final = "\u202e"
_PDF: Final = "\u202c"
_RLM: Final = "\u200f"


def pseudo_text(text: str, *, mirrored: bool) -> str:
    """``text`` in a pseudo-locale: accented and bracketed, or every word mirrored right to
    left (placeholders and markup are kept as they are)."""
    parts = _KEEP.split(text)
    out: list[str] = []
    for index, part in enumerate(parts):
        if index % 2:
            out.append(part)
        elif mirrored:
            out.append(re.sub(r"[^\s]+", lambda m: f"{_RLM}{_RLO}{m.group(0)}{_PDF}{_RLM}", part))
        else:
            out.append(part.translate(_ACCENTED))
    joined = "".join(out)
    return joined if mirrored else f"[{joined} ~]"


def _pseudo_catalog(template: Catalog, *, mirrored: bool) -> Catalog:
    made = Catalog(locale="en", domain=template.domain)
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            string: str | tuple[str, ...] = tuple(
                pseudo_text(form, mirrored=mirrored) for form in message.id
            )
        else:
            string = pseudo_text(str(message.id), mirrored=mirrored)
        made.add(message.id, string, context=message.context)
    return made


# --- formatting ------------------------------------------------------------------------


def _format_locale() -> str:
    return LANGUAGES[_current.get()].format_locale


def format_datetime(value: datetime | None, format: str = "medium", tz: str = "UTC") -> str:
    """A moment in the current locale (shown in ``tz``; UTC unless the viewer's zone is
    known)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return babel_dates.format_datetime(
        value, format=format, tzinfo=babel_dates.get_timezone(tz), locale=_format_locale()
    )


def format_date(value: datetime | None, format: str = "medium") -> str:
    if value is None:
        return ""
    return babel_dates.format_date(value, format=format, locale=_format_locale())


def format_number(value: float | int | None, digits: int | None = None) -> str:
    """A number in the current locale (``digits`` fixed decimals when given)."""
    if value is None:
        return ""
    if digits is None:
        return babel_numbers.format_decimal(value, locale=_format_locale())
    pattern = "#,##0." + "0" * digits if digits > 0 else "#,##0"
    return babel_numbers.format_decimal(value, format=pattern, locale=_format_locale())


def format_percent(value: float | None, digits: int = 0) -> str:
    """A share (0.5) as a percentage in the current locale's way ("50%", « 50 % »), with
    ``digits`` decimals."""
    if value is None:
        return ""
    locale = BabelLocale.parse(_format_locale())
    pattern = locale.percent_formats[None].pattern
    if digits > 0:
        pattern = pattern.replace("#,##0", "#,##0." + "0" * digits, 1)
    return babel_numbers.format_percent(value, format=pattern, locale=locale)


def format_duration(
    seconds: float | int | None,
    granularity: Literal["year", "month", "week", "day", "hour", "minute", "second"] = "second",
) -> str:
    """A length of time in words ("2 minutes", « 2 minutes ») in the current locale."""
    if seconds is None:
        return ""
    return babel_dates.format_timedelta(
        timedelta(seconds=seconds),
        granularity=granularity,
        threshold=1.0,
        locale=_format_locale(),
    )


def install(env: Any) -> Any:
    """Give a Jinja environment the catalogue (``_``, ``gettext``, ``ngettext``,
    ``pgettext`` and ``{% trans %}``), the locale (``locale``, ``text_direction``) and the
    formatting filters."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(
        lambda message: translations(_current.get()).gettext(message),
        lambda singular, plural, n: translations(_current.get()).ngettext(singular, plural, n),
        newstyle=True,
        pgettext=lambda context, message: translations(_current.get()).pgettext(context, message),
        npgettext=lambda context, singular, plural, n: translations(_current.get()).npgettext(
            context, singular, plural, n
        ),
    )
    env.globals["current_locale"] = current
    env.globals["current_language"] = current_language
    env.filters["datetime"] = format_datetime
    env.filters["date"] = format_date
    env.filters["number"] = format_number
    env.filters["percent"] = format_percent
    env.filters["duration"] = format_duration
    return env
