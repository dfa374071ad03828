"""E-mail through SMTP: result notices and access codes to candidates, in each
organization's wording.

A kind of e-mail is on for an organization when its :class:`EmailTemplate` row says so;
its subject and body are Jinja2 text rendered in a sandbox (an organization's template
cannot reach Python objects), the defaults below where the organization wrote none. The
defaults are written in the recipient's language (:func:`recipient_locale`: the
candidate's, else the administration's, else the organization's default, else English; for
a staff invitation, the person's own, else the organization's default), their sentences
from the catalogue; an organization's own wording is sent as it wrote it. The values are
text in the recipient's language whatever the wording: dates (:func:`moment`) and scores
(``7,5`` in French).

Result notices ride the outbox: for a ``result.released`` event of a candidate with an
e-mail address, the dispatcher renders the message and adds an ``email`` delivery (the
same log, retries and replay as webhooks); ``integrations.deliver_email`` sends it with
aiosmtplib. The address and the rendered text are stored on the delivery (which names its
candidate), so the log holds personal data: erasing the candidate clears both (auth's
``erase_candidate``), removing the organization removes the rows.

Access codes (:mod:`~waa_ads.integrations.access_codes`) exist in clear only when they are
issued. Their e-mail is stored with the code masked; the text with the code is kept
*sealed* (AES-256-GCM under a key derived from ``WAA_SECRET_KEY``, bound to the delivery's
id) for the worker, and dropped once the delivery is finished: a later replay has nothing
to send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Final

import aiosmtplib
from babel import Locale as BabelLocale
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Candidate, Organization
from waa_ads.core import i18n
from waa_ads.core.db import insert_ignore, utcnow, uuid7
from waa_ads.core.errors import Unprocessable
from waa_ads.core.i18n import N_, _, ngettext
from waa_ads.core.settings import Settings
from waa_ads.delivery.models import Attempt
from waa_ads.integrations.models import EmailTemplate, IntegrationDelivery
from waa_ads.integrations.webhooks import Outcome, ensure_cursor

EMAIL = "email"
RESULT_NOTICE = "result_released"
ACCESS_CODE = "access_code"
INVITATION = "invitation"
#: What the delivery log shows instead of an access code, an invitation's link.
CODE_MASK = "[access code]"
LINK_MASK = "[invitation link]"
#: Kinds whose message carries a secret, kept sealed only until sent.
SEALED_KINDS = frozenset({ACCESS_CODE, INVITATION})


def _paragraphs(*parts: str) -> str:
    return "\n\n".join(parts) + "\n"


def default_template(kind: str, *, days: int | None = None) -> tuple[str, str]:
    """The default subject and body of ``kind`` in the locale in force: Jinja text (the
    same variables an organization's wording uses), its sentences from the catalogue.
    ``days``: the invitation's validity, which chooses the plural of its sentence."""
    if kind == RESULT_NOTICE:
        return _(
            "Your result from %(organization)s is available", organization="{{ organization }}"
        ), _paragraphs(
            _("Hello %(candidate)s,", candidate="{{ candidate }}"),
            _(
                "Your result for attempt %(attempt_number)s is available: %(score)s of "
                "%(max_score)s%(band)s.",
                attempt_number="{{ attempt_number }}",
                score="{{ score }}",
                max_score="{{ max_score }}",
                band="{% if band %} ({{ band }}){% endif %}",
            ),
            "{{ organization }}",
        )
    if kind == ACCESS_CODE:
        return _(
            "Your access code for %(administration)s", administration="{{ administration }}"
        ), _paragraphs(
            _("Hello %(candidate)s,", candidate="{{ candidate }}"),
            _(
                "%(organization)s invites you to take %(administration)s, open from "
                "%(opens_at)s to %(closes_at)s (UTC).",
                organization="{{ organization }}",
                administration="{{ administration }}",
                opens_at="{{ opens_at }}",
                closes_at="{{ closes_at }}",
            ),
            _("Open %(link)s and enter your access code:", link="{{ link }}"),
            "    {{ code }}",
            _("Keep it to yourself: it opens your test. A code sent earlier no longer works."),
            "{{ organization }}",
        )
    if kind == INVITATION:
        return _(
            "You are invited to %(organization)s on WAA-ADS", organization="{{ organization }}"
        ), _paragraphs(
            _("Hello %(name)s,", name="{{ name }}"),
            ngettext(
                "%(organization)s has made you an account (%(roles)s). Choose your password "
                "within %(days)s day here:",
                "%(organization)s has made you an account (%(roles)s). Choose your password "
                "within %(days)s days here:",
                2 if days is None else days,
                organization="{{ organization }}",
                roles="{{ roles }}",
                days="{{ days }}",
            ),
            "{{ link }}",
            _("The link works once. If you did not expect this, ignore this message."),
        )
    raise UnknownEmailKind(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")


def recipient_locale(*choices: str | None) -> str:
    """The language to write to someone in: the first of ``choices`` the product speaks
    (the candidate's, the administration's, the organization's default), by its tag or its
    language alone (``fr-CA``: ``fr``), else English."""
    for choice in choices:
        spoken = i18n.best_match([choice]) if choice else None
        if spoken is not None:
            return spoken
    return i18n.DEFAULT


def moment(value: datetime) -> str:
    """A moment as an e-mail shows it, in the language in force: its long date and short
    time in UTC, joined the language's way ("January 10, 2027, 9:00 AM", « 10 janvier 2027,
    09:00 »)."""
    locale = BabelLocale.parse(i18n.current_language().format_locale)
    pattern = (
        str(locale.datetime_formats["long"])
        .replace("{1}", locale.date_formats["long"].pattern)
        .replace("{0}", locale.time_formats["short"].pattern)
    )
    return i18n.format_datetime(value, pattern)


def defaults_in(locale: str, kind: str, *, days: int | None = None) -> tuple[str, str]:
    """The default wording of ``kind`` in ``locale``."""
    with i18n.use_locale(locale):
        return default_template(kind, days=days)


KINDS: Final = (RESULT_NOTICE, ACCESS_CODE, INVITATION)

#: What a template may use, per kind (documented; a template naming anything else fails).
VARIABLES: Final[dict[str, tuple[str, ...]]] = {
    RESULT_NOTICE: ("organization", "candidate", "attempt_number", "score", "max_score", "band"),
    ACCESS_CODE: (
        "organization",
        "candidate",
        "administration",
        "opens_at",
        "closes_at",
        "link",
        "code",
    ),
    INVITATION: ("organization", "name", "roles", "days", "link"),
}

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class TemplateInvalid(Unprocessable):
    code = "email-template-invalid"
    title = N_("E-mail template not valid")


class UnknownEmailKind(Unprocessable):
    code = "email-kind-unknown"
    title = N_("Unknown kind of e-mail")


#: The default wording of each kind in English (what the API shows and an organization
#: starts from; each e-mail is written in its recipient's language, see
#: :func:`defaults_in`).
DEFAULTS: Final[dict[str, tuple[str, str]]] = {
    kind: defaults_in(i18n.DEFAULT, kind) for kind in KINDS
}


def render(subject: str, body: str, values: dict[str, Any]) -> tuple[str, str]:
    try:
        return _env.from_string(subject).render(values).strip(), _env.from_string(body).render(
            values
        )
    except TemplateError as exc:
        raise TemplateInvalid(f"the template does not render: {exc}") from None


SAMPLE_CODE = "ABCD-EFGH-JKMN-PQRS"
SAMPLE_LINK = "https://waa-ads.example/console/invitation?token=sample"


def _sample(kind: str) -> dict[str, Any]:
    if kind == INVITATION:
        return {
            "organization": "Example School",
            "name": "Ada Example",
            "roles": "author",
            "days": 7,
            "link": SAMPLE_LINK,
        }
    if kind == ACCESS_CODE:
        return {
            "organization": "Example School",
            "candidate": "Ada Example",
            "administration": "Morning session",
            # Values are text, as sent (a template cannot compute with them).
            "opens_at": "January 10, 2027, 9:00\u202fAM",
            "closes_at": "January 10, 2027, 12:00\u202fPM",
            "link": "https://waa-ads.example/take",
            "code": SAMPLE_CODE,
        }
    return {
        "organization": "Example School",
        "candidate": "Ada Example",
        "attempt_number": 1,
        "score": "7.5",
        "max_score": "10",
        "band": "pass",
    }


async def get_template(
    session: AsyncSession, principal: Principal, kind: str
) -> tuple[bool, str, str, bool]:
    """(enabled, subject, body, whether they are the defaults)."""
    if kind not in DEFAULTS:
        raise UnknownEmailKind(f"unknown kind {kind!r}; known: {', '.join(DEFAULTS)}")
    row = await session.scalar(
        select(EmailTemplate).where(
            EmailTemplate.organization_id == principal.organization_id, EmailTemplate.kind == kind
        )
    )
    subject, body = DEFAULTS[kind]
    if row is None:
        return False, subject, body, True
    return (
        row.enabled,
        row.subject or subject,
        row.body or body,
        not (row.subject or row.body),
    )


async def save_template(
    session: AsyncSession,
    principal: Principal,
    kind: str,
    *,
    enabled: bool,
    subject: str | None,
    body: str | None,
) -> None:
    """Set the organization's wording (None: the default) and switch the kind on or off;
    a template that does not render with sample values is refused (422)."""
    if kind not in DEFAULTS:
        raise UnknownEmailKind(f"unknown kind {kind!r}; known: {', '.join(DEFAULTS)}")
    default_subject, default_body = DEFAULTS[kind]
    shown = render(subject or default_subject, body or default_body, _sample(kind))
    if kind == ACCESS_CODE and SAMPLE_CODE not in shown[1]:
        raise TemplateInvalid("an access code's message must show it: use {{ code }} in the body")
    if kind == INVITATION and SAMPLE_LINK not in shown[1]:
        raise TemplateInvalid("an invitation must show its link: use {{ link }} in the body")
    row = await session.scalar(
        select(EmailTemplate).where(
            EmailTemplate.organization_id == principal.organization_id, EmailTemplate.kind == kind
        )
    )
    if row is None:
        row = EmailTemplate(organization_id=principal.organization_id, kind=kind)
        session.add(row)
    row.enabled, row.subject, row.body, row.updated_at = enabled, subject, body, utcnow()
    await session.flush()
    if enabled:
        await ensure_cursor(session, principal.organization_id)


async def add_result_notice(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    seq: int,
    facts: dict[str, Any],
) -> IntegrationDelivery | None:
    """For a released result: the rendered notice as an ``email`` delivery, when the
    organization has result notices on and the candidate has an address."""
    template = await session.scalar(
        select(EmailTemplate).where(
            EmailTemplate.organization_id == organization_id,
            EmailTemplate.kind == RESULT_NOTICE,
            EmailTemplate.enabled.is_(True),
        )
    )
    result = facts.get("result")
    if template is None or not isinstance(result, dict) or "attempt_id" not in facts:
        return None
    attempt = await session.get(Attempt, uuid.UUID(facts["attempt_id"]))
    if attempt is None:
        return None
    candidate = await session.get(Candidate, attempt.candidate_id)
    organization = await session.get(Organization, organization_id)
    if candidate is None or not candidate.email or candidate.erased_at is not None:
        return None
    locale = recipient_locale(
        candidate.locale,
        attempt.locale,
        organization.default_locale if organization else None,
    )
    default_subject, default_body = defaults_in(locale, RESULT_NOTICE)
    with i18n.use_locale(locale):
        # The scores read the recipient's way (7,5 in French), as the sentences do.
        values = {
            "organization": organization.name if organization else "",
            "candidate": candidate.full_name or "",
            "attempt_number": attempt.number,
            "score": _number(result.get("raw")),
            "max_score": _number(result.get("max_raw")),
            "band": result.get("band"),
        }
    try:
        subject, body = render(
            template.subject or default_subject, template.body or default_body, values
        )
    except TemplateInvalid:
        # Checked when saved; should the data still trip it, the default wording goes.
        subject, body = render(default_subject, default_body, values)
    now = utcnow()
    key = f"email:{RESULT_NOTICE}:{attempt.id}:{seq}"
    await insert_ignore(
        session,
        IntegrationDelivery,
        {
            "id": uuid7(),
            "organization_id": organization_id,
            "channel": EMAIL,
            "subscription_id": None,
            "target": candidate.email,
            "candidate_id": candidate.id,
            "event_type": "result.released",
            "event_seq": seq,
            "dedupe_key": key,
            "payload": json.dumps({"to": candidate.email, "subject": subject, "body": body}),
            "status": "pending",
            "attempts": 0,
            "tries": [],
            "created_at": now,
            "updated_at": now,
        },
    )
    return await session.scalar(
        select(IntegrationDelivery).where(IntegrationDelivery.dedupe_key == key)
    )


def _number(value: Any) -> Any:
    """A figure in the language in force; anything else as it is."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return i18n.format_number(value)
    return value


@dataclass(frozen=True, slots=True)
class PreparedEmail:
    id: uuid.UUID
    organization_id: uuid.UUID
    to: str
    subject: str
    body: str


def _seal_key(settings: Settings) -> bytes:
    return hmac.new(settings.secret_key.encode(), b"waa-ads:email-seal", hashlib.sha256).digest()


def seal(settings: Settings, delivery_id: uuid.UUID, subject: str, body: str) -> str:
    """The message with its secret, encrypted for the worker (bound to the delivery)."""
    nonce = os.urandom(12)
    plain = json.dumps({"subject": subject, "body": body}).encode()
    sealed = AESGCM(_seal_key(settings)).encrypt(nonce, plain, str(delivery_id).encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(settings: Settings, delivery_id: uuid.UUID, sealed: str) -> tuple[str, str] | None:
    """The message :func:`seal` encrypted; None when it does not open (another key)."""
    try:
        raw = base64.b64decode(sealed)
        plain = AESGCM(_seal_key(settings)).decrypt(raw[:12], raw[12:], str(delivery_id).encode())
    except (InvalidTag, ValueError):
        return None
    message = json.loads(plain)
    return str(message["subject"]), str(message["body"])


async def forget_sealed(session: AsyncSession, delivery_id: uuid.UUID) -> None:
    """Drop a finished delivery's sealed secret: the log keeps only the masked text."""
    delivery = await session.get(IntegrationDelivery, delivery_id)
    if delivery is None:
        return
    message = json.loads(delivery.payload)
    if isinstance(message, dict) and "sealed" in message:
        del message["sealed"]
        delivery.payload = json.dumps(message)
        await session.flush()


async def _cancel(session: AsyncSession, delivery: IntegrationDelivery, why: str) -> None:
    delivery.status = "cancelled"
    delivery.error = why
    delivery.updated_at = delivery.completed_at = utcnow()
    await session.flush()


async def prepare(
    session: AsyncSession, delivery_id: uuid.UUID, settings: Settings | None = None
) -> PreparedEmail | None:
    """Claim an e-mail for one try: what to send, or None (done, claimed elsewhere, or
    cancelled now because there is nothing to send any more)."""
    from waa_ads.integrations import webhooks

    delivery = await webhooks.claim(session, delivery_id)
    if delivery is None:
        return None
    message = json.loads(delivery.payload)
    if not isinstance(message, dict) or "to" not in message:
        # Its candidate was erased (the address and text are gone): nothing to send.
        await _cancel(session, delivery, "the candidate was erased")
        return None
    subject, body = message["subject"], message["body"]
    if message.get("kind") in SEALED_KINDS:
        sealed = message.get("sealed")
        opened = (
            unseal(settings, delivery.id, sealed)
            if settings is not None and isinstance(sealed, str)
            else None
        )
        if opened is None:
            await forget_sealed(session, delivery.id)
            await _cancel(
                session,
                delivery,
                "its secret (access code or invitation link) is no longer kept (only until "
                "its e-mail is sent): issue a new one",
            )
            return None
        subject, body = opened
    return PreparedEmail(delivery.id, delivery.organization_id, message["to"], subject, body)


async def send(settings: Settings, prepared: PreparedEmail) -> Outcome:
    """One SMTP submission; the server's refusals and silences are the outcome."""
    started = time.perf_counter()
    if not settings.smtp_host:
        return Outcome(False, None, None, 0.0, "no SMTP server is configured (WAA_SMTP_HOST)")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = prepared.to
    message["Subject"] = prepared.subject
    message["Message-ID"] = f"<{prepared.id}@waa-ads>"
    message.set_content(prepared.body)
    try:
        errors, reply = await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=settings.webhook_timeout_s,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        return Outcome(False, None, None, _ms(started), f"{type(exc).__name__}: {exc}"[:1000])
    if errors:
        return Outcome(False, None, reply, _ms(started), f"refused: {sorted(errors)}"[:1000])
    return Outcome(True, 250, reply[:1000], _ms(started), None)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
