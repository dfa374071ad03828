"""Typed factories for test data. Each writes through the real services, so the data a test
builds on obeys the same rules (and leaves the same audit trail) as real data.

A :class:`Factory` made with a session adds and flushes in that session: the test's own,
rolled back when the test ends (the ``make`` fixture). Made without one, each call is a unit
of work of its own on the app's database, committed (the ``live_make`` fixture, for tests
whose data must be visible to other connections or processes).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.databases import RolledBackDatabase
from waa_ads.audit.service import Actor
from waa_ads.auth import schemas
from waa_ads.auth import service as auth_service
from waa_ads.auth.models import Candidate, Organization, Role, User
from waa_ads.auth.service import AuthComponents

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


class Factory:
    """Organizations, accounts and candidates, made through the identity services."""

    def __init__(self, auth: AuthComponents, session: AsyncSession | None = None) -> None:
        self.auth = auth
        self.session = session

    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[AsyncSession]:
        if self.session is None:
            async with self.auth.db.transaction() as own:
                yield own
            return
        if isinstance(self.auth.db, RolledBackDatabase):
            # Not while a background task's unit of work is open on the same connection.
            async with self.auth.db.exclusive():
                yield self.session
            return
        yield self.session

    async def organization(self, slug: str | None = None) -> Organization:
        slug = slug or f"org-{secrets.token_hex(4)}"
        async with self._unit() as session:
            return await auth_service.create_organization(
                session, slug=slug, name=slug.title(), actor=SYSTEM
            )

    async def user(
        self,
        organization: Organization,
        *roles: Role,
        email: str | None = None,
        password: str = PASSWORD,
    ) -> Account:
        email = email or f"user-{secrets.token_hex(4)}@example.com"
        async with self._unit() as session:
            user, _ = await auth_service.create_user(
                session,
                self.auth,
                organization.id,
                schemas.UserCreate(
                    email=email, roles=list(roles or (Role.admin,)), password=password
                ),
                actor=SYSTEM,
            )
        return Account(organization, user, password)

    async def candidate(
        self, organization: Organization, *, name: str = "Ada Example"
    ) -> Candidate:
        async with self._unit() as session:
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
