"""Scaffolding shared by the player's browser tests: a data directory with the demo and
what a test module adds to it (items, a published assessment open to its candidates,
candidates in a language of their own), a server on that directory, and a candidate
started on their first question with the keyboard."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.servers import serve
from tests.support.services import require_chromium
from tests.support.settings import make_settings

T = TypeVar("T")


@dataclass(frozen=True)
class Demo:
    """What a module's own preparation works with: the open database and blob store, the
    settings of the data directory and what loading the demo made."""

    db: Any
    blobs: Any
    settings: Any
    result: Any  # waa_ads.demo.loader.DemoResult


def prepare_demo(data_dir: Path, build: Callable[[Demo], Awaitable[T]]) -> T:
    """Migrate the database of ``data_dir``, load the demo into it, then run ``build`` (what
    the module adds) with the database and blob store still open; what ``build`` returns."""
    from waa_ads.auth.service import build_auth
    from waa_ads.core import migrate
    from waa_ads.core.db import database_from_settings
    from waa_ads.core.storage import blob_store_from_settings
    from waa_ads.demo.loader import load_demo

    settings = make_settings(data_dir=data_dir)
    migrate.upgrade(settings.resolved_database_url)

    async def go() -> T:
        db = database_from_settings(settings)
        blobs = blob_store_from_settings(settings)
        try:
            result = await load_demo(db, blobs, build_auth(settings, db, None))
            return await build(Demo(db, blobs, settings, result))
        finally:
            await blobs.aclose()
            await db.dispose()

    return asyncio.run(go())


async def demo_principal(session: Any) -> Any:
    """The system principal of the demo organization, for creating content in it."""
    from sqlalchemy import select

    from waa_ads.auth.deps import Principal
    from waa_ads.auth.models import Organization

    org = (
        await session.execute(select(Organization).where(Organization.slug == "demo"))
    ).scalar_one()
    return Principal.system(org.id, via="test")


async def publish_and_open(
    session: Any,
    principal: Any,
    definition: Mapping[str, Any],
    *,
    slug: str,
    title: str,
    locales: list[str] | None = None,
) -> uuid.UUID:
    """Create the assessment of ``definition`` under ``slug``, publish it, and open an
    administration of it titled ``title`` from a minute ago for a day (offering
    ``locales`` besides English when given); the administration's id."""
    from waa_ads.assessments import schemas as a_schemas
    from waa_ads.assessments import service as a_service
    from waa_ads.assessments.definition import AssessmentDefinition

    assessment, _ = await a_service.create_assessment(
        session,
        principal,
        a_schemas.AssessmentCreate(
            slug=slug, definition=AssessmentDefinition.model_validate(definition)
        ),
    )
    _, version = await a_service.publish(session, principal, assessment.id)
    now = datetime.now(UTC)
    administration = await a_service.create_administration(
        session,
        principal,
        a_schemas.AdministrationCreate(
            assessment_version_id=version.id,
            title=title,
            opens_at=now - timedelta(minutes=1),
            closes_at=now + timedelta(days=1),
            **({"locales": locales} if locales is not None else {}),
        ),
    )
    administration_id: uuid.UUID = administration.id
    return administration_id


async def add_candidates(
    demo: Demo, administration_id: Any, candidates: Mapping[str, str]
) -> dict[str, str]:
    """New candidates (name -> external id) on the roster of an administration of the demo
    organization; their access codes by name."""
    from tests.web.test_player import _add_candidate

    return {
        name: await _add_candidate(demo.db, demo.settings, administration_id, name, external_id)
        for name, external_id in candidates.items()
    }


async def set_candidate_locales(demo: Demo, locales: Mapping[str, str | None]) -> None:
    """Give candidates (by external id) their own language; ``None`` leaves one as it is."""
    from sqlalchemy import update

    from waa_ads.auth.models import Candidate

    async with demo.db.transaction() as session:
        for external_id, locale in locales.items():
            if locale:
                await session.execute(
                    update(Candidate)
                    .where(Candidate.external_id == external_id)
                    .values(locale=locale)
                )


@contextmanager
def player_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, prepare: Callable[[Path], T]
) -> Iterator[tuple[str, T]]:
    """(the URL of a server on a fresh data directory named after ``name``, what
    ``prepare`` returned for that directory before the server started). Chromium is
    required first, so a machine without it fails before anything is prepared."""
    from tests.web.test_player import _env

    require_chromium()
    data_dir = tmp_path_factory.mktemp(name)
    prepared = prepare(data_dir)
    with serve(_env(data_dir), data_dir / "server.log") as url:
        yield url, prepared


def server_fixture(name: str, prepare: Callable[[Path], T]) -> Any:
    """A module's ``server`` fixture (one server for the module, see :func:`player_server`):
    ``server = server_fixture("player-x", _prepare)`` at the module's top level."""

    @pytest.fixture(scope="module")
    def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, T]]:
        """(the server's URL, what the module's preparation returned)."""
        with player_server(tmp_path_factory, name, prepare) as served:
            yield served

    return server


def start_attempt(
    page: Any, url: str, code: str, *, lang: str | None = None, heading: str | None = None
) -> None:
    """Open the player (in ``lang`` when given), enter the code with the keyboard, and
    start from the welcome page: the first question is coming on screen (its heading
    reads ``heading`` when given)."""
    from playwright.sync_api import expect

    page.goto(f"{url}/take" + (f"?lang={lang}" if lang else ""))
    expect(page.locator("#system-check li.ok")).to_have_count(4)
    page.locator("#access-code").fill(code)
    page.locator("#access-code").press("Enter")
    expect(page.locator("#welcome-heading")).to_be_focused()
    page.locator("#welcome-start").focus()
    page.keyboard.press("Enter")
    if heading is not None:
        expect(page.locator("#item-heading")).to_have_text(heading)


def press(page: Any, name: str) -> None:
    """Press a button of the test screen with the keyboard."""
    page.get_by_role("button", name=name, exact=True).focus()
    page.keyboard.press("Enter")
