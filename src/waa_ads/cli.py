"""The ``waa-ads`` command line."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError
from rich.console import Console

from waa_ads.core.settings import Settings

app = typer.Typer(
    name="waa-ads",
    help="WAA-ADS: automated assessment delivery. Settings come from WAA_* variables.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console(stderr=True)


def load_settings() -> Settings:
    """Settings for a command; a bad or insecure setting ends the command with its reason."""
    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            console.print(f"[red]error:[/red] {where}: {err['msg']}")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Worker processes."),
    migrate: bool = typer.Option(True, help="Upgrade the database schema before serving."),
) -> None:
    """Serve the API (and the web pages) with uvicorn."""
    import uvicorn

    from waa_ads.core import migrate as migrations
    from waa_ads.core.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    if migrate:
        migrations.upgrade(settings.resolved_database_url)
    console.print(f"WAA-ADS listening on http://{host}:{port}  (API docs: /docs)")
    uvicorn.run(
        "waa_ads.main:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Upgrade the database schema (creates the SQLite file on first use)."""
    from waa_ads.core import migrate as migrations

    settings = load_settings()
    migrations.upgrade(settings.resolved_database_url, revision)
    current = migrations.current_revision(settings.resolved_database_url)
    console.print(f"database at revision {current}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. -1.")) -> None:
    """Downgrade the database schema."""
    from waa_ads.core import migrate as migrations

    settings = load_settings()
    migrations.downgrade(settings.resolved_database_url, revision)
    console.print(
        f"database at revision {migrations.current_revision(settings.resolved_database_url)}"
    )


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and the code's head revision."""
    from waa_ads.core import migrate as migrations

    settings = load_settings()
    current = migrations.current_revision(settings.resolved_database_url)
    head = ", ".join(migrations.heads())
    typer.echo(f"current: {current or '(empty database)'}\nhead: {head}")
    if current not in migrations.heads():
        raise typer.Exit(1)


@db_app.command("revision")
def db_revision(
    message: str = typer.Option(..., "-m", "--message", help="What the migration does."),
    autogenerate: bool = typer.Option(True, help="Diff the models against the database."),
) -> None:
    """Write a new migration script (for developers)."""
    from waa_ads.core import migrate as migrations

    settings = load_settings()
    migrations.revision(settings.resolved_database_url, message, autogenerate=autogenerate)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
