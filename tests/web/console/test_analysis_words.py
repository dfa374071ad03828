"""The words and formats the analysis and organization pages show: instants from the API
in the reader's language, roles, audit parties and model names translated for display
while the stored values stay as they are."""

from __future__ import annotations

from waa_ads.core import i18n
from waa_ads.web.console.sections import moment
from waa_ads.web.console.sections.audit import party
from waa_ads.web.console.sections.organization import _roles, role_name
from waa_ads.web.console.sections.psychometrics import _flag_text, _models


def test_an_instant_is_shown_in_the_readers_language_in_utc() -> None:
    assert moment("2026-12-03T21:10:35.123456+00:00") == "Dec 3, 2026, 21:10:35"
    assert moment("2026-12-03T22:10:35+01:00", seconds=False) == "Dec 3, 2026, 21:10"
    with i18n.use_locale("fr"):
        assert moment("2026-12-03T21:10:35Z") == "3 déc. 2026, 21:10:35"
        assert moment("2026-02-01") == "1 févr. 2026"  # a date alone stays a date
        # An administration's local time (no zone) is shown as it is.
        assert moment("2026-07-14T09:30:00", seconds=False) == "14 juil. 2026, 09:30"


def test_what_is_not_an_instant_is_shown_as_it_is() -> None:
    assert moment(None) == ""
    assert moment("") == ""
    assert moment("soon") == "soon"


def test_roles_and_audit_parties_are_words_of_the_page_language() -> None:
    assert role_name("admin") == "administrator"
    assert party("item_bank") == "item bank"
    with i18n.use_locale("fr"):
        assert role_name("admin") == "administrateur"
        assert role_name("rater") == "correcteur"
        assert role_name("auditor") == "auditor"  # a role not named here, as stored
        assert party("item_bank") == "banque d'items"
        assert party("user") == "utilisateur"
        assert party("something_new") == "something_new"
        assert dict(_roles())["proctor"] == "Surveillant\u00a0: surveille les sessions"
        assert dict(_models())["rasch"] == "Rasch (une pente commune)"
        assert dict(_models())["2pl"] == "2PL"
        assert _flag_text()["key-looks-wrong"] == "la clé semble erronée"
    # The stored values the forms send back are the codes, in every language.
    with i18n.use_locale("fr"):
        assert [code for code, _ in _roles()] == ["admin", "author", "proctor", "rater"]
