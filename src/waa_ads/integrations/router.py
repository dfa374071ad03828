"""Integration routes (``/api/v1/integrations``), for admins: webhook subscriptions, the
delivery log with replay, a dispatch on demand, LTI platform registrations, the tool's
configuration values, launched links and roster provisioning. The public LTI endpoints
(login, launch, JWKS) are in :mod:`waa_ads.integrations.lti_router`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from waa_ads.assessments.errors import (
    AdministrationCancelled,
    AdministrationNotFound,
    RosterEntryNotFound,
)
from waa_ads.auth import schemas as auth_schemas
from waa_ads.auth.deps import AdminDep, AuthDep
from waa_ads.auth.errors import CREDENTIAL_ERRORS, EmailTaken, RoleRequired
from waa_ads.core.deps import SessionDep, SettingsDep
from waa_ads.core.errors import error_responses
from waa_ads.core.tasks import enqueue_after_commit
from waa_ads.integrations import access_codes, events, lti, lti_claims, mail, schemas, webhooks
from waa_ads.integrations.errors import (
    DeliveryCursorInvalid,
    DeliveryNotFound,
    LtiLinkNotFound,
    LtiRegistrationExists,
    LtiRegistrationNotFound,
    LtiRosterSyncNotFound,
    SubscriptionInactive,
    SubscriptionNotFound,
    UnknownEventType,
    UnsafeUrl,
)

router = APIRouter(prefix="/integrations", tags=["integrations"])

_ADMIN = (*CREDENTIAL_ERRORS, RoleRequired)


@router.get(
    "/event-types",
    response_model=schemas.EventTypes,
    summary="The event types webhooks can subscribe to",
    responses=error_responses(*_ADMIN),
)
async def event_types(admin: AdminDep) -> schemas.EventTypes:
    return schemas.EventTypes(event_types=list(events.EVENT_TYPES))


@router.post(
    "/webhooks",
    response_model=schemas.SubscriptionWithSecret,
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a URL to events; the reply holds the signing secret, shown once",
    responses=error_responses(*_ADMIN, UnsafeUrl, UnknownEventType),
)
async def create_subscription(
    session: SessionDep, settings: SettingsDep, admin: AdminDep, body: schemas.SubscriptionCreate
) -> schemas.SubscriptionWithSecret:
    sub = await webhooks.create_subscription(
        session,
        settings,
        admin,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        format=body.format,
        bearer_token=body.bearer_token,
    )
    return schemas.SubscriptionWithSecret.model_validate(sub)


@router.get(
    "/webhooks",
    response_model=list[schemas.SubscriptionRead],
    summary="The organization's webhook subscriptions",
    responses=error_responses(*_ADMIN),
)
async def list_subscriptions(
    session: SessionDep, admin: AdminDep
) -> list[schemas.SubscriptionRead]:
    return [
        schemas.SubscriptionRead.model_validate(s)
        for s in await webhooks.list_subscriptions(session, admin)
    ]


@router.get(
    "/webhooks/{subscription_id}",
    response_model=schemas.SubscriptionRead,
    summary="One subscription",
    responses=error_responses(*_ADMIN, SubscriptionNotFound),
)
async def get_subscription(
    session: SessionDep, admin: AdminDep, subscription_id: uuid.UUID
) -> schemas.SubscriptionRead:
    sub = await webhooks.get_subscription(session, admin, subscription_id)
    return schemas.SubscriptionRead.model_validate(sub)


@router.patch(
    "/webhooks/{subscription_id}",
    response_model=schemas.SubscriptionRead,
    summary="Change a subscription; active=true enables a disabled one again",
    responses=error_responses(*_ADMIN, SubscriptionNotFound, UnsafeUrl, UnknownEventType),
)
async def update_subscription(
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminDep,
    subscription_id: uuid.UUID,
    body: schemas.SubscriptionUpdate,
) -> schemas.SubscriptionRead:
    sub = await webhooks.update_subscription(
        session,
        settings,
        admin,
        subscription_id,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        active=body.active,
    )
    return schemas.SubscriptionRead.model_validate(sub)


@router.post(
    "/webhooks/{subscription_id}/rotate-secret",
    response_model=schemas.SubscriptionWithSecret,
    summary="Replace the signing secret; the reply holds the new one, shown once",
    responses=error_responses(*_ADMIN, SubscriptionNotFound),
)
async def rotate_secret(
    session: SessionDep, admin: AdminDep, subscription_id: uuid.UUID
) -> schemas.SubscriptionWithSecret:
    sub = await webhooks.rotate_secret(session, admin, subscription_id)
    return schemas.SubscriptionWithSecret.model_validate(sub)


@router.delete(
    "/webhooks/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a subscription and its delivery log",
    responses=error_responses(*_ADMIN, SubscriptionNotFound),
)
async def delete_subscription(
    session: SessionDep, admin: AdminDep, subscription_id: uuid.UUID
) -> Response:
    await webhooks.delete_subscription(session, admin, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/deliveries",
    response_model=schemas.DeliveryPage,
    summary="The delivery log, newest first",
    responses=error_responses(*_ADMIN, DeliveryCursorInvalid),
)
async def list_deliveries(
    session: SessionDep,
    admin: AdminDep,
    subscription_id: uuid.UUID | None = None,
    status_: Annotated[schemas.DeliveryStatus | None, Query(alias="status")] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    before: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> schemas.DeliveryPage:
    rows, next_before = await webhooks.list_deliveries(
        session,
        admin,
        subscription_id=subscription_id,
        status=status_,
        channel=channel,
        before=before,
        limit=limit,
    )
    return schemas.DeliveryPage(
        items=[schemas.DeliveryRead.model_validate(r) for r in rows], next_before=next_before
    )


@router.get(
    "/deliveries/{delivery_id}",
    response_model=schemas.DeliveryDetail,
    summary="One delivery with its body and every try",
    responses=error_responses(*_ADMIN, DeliveryNotFound),
)
async def get_delivery(
    session: SessionDep, admin: AdminDep, delivery_id: uuid.UUID
) -> schemas.DeliveryDetail:
    return schemas.DeliveryDetail.model_validate(
        await webhooks.get_delivery(session, admin, delivery_id)
    )


@router.post(
    "/deliveries/{delivery_id}/replay",
    response_model=schemas.DeliveryRead,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a delivery's body again, as a new delivery",
    responses=error_responses(*_ADMIN, DeliveryNotFound, SubscriptionInactive),
)
async def replay_delivery(
    session: SessionDep, admin: AdminDep, delivery_id: uuid.UUID
) -> schemas.DeliveryRead:
    return schemas.DeliveryRead.model_validate(await webhooks.replay(session, admin, delivery_id))


@router.post(
    "/dispatch",
    response_model=schemas.DispatchStarted,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Turn new events into deliveries now, instead of at the next periodic run",
    responses=error_responses(*_ADMIN),
)
async def dispatch_now(session: SessionDep, admin: AdminDep) -> schemas.DispatchStarted:
    await webhooks.ensure_cursor(session, admin.organization_id)
    enqueue_after_commit(
        session, "integrations.dispatch_organization", organization_id=str(admin.organization_id)
    )
    return schemas.DispatchStarted(queued=True)


# --- LTI ------------------------------------------------------------------------------------


def _registration_data(body: schemas.RegistrationWrite) -> lti.RegistrationData:
    return lti.RegistrationData(**body.model_dump())


@router.get(
    "/lti/tool",
    response_model=schemas.ToolConfiguration,
    summary="The values to paste into an LMS when registering this tool",
    responses=error_responses(*_ADMIN),
)
async def tool_configuration(
    request: Request, session: SessionDep, settings: SettingsDep, admin: AdminDep
) -> schemas.ToolConfiguration:
    # The first key is made on first use, in this reading transaction (rare, and small).
    key = await lti.current_key(session)
    urls = lti.tool_urls(settings.public_base_url or str(request.base_url))
    return schemas.ToolConfiguration(
        **urls,
        current_kid=key.kid,
        scopes=[lti_claims.SCOPE_SCORE, lti_claims.SCOPE_LINEITEM, lti_claims.SCOPE_MEMBERSHIPS],
        claims_used=["iss", "sub", "name", "email"],
    )


@router.post(
    "/lti/registrations",
    response_model=schemas.RegistrationRead,
    status_code=status.HTTP_201_CREATED,
    summary="Register a platform (LMS) the organization trusts",
    responses=error_responses(*_ADMIN, UnsafeUrl, LtiRegistrationExists),
)
async def create_registration(
    session: SessionDep, settings: SettingsDep, admin: AdminDep, body: schemas.RegistrationWrite
) -> schemas.RegistrationRead:
    reg = await lti.create_registration(session, settings, admin, _registration_data(body))
    return schemas.RegistrationRead.model_validate(reg)


@router.get(
    "/lti/registrations",
    response_model=list[schemas.RegistrationRead],
    summary="The organization's platform registrations",
    responses=error_responses(*_ADMIN),
)
async def list_registrations(
    session: SessionDep, admin: AdminDep
) -> list[schemas.RegistrationRead]:
    return [
        schemas.RegistrationRead.model_validate(r)
        for r in await lti.list_registrations(session, admin)
    ]


@router.get(
    "/lti/registrations/{registration_id}",
    response_model=schemas.RegistrationRead,
    summary="One platform registration",
    responses=error_responses(*_ADMIN, LtiRegistrationNotFound),
)
async def get_registration(
    session: SessionDep, admin: AdminDep, registration_id: uuid.UUID
) -> schemas.RegistrationRead:
    return schemas.RegistrationRead.model_validate(
        await lti.get_registration(session, admin, registration_id)
    )


@router.put(
    "/lti/registrations/{registration_id}",
    response_model=schemas.RegistrationRead,
    summary="Replace a platform registration's values",
    responses=error_responses(*_ADMIN, LtiRegistrationNotFound, UnsafeUrl),
)
async def update_registration(
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminDep,
    registration_id: uuid.UUID,
    body: schemas.RegistrationWrite,
) -> schemas.RegistrationRead:
    reg = await lti.update_registration(
        session, settings, admin, registration_id, _registration_data(body)
    )
    return schemas.RegistrationRead.model_validate(reg)


@router.delete(
    "/lti/registrations/{registration_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a platform registration (its links and accounts go with it)",
    responses=error_responses(*_ADMIN, LtiRegistrationNotFound),
)
async def delete_registration(
    session: SessionDep, admin: AdminDep, registration_id: uuid.UUID
) -> Response:
    await lti.delete_registration(session, admin, registration_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/lti/links",
    response_model=list[schemas.LinkRead],
    summary="Resource links platforms have launched, with their administration",
    responses=error_responses(*_ADMIN),
)
async def list_links(session: SessionDep, admin: AdminDep) -> list[schemas.LinkRead]:
    return [schemas.LinkRead.model_validate(k) for k in await lti.list_links(session, admin)]


@router.post(
    "/lti/links/{link_id}/roster-sync",
    response_model=schemas.RosterSyncRead,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Fill the linked administration's roster from the course (NRPS), by a worker",
    description="Queues the sync and answers at once; poll `GET /lti/roster-syncs/{id}` for "
    "its progress. A sync of the link already queued or running is returned instead.",
    responses=error_responses(*_ADMIN, LtiLinkNotFound),
)
async def sync_roster(
    session: SessionDep, admin: AdminDep, link_id: uuid.UUID
) -> schemas.RosterSyncRead:
    return schemas.RosterSyncRead.model_validate(
        await lti.start_roster_sync(session, admin, link_id)
    )


@router.get(
    "/lti/links/{link_id}/roster-syncs",
    response_model=list[schemas.RosterSyncRead],
    summary="The link's roster syncs, newest first",
    responses=error_responses(*_ADMIN, LtiLinkNotFound),
)
async def list_roster_syncs(
    session: SessionDep,
    admin: AdminDep,
    link_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[schemas.RosterSyncRead]:
    rows = await lti.list_roster_syncs(session, admin, link_id, limit=limit)
    return [schemas.RosterSyncRead.model_validate(r) for r in rows]


@router.get(
    "/lti/roster-syncs/{sync_id}",
    response_model=schemas.RosterSyncRead,
    summary="A roster sync's status and progress",
    responses=error_responses(*_ADMIN, LtiRosterSyncNotFound),
)
async def get_roster_sync(
    session: SessionDep, admin: AdminDep, sync_id: uuid.UUID
) -> schemas.RosterSyncRead:
    return schemas.RosterSyncRead.model_validate(await lti.get_roster_sync(session, admin, sync_id))


# --- e-mail ---------------------------------------------------------------------------------


async def _template(session: Any, admin: Any, kind: str) -> schemas.EmailTemplateRead:
    enabled, subject, body, default = await mail.get_template(session, admin, kind)
    return schemas.EmailTemplateRead(
        kind=kind,
        enabled=enabled,
        subject=subject,
        body=body,
        default=default,
        variables=list(mail.VARIABLES[kind]),
    )


@router.get(
    "/email/templates/{kind}",
    response_model=schemas.EmailTemplateRead,
    summary="An e-mail's wording (the organization's, or the default) and whether it is on",
    responses=error_responses(*_ADMIN, mail.UnknownEmailKind),
)
async def get_email_template(
    session: SessionDep, admin: AdminDep, kind: str
) -> schemas.EmailTemplateRead:
    return await _template(session, admin, kind)


@router.put(
    "/email/templates/{kind}",
    response_model=schemas.EmailTemplateRead,
    summary="Set an e-mail's wording (null: the default) and switch it on or off",
    responses=error_responses(*_ADMIN, mail.UnknownEmailKind, mail.TemplateInvalid),
)
async def put_email_template(
    session: SessionDep, admin: AdminDep, kind: str, body: schemas.EmailTemplateWrite
) -> schemas.EmailTemplateRead:
    await mail.save_template(
        session, admin, kind, enabled=body.enabled, subject=body.subject, body=body.body
    )
    return await _template(session, admin, kind)


@router.post(
    "/email/access-codes",
    response_model=schemas.AccessCodesSent,
    status_code=status.HTTP_202_ACCEPTED,
    summary="E-mail candidates of a roster a new access code and the link to the test",
    description="Each chosen entry (the whole roster when `entry_ids` is null) whose "
    "candidate has an address gets a **new** access code (the previous one stops working), "
    "e-mailed in the organization's `access_code` wording by a worker (see the delivery "
    "log, channel `email`). The code is never shown or stored in clear; entries without "
    "an address, erased, revoked or with an attempt in progress are skipped, saying why.",
    responses=error_responses(
        *_ADMIN,
        AdministrationNotFound,
        AdministrationCancelled,
        RosterEntryNotFound,
        access_codes.EmailNotConfigured,
    ),
)
async def send_access_codes(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminDep,
    body: schemas.AccessCodesSend,
) -> schemas.AccessCodesSent:
    outcome = await access_codes.send_access_codes(
        session,
        settings,
        admin,
        body.administration_id,
        entry_ids=body.entry_ids,
        base_url=(settings.public_base_url or str(request.base_url)).rstrip("/"),
    )
    return schemas.AccessCodesSent(
        queued=[
            schemas.AccessCodeSent(
                entry_id=q.entry_id, candidate_id=q.candidate_id, delivery_id=q.delivery_id
            )
            for q in outcome.queued
        ],
        skipped=[
            schemas.AccessCodeSkipped(
                entry_id=k.entry_id, candidate_id=k.candidate_id, reason=k.reason
            )
            for k in outcome.skipped
        ],
    )


@router.post(
    "/email/invitations",
    response_model=schemas.InvitationSent,
    status_code=status.HTTP_201_CREATED,
    summary="Invite a staff member by e-mail (an account without a password)",
    description="Creates the account as `POST /users` without a password does, and "
    "e-mails the person the link that sets their password (valid "
    "`WAA_INVITATION_TTL_S`), in the organization's `invitation` wording. The link is "
    "never returned or stored in clear.",
    responses=error_responses(
        *_ADMIN,
        EmailTaken,
        access_codes.EmailNotConfigured,
        access_codes.InvitationHasPassword,
    ),
)
async def invite_by_email(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    auth: AuthDep,
    admin: AdminDep,
    body: auth_schemas.UserCreate,
) -> schemas.InvitationSent:
    user, delivery_id = await access_codes.invite_by_email(
        session,
        settings,
        auth,
        admin,
        body,
        base_url=(settings.public_base_url or str(request.base_url)).rstrip("/"),
    )
    return schemas.InvitationSent(user_id=user.id, email=user.email, delivery_id=delivery_id)
