"""The language of an attempt, and the locale codes the product accepts (pure)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from waa_ads.core import i18n
from waa_ads.core.language_choice import (
    LocaleCode,
    LocaleList,
    attempt_locale,
    locale_problem,
    offered_locales,
    switchable_locales,
)


def test_the_candidates_language_wins_when_the_administration_offers_it() -> None:
    assert (
        attempt_locale(
            candidate="fr",
            administration="en",
            administration_locales=["fr"],
            organization="en",
        )
        == "fr"
    )


def test_a_candidates_language_not_offered_gives_way_to_the_administrations() -> None:
    assert attempt_locale(candidate="fr", administration="en", organization="fr") == "en", (
        "no switching: only the administration's language is offered"
    )
    assert (
        attempt_locale(
            candidate="ar-XB", administration="en", administration_locales=["fr"], organization="en"
        )
        == "en"
    )


def test_the_administrations_language_then_the_organizations_default() -> None:
    assert attempt_locale(candidate=None, administration="fr", organization="en") == "fr"
    assert attempt_locale(candidate=None, administration=None, organization="fr") == "fr"


def test_a_candidates_language_equal_to_the_organizations_default_is_offered() -> None:
    # The administration names none: the organization's default is its language.
    assert attempt_locale(candidate="fr", administration=None, organization="fr") == "fr"
    assert (
        attempt_locale(
            candidate="fr", administration=None, administration_locales=["fr"], organization="en"
        )
        == "fr"
    )


def test_the_browsers_language_chooses_among_the_offered_before_the_administrations() -> None:
    # A candidate with no roster language, a French browser, an English administration
    # that lets candidates switch to French: French.
    assert (
        attempt_locale(
            candidate=None,
            administration="en",
            administration_locales=["fr"],
            organization="en",
            accept_language="fr-CA,fr;q=0.9,en;q=0.5",
        )
        == "fr"
    )
    # The roster's language still comes first.
    assert (
        attempt_locale(
            candidate="en",
            administration="en",
            administration_locales=["fr"],
            organization="en",
            accept_language="fr",
        )
        == "en"
    )
    # A browser language not offered leaves the administration's.
    assert (
        attempt_locale(
            candidate=None,
            administration="fr",
            administration_locales=["en"],
            organization="en",
            accept_language="de",
        )
        == "fr"
    )


def test_accept_language_decides_among_the_offered_when_nothing_else_does() -> None:
    chosen = attempt_locale(
        candidate=None,
        administration=None,
        administration_locales=["en", "fr"],
        organization=None,
        accept_language="de-DE, fr-CA;q=0.8, en;q=0.5",
    )
    assert chosen == "fr"
    # A language the administration does not offer is not chosen from the header.
    assert (
        attempt_locale(
            candidate=None,
            administration=None,
            administration_locales=["en"],
            organization=None,
            accept_language="fr",
        )
        == "en"
    )


def test_english_when_nothing_names_a_language() -> None:
    assert attempt_locale(candidate=None, administration=None, organization=None) == "en"
    assert (
        attempt_locale(candidate=None, administration=None, organization=None, accept_language="fr")
        == "en"
    ), "nothing is offered: the header cannot choose"


def test_codes_the_product_does_not_speak_count_as_absent() -> None:
    assert attempt_locale(candidate="xx", administration="yy", organization="fr") == "fr"
    assert (
        attempt_locale(
            candidate=None,
            administration=None,
            administration_locales=["fr", "zz"],
            organization="qq",
            accept_language="fr",
        )
        == "fr"
    )


def test_offered_and_switchable_languages() -> None:
    assert offered_locales("fr", ["en", "fr"], "en") == ["fr", "en"]
    assert offered_locales(None, [], "fr") == ["fr"]
    assert offered_locales(None, ["xx"], None) == []
    assert switchable_locales("fr", [], "en") == [], "no switching"
    assert switchable_locales(None, ["fr"], "en") == ["en", "fr"]


class _Body(BaseModel):
    locale: LocaleCode | None = None
    locales: LocaleList = []


def test_every_language_of_the_product_is_accepted() -> None:
    for code in i18n.LANGUAGES:
        assert _Body(locale=code, locales=[code]).locale == code
        assert locale_problem(code) is None
    assert _Body(locales=["fr", "en", "fr"]).locales == ["fr", "en"]
    assert _Body(locale=" fr ").locale == "fr"


@pytest.mark.parametrize("bad", ["xx", "FR", "fr-FR", "", "e" * 40])
def test_other_codes_are_refused_naming_the_languages_accepted(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _Body(locale=bad)
    if bad and len(bad) <= 16:
        assert "en, fr" in str(caught.value)
    with pytest.raises(ValidationError):
        _Body(locales=["en", bad])


def test_a_list_of_languages_is_bounded() -> None:
    with pytest.raises(ValidationError):
        _Body(locales=["en"] * 17)
