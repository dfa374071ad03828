"""``waa-ads rating ...``: list an organization's rating plans, change one from the version
read, and export every rating as CSV. Registered by the ``waa-ads`` command (cli.py).
Commands act as the system with an admin's rights through the same service functions as
the API; a refusal ends with one ``error:`` line and exit code 2."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from waa_ads.core.errors import DomainError
from waa_ads.core.settings import Settings

rating_app = typer.Typer(help="Human rating plans.", no_args_is_help=True)
err = Console(stderr=True)
T = TypeVar("T")
ORGANIZATION = typer.Option(..., "--organization", help="Organization slug.")


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def _run(slug: str, work: Callable[[Any, Any], Awaitable[T]]) -> T:
    """``work(session, principal)`` in one transaction, as the organization's system."""
    from sqlalchemy import select

    from waa_ads.auth.deps import Principal
    from waa_ads.auth.models import Organization
    from waa_ads.core.db import database_from_settings

    try:
        settings = Settings()
    except ValidationError as exc:
        raise _fail(f"settings: {exc.errors()[0]['msg']}") from None

    async def go() -> T:
        db = database_from_settings(settings)
        try:
            async with db.transaction() as session:
                org_id = await session.scalar(
                    select(Organization.id).where(Organization.slug == slug)
                )
                if org_id is None:
                    raise _fail(f"no organization {slug!r}")
                return await work(session, Principal.system(org_id, via="cli"))
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except DomainError as exc:
        raise _fail(exc.detail or exc.title) from None


@rating_app.command("plans")
def plans(organization: str = ORGANIZATION) -> None:
    """The organization's plans, tab-separated: id, version, administration, title."""
    from waa_ads.rating import service

    async def work(session: Any, principal: Any) -> list[list[str]]:
        return [
            [str(p.id), str(p.version), str(p.administration_id), p.title]
            for p in await service.list_plans(session, principal)
        ]

    for row in [["id", "version", "administration_id", "title"], *_run(organization, work)]:
        typer.echo("\t".join(value.replace("\t", " ") for value in row))


@rating_app.command("change")
def change(
    plan_id: uuid.UUID = typer.Argument(..., help="The plan's id."),
    organization: str = ORGANIZATION,
    expected_version: int = typer.Option(
        ..., "--expected-version", help="The plan's version the change is made from."
    ),
    title: str | None = typer.Option(None),
    double_share: float | None = typer.Option(None, help="Share rated twice, 0 to 1."),
    lease_seconds: int | None = typer.Option(None),
    seeded_share: float | None = typer.Option(None),
    agreement_threshold: float | None = typer.Option(None),
    disagreement_rule: str | None = typer.Option(None, help="exact, adjacent or distance."),
    disagreement_distance: float | None = typer.Option(None),
    resolution: str | None = typer.Option(None, help="adjudicator, mean or sum_of_criteria."),
    score_unanswered: bool | None = typer.Option(
        None, "--score-unanswered/--queue-unanswered", help="Unanswered: scored 0, or queued."
    ),
    items: str | None = typer.Option(
        None, "--items", help="Item references, comma separated ('' for every item)."
    ),
) -> None:
    """Change a plan's settings (those given) as PATCH /api/v1/rating/plans/{id} does;
    prints the new version."""
    from waa_ads.rating import schemas, service

    given: dict[str, Any] = {
        "title": title,
        "double_share": double_share,
        "lease_seconds": lease_seconds,
        "seeded_share": seeded_share,
        "agreement_threshold": agreement_threshold,
        "disagreement_rule": disagreement_rule,
        "disagreement_distance": disagreement_distance,
        "resolution": resolution,
        "score_unanswered": score_unanswered,
    }
    body: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if items is not None:
        body["item_refs"] = [ref.strip() for ref in items.split(",") if ref.strip()]
    try:
        update = schemas.PlanUpdate(expected_version=expected_version, **body)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _fail(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None

    async def work(session: Any, principal: Any) -> int:
        plan = await service.update_plan(session, principal, plan_id, update)
        return int(plan.version)

    typer.echo(f"version {_run(organization, work)}")


@rating_app.command("export")
def export(
    plan_id: uuid.UUID = typer.Argument(..., help="The plan's id."),
    organization: str = ORGANIZATION,
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default: stdout)."),
) -> None:
    """Every rating of the plan as CSV (the columns of GET .../export.csv)."""
    from waa_ads.rating import service

    async def work(session: Any, principal: Any) -> str:
        return await service.export_csv(session, principal, plan_id)

    text = _run(organization, work)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
