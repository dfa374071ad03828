"""Typed factory functions for test data. Each writes through the real services, so the
data a test builds on obeys the same rules (and leaves the same audit trail) as real data."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from waa_ads.audit.service import Actor
from waa_ads.auth import schemas
from waa_ads.auth import service as auth_service
from waa_ads.auth.models import Candidate, Organization, Role, User

PASSWORD = "correct horse battery staple"
SYSTEM = Actor("system", "tests")


@dataclass
class Account:
    organization: Organization
    user: User
    password: str

    @property
    def email(self) -> str:
        return self.user.email


async def make_organization(app: FastAPI, slug: str | None = None) -> Organization:
    slug = slug or f"org-{secrets.token_hex(4)}"
    async with app.state.db.transaction() as session:
        return await auth_service.create_organization(
            session, slug=slug, name=slug.title(), actor=SYSTEM
        )


async def make_user(
    app: FastAPI,
    organization: Organization,
    *roles: Role,
    email: str | None = None,
    password: str = PASSWORD,
) -> Account:
    email = email or f"user-{secrets.token_hex(4)}@example.com"
    async with app.state.db.transaction() as session:
        user, _ = await auth_service.create_user(
            session,
            app.state.auth,
            organization.id,
            schemas.UserCreate(email=email, roles=list(roles or (Role.admin,)), password=password),
            actor=SYSTEM,
        )
    return Account(organization, user, password)


async def make_candidate(
    app: FastAPI, organization: Organization, *, name: str = "Ada Example"
) -> Candidate:
    async with app.state.db.transaction() as session:
        return await auth_service.create_candidate(
            session,
            organization.id,
            schemas.CandidateCreate(
                full_name=name,
                email=f"cand-{secrets.token_hex(3)}@example.com",
                external_id=f"ext-{secrets.token_hex(4)}",
            ),
            actor=SYSTEM,
        )


async def login(client: httpx.AsyncClient, account: Account) -> dict[str, str]:
    """Bearer headers for ``account``."""
    response = await client.post(
        "/api/v1/auth/token", data={"username": account.email, "password": account.password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
