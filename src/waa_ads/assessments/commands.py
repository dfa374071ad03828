"""``waa-ads assessment ...``: make an assessment from a QTI assessment test package, and
write an assessment as one; show or change a rostered candidate's accommodations.
Registered by the ``waa-ads`` command (cli.py). Commands act as the organization's system
through the same functions as the API; a refusal ends with one ``error:`` line (and the
item report when items were refused) and exit code 2."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from waa_ads.core.errors import DomainError
from waa_ads.core.settings import Settings

assessment_app = typer.Typer(
    help="Assessments in and out as QTI assessment tests; a candidate's accommodations.",
    no_args_is_help=True,
)
err = Console(stderr=True)
T = TypeVar("T")
ORGANIZATION = typer.Option(..., "--organization", help="Organization slug.")


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def _run(
    slug: str, work: Callable[[Any, Any, Any], Awaitable[T]], *, background: bool = False
) -> T:
    """``work(session, principal, blobs)`` in one transaction, as the organization's
    system. ``background``: the tasks the work enqueues run once it commits (published to
    the broker when one is configured, else run in this process before it ends)."""
    from sqlalchemy import select

    from waa_ads.auth.deps import Principal
    from waa_ads.auth.models import Organization
    from waa_ads.content.errors import ImportRejected
    from waa_ads.core.db import database_from_settings
    from waa_ads.core.storage import blob_store_from_settings

    try:
        settings = Settings()
    except ValidationError as exc:
        raise _fail(f"settings: {exc.errors()[0]['msg']}") from None

    async def go() -> T:
        from waa_ads.core.tasks import start_background_work

        db = database_from_settings(settings)
        blobs = blob_store_from_settings(settings)
        tasks = await start_background_work(settings, db=db, blobs=blobs) if background else None
        try:
            async with db.transaction() as session:
                org_id = await session.scalar(
                    select(Organization.id).where(Organization.slug == slug)
                )
                if org_id is None:
                    raise _fail(f"no organization {slug!r}")
                return await work(session, Principal.system(org_id, via="cli"), blobs)
        finally:
            if tasks is not None:
                await tasks.aclose()
            await blobs.aclose()
            await db.dispose()

    try:
        return asyncio.run(go())
    except ImportRejected as exc:
        typer.echo(json.dumps(exc.report.as_dict(), indent=2))
        raise _fail(exc.detail or exc.title) from None
    except DomainError as exc:
        raise _fail(exc.detail or exc.title) from None


@assessment_app.command("import-qti")
def import_qti(
    package: Path = typer.Argument(..., exists=True, dir_okay=False, help="A .zip package."),
    organization: str = ORGANIZATION,
    bank: str = typer.Option(..., "--bank", help="Slug of the bank the items go to."),
    slug: str | None = typer.Option(
        None, "--slug", help="The new assessment's slug (default: from the test)."
    ),
    test: str | None = typer.Option(
        None, "--test", help="The test's resource identifier, when the package holds several."
    ),
) -> None:
    """Make a draft assessment from the package's test; its items go to the bank
    (published). Prints the assessment, the items' statuses and every note as JSON."""
    from sqlalchemy import select

    from waa_ads.assessments import interchange
    from waa_ads.content.models import ItemBank

    data = package.read_bytes()

    async def work(session: Any, principal: Any, blobs: Any) -> dict[str, Any]:
        bank_id = await session.scalar(
            select(ItemBank.id).where(
                ItemBank.organization_id == principal.organization_id, ItemBank.slug == bank
            )
        )
        if bank_id is None:
            raise _fail(f"no item bank {bank!r} in {organization}")
        done = await interchange.import_test_package(
            session, blobs, principal, bank_id, package.name, data, slug=slug, test=test
        )
        return {
            "assessment_id": str(done.assessment.id),
            "slug": done.assessment.slug,
            "version": done.version.version,
            "items": done.items,
            "notes": done.notes,
        }

    if slug is not None:
        from pydantic import TypeAdapter

        from waa_ads.assessments.schemas import Slug

        try:
            TypeAdapter(Slug).validate_python(slug)
        except ValidationError as exc:
            raise _fail(f"--slug {slug!r}: {exc.errors()[0]['msg']}") from None
    result = _run(organization, work)
    typer.echo(json.dumps(result, indent=2))
    err.print(
        f"assessment {escape(result['slug'])} made with {len(result['items'])} items; "
        f"{len(result['notes'])} note(s)",
        soft_wrap=True,
    )


@assessment_app.command("export-qti")
def export_qti(
    assessment: str = typer.Argument(..., help="The assessment's slug."),
    organization: str = ORGANIZATION,
    out: Path = typer.Option(..., "--out", help="The .zip file to write."),
    version: int | None = typer.Option(None, "--version", min=1, help="Default: the newest."),
) -> None:
    """Write an assessment version as a QTI 3.0 package: its items, their media and the
    test."""
    from sqlalchemy import select

    from waa_ads.assessments import interchange
    from waa_ads.assessments.models import Assessment

    async def work(session: Any, principal: Any, blobs: Any) -> bytes:
        assessment_id = await session.scalar(
            select(Assessment.id).where(
                Assessment.organization_id == principal.organization_id,
                Assessment.slug == assessment,
            )
        )
        if assessment_id is None:
            raise _fail(f"no assessment {assessment!r} in {organization}")
        return await interchange.export_test_package(
            session, blobs, principal, assessment_id, version
        )

    data = _run(organization, work)
    out.write_bytes(data)
    err.print(f"wrote {escape(str(out))} ({len(data)} bytes)", soft_wrap=True)


@assessment_app.command("accommodations")
def accommodations(
    administration: str = typer.Argument(..., help="The administration's id."),
    candidate: str = typer.Argument(
        ..., help="The candidate: external id, e-mail or roster entry id."
    ),
    organization: str = ORGANIZATION,
    extra_time: float | None = typer.Option(
        None, "--extra-time", help="Time multiplier, 1 to 4 (default: keep)."
    ),
    extra_attempts: int | None = typer.Option(
        None, "--extra-attempts", help="0 to 10 (default: keep)."
    ),
    extra_breaks: int | None = typer.Option(
        None, "--extra-breaks", help="0 to 10 (default: keep)."
    ),
    supports: str | None = typer.Option(
        None,
        "--supports",
        help="The QTI accessibility supports the candidate gets, separated by spaces or "
        "commas (spoken, braille, sign-language, linguistic-guidance, ext:...); an empty "
        "string removes them all (default: keep).",
    ),
) -> None:
    """Show or change a rostered candidate's accommodations, as `PUT .../roster/{entry}/
    accommodations` does (audited; a live attempt's deadline follows). Prints the roster
    entry as JSON."""
    import uuid

    from sqlalchemy import select

    from waa_ads.assessments import schemas, service
    from waa_ads.auth.models import Candidate
    from waa_ads.content.item import supports as item_supports

    try:
        administration_id = uuid.UUID(administration)
    except ValueError:
        raise _fail(f"{administration!r} is not an administration id") from None
    changes: dict[str, Any] = {
        key: value
        for key, value in (
            ("extra_time_multiplier", extra_time),
            ("extra_attempts", extra_attempts),
            ("extra_breaks", extra_breaks),
        )
        if value is not None
    }
    if supports is not None:
        changes["accessibility_supports"] = item_supports.split_supports(supports)

    async def work(session: Any, principal: Any, blobs: Any) -> dict[str, Any]:
        entries = await service.list_roster(session, principal, administration_id)
        wanted = candidate.strip()
        people = {
            c.id: c
            for c in (
                await session.execute(
                    select(Candidate).where(Candidate.id.in_([e.candidate_id for e in entries]))
                )
            ).scalars()
        }

        def matches(entry: Any) -> bool:
            person = people.get(entry.candidate_id)
            return str(entry.id) == wanted or (
                person is not None
                and (person.external_id == wanted or (person.email or "").lower() == wanted.lower())
            )

        found = [e for e in entries if matches(e)]
        if len(found) != 1:
            raise _fail(
                f"no candidate {wanted!r} on this roster"
                if not found
                else f"several candidates match {wanted!r}: give the roster entry id"
            )
        (entry,) = found
        if changes:
            current = service.entry_read(entry).accommodations.model_dump()
            try:
                data = schemas.Accommodations.model_validate(current | changes)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first["loc"])
                raise _fail(f"{field}: {first['msg']}") from None
            entry = await service.update_accommodations(
                session, principal, administration_id, entry.id, data
            )
        return service.entry_read(entry).model_dump(mode="json")

    result = _run(organization, work, background=bool(changes))
    typer.echo(json.dumps(result, indent=2))
