"""Simulated candidates and staff for the drills, and what they were told.

Candidates (open roster, one attempt each, then the next code): start with an access code,
save answers with a rising ``seq`` (round-robin over the items), move to another question and
read the attempt now and then, and submit after ``saves_per_attempt`` saves. A second group,
"abandoners", sits an assessment with a short time limit, saves a few answers and walks
away: the expiry sweep (beat + worker) must end and score their attempts.

Every request goes to one of the API processes at random (a load balancer). A save that gets
no answer (connection refused, reset, timeout) or a 503 is sent again with the same ``seq``
after a pause (the player's offline queue does the same), so nothing is skipped; any other
5xx is counted as a failure. What the server acknowledged (a 200 with ``accepted``) is
recorded per (attempt, item) as the highest ``seq``, for the invariants.

Staff (one admin of the candidates' organization, bearer token): pause a live attempt,
resume it a moment later, extend another, ask for the administration to be scored in bulk,
release scored results.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

CHOICES = "ABCD"
RETRYABLE = {503}
STAFF_401 = {f"{k} 401" for k in ("pause", "resume", "extend", "score-admin", "release")}


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    unavailable_without_retry_after: int = 0
    examples: dict[str, str] = field(default_factory=dict)  # first body per refusal

    def add(self, kind: str, status: str) -> None:
        self.statuses[f"{kind} {status}"] += 1

    def staff_unauthorized(self) -> int:
        """Staff requests answered 401 (an expired access token)."""
        return sum(n for k, n in self.statuses.items() if k in STAFF_401)

    def server_errors(self) -> dict[str, int]:
        """5xx other than 503: never acceptable."""
        return {
            k: n
            for k, n in self.statuses.items()
            if k.split()[-1].startswith("5") and not k.endswith(" 503")
        }


@dataclass
class Acks:
    """Highest acknowledged seq per (attempt id, item ref); attempts started/submitted."""

    saves: dict[tuple[str, str], int] = field(default_factory=dict)
    count: int = 0
    started: dict[str, str] = field(default_factory=dict)  # attempt id -> access code
    credentials: dict[str, str] = field(default_factory=dict)
    submitted: set[str] = field(default_factory=set)
    submitted_at: dict[str, float] = field(default_factory=dict)
    live: set[str] = field(default_factory=set)  # org A attempts in progress (for staff)
    first_ack_at: dict[tuple[str, str], float] = field(default_factory=dict)
    ack_log: list[tuple[float, str, str, int]] = field(default_factory=list)

    def ack(self, attempt: str, ref: str, seq: int) -> None:
        key = (attempt, ref)
        if seq > self.saves.get(key, 0):
            self.saves[key] = seq
        self.count += 1
        self.ack_log.append((time.time(), attempt, ref, seq))

    def before(self, t: float) -> Acks:
        """What had been acknowledged before the wall-clock time ``t`` (for a restore to
        that time): the highest seq per item and the attempts submitted (with the access
        codes and credentials of every attempt, to resume one)."""
        out = Acks(started=dict(self.started), credentials=dict(self.credentials))
        for at, attempt, ref, seq in self.ack_log:
            if at < t:
                out.ack(attempt, ref, seq)
                out.ack_log[-1] = (at, attempt, ref, seq)
        out.submitted = {a for a, at in self.submitted_at.items() if at < t}
        out.submitted_at = {a: self.submitted_at[a] for a in out.submitted}
        return out


@dataclass
class Load:
    api_urls: list[str]
    codes: list[str]
    refs: list[str]
    abandon_codes: list[str]
    abandon_refs: list[str]
    candidates: int = 24
    abandoners: int = 4
    save_every_s: float = 1.5
    saves_per_attempt: int = 40
    seed: int = 1
    tally: Tally = field(default_factory=Tally)
    acks: Acks = field(default_factory=Acks)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    # Fresh (admin, proctor) tokens, for a run longer than an access token's lifetime.
    relogin: Callable[[], tuple[str, str]] | None = None
    relogins: int = 0
    # Seconds into the run at which a roster had no access code left (the load thinned).
    ran_out_after_s: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.t0 = time.monotonic()
        self.rng = random.Random(self.seed)
        self._codes = list(self.codes)
        self._abandon = list(self.abandon_codes)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(15.0, connect=3.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def url(self) -> str:
        return self.rng.choice(self.api_urls)

    async def call(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        retry: bool = True,
        give_up_s: float = 120.0,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """One request, sent again (to any API process) while the answer is a transport
        error or a 503, for at most ``give_up_s``; None if it never got an answer."""
        t0 = time.monotonic()
        delay = 0.5
        while True:
            try:
                r = await self.client.request(method, self.url() + path, **kwargs)
                self.tally.add(kind, str(r.status_code))
                if r.status_code >= 400:
                    self.tally.examples.setdefault(f"{kind} {r.status_code}", r.text[:200])
                if r.status_code == 503 and "retry-after" not in r.headers:
                    self.tally.unavailable_without_retry_after += 1
                if r.status_code not in RETRYABLE or not retry:
                    return r
            except httpx.TransportError as exc:
                self.tally.add(kind, type(exc).__name__)
                if not retry:
                    return None
            if time.monotonic() - t0 > give_up_s:
                return None
            self.tally.retries += 1
            await asyncio.sleep(delay + self.rng.uniform(0, 0.3))
            delay = min(delay * 1.6, 5.0)

    async def candidate(self, n: int, abandon: bool) -> None:
        pool = self._abandon if abandon else self._codes
        refs = self.abandon_refs if abandon else self.refs
        await asyncio.sleep(self.rng.uniform(0, self.save_every_s * 2))
        while not self.stop.is_set():
            if not pool:
                group = "abandoners" if abandon else "candidates"
                self.ran_out_after_s.setdefault(group, round(time.monotonic() - self.t0, 1))
                return
            code = pool.pop()
            r = await self.call("start", "POST", "/api/v1/attempts", json={"access_code": code})
            if r is None or r.status_code not in (200, 201):
                continue
            body = r.json()
            attempt, cred = body["attempt"]["id"], body["credential"]
            self.acks.started[attempt] = code
            self.acks.credentials[attempt] = cred
            headers = {"X-Attempt-Token": cred}
            if not abandon:
                self.acks.live.add(attempt)
            seq = 0
            saves = 3 if abandon else self.saves_per_attempt
            while seq < saves and not self.stop.is_set():
                seq += 1
                ref = refs[seq % len(refs)]
                payload = {"seq": seq, "value": CHOICES[self.rng.randrange(4)]}
                r = await self.call(
                    "save",
                    "PUT",
                    f"/api/v1/attempts/{attempt}/responses/{ref}",
                    json=payload,
                    headers=headers,
                )
                if r is not None and r.status_code == 200 and r.json().get("accepted"):
                    self.acks.ack(attempt, ref, seq)
                if seq % 7 == 0:
                    await self.call(
                        "position",
                        "PUT",
                        f"/api/v1/attempts/{attempt}/position",
                        json={"position": self.rng.randint(1, len(refs))},
                        headers=headers,
                    )
                    await self.call("view", "GET", f"/api/v1/attempts/{attempt}", headers=headers)
                await asyncio.sleep(self.save_every_s * self.rng.uniform(0.7, 1.3))
            self.acks.live.discard(attempt)
            if abandon or self.stop.is_set():
                if abandon:
                    await asyncio.sleep(self.rng.uniform(1, 3))
                continue
            r = await self.call(
                "submit", "POST", f"/api/v1/attempts/{attempt}/submit", headers=headers
            )
            if r is not None and r.status_code == 200:
                self.acks.submitted.add(attempt)
                self.acks.submitted_at[attempt] = time.time()

    async def staff(
        self, token: str, proctor_token: str, administration_id: str, every_s: float = 3.0
    ) -> None:
        admin = {"Authorization": f"Bearer {token}"}
        headers = {"Authorization": f"Bearer {proctor_token}"}
        reason = {"reason": "drill"}
        tick = seen_401 = 0
        while not self.stop.is_set():
            await asyncio.sleep(every_s)
            tick += 1
            refused = self.tally.staff_unauthorized()
            if self.relogin is not None and refused > seen_401:  # a token expired: sign in
                seen_401 = refused
                token, proctor_token = await asyncio.to_thread(self.relogin)
                self.relogins += 1
                admin = {"Authorization": f"Bearer {token}"}
                headers = {"Authorization": f"Bearer {proctor_token}"}
            live = sorted(self.acks.live)
            if live:
                attempt = self.rng.choice(live)
                if tick % 2:
                    r = await self.call(
                        "pause", "POST", f"/api/v1/attempts/{attempt}/pause", json=reason,
                        headers=headers,
                    )  # fmt: skip
                    await asyncio.sleep(1.0)
                    if r is not None and r.status_code == 200:
                        await self.call(
                            "resume", "POST", f"/api/v1/attempts/{attempt}/resume",
                            json=reason, headers=headers,
                        )  # fmt: skip
                else:
                    await self.call(
                        "extend", "POST", f"/api/v1/attempts/{attempt}/extend",
                        json={**reason, "extra_s": 60}, headers=headers,
                    )  # fmt: skip
            if tick % 10 == 0:
                await self.call(
                    "score-admin", "POST", "/api/v1/results/score-administration",
                    json={"administration_id": administration_id}, headers=admin,
                )  # fmt: skip
            done = sorted(self.acks.submitted)
            if done and tick % 3 == 0:
                attempt = self.rng.choice(done)
                await self.call(
                    "release", "POST", f"/api/v1/results/{attempt}/release", json=reason,
                    headers=admin,
                )  # fmt: skip

    async def run(
        self,
        duration_s: float,
        token: str,
        proctor_token: str,
        administration_id: str,
        fault: Any = None,
    ) -> float:
        """Run candidates, abandoners, staff (and ``fault``, a coroutine function taking
        this load) for ``duration_s``; return the seconds it really took."""
        t0 = self.t0 = time.monotonic()
        tasks = [asyncio.create_task(self.candidate(i, False)) for i in range(self.candidates)]
        tasks += [asyncio.create_task(self.candidate(i, True)) for i in range(self.abandoners)]
        tasks.append(asyncio.create_task(self.staff(token, proctor_token, administration_id)))
        fault_task = asyncio.create_task(fault(self)) if fault is not None else None
        try:
            await asyncio.sleep(duration_s)
        finally:
            self.stop.set()
            if fault_task is not None:
                try:
                    await asyncio.wait_for(fault_task, 180)
                except TimeoutError:
                    fault_task.cancel()
            _, pending = await asyncio.wait(tasks, timeout=150)
            for t in pending:
                t.cancel()
            await self.client.aclose()
        return time.monotonic() - t0

    def summary(self) -> dict[str, Any]:
        return {
            "statuses": dict(sorted(self.tally.statuses.items())),
            "retries": self.tally.retries,
            "refusals": self.tally.examples,
            "acknowledged_saves": self.acks.count,
            "attempts_started": len(self.acks.started),
            "attempts_submitted": len(self.acks.submitted),
            "server_errors_not_503": self.tally.server_errors(),
            "503_without_retry_after": self.tally.unavailable_without_retry_after,
            "staff_relogins": self.relogins,
            "roster_ran_out_after_s": self.ran_out_after_s,
        }


def dumps(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)
