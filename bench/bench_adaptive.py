"""Moving on in an adaptive test against moving on in a linear fixed test, on PostgreSQL.

    uv run python bench/bench_adaptive.py [--candidates 30] [--items 20] [--pool 200]

Creates a throw-away database (``bench_setup.create_database``), a bank of ``--pool``
single-choice items with 2PL parameters stored as a calibration would store them, and two
published assessments of ``--items`` questions each, both with linear navigation: a fixed
form (the first ``--items`` items) and an adaptive section over the whole pool (no SE stop,
so exactly ``--items`` steps). For each, ``--candidates`` candidates start and, item after
item, save an answer and press Next, through the app in this process (httpx's ASGI
transport, no network). Prints the median, p95 and p99 of ``POST .../advance`` for both and
their ratio (the adaptive one scores the response, updates the estimate, selects and writes
the next item and its step), and the time of a whole attempt. The database is dropped at the
end. Runs one request at a time: this measures the work per request, not throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from datetime import timedelta

import httpx
from bench_setup import BENCH_SECRET, SERVER_URL, choice_item, create_database, drop_database


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _setup(url: str, pool: int, items: int, candidates: int) -> dict[str, list[str]]:
    """The two assessments, their administrations and rosters: access codes per kind."""
    from sqlalchemy import update

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
    from waa_ads.content.models import ItemVersion
    from waa_ads.core.db import Database, utcnow
    from waa_ads.core.settings import Settings

    settings = Settings(secret_key=BENCH_SECRET, database_url=url)
    actor = Actor("system", "bench")
    db = Database(url)
    rng = random.Random(7)
    codes: dict[str, list[str]] = {}
    try:
        async with db.transaction() as session:
            org = await auth_service.create_organization(
                session, slug="bench-cat", name="Bench", actor=actor
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
                    for n in range(1, pool + 1)
                ],
                publish=True,
            )
            for item, _ in created:
                await session.execute(
                    update(ItemVersion)
                    .where(ItemVersion.item_id == item.id)
                    .values(
                        irt={"model": "2pl", "a": rng.uniform(0.6, 2.2), "d": rng.gauss(0, 1.5)}
                    )
                )
            common = {"navigation": "linear", "allow_review": False, "time_limit_s": 4 * 3600}
            sections = {
                "linear": {
                    "identifier": "fixed",
                    "title": "Fixed",
                    "items": [{"item_id": str(item.id)} for item, _ in created[:items]],
                },
                "adaptive": {
                    "identifier": "cat",
                    "title": "Adaptive",
                    "adaptive": {
                        "bank_id": str(bank.id),
                        "se_target": None,
                        "min_items": items,
                        "max_items": items,
                    },
                },
            }
            administrations = {}
            for kind, section in sections.items():
                definition = AssessmentDefinition.model_validate(
                    {"title": kind, "sections": [section], **common}
                )
                assessment, _ = await a_service.create_assessment(
                    session, principal, a_schemas.AssessmentCreate(slug=kind, definition=definition)
                )
                _, version = await a_service.publish(session, principal, assessment.id)
                now = utcnow()
                administrations[kind] = await a_service.create_administration(
                    session,
                    principal,
                    a_schemas.AdministrationCreate(
                        assessment_version_id=version.id,
                        title=kind,
                        opens_at=now - timedelta(minutes=1),
                        closes_at=now + timedelta(days=1),
                    ),
                )
        for kind, administration in administrations.items():
            async with db.transaction() as session:
                roster = []
                for n in range(candidates):
                    person = await auth_service.create_candidate(
                        session,
                        org.id,
                        auth_schemas.CandidateCreate(
                            full_name=f"{kind} {n}", external_id=f"{kind}-{n}"
                        ),
                        actor=actor,
                    )
                    roster.append(a_schemas.RosterAdd(candidate_id=person.id))
                issued = await a_service.add_to_roster(
                    session, settings, principal, administration.id, roster
                )
                codes[kind] = [i.code or "" for i in issued]
    finally:
        await db.dispose()
    return codes


async def _sit(client: httpx.AsyncClient, code: str, items: int) -> tuple[list[float], float]:
    """One attempt: each item answered and left with Next; the advance latencies and the
    whole attempt's time."""
    began = time.perf_counter()
    started = (await client.post("/api/v1/attempts", json={"access_code": code})).json()
    url = f"/api/v1/attempts/{started['attempt']['id']}"
    headers = {"X-Attempt-Token": started["credential"]}
    latencies: list[float] = []
    for n in range(items):
        view = (await client.get(url, headers=headers)).json()
        ref = view["items"][-1]["ref"]
        await client.put(
            f"{url}/responses/{ref}",
            json={"seq": 1, "value": random.choice("ABCD")},
            headers=headers,
        )
        if n == items - 1:
            break
        t0 = time.perf_counter()
        moved = await client.post(f"{url}/advance", headers=headers)
        latencies.append(time.perf_counter() - t0)
        assert moved.status_code == 200, moved.text
    await client.post(f"{url}/submit", headers=headers)
    return latencies, time.perf_counter() - began


async def main(args: argparse.Namespace) -> None:
    os.environ.setdefault("WAA_LOG_LEVEL", "WARNING")
    from waa_ads.core.db import Database
    from waa_ads.core.settings import Settings
    from waa_ads.main import create_app

    name, url = await create_database(args.server_url)
    try:
        codes = await _setup(url, args.pool, args.items, args.candidates)
        settings = Settings(secret_key=BENCH_SECRET, database_url=url, log_level="WARNING")
        app = create_app(settings, database=Database(url))
        results: dict[str, tuple[list[float], list[float]]] = {}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="https://bench") as client:
                # alternate the two kinds so that load on the machine hits both alike
                for kind in ("linear", "adaptive"):
                    results[kind] = ([], [])
                for n in range(args.candidates):
                    for kind in ("linear", "adaptive"):
                        latencies, whole = await _sit(client, codes[kind][n], args.items)
                        results[kind][0].extend(latencies)
                        results[kind][1].append(whole)
        print(
            f"{args.candidates} candidates x {args.items} items each; adaptive pool "
            f"{args.pool} items (2PL); PostgreSQL; one request at a time"
        )
        print(
            f"{'advance':<10} {'n':>5} {'median ms':>10} {'p95 ms':>8} {'p99 ms':>8} {'attempt s':>10}"
        )
        for kind, (latencies, wholes) in results.items():
            print(
                f"{kind:<10} {len(latencies):>5} {1000 * statistics.median(latencies):>10.2f} "
                f"{1000 * _percentile(latencies, 95):>8.2f} {1000 * _percentile(latencies, 99):>8.2f} "
                f"{statistics.median(wholes):>10.2f}"
            )
        ratio = statistics.median(results["adaptive"][0]) / statistics.median(results["linear"][0])
        print(f"adaptive / linear advance, median: {ratio:.2f}")
    finally:
        await drop_database(name, args.server_url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--pool", type=int, default=200)
    parser.add_argument("--server-url", default=SERVER_URL)
    asyncio.run(main(parser.parse_args()))
