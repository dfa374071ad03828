"""The console's areas: each module here has a ``router`` (paths relative to ``/console``)
and is mounted by :func:`waa_ads.web.console.router.install_console`.

The API sends instants as ISO 8601 text; the ``moment`` filter shows one in the reader's
language (``{{ event.occurred_at | moment }}``, ``| moment(seconds=False)``), in UTC unless
the text carries no zone (an administration's local time, shown as it is); a date alone
is shown as a date."""

from __future__ import annotations

from datetime import UTC, datetime

from babel import dates as babel_dates

from waa_ads.core import i18n
from waa_ads.web.console.pages import templates


def moment(value: str | datetime | None, seconds: bool = True) -> str:
    """An instant as a date and a time of day in the current locale ("Dec 3, 2026,
    21:10:35" / « 3 déc. 2026, 21:10:35 »); text that is not an ISO time is shown as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return value
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    locale = i18n.current_language().format_locale
    day = babel_dates.format_date(when, "medium", locale=locale)
    if isinstance(value, str) and len(value) == len("2026-12-31"):
        return day  # a date alone
    time = babel_dates.format_time(when, "HH:mm:ss" if seconds else "HH:mm", locale=locale)
    return f"{day}, {time}"


templates.filters["moment"] = moment
