"""Item banks for API tests: an organization of its own with an admin and a bank, and an
upload to the bank's import route."""

from __future__ import annotations

import httpx

from tests.support.factories import Factory, login
from waa_ads.auth.models import Role


async def admin_bank(
    client: httpx.AsyncClient, make: Factory, slug: str
) -> tuple[dict[str, str], str]:
    """A new organization's admin (their headers) and a bank named ``slug`` (its id)."""
    org = await make.organization()
    headers = await login(client, await make.user(org, Role.admin))
    bank = await client.post("/api/v1/banks", json={"slug": slug, "name": slug}, headers=headers)
    return headers, bank.json()["id"]


async def import_upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    bank_id: str,
    name: str,
    data: bytes,
    **form: str,
) -> httpx.Response:
    """``data`` uploaded as the file ``name`` to the bank's import route, with ``form``."""
    return await client.post(
        f"/api/v1/banks/{bank_id}/import",
        files={"file": (name, data, "application/octet-stream")},
        data=form,
        headers=headers,
    )
