"""Import then export a generated QTI 3.0 package of mixed items.

Prints items/s for: parsing the package alone (the floor of import), the full import into
the database, writing the items alone (the floor of export), and the full export from the
database; with the ratio of each full path to its floor, and peak memory: the process's,
and on Linux the import's own (the peak resident size while it ran, and the size before).
The CPU seconds of this process are printed beside each path: on a machine shared with
other work they move less than the elapsed time. On PostgreSQL (local, where /proc shows
its backend) the CPU its backend spent on the import is printed too.

The floor is measured the way the import parses: with the cyclic garbage collector paused
(``transfer.collector_paused``), so the ratio is what storing costs on top of parsing.

    uv run python bench/bench_content_transfer.py [--items 5000] [--database-url URL]

Without --database-url a SQLite file in a temporary directory is used; pass
postgresql+asyncpg://postgres@127.0.0.1:5432/postgres to measure PostgreSQL (a database
is created for the run and dropped after).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import secrets
import tempfile
import time
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.auth.deps import Principal
from waa_ads.content import schemas, service, transfer
from waa_ads.content.interchange.qti.package import build_package, read_package
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.interchange.qti.writer import write_item
from waa_ads.core import migrate
from waa_ads.core.db import Database
from waa_ads.core.storage import LocalBlobStore

NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
MATCH = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"
MAP = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response.xml"


def _item(n: int) -> bytes:
    ident = f"BENCH-{n:06d}"
    kind = n % 4
    if kind == 0:
        decl = (
            '<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">'
            "<qti-correct-response><qti-value>B</qti-value></qti-correct-response></qti-response-declaration>"
        )
        body = (
            '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1" shuffle="true">'
            f"<qti-prompt>Question {n}: which is second?</qti-prompt>"
            + "".join(
                f'<qti-simple-choice identifier="{c}">Option {c}</qti-simple-choice>'
                for c in "ABCD"
            )
            + "</qti-choice-interaction>"
        )
        rp = MATCH
    elif kind == 1:
        decl = (
            '<qti-response-declaration identifier="RESPONSE" cardinality="multiple" base-type="identifier">'
            "<qti-correct-response><qti-value>A</qti-value><qti-value>C</qti-value></qti-correct-response>"
            '<qti-mapping default-value="-0.5" lower-bound="0"><qti-map-entry map-key="A" mapped-value="1"/>'
            '<qti-map-entry map-key="C" mapped-value="1"/></qti-mapping></qti-response-declaration>'
        )
        body = (
            '<qti-choice-interaction response-identifier="RESPONSE" max-choices="0">'
            f"<qti-prompt>Item {n}: pick the odd letters.</qti-prompt>"
            + "".join(
                f'<qti-simple-choice identifier="{c}">{c}</qti-simple-choice>' for c in "ABCD"
            )
            + "</qti-choice-interaction>"
        )
        rp = MAP
    elif kind == 2:
        decl = (
            '<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string">'
            "<qti-correct-response><qti-value>Paris</qti-value></qti-correct-response></qti-response-declaration>"
        )
        body = (
            f"<p>Item {n}: the capital of France is "
            '<qti-text-entry-interaction response-identifier="RESPONSE" expected-length="10"/>.</p>'
        )
        rp = MATCH
    else:
        decl = (
            '<qti-response-declaration identifier="RESPONSE" cardinality="ordered" base-type="identifier">'
            "<qti-correct-response><qti-value>X</qti-value><qti-value>Y</qti-value><qti-value>Z</qti-value>"
            "</qti-correct-response></qti-response-declaration>"
        )
        body = (
            '<qti-order-interaction response-identifier="RESPONSE">'
            f"<qti-prompt>Item {n}: put them in order.</qti-prompt>"
            + "".join(f'<qti-simple-choice identifier="{c}">{c}</qti-simple-choice>' for c in "ZXY")
            + "</qti-order-interaction>"
        )
        rp = MATCH
    return (
        f'<qti-assessment-item xmlns="{NS}" identifier="{ident}" title="Bench item {n}" '
        f'adaptive="false" time-dependent="false">{decl}'
        '<qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>'
        f"<qti-item-body>{body}</qti-item-body>"
        f'<qti-response-processing template="{rp}"/></qti-assessment-item>'
    ).encode()


async def _database(url: str | None, tmp: Path) -> tuple[Database, str | None]:
    if url is None:
        db_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        await asyncio.to_thread(migrate.upgrade, db_url)
        return Database(db_url), None
    name = f"waa_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(False)
    )
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    db_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(migrate.upgrade, db_url)
    return Database(db_url), name


def _rss_mb(field: str) -> float | None:
    """``VmRSS`` or ``VmHWM`` (peak) of this process in MB, where /proc tells."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


async def _server_pid(session: AsyncSession) -> int | None:
    """The PostgreSQL backend serving the session (None on SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


def _process_cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system) of a local process, from /proc; None when unknown."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reset_peak_rss() -> bool:
    """Start a new peak for ``VmHWM`` (Linux 4.0+: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


async def main(n_items: int, url: str | None) -> None:
    from waa_ads.audit.service import Actor
    from waa_ads.auth.service import create_organization

    tmp = Path(tempfile.mkdtemp(prefix="waa-bench-"))
    print(f"generating a package of {n_items} items ...")
    package = build_package([(f"BENCH-{n:06d}", _item(n)) for n in range(n_items)], {})
    print(f"package: {len(package) / 1e6:.1f} MB compressed")
    db, created = await _database(url, tmp)
    blobs = LocalBlobStore(tmp / "blobs")
    try:
        async with db.transaction() as session:
            org = await create_organization(
                session, slug="bench", name="Bench", actor=Actor("system")
            )
            principal = Principal.system(org.id)
            bank = await service.create_bank(
                session, principal, schemas.BankCreate(slug="bench", name="Bench")
            )

        started, cpu = time.perf_counter(), time.process_time()
        gc.disable()
        try:
            pkg = read_package(package)
            parsed = [parse_item(r.xml) for r in pkg.items if r.xml is not None]
        finally:
            gc.enable()
        parse_s = time.perf_counter() - started
        parse_cpu = time.process_time() - cpu
        gc.collect()

        rss_before = _rss_mb("VmRSS")
        peak_reset = _reset_peak_rss()
        started, cpu = time.perf_counter(), time.process_time()
        candidates = transfer.candidates_from_bytes("bench.zip", package)
        async with db.transaction() as session:
            server_pid = await _server_pid(session)
            server_before = _process_cpu_s(server_pid)
            report = await transfer.import_items(session, blobs, principal, bank.id, candidates)
            server_after = _process_cpu_s(server_pid)
        import_s = time.perf_counter() - started
        import_cpu = time.process_time() - cpu
        server_cpu = (
            server_after - server_before
            if server_after is not None and server_before is not None
            else None
        )
        import_peak = _rss_mb("VmHWM") if peak_reset else None
        assert report.ok and len(report.outcomes) == n_items
        del candidates, report

        started, cpu = time.perf_counter(), time.process_time()
        written = [write_item(item) for item in parsed]
        build_package([(i.identifier, x) for i, x in zip(parsed, written, strict=True)], {})
        write_s = time.perf_counter() - started
        write_cpu = time.process_time() - cpu

        started, cpu = time.perf_counter(), time.process_time()
        async with db.transaction(write=False) as session:
            versions = await transfer.versions_for_export(
                session, principal, bank_id=bank.id, status=None
            )
            exported = await transfer.export_qti3(session, blobs, principal, versions)
        export_s = time.perf_counter() - started
        export_cpu = time.process_time() - cpu
        assert len(versions) == n_items and exported[:2] == b"PK"
    finally:
        await db.dispose()
        if created and url is not None:
            admin = await asyncpg.connect(
                make_url(url).set(drivername="postgresql").render_as_string(False)
            )
            await admin.execute(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')
            await admin.close()

    backend = "postgresql" if url else "sqlite"
    print(f"backend: {backend}, items: {n_items}")
    print(f"{'path':<34}{'seconds':>10}{'items/s':>12}{'CPU s':>8}")
    for label, seconds, cpu_s in (
        ("parse package only (import floor)", parse_s, parse_cpu),
        ("import into the database", import_s, import_cpu),
        ("write package only (export floor)", write_s, write_cpu),
        ("export from the database", export_s, export_cpu),
    ):
        print(f"{label:<34}{seconds:>10.2f}{n_items / seconds:>12.0f}{cpu_s:>8.2f}")
    print(f"import / floor: {import_s / parse_s:.2f}x   export / floor: {export_s / write_s:.2f}x")
    print(
        f"CPU of this process (the database server's not counted): import / floor "
        f"{import_cpu / parse_cpu:.2f}x   export / floor {export_cpu / write_cpu:.2f}x"
    )
    if server_cpu is not None:
        print(
            f"import: PostgreSQL backend CPU {server_cpu:.2f} s (before the commit); with "
            f"this process's, {(import_cpu + server_cpu) / parse_cpu:.2f}x the floor's CPU"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if import_peak is not None and rss_before is not None:
        print(
            f"import peak memory: {import_peak:.0f} MB resident "
            f"({rss_before:.0f} MB before it, +{import_peak - rss_before:.0f} MB)"
        )
    print(f"peak memory (max RSS of the process): {peak_mb:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.items, args.database_url))
