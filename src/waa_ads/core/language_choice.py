"""Who gets which language: the locale codes an organization, an administration or a
candidate may name, and the language an attempt is delivered in.

Every code stored in a ``locale`` column is one of :data:`waa_ads.core.i18n.LANGUAGES`
(the pseudo-locales included: they are how tests and translators check a layout), checked
on the way in by :data:`LocaleCode` (a 422 naming the field and the codes accepted).

:func:`attempt_locale` is the one rule for the language of a new attempt, and
:func:`offered_locales` the languages a candidate may switch between; both are pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from waa_ads.core import i18n

#: The most languages an administration may offer (there are only a handful; a bound keeps
#: a request's list from growing the row).
MAX_LOCALES = 16


def spoken() -> str:
    """The codes the product speaks, for messages: ``en, fr, en-XA, ar-XB``."""
    return ", ".join(i18n.LANGUAGES)


def locale_problem(value: object) -> str | None:
    """Why ``value`` is not a locale code the product speaks; ``None`` when it is one."""
    if not isinstance(value, str):
        return "a language is a code such as 'en' or 'fr'"
    if value not in i18n.LANGUAGES:
        return f"{value[:20]!r} is not a language of this product (one of: {spoken()})"
    return None


def _check(value: str) -> str:
    problem = locale_problem(value)
    if problem is not None:
        raise PydanticCustomError("locale", problem)
    return value


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _check_list(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


LocaleCode = Annotated[
    str,
    BeforeValidator(_strip),
    Field(
        min_length=1,
        max_length=16,
        description="A language code of the product: " + ", ".join(i18n.LANGUAGES) + ".",
        examples=["fr"],
    ),
    AfterValidator(_check),
]
"""A language code of :data:`i18n.LANGUAGES` (a request body's field, a form's, a CSV's)."""

LocaleList = Annotated[
    list[LocaleCode],
    Field(max_length=MAX_LOCALES),
    AfterValidator(_check_list),
]
"""Several language codes, each once, in the order given."""


def offered_locales(
    administration: str | None, administration_locales: Iterable[str], organization: str | None
) -> list[str]:
    """The languages a candidate of an administration may be delivered in: the
    administration's language (the organization's default when it names none) first,
    then the languages it lets candidates switch to, each once. Codes the product does
    not speak (an old row) are left out."""
    first = administration or organization
    chosen = [first] if first else []
    return [
        code
        for code in dict.fromkeys([*chosen, *administration_locales])
        if i18n.is_supported(code)
    ]


def switchable_locales(
    administration: str | None, administration_locales: Sequence[str], organization: str | None
) -> list[str]:
    """What the player offers to switch between (the attempt's ``locales``): the offered
    languages, or ``[]`` when the administration allows no switching."""
    if not administration_locales:
        return []
    return offered_locales(administration, administration_locales, organization)


def attempt_locale(
    *,
    candidate: str | None,
    administration: str | None,
    administration_locales: Iterable[str] = (),
    organization: str | None,
    accept_language: str | None = None,
) -> str:
    """The language a new attempt is delivered in.

    In order: the candidate's language (the roster's column) when the administration
    offers it; when the administration offers a choice of languages, the best match of the
    browser's ``Accept-Language`` among them; the administration's language; the
    organization's default; English.

    "Offered" is :func:`offered_locales`: the administration's language (or the
    organization's default) plus the languages it lets candidates switch to. A code the
    product does not speak (an old row) counts as absent. With a single language offered,
    the browser cannot choose another one.
    """
    offered = offered_locales(administration, list(administration_locales), organization)
    if candidate and candidate in offered:
        return candidate
    if len(offered) > 1:
        match = i18n.best_match(i18n.parse_accept_language(accept_language), tuple(offered))
        if match is not None:
            return match
    for code in (administration, organization):
        if code and i18n.is_supported(code):
            return code
    return offered[0] if offered else i18n.DEFAULT
