"""``waa-ads i18n ...``: keep the message catalogues (see :mod:`waa_ads.core.catalogues`)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

i18n_app = typer.Typer(help="Message catalogues: extract and check.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@i18n_app.command("extract")
def extract_command(
    area: list[str] = typer.Option(
        [], "--area", help="Only this area (repeatable); every area when left out."
    ),
) -> None:
    """Write each area's template (``locales/<area>.pot``) from the code and bring every
    locale's catalogue of it up to date."""
    from waa_ads.core.catalogues import run_extract

    try:
        changed = run_extract(area)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    for name in changed:
        out.print(f"updated {escape(name)}", soft_wrap=True)
    if not changed:
        out.print("every catalogue is up to date")


@i18n_app.command("check")
def check_command() -> None:
    """Fail (exit 1) when a template is out of date, a locale is incomplete, or a page or
    browser module shows a sentence that is not in the catalogue."""
    from waa_ads.core.catalogues import check

    findings = check()
    for finding in findings:
        err.print(escape(str(finding)), soft_wrap=True)
    if findings:
        err.print(f"[red]{len(findings)} problem(s) with the message catalogues[/red]")
        raise typer.Exit(1)
    out.print("the message catalogues are complete")


@i18n_app.command("languages")
def languages_command() -> None:
    """The languages the product speaks."""
    from waa_ads.core.i18n import LANGUAGES

    for lang in LANGUAGES.values():
        kind = " (pseudo-locale, for tests)" if lang.pseudo else ""
        out.print(f"{lang.code}\t{escape(lang.name)}\t{lang.direction}{kind}", soft_wrap=True)
