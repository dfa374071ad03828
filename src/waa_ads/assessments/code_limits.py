"""The limit on trying access codes where a code is the whole credential and no sign-in is
asked: the candidate's lookup, start and scorecard download.

Only unknown codes count, per client address: once ``access_code_max_failures_per_client``
of them arrived within ``access_code_failure_window_s``, that address is answered 429
``access-code-rate-limited`` (with ``Retry-After``) on those routes, a known code included,
until the window ends. A candidate who types their code right never counts, so a classroom
behind one address is not slowed by its own use. Codes carry 80 bits, so nobody guesses
one either way; the limit keeps a scan from costing the database and makes it stand out.

The counter is read only for an address this process has answered an unknown code within
the window (``_Failing``): the hall of candidates typing their codes right costs nothing,
not even a read. An address whose failures were all answered by other API processes gets
one more answer from each process before that process reads its counter too (at most one
guess per process). The read is in the request's own transaction (no second connection; a
start checks once it has its turn for the database, so a storm of starts still waits in line
rather than in the connection pool). An unknown code is counted in that transaction too,
which the route then commits by answering the 404 problem instead of raising it (raising
would roll the count back, and on SQLite a transaction of its own would wait for the
request's write lock). Guesses in flight at the moment the limit is reached may each still
be answered: at most as many as there are requests in flight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments.errors import AccessCodeRateLimited
from waa_ads.core.errors import DomainError, problem_response
from waa_ads.core.ratelimit import RateLimiter
from waa_ads.core.settings import Settings


def client_address(request: Request) -> str:
    """The address the request came from (the proxy's client when the server trusts its
    forwarded headers)."""
    return request.client.host if request.client else "unknown"


class _Failing:
    """The addresses this process answered an unknown code, with when it last did; bounded:
    once ``limit`` addresses are in the window at once, every address is checked (safe,
    and only under a scan from that many addresses)."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self.seen: dict[str, float] = {}

    def recent(self, client: str, window_s: int) -> bool:
        at = self.seen.get(client)
        if at is None:
            return len(self.seen) >= self.limit
        if time.monotonic() - at > window_s:
            del self.seen[client]
            return len(self.seen) >= self.limit
        return True

    def note(self, client: str, window_s: int) -> None:
        now = time.monotonic()
        if client not in self.seen and len(self.seen) >= self.limit:
            self.seen = {c: at for c, at in self.seen.items() if now - at <= window_s}
            if len(self.seen) >= self.limit:
                return
        self.seen[client] = now


_failing = _Failing()


@dataclass(frozen=True, slots=True)
class CodeAttempts:
    """The unknown-code counter of one client address."""

    limiter: RateLimiter
    settings: Settings
    client: str

    @classmethod
    def of(cls, request: Request, settings: Settings) -> CodeAttempts:
        return cls(request.app.state.auth.limiter, settings, client_address(request))

    @property
    def key(self) -> str:
        return f"access-code-failures:{self.client}"

    async def refuse_if_exhausted(self, session: AsyncSession) -> None:
        """AccessCodeRateLimited when the address has used up its unknown codes for the
        window; reads only, in ``session`` (the request's), and only for an address this
        process answered an unknown code within the window."""
        if not _failing.recent(self.client, self.settings.access_code_failure_window_s):
            return
        window = await self.limiter.peek(
            self.key, self.settings.access_code_failure_window_s, session=session
        )
        if window.count >= self.settings.access_code_max_failures_per_client:
            raise AccessCodeRateLimited(
                "too many unknown access codes from this address; try again later",
                extra={"headers": {"Retry-After": str(window.retry_after_s)}},
            )

    async def count_failure(
        self, session: AsyncSession, request: Request, error: DomainError
    ) -> JSONResponse:
        """Count an unknown code in ``session`` (the request's unit of work, which commits
        because the route returns) and answer ``error`` as its problem."""
        window_s = self.settings.access_code_failure_window_s
        await self.limiter.hit(self.key, window_s, session=session)
        _failing.note(self.client, window_s)
        return problem_response(
            request,
            status=error.status_code,
            code=error.code,
            title=error.title,
            detail=error.detail,
            **error.extra,
        )
