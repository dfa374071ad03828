"""Integrations' background work: the outbox dispatcher (periodic), webhook, grade
passback and e-mail deliveries (one task per delivery, retried with exponential backoff),
and LTI roster syncs.

Retry counts and delays come from the settings this process was started with
(``WAA_WEBHOOK_MAX_RETRIES``, ``WAA_WEBHOOK_RETRY_BACKOFF_S``), read when the module is
imported: they are part of how a worker is deployed.
"""

from __future__ import annotations

import uuid

import structlog

from waa_ads.core.settings import get_settings
from waa_ads.core.tasks import TaskContext, TransientError, periodic, task
from waa_ads.integrations import lti, mail, webhooks

log = structlog.get_logger(__name__)

_deployed = get_settings()


def _base_url(ctx: TaskContext) -> str:
    return ctx.settings.public_base_url or webhooks.DEFAULT_BASE_URL


class DeliveryFailed(TransientError):
    """A try failed; the task is retried later."""


@periodic("integrations.dispatch_events", every_seconds=_deployed.integrations_dispatch_interval_s)
async def dispatch_events(ctx: TaskContext) -> int:
    """Turn new audit events of every organization into deliveries (one bounded batch per
    organization with work, each in its own transaction). Idempotent."""
    async with ctx.db.transaction(write=False) as session:
        organizations = await webhooks.organizations_due(session)
    total = 0
    for organization_id in organizations:
        async with ctx.db.transaction() as session:
            total += len(
                await webhooks.dispatch_organization(
                    session, organization_id, base_url=_base_url(ctx)
                )
            )
    return total


@task("integrations.dispatch_organization")
async def dispatch_organization(ctx: TaskContext, *, organization_id: str) -> int:
    """The dispatcher for one organization, now."""
    async with ctx.db.transaction() as session:
        return len(
            await webhooks.dispatch_organization(
                session, uuid.UUID(organization_id), base_url=_base_url(ctx)
            )
        )


@task(
    webhooks.DELIVER_TASK,
    max_retries=_deployed.webhook_max_retries,
    retry_backoff_s=_deployed.webhook_retry_backoff_s,
    retry_backoff_max_s=3600.0,
    retry_for=(DeliveryFailed,),
)
async def deliver_webhook(ctx: TaskContext, *, delivery_id: str) -> str:
    """One try of a webhook delivery; raises DeliveryFailed (retried) until the tries
    are exhausted, when the delivery is marked failed. Returns its status."""
    async with ctx.db.transaction() as session:
        prepared = await webhooks.prepare(session, uuid.UUID(delivery_id))
    if prepared is None:
        return "skipped"
    outcome = await webhooks.send(prepared, ctx.settings)
    final = ctx.attempt >= _deployed.webhook_max_retries
    async with ctx.db.transaction() as session:
        status = await webhooks.record_outcome(
            session, ctx.settings, prepared, outcome, final=final
        )
    log.info(
        "webhook.delivered" if outcome.ok else "webhook.delivery_failed",
        delivery_id=delivery_id,
        status=status,
        response_status=outcome.status,
        duration_ms=outcome.duration_ms,
    )
    if status == "retrying":
        raise DeliveryFailed(outcome.error or "delivery failed")
    return status


@task(
    "integrations.deliver_lti_ags",
    max_retries=_deployed.webhook_max_retries,
    retry_backoff_s=_deployed.webhook_retry_backoff_s,
    retry_backoff_max_s=3600.0,
    retry_for=(DeliveryFailed,),
)
async def deliver_lti_ags(ctx: TaskContext, *, delivery_id: str) -> str:
    """One try of an LTI grade passback (token, then the score); retried like a webhook
    until the tries are exhausted. Returns the delivery's status."""
    async with ctx.db.transaction() as session:
        prepared = await lti.prepare_passback(session, uuid.UUID(delivery_id))
    if prepared is None:
        return "skipped"
    outcome = await lti.post_score(ctx.db, ctx.settings, prepared)
    final = ctx.attempt >= _deployed.webhook_max_retries
    async with ctx.db.transaction() as session:
        status = await webhooks.record_outcome(
            session, ctx.settings, prepared.as_delivery(), outcome, final=final
        )
    log.info(
        "lti.score_posted" if outcome.ok else "lti.score_failed",
        delivery_id=delivery_id,
        status=status,
        response_status=outcome.status,
    )
    if status == "retrying":
        raise DeliveryFailed(outcome.error or "passback failed")
    return status


@task(
    "integrations.deliver_email",
    max_retries=_deployed.webhook_max_retries,
    retry_backoff_s=_deployed.webhook_retry_backoff_s,
    retry_backoff_max_s=3600.0,
    retry_for=(DeliveryFailed,),
)
async def deliver_email(ctx: TaskContext, *, delivery_id: str) -> str:
    """One try of an e-mail (SMTP); retried like a webhook. Returns its status."""
    async with ctx.db.transaction() as session:
        prepared = await mail.prepare(session, uuid.UUID(delivery_id), ctx.settings)
    if prepared is None:
        return "skipped"
    outcome = await mail.send(ctx.settings, prepared)
    final = ctx.attempt >= _deployed.webhook_max_retries
    as_delivery = webhooks.PreparedDelivery(
        prepared.id, prepared.organization_id, None, prepared.to, "", "result.released", ""
    )
    async with ctx.db.transaction() as session:
        status = await webhooks.record_outcome(
            session, ctx.settings, as_delivery, outcome, final=final
        )
        if status != "retrying":
            # A secret (an access code) is kept only until its e-mail is done with.
            await mail.forget_sealed(session, prepared.id)
    if status == "retrying":
        raise DeliveryFailed(outcome.error or "e-mail failed")
    return status


@task(lti.ROSTER_SYNC_TASK)
async def sync_roster(ctx: TaskContext, *, sync_id: str) -> str:
    """Run a queued LTI roster sync (progress on its row); its status when done. Safe to
    run twice: a sync that is running or finished is left alone."""
    return await lti.run_roster_sync(ctx.db, ctx.settings, uuid.UUID(sync_id))
