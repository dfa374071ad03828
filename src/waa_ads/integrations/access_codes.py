"""Secrets by e-mail, sent when they are issued: access codes and staff invitations.

Access codes: each chosen candidate of an administration's roster gets a new
access code and the link to the player, in the organization's wording (or the default one
in the candidate's language), through the same
``email`` deliveries (outbox row, worker, retries, log) as result notices.

The server keeps only a keyed hash of a code, so a code can be e-mailed only at the moment
it is issued: sending *issues* a new code per candidate (through
``assessments.service.reissue_code``, which returns it in clear once and ends the previous
code). The code never reaches the log or the delivery log in clear: the stored message
shows :data:`~waa_ads.integrations.mail.CODE_MASK` in its place and the real one is sealed
for the worker until the e-mail is done with (:mod:`~waa_ads.integrations.mail`).

Candidates are skipped, with the reason, when they have no address, were erased, had
their code revoked (sending would open it again), or have an attempt in progress or
paused (a new code ends that attempt's session).

Staff invitations: an account made without a password (auth's ``create_user``, which
returns its invitation token once) and the e-mail with the link that sets the password,
stored the same way (the link masked, the real one sealed until sent).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments import service as assessment_service
from waa_ads.assessments.errors import AdministrationCancelled, RosterEntryNotFound
from waa_ads.audit import service as audit
from waa_ads.auth import schemas as auth_schemas
from waa_ads.auth import service as auth_service
from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Candidate, Organization, User
from waa_ads.auth.service import AuthComponents
from waa_ads.core import i18n
from waa_ads.core.db import utcnow, uuid7
from waa_ads.core.errors import Conflict, Unprocessable
from waa_ads.core.i18n import N_
from waa_ads.core.settings import Settings
from waa_ads.core.tasks import enqueue_after_commit
from waa_ads.delivery.models import Attempt
from waa_ads.delivery.state_machine import AttemptState
from waa_ads.integrations import mail, webhooks
from waa_ads.integrations.models import EmailTemplate, IntegrationDelivery

DELIVER_TASK = "integrations.deliver_email"
_LIVE = (AttemptState.in_progress.value, AttemptState.paused.value)


class EmailNotConfigured(Conflict):
    """The deployment has no SMTP server: codes would be replaced and never arrive."""

    code = "email-not-configured"
    title = N_("E-mail is not configured")


class InvitationHasPassword(Unprocessable):
    code = "invitation-has-password"
    title = N_("An invitation sets no password")


@dataclass
class Sent:
    entry_id: uuid.UUID
    candidate_id: uuid.UUID
    delivery_id: uuid.UUID


@dataclass
class Skipped:
    entry_id: uuid.UUID
    candidate_id: uuid.UUID
    reason: str


@dataclass
class Outcome:
    queued: list[Sent] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


async def _queue_sealed(
    session: AsyncSession,
    settings: Settings,
    organization_id: uuid.UUID,
    *,
    kind: str,
    to: str,
    candidate_id: uuid.UUID | None,
    key: str,
    shown: tuple[str, str],
    real: tuple[str, str],
    now: Any,
) -> uuid.UUID:
    """An ``email`` delivery whose stored text is ``shown`` (the secret masked) and whose
    text with the secret, ``real``, is sealed for the worker. Not enqueued here."""
    delivery_id = uuid7()
    session.add(
        IntegrationDelivery(
            id=delivery_id,
            organization_id=organization_id,
            channel=mail.EMAIL,
            subscription_id=None,
            target=to,
            candidate_id=candidate_id,
            event_type=kind,
            event_seq=None,
            dedupe_key=f"email:{kind}:{key}:{delivery_id}",
            payload=json.dumps(
                {
                    "kind": kind,
                    "to": to,
                    "subject": shown[0],
                    "body": shown[1],
                    "sealed": mail.seal(settings, delivery_id, *real),
                }
            ),
            status="pending",
            attempts=0,
            tries=[],
            created_at=now,
            updated_at=now,
        )
    )
    return delivery_id


async def send_access_codes(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    administration_id: uuid.UUID,
    *,
    entry_ids: Sequence[uuid.UUID] | None = None,
    base_url: str,
) -> Outcome:
    """Issue a new access code to each chosen roster entry (all when ``entry_ids`` is
    None) whose candidate can get one by e-mail, and queue the e-mail (sent after
    commit). Admins only (through the roster's own checks); 409 without SMTP, 404 for an
    entry that is not on this administration's roster, and then nothing is issued."""
    if not settings.smtp_host:
        raise EmailNotConfigured(
            "no SMTP server is configured (WAA_SMTP_HOST): no code was replaced"
        )
    administration = await assessment_service.get_administration(
        session, principal, administration_id
    )
    if administration.cancelled_at is not None:
        raise AdministrationCancelled("this administration was cancelled: no code was sent")
    entries = list(await assessment_service.list_roster(session, principal, administration.id))
    if entry_ids is not None:
        by_id = {e.id: e for e in entries}
        missing = [str(i) for i in entry_ids if i not in by_id]
        if missing:
            raise RosterEntryNotFound(
                f"not on this administration's roster: {', '.join(missing[:10])}"
            )
        entries = [by_id[i] for i in dict.fromkeys(entry_ids)]
    organization = await session.get(Organization, principal.organization_id)
    template = await session.scalar(
        select(EmailTemplate).where(
            EmailTemplate.organization_id == principal.organization_id,
            EmailTemplate.kind == mail.ACCESS_CODE,
        )
    )
    # The organization's own wording as it wrote it; the default in each candidate's language.
    own_subject = template.subject if template else None
    own_body = template.body if template else None
    live = set(
        (
            await session.execute(
                select(Attempt.roster_entry_id).where(
                    Attempt.roster_entry_id.in_([e.id for e in entries]),
                    Attempt.state.in_(_LIVE),
                )
            )
        ).scalars()
    )
    outcome = Outcome()
    now = utcnow()
    for entry in entries:
        candidate = await session.get(Candidate, entry.candidate_id)
        reason: str | None = None
        if candidate is None or candidate.erased_at is not None:
            reason = "the candidate was erased"
        elif not candidate.email:
            reason = "the candidate has no e-mail address"
        elif entry.code_revoked_at is not None:
            reason = "the candidate's code was revoked"
        elif entry.id in live:
            reason = "the candidate has an attempt in progress (a new code would end it)"
        if reason is not None or candidate is None or not candidate.email:
            outcome.skipped.append(Skipped(entry.id, entry.candidate_id, reason or ""))
            continue
        issued = await assessment_service.reissue_code(
            session, settings, principal, administration.id, entry.id
        )
        assert issued.code is not None
        locale = mail.recipient_locale(
            candidate.locale,
            administration.locale,
            organization.default_locale if organization else None,
        )
        default_subject, default_body = mail.defaults_in(locale, mail.ACCESS_CODE)
        subject_text, body_text = own_subject or default_subject, own_body or default_body
        with i18n.use_locale(locale):
            # The window's dates read the recipient's way, as the sentences do.
            opens_at, closes_at = (
                mail.moment(administration.opens_at),
                mail.moment(administration.closes_at),
            )
        values = {
            "organization": organization.name if organization else "",
            "candidate": candidate.full_name or "",
            "administration": administration.title,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "link": f"{base_url.rstrip('/')}/take",
        }
        try:
            shown = mail.render(subject_text, body_text, {**values, "code": mail.CODE_MASK})
            real = mail.render(subject_text, body_text, {**values, "code": issued.code})
        except mail.TemplateInvalid:
            # Checked when saved; should the data still trip it, the default wording goes.
            shown = mail.render(default_subject, default_body, {**values, "code": mail.CODE_MASK})
            real = mail.render(default_subject, default_body, {**values, "code": issued.code})
        delivery_id = await _queue_sealed(
            session,
            settings,
            principal.organization_id,
            kind=mail.ACCESS_CODE,
            to=candidate.email,
            candidate_id=candidate.id,
            key=str(entry.id),
            shown=shown,
            real=real,
            now=now,
        )
        outcome.queued.append(Sent(entry.id, entry.candidate_id, delivery_id))
    await session.flush()
    # A job lost on its way to a worker is sent by the dispatcher's sweep, which visits
    # organizations with a cursor.
    await webhooks.ensure_cursor(session, principal.organization_id)
    for sent in outcome.queued:
        enqueue_after_commit(session, DELIVER_TASK, delivery_id=str(sent.delivery_id))
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="integration.access_codes_mailed",
        actor=principal.actor,
        target_type="administration",
        target_id=administration.id,
        data={"queued": len(outcome.queued), "skipped": len(outcome.skipped)},
    )
    return outcome


async def invite_by_email(
    session: AsyncSession,
    settings: Settings,
    auth: AuthComponents,
    principal: Principal,
    data: auth_schemas.UserCreate,
    *,
    base_url: str,
) -> tuple[User, uuid.UUID]:
    """Create a staff account without a password (auth's invitation, whose token exists
    in clear only now) and queue the e-mail with the link that sets the password: the
    account and the delivery. The link is stored only sealed, as access codes are."""
    if not settings.smtp_host:
        raise EmailNotConfigured("no SMTP server is configured (WAA_SMTP_HOST): nobody was invited")
    if data.password is not None:
        raise InvitationHasPassword("an invitation sets no password: leave it out")
    user, token = await auth_service.create_user(
        session, auth, principal.organization_id, data, actor=principal.actor
    )
    assert token is not None
    organization = await session.get(Organization, principal.organization_id)
    template = await session.scalar(
        select(EmailTemplate).where(
            EmailTemplate.organization_id == principal.organization_id,
            EmailTemplate.kind == mail.INVITATION,
        )
    )
    days = max(1, settings.invitation_ttl_s // 86_400)
    # The person's own language when the invitation names one, else the organization's.
    default_subject, default_body = mail.defaults_in(
        mail.recipient_locale(user.locale, organization.default_locale if organization else None),
        mail.INVITATION,
        days=days,
    )
    subject_text = (template.subject if template else None) or default_subject
    body_text = (template.body if template else None) or default_body
    values = {
        "organization": organization.name if organization else "",
        "name": user.display_name or user.email,
        "roles": ", ".join(user.roles),
        "days": days,
    }
    link = f"{base_url.rstrip('/')}/console/invitation?token={token}"
    try:
        shown = mail.render(subject_text, body_text, {**values, "link": mail.LINK_MASK})
        real = mail.render(subject_text, body_text, {**values, "link": link})
    except mail.TemplateInvalid:
        shown = mail.render(default_subject, default_body, {**values, "link": mail.LINK_MASK})
        real = mail.render(default_subject, default_body, {**values, "link": link})
    delivery_id = await _queue_sealed(
        session,
        settings,
        principal.organization_id,
        kind=mail.INVITATION,
        to=user.email,
        candidate_id=None,
        key=str(user.id),
        shown=shown,
        real=real,
        now=utcnow(),
    )
    await session.flush()
    await webhooks.ensure_cursor(session, principal.organization_id)
    enqueue_after_commit(session, DELIVER_TASK, delivery_id=str(delivery_id))
    return user, delivery_id
