"""A periodic task for the beat test, imported only by its worker and beat subprocesses
(through ``WAA_TASK_MODULES``), never by the test process: an in-process runner would
otherwise start ticking it in every other test's app."""

from __future__ import annotations

import redis.asyncio as aioredis

from waa_ads.core.tasks import TaskContext, periodic


@periodic("probe.tick", every_seconds=1)
async def tick(ctx: TaskContext) -> None:
    assert ctx.settings.redis_url is not None
    client = aioredis.Redis.from_url(ctx.settings.redis_url)
    try:
        await client.incr(f"{ctx.settings.task_key_prefix}probe:ticks")
    finally:
        await client.aclose()  # type: ignore[attr-defined]  # types-redis predates aclose
