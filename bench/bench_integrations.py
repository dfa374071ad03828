"""Integrations: LTI launch validations per second and webhook deliveries per second
through Celery workers, each beside its floor in the same run.

- **launch**: ``lti.verify_id_token`` (PyJWT RS256 signature, audience, issuer, expiry
  with skew, required claims, then the LTI claim checks) on distinct id_tokens, against
  the floor of a bare ``jwt.decode`` of the same tokens with the same key (signature and
  audience only). One core, median of ``--repeats`` runs.
- **webhooks**: ``--deliveries`` pending webhook deliveries of one subscription, published
  to Redis and run by ``waa-ads worker`` processes (``--worker-processes``, one task at a
  time each, as Celery's prefork pool runs them): each task claims the row, signs and posts
  the body to a local receiver, and records the outcome in PostgreSQL. The floor posts the
  same bodies straight to the same receiver from this process with as many requests in
  flight as there are worker processes (no database, no broker, no signing).

    uv run python bench/bench_integrations.py                      # both
    uv run python bench/bench_integrations.py --skip-webhooks      # launch only
    uv run python bench/bench_integrations.py --deliveries 2000 --worker-processes 4

Needs PostgreSQL (``--server-url``, default the development one) and Redis
(``--redis-url``) for the webhook part; a database with a random name is created and
dropped, and every Redis key goes under a random prefix that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import jwt

REPO = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- receiver

_count = 0


async def receiver_app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
    """A raw ASGI receiver: POST counts and answers 204; GET /count answers the count."""
    global _count  # noqa: PLW0603 (a counter of this process)
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = bool(message.get("more_body"))
    if scope["method"] == "POST":
        _count += 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = str(_count).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def start_receiver(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench_integrations:receiver_app",
            "--app-dir",
            str(REPO / "bench"),
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=REPO,
    )
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/count", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("receiver did not start")


def received(port: int) -> int:
    return int(httpx.get(f"http://127.0.0.1:{port}/count", timeout=5).text)


# ----------------------------------------------------------------------------- launch


def bench_launch(count: int, repeats: int) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from waa_ads.integrations import lti

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key()
    claim = "https://purl.imsglobal.org/spec/lti/claim/"
    now = int(time.time())
    tokens = [
        jwt.encode(
            {
                "iss": "https://lms.example.edu",
                "aud": "tool",
                "sub": f"learner-{n}",
                "iat": now,
                "exp": now + 3600,
                "nonce": "n",
                claim + "message_type": "LtiResourceLinkRequest",
                claim + "version": "1.3.0",
                claim + "deployment_id": "dep",
                claim + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
                claim + "resource_link": {"id": f"link-{n % 10}"},
            },
            private,
            algorithm="RS256",
            headers={"kid": "k"},
        )
        for n in range(count)
    ]

    def ours() -> None:
        for t in tokens:
            lti.verify_id_token(
                t,
                public,
                issuer="https://lms.example.edu",
                client_id="tool",
                nonce="n",
                deployment_ids=["dep"],
            )

    def floor() -> None:
        for t in tokens:
            jwt.decode(t, public, algorithms=["RS256"], audience="tool")

    rates: dict[str, list[float]] = {"verify_id_token": [], "jwt.decode (floor)": []}
    for _ in range(repeats):
        for name, fn in (("verify_id_token", ours), ("jwt.decode (floor)", floor)):
            started = time.perf_counter()
            fn()
            rates[name].append(count / (time.perf_counter() - started))
    print(f"\nLTI launch validation, {count} distinct RS256 id_tokens, {repeats} runs, one core")
    print(f"{'':24}{'median /s':>12}{'min /s':>10}{'max /s':>10}")
    for name, values in rates.items():
        print(
            f"{name:24}{statistics.median(values):>12,.0f}{min(values):>10,.0f}"
            f"{max(values):>10,.0f}"
        )
    ratio = statistics.median(rates["verify_id_token"]) / statistics.median(
        rates["jwt.decode (floor)"]
    )
    print(f"ratio ours/floor: {ratio:.2f}")


# --------------------------------------------------------------------------- webhooks


async def _prepare(url: str, port: int, deliveries: int) -> tuple[list[str], list[bytes]]:
    """An organization, a subscription to the receiver and ``deliveries`` pending rows."""
    from waa_ads.audit.service import SYSTEM_ACTOR
    from waa_ads.auth import service as auth_service
    from waa_ads.auth.deps import Principal
    from waa_ads.core.db import Database, utcnow, uuid7
    from waa_ads.core.settings import Settings
    from waa_ads.integrations import webhooks
    from waa_ads.integrations.models import IntegrationDelivery

    settings = Settings(integrations_allow_private_urls=True, database_url=url)
    db = Database(url)
    try:
        async with db.transaction() as session:
            org = await auth_service.create_organization(
                session, slug=f"bench-{secrets.token_hex(3)}", name="Bench", actor=SYSTEM_ACTOR
            )
            sub = await webhooks.create_subscription(
                session,
                settings,
                Principal.system(org.id),
                url=f"http://127.0.0.1:{port}/in",
                event_types=["attempt.submitted"],
            )
            ids: list[str] = []
            bodies: list[bytes] = []
            now = utcnow()
            for n in range(deliveries):
                body = json.dumps(
                    {
                        "id": f"{org.id}.{n}",
                        "type": "attempt.submitted",
                        "occurred_at": now.isoformat(),
                        "organization_id": str(org.id),
                        "data": {"attempt_id": str(uuid.uuid4()), "from": "in_progress"},
                    }
                )
                row = IntegrationDelivery(
                    id=uuid7(),
                    organization_id=org.id,
                    channel="webhook",
                    subscription_id=sub.id,
                    target=sub.url,
                    event_type="attempt.submitted",
                    event_seq=n,
                    dedupe_key=f"bench:{n}",
                    payload=body,
                    status="pending",
                    attempts=0,
                    tries=[],
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                ids.append(str(row.id))
                bodies.append(body.encode())
        return ids, bodies
    finally:
        await db.dispose()


async def _floor(port: int, bodies: list[bytes], in_flight: int) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    async with httpx.AsyncClient(timeout=10) as client:

        async def sender() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                await client.post(
                    f"http://127.0.0.1:{port}/in",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(in_flight)))
        return time.perf_counter() - started


def bench_webhooks(server_url: str, redis_url: str, deliveries: int, processes: int) -> None:
    import asyncpg
    import redis
    from sqlalchemy.engine import make_url

    from waa_ads.core import migrate
    from waa_ads.core.settings import Settings
    from waa_ads.core.tasks import CeleryDispatcher, Job, celery_app_from_settings

    name = f"waa_bench_hooks_{secrets.token_hex(4)}"
    admin_dsn = make_url(server_url).set(drivername="postgresql").render_as_string(False)
    url = make_url(server_url).set(database=name).render_as_string(False)
    prefix = f"waa-bench-{secrets.token_hex(4)}:"
    port = 8100 + secrets.randbelow(800)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        migrate.upgrade(url)
        procs.append(start_receiver(port))
        ids, bodies = asyncio.run(_prepare(url, port, deliveries))
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
        env.update(
            {
                "WAA_ENV": "development",
                "WAA_DATABASE_URL": url,
                "WAA_BROKER_URL": redis_url,
                "WAA_TASK_KEY_PREFIX": prefix,
                "WAA_INTEGRATIONS_ALLOW_PRIVATE_URLS": "true",
                "WAA_LOG_LEVEL": "WARNING",
            }
        )
        log = open(os.devnull, "wb")  # noqa: SIM115 (lives as long as the workers)
        for n in range(processes):
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "waa_ads",
                        "worker",
                        "--concurrency=1",
                        f"--hostname=bench{n}-{prefix.strip(':')}@%h",
                        "--without-mingle",
                        "--without-gossip",
                        "--without-heartbeat",
                    ],
                    env=env,
                    cwd=REPO,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
        settings = Settings(broker_url=redis_url, task_key_prefix=prefix)
        dispatcher = CeleryDispatcher(celery_app_from_settings(settings), blocking=True)
        # Warm the workers (engine, HTTP client) with a few deliveries of their own.
        warm = 4 * processes
        dispatcher.dispatch(
            [Job("integrations.deliver_webhook", {"delivery_id": i}, i) for i in ids[:warm]]
        )
        deadline = time.monotonic() + 60
        while received(port) < warm:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not deliver")
            time.sleep(0.05)
        rest = ids[warm:]
        started = time.perf_counter()
        dispatcher.dispatch(
            [Job("integrations.deliver_webhook", {"delivery_id": i}, i) for i in rest]
        )
        published = time.perf_counter() - started
        while received(port) < deliveries:
            time.sleep(0.01)
        ours = time.perf_counter() - started
        dispatcher.app.close()
        before = received(port)
        floor = asyncio.run(_floor(port, bodies[warm:], processes))
        assert received(port) - before == len(rest)
        print(
            f"\nWebhook deliveries, {len(rest)} after {warm} warm-up, "
            f"{processes} worker processes (PostgreSQL + Redis)"
        )
        print(f"{'':36}{'seconds':>9}{'deliveries/s':>14}")
        print(
            f"{'through workers (claim, sign, post, log)':36}{ours:>9.2f}{len(rest) / ours:>14,.0f}"
        )
        print(f"{'floor: bare POSTs, same in flight':36}{floor:>9.2f}{len(rest) / floor:>14,.0f}")
        print(f"publishing the jobs took {published:.2f} s; ratio ours/floor: {floor / ours:.2f}")
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
            proc.wait(timeout=10)
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument(
        "--server-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--skip-launch", action="store_true")
    parser.add_argument("--skip-webhooks", action="store_true")
    args = parser.parse_args()
    from waa_ads.core.logging import configure_logging

    configure_logging("WARNING", json=True)
    if not args.skip_launch:
        bench_launch(args.tokens, args.repeats)
    if not args.skip_webhooks:
        bench_webhooks(args.server_url, args.redis_url, args.deliveries, args.worker_processes)


if __name__ == "__main__":
    main()
