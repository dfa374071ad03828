"""A site for the console's browser tests: one PostgreSQL database with the demo loaded,
Redis, and two API processes sharing them (as behind a load balancer), for the session.

``site.one`` and ``site.two`` are the two processes' base URLs; the demo administrator
(every staff role) signs in with ``site.admin``. A test that needs people or data of its
own adds them through the API, so tests stay independent of each other's changes.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import checked_page, chromium
from tests.support.databases import PostgresDatabases
from tests.support.servers import serve
from tests.support.services import require_chromium, require_postgres, require_redis
from tests.support.settings import make_settings

_CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


@dataclass(frozen=True)
class Login:
    email: str
    password: str


@dataclass(frozen=True)
class Site:
    one: str
    two: str
    admin: Login
    codes: list[str]
    env: dict[str, str]
    data_dir: Path
    #: The demo's two raters and its rating lead (who adjudicates).
    raters: tuple[Login, ...] = ()
    lead: Login | None = None


def _demo_login(stdout: str, label: str) -> Login:
    """The e-mail and password ``waa-ads demo`` printed for ``label`` ("rater 1", ...)."""
    email = re.search(rf"{label} e-mail:\s+(\S+)", stdout)
    password = re.search(rf"{label} password:\s+(\S+)", stdout)
    assert email and password, stdout
    return Login(email.group(1), password.group(1))


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_chromium()
    harness = PostgresDatabases(require_postgres(), kind="console")
    asyncio.run(harness.create_template())
    data_dir = tmp_path_factory.mktemp("console")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
    env.update(
        {
            "WAA_ENV": "test",
            "WAA_SECRET_KEY": make_settings().secret_key,
            "WAA_DATABASE_URL": harness.url_for(harness.template),
            "WAA_REDIS_URL": require_redis(),
            "WAA_DATA_DIR": str(data_dir),
            "WAA_LOG_LEVEL": "WARNING",
            "WAA_EXPIRY_SWEEP_INTERVAL_S": "1",
            # Webhook and LTI tests point the servers at receivers on this machine.
            "WAA_INTEGRATIONS_ALLOW_PRIVATE_URLS": "true",
        }
    )
    try:
        loaded = subprocess.run(
            [sys.executable, "-m", "waa_ads", "demo"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        )
        email = re.search(r"admin e-mail:\s+(\S+)", loaded.stdout)
        password = re.search(r"admin password:\s+(\S+)", loaded.stdout)
        assert email and password, loaded.stdout
        with ExitStack() as stack:
            one = stack.enter_context(serve(env, data_dir / "one.log"))
            two = stack.enter_context(serve(env, data_dir / "two.log"))
            yield Site(
                one=one,
                two=two,
                admin=Login(email.group(1), password.group(1)),
                codes=_CODE.findall(loaded.stdout),
                env=env,
                data_dir=data_dir,
                raters=(
                    _demo_login(loaded.stdout, "rater 1"),
                    _demo_login(loaded.stdout, "rater 2"),
                ),
                lead=_demo_login(loaded.stdout, "rating lead"),
            )
    finally:
        asyncio.run(harness.drop_all())


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    # One Chromium per test module: Playwright's synchronous API runs an event loop of its
    # own while it is started, which must be gone before the next module's async tests
    # (or another module's Playwright) run.
    with chromium() as launched:
        yield launched


def new_staff(site: Site, roles: list[str]) -> Login:
    """A staff member of the demo organization of their own, made through the API. Tests
    that save a person's language with the console's switcher sign in as one, so that the
    demo logins every other test shares keep their language."""
    with httpx.Client(base_url=site.one, timeout=30) as api:
        token = api.post(
            "/api/v1/auth/token",
            data={"username": site.admin.email, "password": site.admin.password},
        )
        assert token.status_code == 200, token.text
        login = Login(f"staff-{secrets.token_hex(4)}@example.org", secrets.token_urlsafe(16))
        made = api.post(
            "/api/v1/users",
            json={"email": login.email, "roles": roles, "password": login.password},
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        assert made.status_code == 201, made.text
        assert made.json()["locale"] is None
    return login


def sign_in(page: Any, base: str, login: Login) -> None:
    """Sign in through the console's form and land on its start page."""
    page.goto(f"{base}/console/login")
    page.get_by_label("Email address").fill(login.email)
    page.get_by_label("Password").fill(login.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console")


@pytest.fixture
def admin_page(site: Site, browser: Any) -> Iterator[Any]:
    """A page signed in as the demo administrator on the first API process."""
    with checked_page(browser) as page:
        sign_in(page, site.one, site.admin)
        yield page
