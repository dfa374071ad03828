"""Webhook subscriptions, the outbox dispatcher and the delivery of signed events.

Flow: a domain's state change writes an audit event in its transaction. The periodic
``integrations.dispatch_events`` task reads each organization's chain past its cursor
(:class:`IntegrationCursor`) and, for every published event a subscription wants, adds
an :class:`IntegrationDelivery` row (idempotently, keyed by subscription and sequence
number) and moves the cursor, in one transaction; the delivery tasks are enqueued after
that commit. The audit event and the delivery row are both committed before any HTTP
request is made, so an event is never lost: a delivery whose task was lost stays
``pending`` and is enqueued again by the next dispatch.

A delivery try happens outside any transaction: read the delivery, close the session,
make the request, then record the outcome with a guarded update.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.audit import service as audit
from waa_ads.audit.models import AuditChainHead, AuditEvent
from waa_ads.auth.deps import Principal
from waa_ads.core.db import insert_ignore, utcnow, uuid7
from waa_ads.core.settings import Settings
from waa_ads.core.tasks import enqueue_after_commit
from waa_ads.core.tenancy import get_scoped
from waa_ads.delivery.models import Attempt, Response
from waa_ads.integrations import caliper, events, netguard, signing
from waa_ads.integrations.errors import (
    DeliveryCursorInvalid,
    DeliveryNotFound,
    SubscriptionInactive,
    SubscriptionNotFound,
    UnknownEventType,
    UnsafeUrl,
)
from waa_ads.integrations.models import IntegrationCursor, IntegrationDelivery, WebhookSubscription
from waa_ads.scoring.models import AttemptResult

log = structlog.get_logger(__name__)

DELIVER_TASK = "integrations.deliver_webhook"
WEBHOOK = "webhook"
#: The subscription formats: the WAA-ADS body, or a Caliper 1.2 envelope.
FORMATS = ("waa", "caliper")
CALIPER = "caliper"
#: Caliper identifiers are IRIs under the deployment's address (WAA_PUBLIC_BASE_URL).
DEFAULT_BASE_URL = "https://waa-ads.invalid"
#: Audit events read per organization per dispatch run.
DISPATCH_BATCH = 500
#: A pending delivery untouched this long is enqueued again by the dispatcher (its task
#: was lost between commit and publication, or it was queued where no worker listens).
STALE_PENDING = timedelta(seconds=15)
#: A retrying delivery untouched this long lost its scheduled retry.
LOST_RETRY = timedelta(hours=2)
#: A try claimed (``sending``) this long ago belongs to a worker that died mid-send.
ABANDONED_SENDING = timedelta(minutes=5)
EXCERPT_CHARS = 1000
USER_AGENT = "waa-ads-webhooks/1"


# ------------------------------------------------------------------------- subscriptions


def _check_event_types(event_types: Sequence[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(events.EVENT_TYPES))
    if unknown:
        raise UnknownEventType(
            f"unknown event types {unknown}; known: {', '.join(events.EVENT_TYPES)}"
        )
    if not event_types:
        raise UnknownEventType("name at least one event type")
    return [t for t in events.EVENT_TYPES if t in set(event_types)]


async def _chain_head(session: AsyncSession, organization_id: uuid.UUID) -> int:
    seq = await session.scalar(
        select(AuditChainHead.seq).where(AuditChainHead.chain == audit.chain_for(organization_id))
    )
    return int(seq or 0)


async def ensure_cursor(session: AsyncSession, organization_id: uuid.UUID) -> None:
    """Start the organization's outbox cursor at its chain's head, if it has none."""
    head = await _chain_head(session, organization_id)
    await insert_ignore(
        session,
        IntegrationCursor,
        {"organization_id": organization_id, "last_seq": head, "updated_at": utcnow()},
    )


async def create_subscription(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    *,
    url: str,
    event_types: Sequence[str],
    description: str = "",
    format: str = "waa",
    bearer_token: str | None = None,
) -> WebhookSubscription:
    """A new active subscription receiving events from now on. Its ``secret`` is on the
    returned row; the API shows it this once."""
    wanted = _check_event_types(event_types)
    await netguard.check_url(url, allow_private=settings.integrations_allow_private_urls)
    now = utcnow()
    # The audit record below takes the chain head's lock; the head read before it is
    # then the sequence number this subscription starts after.
    sub = WebhookSubscription(
        organization_id=principal.organization_id,
        url=url,
        description=description,
        event_types=wanted,
        format=format,
        bearer_token=bearer_token or None,
        secret=signing.new_secret(),
        active=True,
        consecutive_failures=0,
        start_seq=0,
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    await session.flush()
    event = await audit.record(
        session,
        organization_id=principal.organization_id,
        action="webhook.subscription_created",
        actor=principal.actor,
        target_type="webhook_subscription",
        target_id=sub.id,
        data={"event_types": wanted, "format": format},
    )
    sub.start_seq = event.seq
    await ensure_cursor(session, principal.organization_id)
    await session.flush()
    return sub


async def list_subscriptions(
    session: AsyncSession, principal: Principal
) -> Sequence[WebhookSubscription]:
    return (
        (
            await session.execute(
                select(WebhookSubscription)
                .where(WebhookSubscription.organization_id == principal.organization_id)
                .order_by(WebhookSubscription.id)
            )
        )
        .scalars()
        .all()
    )


async def get_subscription(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID
) -> WebhookSubscription:
    return await get_scoped(
        session,
        WebhookSubscription,
        subscription_id,
        principal.organization_id,
        what="webhook subscription",
        error=SubscriptionNotFound,
    )


async def update_subscription(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    subscription_id: uuid.UUID,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookSubscription:
    """Change what is given. Activating a disabled subscription forgets its failures."""
    sub = await get_subscription(session, principal, subscription_id)
    changed: dict[str, Any] = {}
    if url is not None and url != sub.url:
        await netguard.check_url(url, allow_private=settings.integrations_allow_private_urls)
        sub.url = url
        changed["url"] = True
    if event_types is not None:
        sub.event_types = _check_event_types(event_types)
        changed["event_types"] = sub.event_types
    if description is not None:
        sub.description = description
    if active is not None and active != sub.active:
        sub.active = active
        changed["active"] = active
        if active:
            sub.consecutive_failures = 0
            sub.disabled_at = None
            sub.disabled_reason = None
    sub.updated_at = utcnow()
    await session.flush()
    if changed:
        await audit.record(
            session,
            organization_id=principal.organization_id,
            action="webhook.subscription_updated",
            actor=principal.actor,
            target_type="webhook_subscription",
            target_id=sub.id,
            data=changed,
        )
    return sub


async def rotate_secret(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID
) -> WebhookSubscription:
    sub = await get_subscription(session, principal, subscription_id)
    sub.secret = signing.new_secret()
    sub.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="webhook.secret_rotated",
        actor=principal.actor,
        target_type="webhook_subscription",
        target_id=sub.id,
    )
    return sub


async def delete_subscription(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID
) -> None:
    sub = await get_subscription(session, principal, subscription_id)
    await session.delete(sub)
    await session.flush()
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="webhook.subscription_deleted",
        actor=principal.actor,
        target_type="webhook_subscription",
        target_id=subscription_id,
    )


# ---------------------------------------------------------------------------- deliveries


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    *,
    subscription_id: uuid.UUID | None = None,
    status: str | None = None,
    channel: str | None = None,
    before: str | None = None,
    limit: int = 50,
) -> tuple[Sequence[IntegrationDelivery], str | None]:
    """The delivery log, newest first; the second value is the ``before`` of the next
    page (None on the last)."""
    stmt = select(IntegrationDelivery).where(
        IntegrationDelivery.organization_id == principal.organization_id
    )
    if subscription_id is not None:
        stmt = stmt.where(IntegrationDelivery.subscription_id == subscription_id)
    if status is not None:
        stmt = stmt.where(IntegrationDelivery.status == status)
    if channel is not None:
        stmt = stmt.where(IntegrationDelivery.channel == channel)
    if before:
        try:
            before_id = uuid.UUID(before)
        except ValueError:
            raise DeliveryCursorInvalid(f"invalid cursor {before!r}") from None
        stmt = stmt.where(IntegrationDelivery.id < before_id)
    limit = max(1, min(limit, 500))
    rows = (
        (await session.execute(stmt.order_by(IntegrationDelivery.id.desc()).limit(limit + 1)))
        .scalars()
        .all()
    )
    if len(rows) > limit:
        return rows[:limit], str(rows[limit - 1].id)
    return rows, None


async def get_delivery(
    session: AsyncSession, principal: Principal, delivery_id: uuid.UUID
) -> IntegrationDelivery:
    return await get_scoped(
        session,
        IntegrationDelivery,
        delivery_id,
        principal.organization_id,
        what="delivery",
        error=DeliveryNotFound,
    )


async def replay(
    session: AsyncSession, principal: Principal, delivery_id: uuid.UUID
) -> IntegrationDelivery:
    """Send a delivery's payload again, as a new delivery (re-signed when sent)."""
    original = await get_delivery(session, principal, delivery_id)
    if original.subscription_id is not None:
        sub = await session.get(WebhookSubscription, original.subscription_id)
        if sub is None or not sub.active:
            raise SubscriptionInactive(
                "the delivery's subscription is disabled; enable it before replaying"
            )
        target = sub.url
    else:
        target = original.target
    now = utcnow()
    copy = IntegrationDelivery(
        organization_id=original.organization_id,
        channel=original.channel,
        subscription_id=original.subscription_id,
        target=target,
        event_type=original.event_type,
        event_seq=original.event_seq,
        dedupe_key=f"replay:{uuid.uuid4()}",
        payload=original.payload,
        status="pending",
        attempts=0,
        tries=[],
        replay_of=original.id,
        created_at=now,
        updated_at=now,
    )
    session.add(copy)
    await session.flush()
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="integration.delivery_replayed",
        actor=principal.actor,
        target_type="integration_delivery",
        target_id=copy.id,
        data={"replay_of": str(original.id)},
    )
    enqueue_after_commit(session, task_for(copy.channel), delivery_id=str(copy.id))
    return copy


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _utc_text(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def task_for(channel: str) -> str:
    return {WEBHOOK: DELIVER_TASK}.get(channel, f"integrations.deliver_{channel}")


# ------------------------------------------------------------------------------- outbox


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An audit event as the outbox hands it to a channel."""

    organization_id: uuid.UUID
    seq: int
    action: str
    type: str
    occurred_at: str
    target_id: str | None
    data: dict[str, Any]


def event_body(event: OutboxEvent, extra: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a webhook delivery (the same for every subscriber)."""
    data: dict[str, Any] = dict(extra)
    kind = events.decision_kind(event.action)
    if kind is not None:
        data["decision_kind"] = kind
    for key in ("revision", "from", "to", "reason", "decision"):
        if key in event.data:
            data[key] = event.data[key]
    for key in events.CARRIED_FIELDS.get(event.type, ()):
        if key in event.data and key not in data:
            data[key] = event.data[key]
    return {
        "id": f"{event.organization_id}.{event.seq}",
        "type": event.type,
        "occurred_at": event.occurred_at,
        "organization_id": str(event.organization_id),
        "data": data,
    }


async def _attempt_facts(session: AsyncSession, event: OutboxEvent) -> dict[str, Any]:
    """Ids (never names) of the attempt an event is about, and for result events the
    released figures of the revision named."""
    if event.type.startswith("session."):
        return {"user_id": event.target_id} if event.target_id else {}
    # Most events name the attempt as their target; others (a raised flag) may name
    # their own row and carry the attempt in their data.
    named = event.data.get("attempt_id")
    attempt_ref = named if isinstance(named, str) else event.target_id
    if attempt_ref is None:
        return {}
    try:
        attempt_id = uuid.UUID(attempt_ref)
    except ValueError:
        return {}
    attempt = await session.get(Attempt, attempt_id)
    if attempt is None or attempt.organization_id != event.organization_id:
        return {"attempt_id": attempt_ref}
    facts: dict[str, Any] = {
        "attempt_id": str(attempt.id),
        "administration_id": str(attempt.administration_id),
        "candidate_id": str(attempt.candidate_id),
        "assessment_version_id": str(attempt.assessment_version_id),
        "attempt_number": attempt.number,
    }
    if event.type in ("attempt.submitted", "attempt.expired", "attempt.terminated"):
        facts["answered_items"] = list(
            (
                await session.execute(
                    select(Response.item_ref)
                    .where(Response.attempt_id == attempt.id)
                    .order_by(Response.item_ref)
                )
            ).scalars()
        )
    revision = event.data.get("revision")
    result: AttemptResult | None = None
    if event.action.startswith("result.") and isinstance(revision, int):
        result = await session.scalar(
            select(AttemptResult).where(
                AttemptResult.attempt_id == attempt.id, AttemptResult.revision == revision
            )
        )
    elif event.action == "attempt.finish_scoring":
        result = await session.scalar(
            select(AttemptResult)
            .where(AttemptResult.attempt_id == attempt.id)
            .order_by(AttemptResult.revision.desc())
            .limit(1)
        )
    if result is not None:
        facts["result"] = {
            "revision": result.revision,
            "raw": result.raw,
            "max_raw": result.max_raw,
            "scaled": result.scaled,
            "band": result.band,
            "passed": result.passed,
        }
    return facts


async def dispatch_organization(
    session: AsyncSession, organization_id: uuid.UUID, *, base_url: str = DEFAULT_BASE_URL
) -> list[IntegrationDelivery]:
    """Turn the organization's audit events past its cursor into webhook deliveries and
    move the cursor (one bounded batch); enqueue their tasks after commit. Also enqueues
    again deliveries left ``pending`` too long. Safe to run concurrently: the cursor row
    is locked, and delivery rows are inserted idempotently."""
    cursor = await session.scalar(
        select(IntegrationCursor)
        .where(IntegrationCursor.organization_id == organization_id)
        .with_for_update()
    )
    if cursor is None:
        return []
    rows = (
        (
            await session.execute(
                select(AuditEvent)
                .where(
                    AuditEvent.chain == audit.chain_for(organization_id),
                    AuditEvent.seq > cursor.last_seq,
                )
                .order_by(AuditEvent.seq)
                .limit(DISPATCH_BATCH)
            )
        )
        .scalars()
        .all()
    )
    created: list[IntegrationDelivery] = []
    if rows:
        subs = (
            (
                await session.execute(
                    select(WebhookSubscription).where(
                        WebhookSubscription.organization_id == organization_id,
                        WebhookSubscription.active.is_(True),
                    )
                )
            )
            .scalars()
            .all()
        )
        now = utcnow()
        for row in rows:
            public = events.public_type(row.action)
            if public is None:
                continue
            parsed = json.loads(row.canonical)
            if row.action == "result.released":
                # LTI and e-mail build on this module.
                from waa_ads.integrations import lti, mail

                await mail.add_result_notice(
                    session,
                    organization_id,
                    seq=row.seq,
                    facts=await _attempt_facts(
                        session,
                        OutboxEvent(
                            organization_id=organization_id,
                            seq=row.seq,
                            action=row.action,
                            type=public,
                            occurred_at=parsed["occurred_at"],
                            target_id=row.target_id,
                            data=parsed.get("data") or {},
                        ),
                    ),
                )
                await lti.add_passbacks(
                    session,
                    organization_id,
                    seq=row.seq,
                    attempt_id=row.target_id,
                    revision=(parsed.get("data") or {}).get("revision"),
                    occurred_at=parsed["occurred_at"],
                )
            wanting = [s for s in subs if public in s.event_types and row.seq > s.start_seq]
            if not wanting:
                continue
            event = OutboxEvent(
                organization_id=organization_id,
                seq=row.seq,
                action=row.action,
                type=public,
                occurred_at=parsed["occurred_at"],
                target_id=row.target_id,
                data=parsed.get("data") or {},
            )
            native = event_body(event, await _attempt_facts(session, event))
            bodies = {"waa": _json(native)}
            if any(s.format == CALIPER for s in wanting):
                found = caliper.events_for(native, base_url=base_url)
                if found:
                    bodies[CALIPER] = _json(
                        caliper.envelope(found, base_url=base_url, send_time=_utc_text(now))
                    )
            for sub in wanting:
                body = bodies.get(sub.format)
                if body is None:
                    continue
                key = f"webhook:{sub.id}:{row.seq}"
                await insert_ignore(
                    session,
                    IntegrationDelivery,
                    {
                        "id": uuid7(),
                        "organization_id": organization_id,
                        "channel": WEBHOOK,
                        "subscription_id": sub.id,
                        "target": sub.url,
                        "event_type": public,
                        "event_seq": row.seq,
                        "dedupe_key": key,
                        "payload": body,
                        "status": "pending",
                        "attempts": 0,
                        "tries": [],
                        "created_at": now,
                        "updated_at": now,
                    },
                )
        cursor.last_seq = rows[-1].seq
        cursor.updated_at = now
        await session.flush()
    # What to enqueue: the deliveries just added (only those: the others of this batch
    # were enqueued by the run that added them), pending ones untouched for a while (their
    # job was lost), and tries claimed long ago by a worker that died mid-send.
    now = utcnow()
    stale_before = now - STALE_PENDING
    # A retry is scheduled at most an hour after its failed try (retry_backoff_max_s).
    due = (
        (IntegrationDelivery.status == "pending") & (IntegrationDelivery.updated_at < stale_before)
    ) | (
        (IntegrationDelivery.status == "retrying")
        & (IntegrationDelivery.updated_at < now - LOST_RETRY)
    )
    abandoned = (IntegrationDelivery.status == "sending") & (
        IntegrationDelivery.updated_at < now - ABANDONED_SENDING
    )
    condition = due | abandoned
    if rows:
        condition = condition | (
            (IntegrationDelivery.status == "pending")
            & (IntegrationDelivery.attempts == 0)
            & (IntegrationDelivery.event_seq >= rows[0].seq)
            & (IntegrationDelivery.event_seq <= rows[-1].seq)
            & (IntegrationDelivery.replay_of.is_(None))
        )
    pending = (
        (
            await session.execute(
                select(IntegrationDelivery).where(
                    IntegrationDelivery.organization_id == organization_id, condition
                )
            )
        )
        .scalars()
        .all()
    )
    for delivery in pending:
        if delivery.status == "sending":
            delivery.status = "retrying"
        delivery.updated_at = now
        enqueue_after_commit(session, task_for(delivery.channel), delivery_id=str(delivery.id))
        created.append(delivery)
    await session.flush()
    return created


async def organizations_with_cursor(session: AsyncSession) -> list[uuid.UUID]:
    return list((await session.execute(select(IntegrationCursor.organization_id))).scalars())


async def organizations_due(session: AsyncSession) -> list[uuid.UUID]:
    """Organizations the dispatcher has work for: a chain head past the cursor, or a
    delivery waiting longer than it should. Read-only, so that an idle deployment's
    dispatcher takes no write lock (SQLite's single writer serves the candidates)."""
    # (A Result has keys(): dict() would take it for a mapping, hence all() first.)
    cursors = dict(
        (
            await session.execute(
                select(IntegrationCursor.organization_id, IntegrationCursor.last_seq)
            )
        ).all()
    )
    if not cursors:
        return []
    heads = dict(
        (
            await session.execute(
                select(AuditChainHead.chain, AuditChainHead.seq).where(
                    AuditChainHead.chain.in_([audit.chain_for(o) for o in cursors])
                )
            )
        ).all()
    )
    due = {o for o, last in cursors.items() if heads.get(audit.chain_for(o), 0) > last}
    now = utcnow()
    waiting = (
        (
            (IntegrationDelivery.status == "pending")
            & (IntegrationDelivery.updated_at < now - STALE_PENDING)
        )
        | (
            (IntegrationDelivery.status == "retrying")
            & (IntegrationDelivery.updated_at < now - LOST_RETRY)
        )
        | (
            (IntegrationDelivery.status == "sending")
            & (IntegrationDelivery.updated_at < now - ABANDONED_SENDING)
        )
    )
    due.update(
        (
            await session.execute(
                select(IntegrationDelivery.organization_id).where(waiting).distinct()
            )
        ).scalars()
    )
    return sorted(due & set(cursors))


# ----------------------------------------------------------------------------- delivering


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int | None
    excerpt: str | None
    duration_ms: float
    error: str | None


@dataclass(frozen=True, slots=True)
class PreparedDelivery:
    id: uuid.UUID
    organization_id: uuid.UUID
    #: None for deliveries that belong to no subscription (LTI passbacks).
    subscription_id: uuid.UUID | None
    url: str
    secret: str
    event_type: str
    payload: str
    bearer_token: str | None = None


async def claim(session: AsyncSession, delivery_id: uuid.UUID) -> IntegrationDelivery | None:
    """Take a pending or retrying delivery for one try (status ``sending``), so that two
    jobs for the same delivery never both send; None when another has it or it is done."""
    claimed = (
        await session.execute(
            update(IntegrationDelivery)
            .where(
                IntegrationDelivery.id == delivery_id,
                IntegrationDelivery.status.in_(("pending", "retrying")),
            )
            .values(status="sending", updated_at=utcnow())
            .returning(IntegrationDelivery.id)
        )
    ).first()
    if claimed is None:
        return None
    return await session.get(IntegrationDelivery, delivery_id, populate_existing=True)


async def prepare(session: AsyncSession, delivery_id: uuid.UUID) -> PreparedDelivery | None:
    """What a try needs, or None when there is nothing to send (already succeeded,
    failed or cancelled; the subscription is gone or disabled: then it is cancelled)."""
    delivery = await claim(session, delivery_id)
    if delivery is None:
        return None
    sub = (
        await session.get(WebhookSubscription, delivery.subscription_id)
        if delivery.subscription_id is not None
        else None
    )
    if sub is None or not sub.active:
        delivery.status = "cancelled"
        delivery.error = "the subscription is disabled or deleted"
        delivery.updated_at = delivery.completed_at = utcnow()
        await session.flush()
        return None
    return PreparedDelivery(
        id=delivery.id,
        organization_id=delivery.organization_id,
        subscription_id=sub.id,
        url=sub.url,
        secret=sub.secret,
        event_type=delivery.event_type,
        payload=delivery.payload,
        bearer_token=sub.bearer_token,
    )


async def send(
    prepared: PreparedDelivery, settings: Settings, *, client: httpx.AsyncClient | None = None
) -> Outcome:
    """One signed POST; never raises for the receiver's failures (they are the outcome)."""
    body = prepared.payload.encode("utf-8")
    started = time.perf_counter()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.SIGNATURE_HEADER: signing.signature_header(prepared.secret, timestamp, body),
        "WAA-Event": prepared.event_type,
        "WAA-Delivery": str(prepared.id),
    }
    if prepared.bearer_token:
        headers["Authorization"] = f"Bearer {prepared.bearer_token}"
    try:
        await netguard.check_url(
            prepared.url, allow_private=settings.integrations_allow_private_urls
        )
        client = client or shared_client(
            settings.webhook_timeout_s, allow_private=settings.integrations_allow_private_urls
        )
        response = await client.post(prepared.url, content=body, headers=headers)
    except UnsafeUrl as exc:
        return Outcome(False, None, None, _ms(started), exc.detail)
    except httpx.TimeoutException:
        return Outcome(
            False, None, None, _ms(started), f"no answer within {settings.webhook_timeout_s} s"
        )
    except httpx.HTTPError as exc:
        return Outcome(False, None, None, _ms(started), f"{type(exc).__name__}: {exc}"[:1000])
    excerpt = response.text[:EXCERPT_CHARS]
    ok = 200 <= response.status_code < 300
    return Outcome(
        ok,
        response.status_code,
        excerpt,
        _ms(started),
        None if ok else f"the receiver answered {response.status_code}",
    )


_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[float, bool], httpx.AsyncClient]
] = weakref.WeakKeyDictionary()


def shared_client(timeout_s: float, *, allow_private: bool) -> httpx.AsyncClient:
    """One pooled client per event loop (a worker process runs one loop for its life):
    building a client loads the TLS trust store, which costs more than a request. Unless
    ``allow_private``, it connects only to public addresses (netguard.client)."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get((timeout_s, allow_private))
    if client is None or client.is_closed:
        client = netguard.client(allow_private=allow_private, timeout=timeout_s)
        per_loop[(timeout_s, allow_private)] = client
    return client


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


async def record_outcome(
    session: AsyncSession,
    settings: Settings,
    prepared: PreparedDelivery,
    outcome: Outcome,
    *,
    final: bool,
) -> str:
    """Store a try's outcome; count the subscription's consecutive failures and disable
    it at the limit (audited). Returns the delivery's new status."""
    delivery = await session.get(IntegrationDelivery, prepared.id, with_for_update=True)
    if delivery is None or delivery.status != "sending":
        return delivery.status if delivery is not None else "gone"
    now = utcnow()
    delivery.attempts += 1
    delivery.response_status = outcome.status
    delivery.response_excerpt = outcome.excerpt
    delivery.duration_ms = outcome.duration_ms
    delivery.error = outcome.error
    delivery.tries = [
        *delivery.tries,
        {
            "at": now.isoformat(),
            "status": outcome.status,
            "duration_ms": outcome.duration_ms,
            "error": outcome.error,
        },
    ]
    delivery.updated_at = now
    if prepared.subscription_id is None:
        delivery.status = "succeeded" if outcome.ok else ("failed" if final else "retrying")
        if outcome.ok or final:
            delivery.completed_at = now
        await session.flush()
        return delivery.status
    if outcome.ok:
        delivery.status = "succeeded"
        delivery.completed_at = now
        # Only when there is something to reset: deliveries of one subscription running in
        # parallel then do not queue on its row.
        await session.execute(
            update(WebhookSubscription)
            .where(
                WebhookSubscription.id == prepared.subscription_id,
                WebhookSubscription.consecutive_failures > 0,
            )
            .values(consecutive_failures=0)
        )
        await session.flush()
        return delivery.status
    delivery.status = "failed" if final else "retrying"
    if final:
        delivery.completed_at = now
    failures = (
        await session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == prepared.subscription_id)
            .values(consecutive_failures=WebhookSubscription.consecutive_failures + 1)
            .returning(WebhookSubscription.consecutive_failures)
        )
    ).scalar_one_or_none()
    if failures is not None and failures >= settings.webhook_failure_limit:
        reason = (
            f"disabled after {failures} consecutive failed deliveries; "
            f"last: {outcome.error or 'no answer'}"
        )[:500]
        disabled = (
            await session.execute(
                update(WebhookSubscription)
                .where(
                    WebhookSubscription.id == prepared.subscription_id,
                    WebhookSubscription.active.is_(True),
                )
                .values(active=False, disabled_at=now, disabled_reason=reason, updated_at=now)
                .returning(WebhookSubscription.id)
            )
        ).first()
        if disabled is not None:
            await audit.record(
                session,
                organization_id=prepared.organization_id,
                action="webhook.subscription_disabled",
                actor=audit.SYSTEM_ACTOR,
                target_type="webhook_subscription",
                target_id=prepared.subscription_id,
                data={"consecutive_failures": failures, "last_error": outcome.error},
            )
            log.warning(
                "webhook.subscription_disabled",
                subscription_id=str(prepared.subscription_id),
                failures=failures,
            )
            delivery.status = "failed"
            delivery.completed_at = now
    await session.flush()
    return delivery.status
