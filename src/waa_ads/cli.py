"""The ``waa-ads`` command line."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from waa_ads.assessments.commands import assessment_app
from waa_ads.core.i18n_commands import i18n_app
from waa_ads.core.settings import Settings
from waa_ads.integrations.commands import email_app, lti_app, webhooks_app
from waa_ads.rating.commands import rating_app
from waa_ads.reporting.commands import report_app

app = typer.Typer(
    name="waa-ads",
    help="WAA-ADS: automated assessment delivery. Settings come from WAA_* variables.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
org_app = typer.Typer(help="Organizations (tenants).", no_args_is_help=True)
app.add_typer(org_app, name="org")
bank_app = typer.Typer(help="Item banks.", no_args_is_help=True)
app.add_typer(bank_app, name="bank")
integrity_app = typer.Typer(help="Integrity analyses.", no_args_is_help=True)
app.add_typer(integrity_app, name="integrity")
psychometrics_app = typer.Typer(help="Item analysis and IRT calibration.", no_args_is_help=True)
app.add_typer(psychometrics_app, name="psychometrics")
cat_app = typer.Typer(help="Computerized adaptive testing.", no_args_is_help=True)
app.add_typer(cat_app, name="cat")
essay_app = typer.Typer(
    help="Automated scoring of free-text answers (no database).", no_args_is_help=True
)
app.add_typer(essay_app, name="essay-model")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(lti_app, name="lti")
app.add_typer(email_app, name="email")
app.add_typer(rating_app, name="rating")
app.add_typer(report_app, name="report")
app.add_typer(assessment_app, name="assessment")
app.add_typer(i18n_app, name="i18n")

console = Console(stderr=True)
T = TypeVar("T")


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
    if workers > 1 and not settings.redis_url:
        console.print(
            f"[yellow]warning:[/yellow] {workers} workers and no WAA_REDIS_URL: live news "
            "(the proctor's live view, a pause reaching the candidate) will not cross "
            "between worker processes; set WAA_REDIS_URL"
        )
    if migrate:
        migrations.upgrade(settings.resolved_database_url)
    console.print(
        f"WAA-ADS listening on http://{host}:{port}  (staff console: /console, API docs: /docs)"
    )
    uvicorn.run(
        "waa_ads.main:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
    )


_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def _require_broker() -> Settings:
    settings = load_settings()
    if not settings.broker_url:
        console.print(
            "[red]error:[/red] WAA_BROKER_URL is not set; without a broker, tasks run "
            "inside `waa-ads serve` and no worker or beat is needed"
        )
        raise typer.Exit(2)
    return settings


@app.command(context_settings=_PASS_THROUGH)
def worker(
    ctx: typer.Context,
    concurrency: int | None = typer.Option(
        None, help="Task processes (default: one per CPU core)."
    ),
    queues: str | None = typer.Option(
        None, help="Comma-separated queues to consume (default: the default queue)."
    ),
) -> None:
    """Run a Celery worker; any further option is handed to `celery worker`."""
    _require_broker()
    from waa_ads.worker import celery_app

    argv = ["worker"]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    if queues:
        argv.append(f"--queues={queues}")
    celery_app.worker_main([*argv, *ctx.args])


@app.command(context_settings=_PASS_THROUGH)
def beat(ctx: typer.Context) -> None:
    """Run the periodic-task scheduler (celery-redbeat: several may run, one leads)."""
    _require_broker()
    from waa_ads.worker import celery_app

    celery_app.start(["beat", "--scheduler=redbeat.RedBeatScheduler", *ctx.args])


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


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's work; a domain error (a refused package, an unknown bank...) ends
    the command with one line giving its reason, never a traceback."""
    from waa_ads.core.errors import DomainError

    try:
        return asyncio.run(coro)
    except DomainError as exc:
        console.print(f"[red]error:[/red] {escape(exc.detail)}", soft_wrap=True)
        raise typer.Exit(2) from None


def _reason(exc: BaseException) -> str:
    """An exception's first line, for an ``error:`` line (a driver's message can run on)."""
    text = str(getattr(exc, "orig", None) or exc).strip() or type(exc).__name__
    return text.splitlines()[0]


@app.command("create-admin")
def create_admin(
    email: str = typer.Option(..., help="The admin's e-mail address (the login)."),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="At least 12 characters."
    ),
    organization: str = typer.Option("default", help="Organization slug; created if missing."),
    organization_name: str | None = typer.Option(None, help="Name of a new organization."),
) -> None:
    """Create an admin account (and its organization when it does not exist yet)."""
    from waa_ads.auth import service as auth_service
    from waa_ads.core import migrate as migrations
    from waa_ads.core.db import database_from_settings
    from waa_ads.core.errors import DomainError

    settings = load_settings()
    if len(password) < 12:
        console.print("[red]error:[/red] the password needs at least 12 characters")
        raise typer.Exit(2)
    migrations.upgrade(settings.resolved_database_url)

    async def go() -> str:
        db = database_from_settings(settings)
        try:
            auth = auth_service.build_auth(settings, db, None)
            async with db.transaction() as session:
                org, user = await auth_service.create_admin(
                    session,
                    auth,
                    email=email,
                    password=password,
                    organization_slug=organization,
                    organization_name=organization_name,
                )
                return f"admin {user.email} ({user.id}) in organization {org.slug}"
        finally:
            await db.dispose()

    try:
        typer.echo(_run(go()))
    except DomainError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None
    except ValidationError as exc:
        console.print(f"[red]error:[/red] {exc.errors()[0]['msg']}")
        raise typer.Exit(2) from None


@audit_app.command("verify")
def audit_verify(
    organization: str | None = typer.Option(
        None, help="Organization slug; default: every chain, the system chain included."
    ),
) -> None:
    """Recompute audit chains and report the first broken link of each; exit 1 if any."""
    import json

    from sqlalchemy import select

    from waa_ads.audit import service as audit_service
    from waa_ads.auth.models import Organization
    from waa_ads.core.db import database_from_settings

    settings = load_settings()

    async def go() -> list[dict[str, Any]]:
        db = database_from_settings(settings)
        try:
            async with db.transaction(write=False) as session:
                if organization:
                    org = (
                        await session.execute(
                            select(Organization).where(Organization.slug == organization)
                        )
                    ).scalar_one_or_none()
                    if org is None:
                        raise typer.BadParameter(f"no organization {organization!r}")
                    chains = [audit_service.chain_for(org.id)]
                else:
                    chains = await audit_service.list_chains(session)
                results = []
                for chain in chains:
                    started = time.perf_counter()
                    result = await audit_service.verify_chain(session, chain)
                    report = result.as_dict()
                    report["seconds"] = round(time.perf_counter() - started, 3)
                    results.append(report)
                return results
        finally:
            await db.dispose()

    results = _run(go())
    for report in results:
        typer.echo(json.dumps(report))
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    organization: str = typer.Option(..., help="Organization slug."),
    out: Path = typer.Option(..., help="File to write (JSON Lines)."),
) -> None:
    """Export an organization's chain as JSON Lines that anyone can verify (docs/audit.md)."""
    from sqlalchemy import select

    from waa_ads.audit import service as audit_service
    from waa_ads.auth.models import Organization
    from waa_ads.core.db import database_from_settings

    settings = load_settings()

    async def go() -> int:
        db = database_from_settings(settings)
        try:
            async with db.transaction(write=False) as session:
                org = (
                    await session.execute(
                        select(Organization).where(Organization.slug == organization)
                    )
                ).scalar_one_or_none()
                if org is None:
                    raise typer.BadParameter(f"no organization {organization!r}")
                count = 0
                with out.open("w", encoding="utf-8") as fh:
                    async for line in audit_service.export_lines(
                        session, audit_service.chain_for(org.id)
                    ):
                        fh.write(line)
                        count += 1
                return count
        finally:
            await db.dispose()

    typer.echo(f"wrote {_run(go())} events to {out}")


@app.command("score-item")
def score_item(
    file: Path = typer.Argument(..., help="A QTI 2.x/3.0 item (.xml) or a native YAML/JSON item."),
    response: str | None = typer.Option(
        None,
        "--response",
        "-r",
        help='Responses as JSON: {"RESPONSE": "A"}; for a one-response item the bare value ("A") '
        "is accepted too.",
    ),
    attempt: list[str] | None = typer.Option(
        None,
        "--attempt",
        "-a",
        help="The responses of one attempt, as --response; repeat for each attempt in order "
        "(an adaptive item carries its outcomes from one to the next until completed).",
    ),
    seed: int | None = typer.Option(
        None, min=0, help="An attempt's seed, which the random operator draws from."
    ),
) -> None:
    """Score responses to one item (no database) and print {"outcomes", "notes"} as JSON;
    with --attempt, each attempt's too ({"attempts": [...]}), the outcomes being the last's.

    A malformed or unsupported item, or responses that are not JSON, end with exit code 2.
    """
    import json

    from rich.markup import escape

    from waa_ads.content.interchange.native import load_item_bytes
    from waa_ads.content.item.definition import ItemFormatError
    from waa_ads.scoring.engine import evaluate, evaluate_attempts

    def fail(message: str) -> typer.Exit:
        console.print(f"[red]error:[/red] {escape(message)}")
        return typer.Exit(2)

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None
    try:
        item = load_item_bytes(data, file.name)
    except ItemFormatError as exc:
        raise fail(f"{file}: {exc.detail}") from None
    declared = [d.identifier for d in item.response_declarations]

    def responses_of(text: str, option: str) -> dict[str, Any]:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise fail(f"{option} is not JSON: {exc.msg}") from None
        known = {*declared, "numAttempts", "duration"}
        if isinstance(value, dict) and value and set(value) <= known:
            return value
        if len(declared) == 1:
            return {declared[0]: value}
        raise fail(
            f"{option} must be an object keyed by response identifier "
            f"({', '.join(declared) or 'the item declares none'})"
        )

    if (response is None) == (not attempt):
        raise fail("give either --response or one --attempt per attempt")
    if attempt:
        runs = evaluate_attempts(item, [responses_of(a, "--attempt") for a in attempt], seed=seed)
        reply = runs[-1].to_dict() | {"attempts": [r.to_dict() for r in runs]}
        typer.echo(json.dumps(reply))
        return
    assert response is not None
    typer.echo(
        json.dumps(evaluate(item, responses_of(response, "--response"), seed=seed).to_dict())
    )


@integrity_app.command("faces")
def integrity_faces(
    images: list[Path] = typer.Argument(..., help="JPEG or PNG stills, in the order taken."),
    preprocess: str = typer.Option("clahe", help="clahe (default), equalize or none."),
) -> None:
    """Analyse still images with the code webcam frames get and print one JSON object per
    line: file, faces, presence, boxes, light, frozen (against the file before it) and
    concerns. A file that cannot be read or is no acceptable still prints its error; the
    exit code is then 2."""
    import json

    from waa_ads.core.errors import DomainError
    from waa_ads.integrity import frames

    if preprocess not in ("clahe", "equalize", "none"):
        raise typer.BadParameter("clahe, equalize or none", param_hint="--preprocess")
    failed = False
    previous = ""
    for image in images:
        try:
            found = frames.analyse_bytes(
                image.read_bytes(), previous_signature=previous, mode=preprocess
            )
        except OSError as exc:
            failed = True
            typer.echo(json.dumps({"file": str(image), "error": f"cannot read: {exc.strerror}"}))
            continue
        except DomainError as exc:
            failed = True
            typer.echo(json.dumps({"file": str(image), "error": exc.detail}))
            continue
        previous = found.signature
        typer.echo(
            json.dumps(
                {"file": str(image)}
                | found.as_dict(with_signature=False)
                | {"concerns": found.concerns}
            )
        )
    if failed:
        raise typer.Exit(2)


@integrity_app.command("similarity")
def integrity_similarity(
    file: Path = typer.Argument(..., help="CSV with candidate,item,response[,correct] rows."),
    alpha: float = typer.Option(0.01, min=1e-12, max=0.5, help="Level after correction."),
    correction: str = typer.Option("bh", help="bh (Benjamini-Hochberg) or bonferroni."),
) -> None:
    """Print the pairs of candidates whose answers agree beyond chance, as CSV (no
    database); a summary goes to stderr. An unreadable CSV ends with exit code 2."""
    from waa_ads.integrity.similarity_csv import ResponsesCsvError, flagged_pairs_csv

    if correction not in ("bh", "bonferroni"):
        raise typer.BadParameter("bh or bonferroni", param_hint="--correction")
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            text, result = flagged_pairs_csv(handle, alpha=alpha, correction=correction)
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    except ResponsesCsvError as exc:
        typer.echo(f"error: {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(text, nl=False)
    typer.echo(
        f"{result.candidates} candidates, {result.items} items, {result.tests} ordered pairs "
        f"tested, {len(result.pairs)} flagged ({correction}, alpha {alpha})",
        err=True,
    )


def _read_score_csv(file: Path) -> object:
    from waa_ads.psychometrics.csvio import ScoresCsvError, read_scores

    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            return read_scores(handle)
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    except ScoresCsvError as exc:
        typer.echo(f"error: {file}: {exc}", err=True)
        raise typer.Exit(2) from None


@psychometrics_app.command("item-analysis")
def psychometrics_item_analysis(
    file: Path = typer.Argument(..., help="CSV: a person column, one integer column per item."),
) -> None:
    """Print classical item statistics per item and for the test as JSON (no database)."""
    import json

    from waa_ads.psychometrics.classical import analyse
    from waa_ads.psychometrics.csvio import ScoreMatrix

    matrix = _read_score_csv(file)
    assert isinstance(matrix, ScoreMatrix)
    typer.echo(json.dumps(analyse(matrix.as_float(), matrix.items).to_dict()))


@psychometrics_app.command("calibrate")
def psychometrics_calibrate(
    file: Path = typer.Argument(..., help="CSV: a person column, one integer column per item."),
    model: str = typer.Option("2pl", help="rasch, 2pl, 3pl, gpcm or grm."),
    max_iterations: int = typer.Option(500, min=1, help="EM iterations at most."),
) -> None:
    """Calibrate the items by marginal maximum likelihood and print the parameters as JSON:
    P(correct) = c + (1 - c) * sigmoid(a * theta + d), b = -d / a, theta ~ N(0, 1)."""
    import json

    from waa_ads.psychometrics.csvio import ScoreMatrix
    from waa_ads.psychometrics.errors import CalibrationInputError
    from waa_ads.psychometrics.irt import MODELS, calibrate

    if model not in MODELS:
        raise typer.BadParameter(", ".join(MODELS), param_hint="--model")
    matrix = _read_score_csv(file)
    assert isinstance(matrix, ScoreMatrix)
    try:
        result = calibrate(matrix.scores, model, matrix.items, max_iterations=max_iterations)
    except CalibrationInputError as exc:
        typer.echo(f"error: {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result.to_dict()))


@psychometrics_app.command("calibrate-administrations")
def psychometrics_calibrate_administrations(
    administration_ids: list[str] = typer.Argument(..., help="Administration ids."),
    model: str = typer.Option("2pl", help="rasch, 2pl, 3pl, gpcm or grm."),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
) -> None:
    """Calibrate on the stored scores of administrations and keep the parameters on the item
    versions, as a calibration run (the same record and code as the API's background runs,
    run here); prints the run as JSON. A failed run ends with exit code 2 and its reason."""
    import uuid

    from waa_ads.auth.deps import Principal
    from waa_ads.core.db import database_from_settings
    from waa_ads.psychometrics import runs, schemas
    from waa_ads.psychometrics.models import CalibrationRun

    try:
        body = schemas.CalibrationCreate(
            administration_ids=[uuid.UUID(a) for a in administration_ids],
            model=model,
        )
    except (ValueError, ValidationError) as exc:
        raise typer.BadParameter(str(exc).splitlines()[0]) from None

    async def go() -> runs.CalibrationRunRead:
        db = database_from_settings(load_settings())
        try:
            async with db.transaction() as session:
                org = await _resolve_organization(session, organization)
                run = await runs.queue_run(session, Principal.system(org.id), body, queue=False)
                run_id = run.id
            console.print(f"calibration run {run_id}: fitting {model}...")
            await runs.execute_run(db, run_id)
            async with db.transaction(write=False) as session:
                done = await session.get(CalibrationRun, run_id)
                assert done is not None
                return runs.run_read(done)
        finally:
            await db.dispose()

    outcome = _run(go())
    typer.echo(outcome.model_dump_json())
    if outcome.status != "done":
        console.print(f"[red]error:[/red] {escape(outcome.error or 'the calibration failed')}")
        raise typer.Exit(2)


@psychometrics_app.command("dif")
def psychometrics_dif(
    file: Path = typer.Argument(
        ..., help="CSV: a person column, a group column, one integer column per item."
    ),
    group: str = typer.Option(..., help="The column holding each person's group."),
    reference: str = typer.Option(..., help="The reference group's value in that column."),
) -> None:
    """Print Mantel-Haenszel and logistic-regression DIF of the right/wrong items as JSON, the
    reference group against each other group of the column (no database)."""
    import json

    from waa_ads.psychometrics.csvio import ScoresCsvError, read_scores_and_groups
    from waa_ads.psychometrics.dif import dif_report
    from waa_ads.psychometrics.errors import DifInputError

    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            matrix, groups = read_scores_and_groups(handle, group)
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    except ScoresCsvError as exc:
        typer.echo(f"error: {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        report = dif_report(matrix.scores, matrix.items, list(groups), reference)
    except DifInputError as exc:
        typer.echo(f"error: {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report))


def _read_calibration(file: Path) -> dict[str, object]:
    import json

    try:
        data = json.loads(file.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        typer.echo(f"error: {file}: not JSON ({exc})", err=True)
        raise typer.Exit(2) from None
    if not isinstance(data, dict):
        typer.echo(f"error: {file}: not a calibration (a JSON object)", err=True)
        raise typer.Exit(2)
    return data


@psychometrics_app.command("link")
def psychometrics_link(
    form_x: Path = typer.Argument(..., help="`calibrate` output of the form to move."),
    form_y: Path = typer.Argument(..., help="`calibrate` output of the form whose scale is kept."),
    method: str = typer.Option(
        "stocking-lord", help="mean-sigma, mean-mean, stocking-lord or haebara."
    ),
) -> None:
    """Link form X's calibration to form Y's scale through their common items and print
    JSON: every method's slope and intercept (theta_Y = slope * theta_X + intercept) and form
    X's items on Y's scale by --method."""
    import json

    from waa_ads.psychometrics.errors import CalibrationInputError
    from waa_ads.psychometrics.linking import link_calibrations

    x, y = _read_calibration(form_x), _read_calibration(form_y)
    try:
        result = link_calibrations(x, y, method)
    except CalibrationInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result))


@psychometrics_app.command("score")
def psychometrics_score(
    file: Path = typer.Argument(..., help="CSV: a person column, one integer column per item."),
    calibration: Path = typer.Option(..., help="`calibrate` (or `link`) output with the items."),
    estimator: str = typer.Option("eap", help="eap, mle or wle."),
    slope: float = typer.Option(1.0, help="Scaled score = slope * theta + intercept."),
    intercept: float = typer.Option(0.0, help="Scaled score = slope * theta + intercept."),
    lowest: float | None = typer.Option(None, help="Clip scaled scores below at this."),
    highest: float | None = typer.Option(None, help="Clip scaled scores above at this."),
) -> None:
    """Print each person's ability (theta, SE) and scaled score (with SE) as JSON, from the
    calibrated items the CSV's columns name (other columns are ignored)."""
    import json

    import numpy as np

    from waa_ads.psychometrics import irt
    from waa_ads.psychometrics.csvio import ScoreMatrix
    from waa_ads.psychometrics.errors import CalibrationInputError
    from waa_ads.psychometrics.linking import parameters_from_calibration, scaled_scores

    estimators = {"eap": irt.eap, "mle": irt.mle, "wle": irt.wle}
    if estimator not in estimators:
        raise typer.BadParameter(", ".join(estimators), param_hint="--estimator")
    matrix = _read_score_csv(file)
    assert isinstance(matrix, ScoreMatrix)
    try:
        items = parameters_from_calibration(_read_calibration(calibration))
        used = [n for n in items.items if n in matrix.items]
        if not used:
            raise CalibrationInputError("no column of the CSV is a calibrated item")
        columns = [matrix.items.index(n) for n in used]
        scores = matrix.scores[:, columns]
        top = items.subset(used).ncat.astype(np.int64) - 1
        if (scores > top[None, :]).any():
            raise CalibrationInputError("a score is above its item's calibrated categories")
        abilities = estimators[estimator](items.subset(used).to_calibration(), scores)
        scaled, scaled_se = scaled_scores(
            abilities.theta, abilities.se, slope, intercept, lowest=lowest, highest=highest
        )
    except CalibrationInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        json.dumps(
            {
                "estimator": estimator,
                "items": used,
                "scale": {"slope": slope, "intercept": intercept},
                "persons": [
                    {
                        "person": person,
                        "theta": float(t),
                        "se": float(e),
                        "scaled": float(s),
                        "scaled_se": float(se),
                    }
                    for person, t, e, s, se in zip(
                        matrix.persons,
                        abilities.theta,
                        abilities.se,
                        scaled,
                        scaled_se,
                        strict=True,
                    )
                ],
            }
        )
    )


@cat_app.command("simulate")
def cat_simulate(
    bank: Path | None = typer.Option(
        None, help='`calibrate` JSON of right/wrong items (items may carry "tags").'
    ),
    bank_id: str | None = typer.Option(
        None, help="An item bank's id: its items' stored rasch/2pl/3pl parameters."
    ),
    candidates: int = typer.Option(1000, min=1, help="Simulated candidates, theta ~ N(0, 1)."),
    selection: str = typer.Option("max-info", help="max-info, randomesque or a-stratified."),
    randomesque: int = typer.Option(5, min=1, help="Randomesque: choose among this many."),
    strata: int = typer.Option(4, min=1, help="a-stratified: number of strata."),
    se_target: float | None = typer.Option(0.3, help="Stop once the SE is at most this."),
    min_items: int = typer.Option(5, min=1, help="Never stop before this many items."),
    max_items: int = typer.Option(30, min=1, help="Stop at this many items."),
    max_seconds: float | None = typer.Option(None, help="Stop once this much time is spent."),
    seconds_per_item: float = typer.Option(60.0, min=0, help="Simulated time per item."),
    content: list[str] = typer.Option(
        [], help="Target share of a tag, TAG=SHARE (repeat the option per tag)."
    ),
    exposure_target: float | None = typer.Option(
        None, help="Sympson-Hetter: hold each item's exposure near this rate."
    ),
    seed: int = typer.Option(0, help="Random seed (the run is deterministic for a seed)."),
) -> None:
    """Run an adaptive test against simulated candidates and print JSON: bias, RMSE, mean
    test length and SE, stop reasons and item exposure rates."""
    import json
    import uuid

    import numpy as np

    from waa_ads.assessments import adaptive

    if (bank is None) == (bank_id is None):
        raise typer.BadParameter("give --bank FILE or --bank-id ID (one of them)")
    if selection not in adaptive.SELECTIONS:
        raise typer.BadParameter(", ".join(adaptive.SELECTIONS), param_hint="--selection")
    shares: dict[str, float] = {}
    for entry in content:
        tag, _, share = entry.partition("=")
        try:
            shares[tag.strip()] = float(share)
        except ValueError:
            raise typer.BadParameter(
                f"{entry!r} is not TAG=SHARE", param_hint="--content"
            ) from None
    model: str | None = None
    if bank is not None:
        calibration = _read_calibration(bank)
        items = calibration.get("items")
        model = str(calibration.get("model") or "") or None
        if not isinstance(items, list):
            typer.echo(f"error: {bank}: no items", err=True)
            raise typer.Exit(2)
    else:
        try:
            wanted = uuid.UUID(str(bank_id))
        except ValueError:
            raise typer.BadParameter("not an id", param_hint="--bank-id") from None

        async def read(session: Any) -> str:
            from waa_ads.psychometrics.service import calibrated_bank_items

            return json.dumps(await calibrated_bank_items(session, wanted))

        items = json.loads(_in_transaction(load_settings(), read, write=False))
        if not items:
            typer.echo("error: the bank has no items with rasch, 2pl or 3pl parameters", err=True)
            raise typer.Exit(2)
    try:
        cat_bank = adaptive.CatBank.from_items(items, model)
        rules = adaptive.CatRules(
            selection=selection,
            randomesque=randomesque,
            strata=strata,
            se_target=se_target,
            min_items=min_items,
            max_items=max_items,
            max_seconds=max_seconds,
            content=shares,
        )
        rules.check(cat_bank)
        if exposure_target is not None:
            k = adaptive.sympson_hetter(cat_bank, rules, exposure_target, seed=seed)
            rules = adaptive.CatRules(**{**rules.__dict__, "exposure": k})
        thetas = np.random.default_rng(seed).standard_normal(candidates)
        report = adaptive.simulate(cat_bank, rules, thetas, seed + 1, seconds_per_item)
    except adaptive.CatConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    out = report.to_dict(cat_bank)
    out["bank_items"] = len(cat_bank.items)
    out["selection"] = selection
    typer.echo(json.dumps(out))


@cat_app.command("assessment")
def cat_assessment(
    definition_file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="The assessment definition (JSON), as the API takes it.",
    ),
    slug: str = typer.Option(..., help="The assessment's slug: created, or its draft replaced."),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
    publish: bool = typer.Option(False, "--publish", help="Publish the version saved."),
) -> None:
    """Create or change an assessment from a definition file, with adaptive sections checked
    as the API checks them (pool items without right/wrong IRT parameters, too few items,
    ...: exit code 2 and the reason), and publish it when asked (freezing each adaptive
    pool's parameters). Prints the assessment, its version and each adaptive pool's size."""
    import json

    from pydantic import ValidationError
    from sqlalchemy import select

    from waa_ads.assessments import schemas as assessment_schemas
    from waa_ads.assessments import service as assessment_service
    from waa_ads.assessments.definition import AssessmentDefinition, Pinned
    from waa_ads.assessments.models import Assessment
    from waa_ads.auth.deps import Principal

    try:
        definition = AssessmentDefinition.model_validate(json.loads(definition_file.read_text()))
    except (ValueError, ValidationError) as exc:
        typer.echo(f"error: {definition_file}: {exc}", err=True)
        raise typer.Exit(2) from None

    async def work(session: Any) -> str:
        org = await _resolve_organization(session, organization)
        principal = Principal.system(org.id)
        existing = (
            await session.execute(
                select(Assessment).where(
                    Assessment.organization_id == org.id, Assessment.slug == slug
                )
            )
        ).scalar_one_or_none()
        if existing is None:
            assessment, version = await assessment_service.create_assessment(
                session,
                principal,
                assessment_schemas.AssessmentCreate(slug=slug, definition=definition),
            )
        else:
            assessment, version = await assessment_service.update_assessment(
                session,
                principal,
                existing.id,
                assessment_schemas.AssessmentUpdate(definition=definition),
            )
        lines = [f"assessment {slug} ({assessment.id}) version {version.version}"]
        if publish:
            assessment, version = await assessment_service.publish(
                session, principal, assessment.id
            )
            lines.append(f"published version {version.version} ({version.id})")
            pinned = Pinned.model_validate(version.pinned)
            for section in pinned.sections:
                if section.adaptive:
                    lines.append(
                        f"adaptive section {section.identifier}: "
                        f"{len(section.adaptive)} calibrated items"
                    )
        return "\n".join(lines)

    typer.echo(_in_transaction(load_settings(), work))


def _language_option(value: str) -> str:
    """A language option or argument: one of the product's languages (else a usage error
    naming them)."""
    from waa_ads.core.language_choice import locale_problem

    problem = locale_problem(value.strip())
    if problem is not None:
        raise typer.BadParameter(problem)
    return value.strip()


@org_app.command("create")
def org_create(
    slug: str = typer.Argument(..., help="Short name in URLs and commands, e.g. 'acme'."),
    name: str = typer.Option(..., help="The organization's display name."),
    timezone: str = typer.Option("UTC", help="IANA time zone for administration windows."),
    language: str = typer.Option(
        "en",
        callback=_language_option,
        help="The language of its candidates' tests when neither the candidate nor the "
        "administration names one (en, fr...).",
    ),
) -> None:
    """Create an organization (migrating the database first, as on a fresh install)."""
    from waa_ads.audit.service import SYSTEM_ACTOR
    from waa_ads.auth import service as auth_service
    from waa_ads.core import migrate as migrations

    settings = load_settings()
    migrations.upgrade(settings.resolved_database_url)

    async def work(session: Any) -> str:
        org = await auth_service.create_organization(
            session,
            slug=slug,
            name=name,
            timezone=timezone,
            default_locale=language,
            actor=SYSTEM_ACTOR,
        )
        return f"organization {org.slug} ({org.id})"

    typer.echo(_in_transaction(settings, work))


@org_app.command("set-language")
def org_set_language(
    slug: str = typer.Argument(..., help="The organization's short name."),
    language: str = typer.Argument(
        ..., callback=_language_option, help="A language of the product: en, fr..."
    ),
) -> None:
    """Set an organization's default language: its candidates' tests are in it when
    neither the candidate (the roster) nor the administration names one. Audited."""
    from waa_ads.audit.service import SYSTEM_ACTOR
    from waa_ads.auth import schemas as auth_schemas
    from waa_ads.auth import service as auth_service

    async def work(session: Any) -> str:
        org = await _resolve_organization(session, slug)
        org = await auth_service.update_organization(
            session,
            org.id,
            auth_schemas.OrganizationUpdate(default_locale=language),
            actor=SYSTEM_ACTOR,
        )
        return f"organization {org.slug}: default language {org.default_locale}"

    typer.echo(_in_transaction(load_settings(), work))


@org_app.command("list")
def org_list() -> None:
    """List organizations: slug, time zone, name and default language, one per line."""
    from sqlalchemy import select

    from waa_ads.auth.models import Organization

    async def work(session: Any) -> str:
        orgs = (await session.execute(select(Organization).order_by(Organization.slug))).scalars()
        return "\n".join(f"{o.slug}\t{o.timezone}\t{o.name}\t{o.default_locale}" for o in orgs)

    typer.echo(_in_transaction(load_settings(), work, write=False))


@bank_app.command("create")
def bank_create(
    slug: str = typer.Argument(..., help="Short name, e.g. 'algebra-1'."),
    name: str = typer.Option(..., help="The bank's display name."),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
    description: str | None = typer.Option(None, help="What the bank holds."),
    review_required: bool = typer.Option(
        False, help="Publishing needs a reviewer's approval of a submitted version."
    ),
) -> None:
    """Create an item bank (as the system; audited like one made through the API)."""
    from waa_ads.auth.deps import Principal
    from waa_ads.content import schemas as content_schemas
    from waa_ads.content import service as content_service

    try:
        data = content_schemas.BankCreate(
            slug=slug, name=name, description=description, review_required=review_required
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise typer.BadParameter(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None

    async def work(session: Any) -> str:
        org = await _resolve_organization(session, organization)
        bank = await content_service.create_bank(session, Principal.system(org.id), data)
        return f"item bank {bank.slug} ({bank.id}) in organization {org.slug}"

    typer.echo(_in_transaction(load_settings(), work))


@bank_app.command("list")
def bank_list(
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
    archived: bool = typer.Option(False, "--archived", help="Include archived banks."),
) -> None:
    """List an organization's item banks: slug, id and name, one per line (archived ones,
    with --archived, marked so)."""
    from sqlalchemy import select

    from waa_ads.content.models import ItemBank

    async def work(session: Any) -> str:
        org = await _resolve_organization(session, organization)
        stmt = select(ItemBank).where(ItemBank.organization_id == org.id)
        if not archived:
            stmt = stmt.where(ItemBank.archived_at.is_(None))
        banks = (await session.execute(stmt.order_by(ItemBank.slug))).scalars()
        return "\n".join(
            f"{b.slug}\t{b.id}\t{b.name}" + ("\t(archived)" if b.archived_at else "") for b in banks
        )

    typer.echo(_in_transaction(load_settings(), work, write=False))


def _bank_change(slug: str, organization: str | None, action: str) -> None:
    """Archive, restore or delete a bank as the system (audited like the API's)."""
    from waa_ads.assessments import service as _assessments  # noqa: F401  (its deletion check)
    from waa_ads.auth.deps import Principal
    from waa_ads.content import service as content_service

    async def work(session: Any) -> str:
        org, bank = await _resolve_bank(session, organization, slug)
        principal = Principal.system(org.id)
        if action == "archive":
            await content_service.archive_bank(session, principal, bank.id)
            return f"archived item bank {bank.slug} ({bank.id})"
        if action == "restore":
            await content_service.restore_bank(session, principal, bank.id)
            return f"restored item bank {bank.slug} ({bank.id})"
        await content_service.delete_bank(session, principal, bank.id)
        return f"deleted item bank {bank.slug} ({bank.id}) and its items"

    typer.echo(_in_transaction(load_settings(), work))


@bank_app.command("archive")
def bank_archive(
    slug: str = typer.Argument(..., help="The bank's slug."),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
) -> None:
    """Archive a bank: hidden from listings, still readable by id, restorable."""
    _bank_change(slug, organization, "archive")


@bank_app.command("restore")
def bank_restore(
    slug: str = typer.Argument(..., help="The bank's slug."),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
) -> None:
    """Restore an archived bank."""
    _bank_change(slug, organization, "restore")


@bank_app.command("delete")
def bank_delete(
    slug: str = typer.Argument(..., help="The bank's slug."),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete a bank and its items; refused while an assessment or attempt uses them
    (archive it instead)."""
    if not yes:
        typer.confirm(f"delete item bank {slug!r} and all its items?", abort=True)
    _bank_change(slug, organization, "delete")


@bank_app.command("translate")
def bank_translate(
    slug: str = typer.Argument(..., help="The bank's slug."),
    identifier: str = typer.Argument(..., help="The identifier of the item to translate."),
    path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="The translation: a QTI .xml or native .yaml/.json."
    ),
    language: str | None = typer.Option(
        None, help="Its language (en, fr...); default: the one the file declares (xml:lang)."
    ),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
    publish: bool = typer.Option(False, "--publish", help="Publish the translation at once."),
) -> None:
    """Add a translation of an item: the file is the item in another language, with the
    same interactions, response identifiers and choices. Candidates of that language are
    shown it in the item's place; it is scored and analysed as the item. Audited."""
    from sqlalchemy import select

    from waa_ads.auth.deps import Principal
    from waa_ads.content import service as content_service
    from waa_ads.content import transfer
    from waa_ads.content.models import Item

    if language is not None:
        language = _language_option(language)
    found = transfer.candidates_from_path(path)
    if len(found) != 1 or found[0].item is None:
        reason = found[0].error if len(found) == 1 else f"{len(found)} items in the file"
        console.print(f"[red]error:[/red] {path}: {reason}")
        raise typer.Exit(2)
    definition = found[0].item

    async def work(session: Any) -> str:
        org, bank = await _resolve_bank(session, organization, slug)
        item_id = (
            await session.execute(
                select(Item.id).where(Item.bank_id == bank.id, Item.identifier == identifier)
            )
        ).scalar_one_or_none()
        if item_id is None:
            raise typer.BadParameter(f"no item {identifier!r} in bank {bank.slug}")
        item, version = await content_service.create_translation(
            session,
            Principal.system(org.id),
            item_id,
            definition,
            language=language,
            change_note=f"translation from {path.name}"[:2000],
            publish=publish,
        )
        return (
            f"translation {item.identifier} ({item.id}) of {identifier} in {item.language}, "
            f"version {version.version} {version.status}"
        )

    typer.echo(_in_transaction(load_settings(), work))


@bank_app.command("stimuli")
def bank_stimuli(
    slug: str = typer.Argument(..., help="The bank's slug."),
    archived: bool = typer.Option(False, "--archived", help="Include archived stimuli."),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
) -> None:
    """List a bank's shared stimuli: identifier, id, newest version and title, one per
    line (archived ones only with --archived, marked so)."""
    from sqlalchemy import select

    from waa_ads.content.models import Stimulus

    async def work(session: Any) -> str:
        _, bank = await _resolve_bank(session, organization, slug)
        stmt = select(Stimulus).where(Stimulus.bank_id == bank.id)
        if not archived:
            stmt = stmt.where(Stimulus.archived_at.is_(None))
        rows = (await session.execute(stmt.order_by(Stimulus.identifier))).scalars()
        return "\n".join(
            f"{s.identifier}\t{s.id}\tv{s.latest_version}\t{s.title}"
            + ("\tarchived" if s.archived_at is not None else "")
            for s in rows
        )

    typer.echo(_in_transaction(load_settings(), work, write=False))


async def _resolve_stimulus(
    session: Any, organization: str | None, slug: str, identifier: str
) -> tuple[Any, Any]:
    """The organization and the bank's stimulus named ``identifier``."""
    from sqlalchemy import select

    from waa_ads.content.errors import StimulusNotFound
    from waa_ads.content.models import Stimulus

    org, bank = await _resolve_bank(session, organization, slug)
    stimulus = (
        await session.execute(
            select(Stimulus).where(Stimulus.bank_id == bank.id, Stimulus.identifier == identifier)
        )
    ).scalar_one_or_none()
    if stimulus is None:
        raise StimulusNotFound(f"bank {slug!r} holds no shared stimulus {identifier!r}")
    return org, stimulus


@bank_app.command("stimulus-items")
def bank_stimulus_items(
    slug: str = typer.Argument(..., help="The bank's slug."),
    identifier: str = typer.Argument(..., help="The stimulus's identifier."),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
) -> None:
    """List the items whose newest version uses a shared stimulus: identifier, id,
    version, status and title, one per line."""
    from waa_ads.auth.deps import Principal
    from waa_ads.content import stimuli

    async def work(session: Any) -> str:
        org, stimulus = await _resolve_stimulus(session, organization, slug, identifier)
        users = await stimuli.items_using(session, Principal.system(org.id), stimulus.id)
        if not users:
            return f"no item uses stimulus {stimulus.identifier}"
        return "\n".join(
            f"{item.identifier}\t{item.id}\tv{version.version}\t{version.status}\t{version.title}"
            + ("\tarchived" if item.archived_at is not None else "")
            for item, version in users
        )

    typer.echo(_in_transaction(load_settings(), work, write=False))


@bank_app.command("stimulus-archive")
def bank_stimulus_archive(
    slug: str = typer.Argument(..., help="The bank's slug."),
    identifier: str = typer.Argument(..., help="The stimulus's identifier."),
    restore: bool = typer.Option(False, "--restore", help="Restore an archived stimulus."),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
) -> None:
    """Archive a shared stimulus: left out of the bank's list and of new references, still
    shown beside the items that use it (--restore undoes it). Audited."""
    from waa_ads.auth.deps import Principal
    from waa_ads.content import stimuli

    async def work(session: Any) -> str:
        org, stimulus = await _resolve_stimulus(session, organization, slug, identifier)
        change = stimuli.restore if restore else stimuli.archive
        await change(session, Principal.system(org.id), stimulus.id)
        return f"{'restored' if restore else 'archived'} stimulus {stimulus.identifier}"

    typer.echo(_in_transaction(load_settings(), work))


@bank_app.command("stimulus-delete")
def bank_stimulus_delete(
    slug: str = typer.Argument(..., help="The bank's slug."),
    identifier: str = typer.Argument(..., help="The stimulus's identifier."),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
) -> None:
    """Delete a shared stimulus no item uses, with its versions (refused while items use
    it: archive it instead). Audited."""
    from waa_ads.auth.deps import Principal
    from waa_ads.content import stimuli

    async def work(session: Any) -> str:
        org, stimulus = await _resolve_stimulus(session, organization, slug, identifier)
        await stimuli.delete_stimulus(session, Principal.system(org.id), stimulus.id)
        return f"deleted stimulus {identifier}"

    typer.echo(_in_transaction(load_settings(), work))


@bank_app.command("stimulus")
def bank_stimulus(
    slug: str = typer.Argument(..., help="The bank's slug."),
    path: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="A QTI shared stimulus (qti-assessment-stimulus) .xml file.",
    ),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
) -> None:
    """Add a shared stimulus (or store its next version, when the bank holds its
    identifier and the content differs), with the pictures it shows from beside the file.
    Items name it by its identifier (qti-assessment-stimulus-ref). Audited."""
    from waa_ads.auth.deps import Principal
    from waa_ads.content import transfer
    from waa_ads.content.item.definition import ItemFormatError
    from waa_ads.core.storage import blob_store_from_settings

    try:
        found = transfer.stimulus_from_path(path)
    except ItemFormatError as exc:
        console.print(f"[red]error:[/red] {path}: {exc.detail}")
        raise typer.Exit(2) from None
    settings = load_settings()

    async def work(session: Any) -> str:
        org, bank = await _resolve_bank(session, organization, slug)
        blobs = blob_store_from_settings(settings)
        try:
            row, status, version = await transfer.store_stimulus(
                session, blobs, Principal.system(org.id), bank.id, found
            )
        finally:
            await blobs.aclose()
        said = {"imported": "added", "new_version": "new version of", "unchanged": "unchanged"}
        return f"{said[status]} stimulus {row.identifier} ({row.id}), version {version}"

    typer.echo(_in_transaction(settings, work))


def _in_transaction(
    settings: Settings, work: Callable[[Any], Awaitable[str]], *, write: bool = True
) -> str:
    """Run ``work`` in one unit of work; a domain error ends the command with its reason."""
    from waa_ads.core.db import database_from_settings
    from waa_ads.core.errors import DomainError

    async def go() -> str:
        db = database_from_settings(settings)
        try:
            async with db.transaction(write=write) as session:
                return await work(session)
        finally:
            await db.dispose()

    try:
        return _run(go())
    except DomainError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None


async def _resolve_organization(session: Any, organization: str | None) -> Any:
    """The organization a command works on: the only one, or the one named."""
    from sqlalchemy import select

    from waa_ads.auth.models import Organization

    orgs = (await session.execute(select(Organization).order_by(Organization.slug))).scalars()
    orgs = [o for o in orgs if organization is None or o.slug == organization]
    if len(orgs) != 1:
        names = ", ".join(o.slug for o in orgs) or "none"
        raise typer.BadParameter(
            f"name the organization with --organization (found: {names})"
            if organization is None
            else f"no organization {organization!r}"
        )
    return orgs[0]


async def _resolve_bank(
    session: Any,
    organization: str | None,
    bank: str | None,
    *,
    create: bool = False,
    bank_name: str | None = None,
) -> tuple[Any, Any]:
    """The organization and bank a content command works on: the only ones when there is
    exactly one, otherwise those named. With ``create``, a named bank that does not exist
    is created (as the system, audited) in the same transaction."""
    from sqlalchemy import select

    from waa_ads.content.models import ItemBank

    org = await _resolve_organization(session, organization)
    banks = (
        await session.execute(
            select(ItemBank).where(ItemBank.organization_id == org.id).order_by(ItemBank.slug)
        )
    ).scalars()
    banks = [b for b in banks if bank is None or b.slug == bank]
    if not banks and bank is not None and create:
        from waa_ads.auth.deps import Principal
        from waa_ads.content import schemas as content_schemas
        from waa_ads.content import service as content_service

        try:
            data = content_schemas.BankCreate(slug=bank, name=bank_name or bank)
        except ValidationError as exc:
            raise typer.BadParameter(f"--bank {bank!r}: {exc.errors()[0]['msg']}") from None
        banks = [await content_service.create_bank(session, Principal.system(org.id), data)]
    if len(banks) != 1:
        names = ", ".join(b.slug for b in banks) or "none"
        raise typer.BadParameter(
            f"name the item bank with --bank (found: {names})"
            if bank is None
            else f"no item bank {bank!r} in {org.slug}"
        )
    return org, banks[0]


@app.command("import")
def import_command(
    path: Path = typer.Argument(..., exists=True, help="A file, a folder, or a .zip package."),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
    bank: str | None = typer.Option(None, help="Item bank slug (if several)."),
    create_bank: bool = typer.Option(
        False, "--create-bank", help="Create the bank named by --bank when it does not exist."
    ),
    bank_name: str | None = typer.Option(None, help="Name of a bank --create-bank creates."),
    publish: bool = typer.Option(False, help="Publish the imported items."),
    partial: bool = typer.Option(
        False,
        "--partial",
        help="Import what can be and list each refused item with its reason "
        "(by default nothing is imported when any item is refused).",
    ),
) -> None:
    """Import QTI 3.0 / 2.x items and packages, or native YAML/JSON items (all or nothing,
    unless --partial). An item whose identifier the bank holds becomes its new version."""
    import json

    from rich.progress import Progress

    from waa_ads.auth.deps import Principal
    from waa_ads.content import transfer
    from waa_ads.content.errors import ImportRejected
    from waa_ads.core.db import database_from_settings
    from waa_ads.core.errors import DomainError
    from waa_ads.core.storage import blob_store_from_settings

    settings = load_settings()

    async def go() -> dict[str, Any]:
        db = database_from_settings(settings)
        blobs = blob_store_from_settings(settings)
        try:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("reading items", total=None)
                candidates = await asyncio.to_thread(transfer.candidates_from_path, path)
                progress.update(task, description="storing items", total=len(candidates))
                async with db.transaction() as session:
                    if create_bank and bank is None:
                        raise typer.BadParameter("--create-bank needs --bank SLUG")
                    org, target = await _resolve_bank(
                        session, organization, bank, create=create_bank, bank_name=bank_name
                    )
                    report = await transfer.import_items(
                        session,
                        blobs,
                        Principal.system(org.id),
                        target.id,
                        candidates,
                        publish=publish,
                        mode="partial" if partial else "all",
                    )
                progress.update(task, completed=len(candidates))
            return report.as_dict()
        finally:
            await blobs.aclose()
            await db.dispose()

    try:
        # Not _run: a refused import prints its report before the error line.
        result = asyncio.run(go())
    except ImportRejected as exc:
        typer.echo(json.dumps(exc.report.as_dict(), indent=2))
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None
    except DomainError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result, indent=2))
    console.print(
        f"imported {result['imported']} items, {result['new_versions']} new versions of "
        f"items the bank held, {result['rejected']} refused",
        soft_wrap=True,
    )
    for stimulus in result["stimuli"]:
        console.print(
            f"  shared stimulus {escape(stimulus['identifier'])}: {stimulus['status']}"
            + (f" (version {stimulus['version']})" if stimulus["version"] else ""),
            soft_wrap=True,
        )
    if result["rejected"]:
        for outcome in result["items"]:
            if outcome["status"] == "rejected":
                console.print(
                    f"  refused {escape(outcome['source'])}: {escape(outcome['reason'])}",
                    soft_wrap=True,
                )


@app.command("export")
def export_command(
    out: Path = typer.Option(..., help="Folder to write the export into."),
    format: str = typer.Option("qti3", help="qti3 (content package) or native (JSON files)."),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
    bank: str | None = typer.Option(None, help="Item bank slug (if several)."),
    status: str | None = typer.Option(None, help="Only items with this status."),
    tag: list[str] = typer.Option([], help="Only items with every given tag."),
) -> None:
    """Export items as a QTI 3.0 content package or native files (a zip in --out)."""
    from rich.progress import Progress

    from waa_ads.auth.deps import Principal
    from waa_ads.content import transfer
    from waa_ads.content.models import VersionStatus
    from waa_ads.core.db import database_from_settings
    from waa_ads.core.storage import blob_store_from_settings

    def fail(message: str) -> typer.Exit:
        console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
        return typer.Exit(2)

    if format not in ("qti3", "native"):
        raise fail(f"--format is qti3 or native, not {format!r}")
    try:
        wanted = VersionStatus(status) if status else None
    except ValueError:
        known = ", ".join(s.value for s in VersionStatus)
        raise fail(f"--status is one of {known}, not {status!r}") from None
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out} is a file, not a folder")
    settings = load_settings()

    async def go() -> tuple[str, bytes, int]:
        db = database_from_settings(settings)
        blobs = blob_store_from_settings(settings)
        try:
            async with db.transaction(write=False) as session:
                org, target = await _resolve_bank(session, organization, bank)
                principal = Principal.system(org.id)
                with Progress(console=console, transient=True) as progress:
                    task = progress.add_task("collecting items", total=None)
                    versions = await transfer.versions_for_export(
                        session, principal, bank_id=target.id, status=wanted, tags=tag
                    )
                    progress.update(task, description="writing", total=len(versions))
                    if format == "qti3":
                        data = await transfer.export_qti3(session, blobs, principal, versions)
                    else:
                        data = await asyncio.to_thread(transfer.export_native, versions)
                    progress.update(task, completed=len(versions))
            return f"{org.slug}-{target.slug}-{format}.zip", data, len(versions)
        finally:
            await blobs.aclose()
            await db.dispose()

    from sqlalchemy.exc import SQLAlchemyError

    try:
        name, data, count = _run(go())
    except (OSError, SQLAlchemyError) as exc:
        raise fail(f"cannot read the bank: {_reason(exc)}") from None
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    except OSError as exc:
        raise fail(f"cannot write {out / name}: {exc.strerror or exc}") from None
    typer.echo(f"exported {count} items to {out / name}")


@app.command()
def demo(
    url: str = typer.Option("http://127.0.0.1:8000", help="Where the server will be reached."),
) -> None:
    """Create the demo organization, its admin and the sample bank; print how to sign in."""
    from waa_ads.auth.service import build_auth
    from waa_ads.core import migrate as migrations
    from waa_ads.core.db import database_from_settings
    from waa_ads.core.storage import blob_store_from_settings
    from waa_ads.demo.loader import load_demo

    settings = load_settings()
    migrations.upgrade(settings.resolved_database_url)

    async def go() -> Any:
        db = database_from_settings(settings)
        blobs = blob_store_from_settings(settings)
        try:
            return await load_demo(db, blobs, build_auth(settings, db, None))
        finally:
            await blobs.aclose()
            await db.dispose()

    result = _run(go())
    typer.echo(
        f"""
WAA-ADS demo is ready
  URL:            {url}   (API documentation: {url}/docs)
  organization:   {result.organization}
  admin e-mail:   {result.admin_email}
  admin password: {result.admin_password}
  sample bank:    {result.bank} ({result.items} items, {result.rubrics} rubrics, \
{result.media} media files)
  assessment:     {result.assessment}
  administration: {result.administration}
  rating plan:    {result.rating_plan} (sign in to {url}/console/rating)
"""
        + "".join(
            f"  {label + ' e-mail:':<21} {email}\n  {label + ' password:':<21} {secret}\n"
            for label, email, secret in result.rating_people
        )
        + "  candidates' access codes (shown once; `waa-ads demo` again issues new ones):\n"
        + "".join(f"    {name:<16} {code}\n" for name, code in result.candidates)
        + "".join(f"  note: {n}\n" for n in result.notes)
    )


@essay_app.command("train")
def essay_model_train(
    file: Path = typer.Argument(..., help="CSV: id,text,score[,score2][,group]."),
    out: Path = typer.Option(..., "--out", help="Directory to write the model to."),
    min_score: int | None = typer.Option(None, help="Lowest score of the scale (default: data)."),
    max_score: int | None = typer.Option(None, help="Highest score of the scale (default: data)."),
    prompt: Path | None = typer.Option(None, help="A text file with the prompt (copy screen)."),
    folds: int = typer.Option(5, min=2, help="Cross-validation folds."),
    confidence: float = typer.Option(0.9, help="Confidence an automatic score must reach."),
    tolerance: int = typer.Option(1, min=0, help="Points the true score may lie away."),
    check_share: float = typer.Option(0.0, help="Share of confident answers also sent to people."),
    seed: int = typer.Option(0, help="Seed of the folds and of the check sample."),
    embeddings: bool = typer.Option(
        False,
        "--embeddings",
        help="Add sentence-embedding features (needs an installed embedding model).",
    ),
) -> None:
    """Train a scoring model from human scores; print the cross-validated metrics and the
    acceptance gate's verdict as JSON and write the model to --out. An unreadable CSV,
    unusable data or --embeddings without an installed embedding model ends with one line
    on stderr and exit code 2 (nothing is written)."""
    import dataclasses
    import json

    from waa_ads.autoscore.csvio import read_training
    from waa_ads.autoscore.errors import EmbeddingModelUnavailable, TrainingDataInvalid
    from waa_ads.autoscore.gate import Gate, evaluate
    from waa_ads.autoscore.model import TrainConfig, train

    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            data = read_training(handle, min_score=min_score, max_score=max_score)
        if prompt is not None:
            data = dataclasses.replace(data, prompt_text=prompt.read_text(encoding="utf-8"))
        config = TrainConfig(
            folds=folds,
            confidence=confidence,
            tolerance=tolerance,
            check_share=check_share,
            seed=seed,
            embeddings=embeddings,
        )
        model = train(data, config)
    except OSError as exc:
        typer.echo(f"error: cannot read {exc.filename}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    except TrainingDataInvalid as exc:
        typer.echo(f"error: {file}: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    except EmbeddingModelUnavailable as exc:
        typer.echo(f"error: --embeddings: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    model.save(out)
    verdict = evaluate(model.report, Gate())
    typer.echo(
        json.dumps(
            {"metrics": model.report.to_dict(), "gate": verdict.to_dict(), "model": str(out)}
        )
    )


@essay_app.command("predict")
def essay_model_predict(
    directory: Path = typer.Argument(..., help="A directory written by essay-model train."),
    file: Path = typer.Argument(..., help="CSV: id,text."),
) -> None:
    """Score answers with a trained model; print CSV id,score,confidence,route,reason
    (route auto or human). A model that is damaged or was trained with other library
    versions is refused (exit code 2)."""
    from waa_ads.autoscore.csvio import predictions_csv, read_answers
    from waa_ads.autoscore.errors import TrainingDataInvalid
    from waa_ads.autoscore.model import TrainedModel
    from waa_ads.core.errors import DomainError

    try:
        model = TrainedModel.load(directory)
        with file.open(encoding="utf-8-sig", newline="") as handle:
            ids, texts = read_answers(handle)
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    except TrainingDataInvalid as exc:
        typer.echo(f"error: {file}: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    except DomainError as exc:
        typer.echo(f"error: {directory}: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(predictions_csv(model.predict(texts, ids)), nl=False)


@essay_app.command("train-item")
def essay_model_train_item(
    item: str = typer.Option(..., "--item", help="The item's id."),
    organization: str | None = typer.Option(None, help="Organization slug (if several)."),
    folds: int = typer.Option(5, min=2, max=20, help="Cross-validation folds."),
    confidence: float = typer.Option(0.9, help="Confidence an automatic score must reach."),
    seed: int = typer.Option(0, help="Seed of the folds."),
    embeddings: bool = typer.Option(
        False,
        "--embeddings",
        help="Add sentence-embedding features (needs an installed embedding model).",
    ),
) -> None:
    """Train a new version of an item's model from its resolved human scores in the
    database, as the API's training task does (same service, run here in this process),
    and print the registry row with the metrics and the gate's verdict as JSON."""
    import json
    import uuid

    from waa_ads.auth.deps import Principal
    from waa_ads.autoscore import schemas as autoscore_schemas
    from waa_ads.autoscore import service as autoscore
    from waa_ads.core.db import database_from_settings
    from waa_ads.core.storage import blob_store_from_settings

    try:
        item_id = uuid.UUID(item)
    except ValueError:
        raise typer.BadParameter("an item id (a UUID)", param_hint="--item") from None
    settings = load_settings()

    async def go() -> dict[str, Any]:
        db = database_from_settings(settings)
        blobs = blob_store_from_settings(settings)
        try:
            # The registry row is made as the API makes it; the training runs here, in
            # this process, instead of on a worker.
            async with db.transaction() as session:
                org = await _resolve_organization(session, organization)
                principal = Principal.system(org.id)
                body = autoscore_schemas.TrainFromRatings(
                    item_id=item_id,
                    folds=folds,
                    confidence=confidence,
                    seed=seed,
                    embeddings=embeddings,
                )
                row = await autoscore.request_training(session, principal, body, enqueue=False)
                model_id = row.id
            await autoscore.run_training(db, blobs, model_id)
            async with db.transaction(write=False) as session:
                detail = await autoscore.model_detail(session, principal, model_id)
            return detail.model_dump(mode="json")
        finally:
            await blobs.aclose()
            await db.dispose()

    result = _run(go())
    typer.echo(json.dumps(result))
    if result["status"] != "trained":
        raise typer.Exit(2)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
