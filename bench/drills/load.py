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
release scored results, and now and then upload a picture to the media library (a small
PNG, different each time).

Uploaders (a third roster, sitting a one-question assessment whose question is a file
upload): start, upload ``uploads_per_attempt`` files one after the other with a rising
``seq`` (``POST .../responses/{ref}/file``, as the player sends an upload), then leave the
attempt open (an upload waits for a person's rating: their attempts are not submitted, so
the scoring invariants stay about the others) and take the next code. What the server
acknowledged is recorded like a save (highest ``seq`` per item), and every blob written
(upload or media) in a log of (time, SHA-256, kind, where), for the blob invariants.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import struct
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

CHOICES = "ABCD"
RETRYABLE = {503}
STAFF_401 = {f"{k} 401" for k in ("pause", "resume", "extend", "score-admin", "release", "media")}


def picture(n: int, side: int = 8) -> bytes:
    """A ``side`` x ``side`` RGB PNG whose pixels depend on ``n`` (distinct bytes each)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    seed = n.to_bytes(8, "big")
    rows = b"".join(
        b"\x00" + bytes((seed[(x + y) % 8] + x * 16 + y) % 256 for x in range(side * 3))
        for y in range(side)
    )
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


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
    # Every blob the server acknowledged storing: (time, sha256, "upload"|"media", where).
    blob_log: list[tuple[float, str, str, str]] = field(default_factory=list)
    # Media assets acknowledged: id -> sha256 (to download one after a restore).
    media: dict[str, str] = field(default_factory=dict)

    def ack(self, attempt: str, ref: str, seq: int) -> None:
        key = (attempt, ref)
        if seq > self.saves.get(key, 0):
            self.saves[key] = seq
        self.count += 1
        self.ack_log.append((time.time(), attempt, ref, seq))

    def blob(self, sha256: str, kind: str, where: str) -> None:
        self.blob_log.append((time.time(), sha256, kind, where))

    def blobs(self, kind: str | None = None) -> set[str]:
        """The digests of the blobs acknowledged (of one ``kind``)."""
        return {sha for _, sha, k, _ in self.blob_log if kind is None or k == kind}

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
        out.blob_log = [b for b in self.blob_log if b[0] < t]
        kept = out.blobs("media")
        out.media = {m: sha for m, sha in self.media.items() if sha in kept}
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
    upload_codes: list[str] = field(default_factory=list)
    upload_ref: str = ""
    uploaders: int = 0
    uploads_per_attempt: int = 3
    media_every: int = 0  # staff ticks between two media uploads (0: none)
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
        self._uploads = list(self.upload_codes)
        self._pictures = 0
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

    async def uploader(self, n: int) -> None:
        """Sit the upload assessment: files uploaded with a rising seq, attempt left open."""
        await asyncio.sleep(self.rng.uniform(0, self.save_every_s * 2))
        while not self.stop.is_set():
            if not self._uploads:
                self.ran_out_after_s.setdefault("uploaders", round(time.monotonic() - self.t0, 1))
                return
            code = self._uploads.pop()
            r = await self.call("start", "POST", "/api/v1/attempts", json={"access_code": code})
            if r is None or r.status_code not in (200, 201):
                continue
            body = r.json()
            attempt, cred = body["attempt"]["id"], body["credential"]
            self.acks.started[attempt] = code
            self.acks.credentials[attempt] = cred
            headers = {"X-Attempt-Token": cred}
            seq = 0
            while seq < self.uploads_per_attempt and not self.stop.is_set():
                seq += 1
                data = (
                    f"Worked solution, attempt {attempt}, version {seq}.\n"
                    f"{self.rng.getrandbits(128):032x}\n"
                ).encode() * (1 + self.rng.randrange(40))
                r = await self.call(
                    "upload",
                    "POST",
                    f"/api/v1/attempts/{attempt}/responses/{self.upload_ref}/file",
                    data={"seq": str(seq)},
                    files={"file": (f"solution-{seq}.txt", data, "text/plain")},
                    headers=headers,
                )
                if r is not None and r.status_code == 200 and r.json().get("accepted"):
                    self.acks.ack(attempt, self.upload_ref, seq)
                    self.acks.blob(hashlib.sha256(data).hexdigest(), "upload", f"{attempt}/{seq}")
                await asyncio.sleep(self.save_every_s * 2 * self.rng.uniform(0.7, 1.3))

    async def upload_picture(self, admin: dict[str, str]) -> None:
        """Staff: one new picture into the media library."""
        self._pictures += 1
        data = picture(self.seed * 1_000_000 + self._pictures)
        r = await self.call(
            "media",
            "POST",
            "/api/v1/media",
            files={"file": (f"figure-{self._pictures}.png", data, "image/png")},
            headers=admin,
        )
        if r is not None and r.status_code in (200, 201):
            sha, media_id = r.json()["sha256"], r.json()["id"]
            self.acks.media[media_id] = sha
            self.acks.blob(sha, "media", media_id)

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
            if self.media_every and tick % self.media_every == 0:
                await self.upload_picture(admin)
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
        if self.upload_codes:
            tasks += [asyncio.create_task(self.uploader(i)) for i in range(self.uploaders)]
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
            "blobs_written": {
                "uploads": len(self.acks.blobs("upload")),
                "media": len(self.acks.blobs("media")),
            },
            "attempts_started": len(self.acks.started),
            "attempts_submitted": len(self.acks.submitted),
            "server_errors_not_503": self.tally.server_errors(),
            "503_without_retry_after": self.tally.unavailable_without_retry_after,
            "staff_relogins": self.relogins,
            "roster_ran_out_after_s": self.ran_out_after_s,
        }


def dumps(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)
