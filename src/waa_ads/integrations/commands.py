"""``waa-ads webhooks ...``, ``waa-ads lti ...`` and ``waa-ads email ...``: list
subscriptions and the delivery log, replay a delivery, list and rotate the tool's LTI
keys, sync a link's roster, e-mail new access codes to a roster. Registered by the ``waa-ads``
command (cli.py). Commands act as the system with an admin's rights; a refusal ends with
one ``error:`` line and exit code 2."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from waa_ads.core.errors import DomainError
from waa_ads.core.settings import Settings

webhooks_app = typer.Typer(help="Webhook subscriptions and deliveries.", no_args_is_help=True)
lti_app = typer.Typer(help="LTI 1.3: the tool's keys, roster syncs.", no_args_is_help=True)
lti_keys_app = typer.Typer(help="The tool's signing keys (published at /lti/jwks).")
lti_app.add_typer(lti_keys_app, name="keys")
email_app = typer.Typer(help="E-mail to candidates: access codes.", no_args_is_help=True)
err = Console(stderr=True)
T = TypeVar("T")


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def _with_session(work: Callable[[Any, Settings], Awaitable[T]]) -> T:
    from waa_ads.core.db import database_from_settings

    try:
        settings = Settings()
    except ValidationError as exc:
        raise _fail(f"settings: {exc.errors()[0]['msg']}") from None

    async def go() -> T:
        db = database_from_settings(settings)
        try:
            async with db.transaction() as session:
                return await work(session, settings)
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except DomainError as exc:
        raise _fail(exc.detail or exc.title) from None


async def _admin_of(session: Any, slug: str) -> Any:
    from sqlalchemy import select

    from waa_ads.auth.deps import Principal
    from waa_ads.auth.models import Organization

    org_id = await session.scalar(select(Organization.id).where(Organization.slug == slug))
    if org_id is None:
        raise _fail(f"no organization {slug!r}")
    return Principal.system(org_id, via="cli")


def _rows(header: list[str], rows: list[list[str]]) -> None:
    """Tab-separated lines under a header line: whole values, for people and scripts."""
    for row in [header, *rows]:
        typer.echo("\t".join(value.replace("\t", " ") for value in row))


@webhooks_app.command("list")
def webhooks_list(
    organization: str = typer.Option(..., "--organization", help="Organization slug."),
) -> None:
    """The organization's subscriptions: id, state, failures, URL, events."""
    from waa_ads.integrations import webhooks

    async def work(session: Any, settings: Settings) -> None:
        subs = await webhooks.list_subscriptions(session, await _admin_of(session, organization))
        _rows(
            ["id", "active", "failures", "url", "events"],
            [
                [
                    str(s.id),
                    "yes" if s.active else f"no ({s.disabled_reason or 'disabled'})",
                    str(s.consecutive_failures),
                    s.url,
                    ",".join(s.event_types),
                ]
                for s in subs
            ],
        )

    _with_session(work)


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    organization: str = typer.Option(..., "--organization", help="Organization slug."),
    status: str | None = typer.Option(None, help="pending, retrying, succeeded, failed..."),
    limit: int = typer.Option(20, min=1, max=500),
) -> None:
    """The newest deliveries: id, event, status, tries, response code, error."""
    from waa_ads.integrations import webhooks

    async def work(session: Any, settings: Settings) -> None:
        rows, _ = await webhooks.list_deliveries(
            session, await _admin_of(session, organization), status=status, limit=limit
        )
        _rows(
            ["id", "channel", "event", "status", "tries", "code", "error"],
            [
                [
                    str(d.id),
                    d.channel,
                    d.event_type,
                    d.status,
                    str(d.attempts),
                    str(d.response_status or ""),
                    d.error or "",
                ]
                for d in rows
            ],
        )

    _with_session(work)


@webhooks_app.command("replay")
def webhooks_replay(
    delivery_id: str = typer.Argument(..., help="The delivery to send again."),
) -> None:
    """Send a delivery's body again as a new delivery (queued for the workers)."""
    from waa_ads.auth.deps import Principal
    from waa_ads.integrations import webhooks
    from waa_ads.integrations.models import IntegrationDelivery

    try:
        wanted = uuid.UUID(delivery_id)
    except ValueError:
        raise _fail(f"not a delivery id: {delivery_id!r}") from None

    async def work(session: Any, settings: Settings) -> str:
        row = await session.get(IntegrationDelivery, wanted)
        if row is None:
            raise _fail(f"no delivery {delivery_id}")
        copy = await webhooks.replay(
            session, Principal.system(row.organization_id, via="cli"), wanted
        )
        return str(copy.id)

    _install_publisher()
    typer.echo(_with_session(work))


def _install_publisher() -> None:
    """Publish to Celery when a broker is configured. Without one, the job has nowhere to
    go from this process: the replay stays ``pending`` and the server's next dispatch run
    enqueues it (pending deliveries are picked up again after a few seconds)."""
    from waa_ads.core.tasks import (
        CeleryDispatcher,
        celery_app_from_settings,
        discover_task_modules,
        set_dispatcher,
    )

    settings = Settings()
    discover_task_modules(settings.task_modules)
    if settings.broker_url:
        set_dispatcher(CeleryDispatcher(celery_app_from_settings(settings), blocking=True))
    else:
        set_dispatcher(_Deferred())


class _Deferred:
    def dispatch(self, jobs: Any) -> None:
        err.print("no broker configured: the server's next dispatch run sends it")


@lti_keys_app.command("list")
def lti_keys_list() -> None:
    """The tool's keys: kid, current or retired, created."""
    from waa_ads.integrations import lti

    async def work(session: Any, settings: Settings) -> None:
        _rows(
            ["kid", "state", "created"],
            [
                [
                    key.kid,
                    "current" if key.current else f"retired {key.retired_at:%Y-%m-%dT%H:%M}Z",
                    f"{key.created_at:%Y-%m-%dT%H:%M}Z",
                ]
                for key in await lti.list_keys(session)
            ],
        )

    _with_session(work)


@lti_keys_app.command("rotate")
def lti_keys_rotate() -> None:
    """Make a new current key; the previous one stays published (retired) so messages
    it signed still verify. Prints the new kid."""
    from waa_ads.integrations import lti

    async def work(session: Any, settings: Settings) -> str:
        return str((await lti.rotate_key(session)).kid)

    typer.echo(_with_session(work))


@lti_app.command("roster-sync")
def lti_roster_sync(
    link_id: str = typer.Argument(..., help="The resource link (GET /integrations/lti/links)."),
) -> None:
    """Fill the link's administration roster from the course (NRPS), with a progress
    bar. With WAA_BROKER_URL a worker does it (this command follows the sync); without,
    it runs here. Prints the sync's id, status and counts; exit 1 when it failed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from waa_ads.auth.deps import Principal
    from waa_ads.core.db import database_from_settings
    from waa_ads.core.tasks import (
        CeleryDispatcher,
        celery_app_from_settings,
        discover_task_modules,
        use_dispatcher,
    )
    from waa_ads.integrations import lti
    from waa_ads.integrations.models import LtiResourceLink, LtiRosterSync

    try:
        wanted = uuid.UUID(link_id)
    except ValueError:
        raise _fail(f"not a link id: {link_id!r}") from None
    try:
        settings = Settings()
    except ValidationError as exc:
        raise _fail(f"settings: {exc.errors()[0]['msg']}") from None

    async def start(db: Any, *, enqueue: bool) -> uuid.UUID:
        async with db.transaction() as session:
            link = await session.get(LtiResourceLink, wanted)
            if link is None:
                raise _fail(f"no LTI link {link_id}")
            principal = Principal.system(link.organization_id, via="cli")
            return (await lti.start_roster_sync(session, principal, wanted, enqueue=enqueue)).id

    async def go() -> LtiRosterSync:
        db = database_from_settings(settings)
        try:
            with Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                console=err,
            ) as bar:  # fmt: skip
                line = bar.add_task("learners", total=None)
                if settings.broker_url:
                    discover_task_modules(settings.task_modules)
                    dispatcher = CeleryDispatcher(celery_app_from_settings(settings), blocking=True)
                    with use_dispatcher(dispatcher):
                        sync_id = await start(db, enqueue=True)
                    while True:
                        async with db.transaction(write=False) as session:
                            row = await session.get(LtiRosterSync, sync_id)
                            assert row is not None
                            bar.update(line, total=row.members, completed=row.done)
                            if row.status in ("succeeded", "failed"):
                                return row
                        await asyncio.sleep(0.5)
                sync_id = await start(db, enqueue=False)
                await lti.run_roster_sync(
                    db,
                    settings,
                    sync_id,
                    progress=lambda done, total: bar.update(line, total=total, completed=done),
                )
                async with db.transaction(write=False) as session:
                    row = await session.get(LtiRosterSync, sync_id)
                    assert row is not None
                    return row
        finally:
            await db.dispose()

    try:
        row = asyncio.run(go())
    except DomainError as exc:
        raise _fail(exc.detail or exc.title) from None
    _rows(
        ["sync", "status", "members", "added", "skipped", "error"],
        [
            [
                str(row.id),
                row.status,
                str(row.members if row.members is not None else ""),
                str(row.added),
                str(row.skipped),
                row.error or "",
            ]
        ],
    )
    if row.status != "succeeded":
        raise typer.Exit(1)


@email_app.command("access-codes")
def email_access_codes(
    administration: str = typer.Option(..., help="The administration's id."),
    entry: list[str] = typer.Option(
        [], "--entry", help="A roster entry to send to (repeat); the whole roster without."
    ),
    base_url: str | None = typer.Option(
        None, help="This deployment's public origin for the link (WAA_PUBLIC_BASE_URL)."
    ),
) -> None:
    """Give each chosen candidate a NEW access code (the previous one stops working) and
    e-mail it with the link to the test. Prints one line per roster entry: queued with
    its delivery id, or skipped with the reason. The codes are never printed."""
    from waa_ads.assessments.models import Administration
    from waa_ads.auth.deps import Principal
    from waa_ads.integrations import access_codes

    try:
        administration_id = uuid.UUID(administration)
        entry_ids = [uuid.UUID(e) for e in entry] or None
    except ValueError:
        raise _fail("--administration and --entry take ids") from None
    origin = base_url or Settings().public_base_url
    if not origin:
        raise _fail("the link needs this deployment's address: --base-url or WAA_PUBLIC_BASE_URL")

    async def work(session: Any, settings: Settings) -> access_codes.Outcome:
        found = await session.get(Administration, administration_id)
        if found is None:
            raise _fail(f"no administration {administration}")
        return await access_codes.send_access_codes(
            session,
            settings,
            Principal.system(found.organization_id, via="cli"),
            administration_id,
            entry_ids=entry_ids,
            base_url=origin,
        )

    _install_publisher()
    outcome = _with_session(work)
    _rows(
        ["entry", "candidate", "status", "delivery or reason"],
        [
            [str(q.entry_id), str(q.candidate_id), "queued", str(q.delivery_id)]
            for q in outcome.queued
        ]
        + [[str(k.entry_id), str(k.candidate_id), "skipped", k.reason] for k in outcome.skipped],
    )


@email_app.command("invite")
def email_invite(
    organization: str = typer.Option(..., "--organization", help="Organization slug."),
    email: str = typer.Option(..., "--email", help="The person's e-mail address."),
    role: list[str] = typer.Option(
        ..., "--role", help="admin, author, proctor, rater... (repeat for several)."
    ),
    name: str | None = typer.Option(None, "--name", help="Their display name."),
    base_url: str | None = typer.Option(
        None, help="This deployment's public origin for the link (WAA_PUBLIC_BASE_URL)."
    ),
) -> None:
    """Make a staff account without a password and e-mail the person the link that sets
    one. Prints the account's id and the delivery's id (never the link)."""
    from waa_ads.auth import schemas as auth_schemas
    from waa_ads.auth.service import build_auth
    from waa_ads.integrations import access_codes

    origin = base_url or Settings().public_base_url
    if not origin:
        raise _fail("the link needs this deployment's address: --base-url or WAA_PUBLIC_BASE_URL")
    try:
        data = auth_schemas.UserCreate.model_validate(
            {"email": email, "roles": role, "display_name": name}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _fail(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None

    try:
        settings = Settings()
    except ValidationError as exc:
        raise _fail(f"settings: {exc.errors()[0]['msg']}") from None

    async def go() -> tuple[str, str]:
        from waa_ads.core.db import database_from_settings

        db = database_from_settings(settings)
        try:
            async with db.transaction() as session:
                principal = await _admin_of(session, organization)
                user, delivery_id = await access_codes.invite_by_email(
                    session,
                    settings,
                    build_auth(settings, db, None),
                    principal,
                    data,
                    base_url=origin,
                )
                return str(user.id), str(delivery_id)
        finally:
            await db.dispose()

    _install_publisher()
    try:
        user_id, delivery_id = asyncio.run(go())
    except DomainError as exc:
        raise _fail(exc.detail or exc.title) from None
    _rows(["user", "delivery"], [[user_id, delivery_id]])
