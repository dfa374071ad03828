"""Integrations (admins): webhook subscriptions (add, with the secret shown once; enable,
disable, rotate the secret, remove), the delivery log with each try and replay, LTI
platform registrations, launched links with their roster syncs (queued for a worker,
progress shown), e-mail wording (result notices, access codes) and e-mailing new access
codes to an administration's roster, and the values to paste into an LMS.

Everything goes through ``/api/v1/integrations``."""

from __future__ import annotations

import json
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from waa_ads.core.i18n import N_, gettext
from waa_ads.web.console.pages import CONSOLE, Form, Staff, redirect, render
from waa_ads.web.console.router import ActionDep, StaffDep

router = APIRouter()

INTEGRATIONS: Final = f"{CONSOLE}/integrations"
API: Final = "/api/v1/integrations"
MAX_LINKS_SHOWN: Final = 50
STATUSES: Final = ("pending", "sending", "retrying", "succeeded", "failed", "cancelled")
HOOK_FIELDS: Final = {
    "url": "url",
    "event_types": "event_types",
    "description": "description",
    "format": "format",
    "bearer_token": "bearer_token",
}
FORMATS: Final = (
    ("waa", N_("WAA-ADS events (signed JSON)")),
    ("caliper", N_("Caliper 1.2 envelopes")),
)
LTI_FIELDS: Final = {
    "name": "name",
    "issuer": "issuer",
    "client_id": "client_id",
    "auth_login_url": "auth_login_url",
    "auth_token_url": "auth_token_url",
    "jwks_url": "jwks_url",
    "deployment_ids": "deployment_ids",
}


async def _overview(
    request: Request,
    who: Staff,
    *,
    hook_form: Form | None = None,
    status: int = 200,
    created: dict[str, Any] | None = None,
    mail_form: Form | None = None,
    code_form: Form | None = None,
    codes_sent: dict[str, Any] | None = None,
) -> HTMLResponse:
    event_types = (await who.read(f"{API}/event-types"))["event_types"]
    links = (await who.read(f"{API}/lti/links"))[:MAX_LINKS_SHOWN]
    for link in links:
        syncs = await who.read(f"{API}/lti/links/{link['id']}/roster-syncs", {"limit": 1})
        link["last_sync"] = syncs[0] if syncs else None
    return render(
        request,
        "integrations/overview.html",
        staff=who,
        status=status,
        subscriptions=await who.read(f"{API}/webhooks"),
        event_types=[(t, t) for t in event_types],
        hook_form=hook_form or Form(values={"event_types": [], "format": "waa"}),
        formats=[(code, gettext(name)) for code, name in FORMATS],
        registrations=await who.read(f"{API}/lti/registrations"),
        links=links,
        tool=await who.read(f"{API}/lti/tool"),
        failing=(await who.read(f"{API}/deliveries", {"status": "failed", "limit": 5}))["items"],
        created=created,
        notice=await who.read(f"{API}/email/templates/result_released"),
        mail_form=mail_form or Form(),
        code_notice=await who.read(f"{API}/email/templates/access_code"),
        code_form=code_form or Form(),
        administrations=[
            (a["id"], a["title"])
            for a in await who.read("/api/v1/administrations")
            if not a.get("cancelled_at")
        ],
        codes_sent=codes_sent,
    )


@router.get("/integrations", response_class=HTMLResponse)
async def overview(request: Request, who: StaffDep) -> HTMLResponse:
    return await _overview(request, who)


@router.post("/integrations/webhooks", response_class=Response)
async def create_subscription(request: Request, who: ActionDep) -> Response:
    form = await request.form()
    chosen = [t for t in form.getlist("event_types") if isinstance(t, str)]
    values = {
        "url": str(form.get("url", "")).strip(),
        "description": str(form.get("description", "")).strip(),
        "format": str(form.get("format", "waa")),
    }
    token = str(form.get("bearer_token", "")).strip()
    body = {**values, "event_types": chosen, **({"bearer_token": token} if token else {})}
    reply = await who.api.post(f"{API}/webhooks", body)
    if not reply.ok:
        shown = Form(
            values={**values, "event_types": chosen}, problem=reply.problem, fields=HOOK_FIELDS
        )
        return await _overview(request, who, hook_form=shown, status=reply.status)
    # The secret is in this reply only: shown on this page, never again.
    return await _overview(request, who, created=reply.json())


@router.post("/integrations/webhooks/{subscription_id}/active", response_class=Response)
async def set_active(request: Request, who: ActionDep, subscription_id: str) -> Response:
    form = await request.form()
    active = form.get("active") == "true"
    who.expect(
        await who.api.call(
            "PATCH", f"{API}/webhooks/{subscription_id}", json_body={"active": active}
        )
    )
    return redirect(
        INTEGRATIONS,
        flash=gettext("Subscription enabled.") if active else gettext("Subscription disabled."),
    )


@router.post("/integrations/webhooks/{subscription_id}/delete", response_class=Response)
async def delete_subscription(request: Request, who: ActionDep, subscription_id: str) -> Response:
    who.expect(await who.api.call("DELETE", f"{API}/webhooks/{subscription_id}"))
    return redirect(INTEGRATIONS, flash=gettext("Subscription removed."))


@router.get("/integrations/deliveries", response_class=HTMLResponse)
async def deliveries(request: Request, who: StaffDep) -> HTMLResponse:
    status = request.query_params.get("status")
    params: dict[str, Any] = {"limit": 50}
    if status in STATUSES:
        params["status"] = status
    before = request.query_params.get("before")
    if before:
        params["before"] = before
    page = await who.read(f"{API}/deliveries", params)
    subscriptions = {s["id"]: s for s in await who.read(f"{API}/webhooks")}
    return render(
        request,
        "integrations/deliveries.html",
        staff=who,
        rows=page["items"],
        next_before=page["next_before"],
        chosen=params.get("status", ""),
        statuses=STATUSES,
        subscriptions=subscriptions,
    )


@router.get("/integrations/deliveries/{delivery_id}", response_class=HTMLResponse)
async def delivery(request: Request, who: StaffDep, delivery_id: str) -> HTMLResponse:
    found = await who.read(f"{API}/deliveries/{delivery_id}")
    try:
        payload = json.dumps(json.loads(found["payload"]), indent=2, ensure_ascii=False)
    except ValueError:
        payload = found["payload"]
    return render(request, "integrations/delivery.html", staff=who, delivery=found, payload=payload)


@router.post("/integrations/deliveries/{delivery_id}/replay", response_class=Response)
async def replay(request: Request, who: ActionDep, delivery_id: str) -> Response:
    copy = who.expect(await who.api.post(f"{API}/deliveries/{delivery_id}/replay"))
    return redirect(
        f"{INTEGRATIONS}/deliveries/{copy['id']}",
        flash=gettext("Queued again as a new delivery."),
    )


@router.get("/integrations/lti/new", response_class=HTMLResponse)
async def new_registration(request: Request, who: StaffDep) -> HTMLResponse:
    tool = await who.read(f"{API}/lti/tool")
    return render(request, "integrations/lti_new.html", staff=who, form=Form(), tool=tool)


@router.post("/integrations/lti", response_class=Response)
async def create_registration(request: Request, who: ActionDep) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in LTI_FIELDS}
    body: dict[str, Any] = {
        **values,
        "deployment_ids": [d.strip() for d in values["deployment_ids"].split(",") if d.strip()],
    }
    reply = await who.api.post(f"{API}/lti/registrations", body)
    if not reply.ok:
        tool = await who.read(f"{API}/lti/tool")
        shown = Form(values=values, problem=reply.problem, fields=LTI_FIELDS)
        return render(
            request,
            "integrations/lti_new.html",
            staff=who,
            status=reply.status,
            form=shown,
            tool=tool,
        )
    return redirect(
        f"{INTEGRATIONS}#lti",
        flash=gettext("Platform %(name)s registered.", name=values["name"]),
    )


@router.post("/integrations/lti/links/{link_id}/roster-sync", response_class=Response)
async def sync_roster(request: Request, who: ActionDep, link_id: str) -> Response:
    job = who.expect(await who.api.post(f"{API}/lti/links/{link_id}/roster-sync"))
    flash = (
        gettext("The roster sync is queued: reload this page to follow it.")
        if job["status"] in ("queued", "running")
        else gettext("The roster sync is done.")
        if job["status"] == "done"
        else gettext("The roster sync failed: %(error)s", error=job.get("error") or "—")
        if job["status"] == "failed"
        else gettext("Roster sync %(status)s.", status=job["status"])
    )
    return redirect(f"{INTEGRATIONS}#links", flash=flash)


@router.post("/integrations/email/{kind}", response_class=Response)
async def save_email_template(request: Request, who: ActionDep, kind: str) -> Response:
    form = await request.form()
    codes = kind == "access_code"
    # The access code's form names its fields apart from the result notice's (one page).
    prefix = "code_" if codes else ""
    values = {k: str(form.get(prefix + k, "")) for k in ("subject", "body")}
    reply = await who.api.call(
        "PUT",
        f"{API}/email/templates/{kind}",
        json_body={
            # Access codes are sent when asked for: there is nothing to switch on.
            "enabled": codes or form.get("enabled") == "true",
            "subject": values["subject"].strip() or None,
            "body": values["body"].replace("\r\n", "\n").strip() or None,
        },
    )
    if not reply.ok:
        shown = Form(
            values={f"{prefix}{k}": v for k, v in values.items()},
            problem=reply.problem,
            fields={"subject": f"{prefix}subject", "body": f"{prefix}body"},
        )
        if codes:
            return await _overview(request, who, code_form=shown, status=reply.status)
        return await _overview(request, who, mail_form=shown, status=reply.status)
    saved = gettext("Access code message saved.") if codes else gettext("Result notice saved.")
    return redirect(f"{INTEGRATIONS}#email", flash=saved)


@router.post("/integrations/access-codes", response_class=Response)
async def send_access_codes(request: Request, who: ActionDep) -> Response:
    form = await request.form()
    administration_id = str(form.get("administration_id", ""))
    reply = await who.api.post(
        f"{API}/email/access-codes", {"administration_id": administration_id}
    )
    if not reply.ok:
        shown = Form(
            values={"administration_id": administration_id},
            problem=reply.problem,
            fields={"administration_id": "administration_id"},
        )
        return await _overview(request, who, code_form=shown, status=reply.status)
    return await _overview(request, who, codes_sent=reply.json())
