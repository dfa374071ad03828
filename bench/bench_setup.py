"""A throw-away PostgreSQL database holding one open administration of a 20-item
single-choice assessment with N rostered candidates, for the delivery benchmarks.

    uv run python bench/bench_setup.py --candidates 2000 --codes-out /tmp/codes.txt
    uv run python bench/bench_setup.py --drop waa_bench_1a2b3c4d

The first form creates a database with a random name on the server of ``--server-url``
(default ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``), migrates it, creates the
data through the domain services (the same calls the demo loader makes) and writes one access
code per line to ``--codes-out``. It prints the database URL on its last line and leaves the
database in place; the second form drops it. ``bench_autosave.py`` imports
:func:`create_database`, :func:`populate` and :func:`drop_database` and drops what it made.

Access codes are stored as HMACs under ``WAA_SECRET_KEY``: a server started on this
database must run with the same secret (:data:`BENCH_SECRET` unless ``--secret`` is given).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

SERVER_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
BENCH_SECRET = "bench-secret-0123456789abcdef0123456789abcdef"  # a throw-away database
QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
ITEMS = 20
CHOICES = "ABCD"


def choice_item(n: int) -> str:
    """A four-choice, single-answer item scored by the match_correct template."""
    choices = "".join(
        f'<qti-simple-choice identifier="{c}">Option {c} of question {n}</qti-simple-choice>'
        for c in CHOICES
    )
    return (
        f'<qti-assessment-item xmlns="{QTI3}" identifier="Q{n:02d}" title="Question {n}" '
        'adaptive="false" time-dependent="false" xml:lang="en">'
        '<qti-response-declaration identifier="RESPONSE" cardinality="single" '
        'base-type="identifier"><qti-correct-response>'
        f"<qti-value>{CHOICES[n % len(CHOICES)]}</qti-value>"
        "</qti-correct-response></qti-response-declaration>"
        '<qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float">'
        "<qti-default-value><qti-value>0</qti-value></qti-default-value>"
        "</qti-outcome-declaration><qti-item-body>"
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        f"<qti-prompt>Question {n}: pick one.</qti-prompt>{choices}"
        "</qti-choice-interaction></qti-item-body>"
        '<qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/'
        'rptemplates/match_correct.xml"/></qti-assessment-item>'
    )


def _admin_dsn(server_url: str) -> str:
    return make_url(server_url).set(drivername="postgresql").render_as_string(False)


async def create_database(server_url: str = SERVER_URL) -> tuple[str, str]:
    """Create and migrate a database with a random name; return (name, SQLAlchemy URL)."""
    from waa_ads.core import migrate

    name = f"waa_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(_admin_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(migrate.upgrade, url)
    return name, url


async def drop_database(name: str, server_url: str = SERVER_URL) -> None:
    """Drop the database, disconnecting whoever still uses it."""
    admin = await asyncpg.connect(_admin_dsn(server_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass
class Population:
    organization_id: str
    administration_id: str
    item_identifiers: list[str]
    codes: list[str]
    seconds: float


async def populate(
    url: str,
    n_candidates: int,
    *,
    secret: str = BENCH_SECRET,
    time_limit_s: int = 4 * 3600,
    batch: int = 500,
) -> Population:
    """Organization, bank of 20 published single-choice items, a published assessment of
    them (one section, fixed order, ``time_limit_s``), an administration open from a
    minute ago for a day, and ``n_candidates`` candidates on its roster, each with a fresh
    access code. Candidates are created and rostered in transactions of ``batch``, so no
    transaction holds the organization's audit chain for long."""
    from waa_ads.assessments import schemas as a_schemas
    from waa_ads.assessments import service as a_service
    from waa_ads.assessments.definition import AssessmentDefinition
    from waa_ads.audit.service import Actor
    from waa_ads.auth import schemas as auth_schemas
    from waa_ads.auth import service as auth_service
    from waa_ads.auth.deps import Principal
    from waa_ads.content import schemas as c_schemas
    from waa_ads.content import service as c_service
    from waa_ads.content.interchange.qti.reader import parse_item
    from waa_ads.core.db import Database, utcnow
    from waa_ads.core.settings import Settings

    started = time.perf_counter()
    settings = Settings(secret_key=secret, database_url=url)
    actor = Actor("system", "bench")
    db = Database(url)
    try:
        async with db.transaction() as session:
            org = await auth_service.create_organization(
                session, slug=f"bench-{secrets.token_hex(3)}", name="Bench", actor=actor
            )
            principal = Principal.system(org.id, via="bench")
            bank = await c_service.create_bank(
                session, principal, c_schemas.BankCreate(slug="bench", name="Bench")
            )
            created = await c_service.create_items(
                session,
                principal,
                bank.id,
                [
                    c_service.NewItem(parse_item(choice_item(n)), c_schemas.ItemMetadata())
                    for n in range(1, ITEMS + 1)
                ],
                publish=True,
            )
            definition = AssessmentDefinition.model_validate(
                {
                    "title": "Bench assessment",
                    "sections": [
                        {
                            "identifier": "all",
                            "title": "Questions",
                            "items": [{"item_id": str(item.id)} for item, _ in created],
                        }
                    ],
                    "time_limit_s": time_limit_s,
                }
            )
            assessment, _ = await a_service.create_assessment(
                session,
                principal,
                a_schemas.AssessmentCreate(slug="bench", definition=definition),
            )
            await a_service.publish(session, principal, assessment.id)
            _, version = await a_service.get_version(
                session, principal, assessment.id, assessment.published_version
            )
            now = utcnow()
            administration = await a_service.create_administration(
                session,
                principal,
                a_schemas.AdministrationCreate(
                    assessment_version_id=version.id,
                    title="Bench session",
                    opens_at=now - timedelta(minutes=1),
                    closes_at=now + timedelta(days=1),
                ),
            )
        codes: list[str] = []
        for first in range(0, n_candidates, batch):
            async with db.transaction() as session:
                roster = []
                for n in range(first, min(first + batch, n_candidates)):
                    candidate = await auth_service.create_candidate(
                        session,
                        org.id,
                        auth_schemas.CandidateCreate(
                            full_name=f"Candidate {n}", external_id=f"bench-{n:06d}"
                        ),
                        actor=actor,
                    )
                    roster.append(a_schemas.RosterAdd(candidate_id=candidate.id))
                issued = await a_service.add_to_roster(
                    session, settings, principal, administration.id, roster
                )
                codes.extend(i.code or "" for i in issued)
    finally:
        await db.dispose()
    return Population(
        organization_id=str(org.id),
        administration_id=str(administration.id),
        item_identifiers=[item.identifier for item, _ in created],
        codes=codes,
        seconds=time.perf_counter() - started,
    )


async def _create(args: argparse.Namespace) -> tuple[str, str, Population]:
    name, url = await create_database(args.server_url)
    try:
        return name, url, await populate(url, args.candidates, secret=args.secret)
    except BaseException:
        await drop_database(name, args.server_url)
        raise


def _main(args: argparse.Namespace) -> None:
    if args.drop:
        asyncio.run(drop_database(args.drop, args.server_url))
        print(f"dropped {args.drop}")
        return
    name, url, population = asyncio.run(_create(args))
    Path(args.codes_out).write_text("\n".join(population.codes) + "\n", encoding="utf-8")
    print(
        f"{len(population.codes)} candidates on administration {population.administration_id} "
        f"in {population.seconds:.1f} s; codes in {args.codes_out}"
    )
    print(f"drop it with: uv run python bench/bench_setup.py --drop {name}")
    print(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--codes-out", default="bench-codes.txt")
    parser.add_argument("--server-url", default=SERVER_URL)
    parser.add_argument("--secret", default=BENCH_SECRET)
    parser.add_argument("--drop", metavar="NAME", help="drop this database and exit")
    _main(parser.parse_args())
