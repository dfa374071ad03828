"""Reporting's tests: a cohort of released results, built as the product builds it.

They run on PostgreSQL (production's database; the report code holds no dialect-specific
SQL, and one test runs on SQLite too, marked ``sqlite_too``), which halves their time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.support.exams import Exam, exam, submit_answers, wait_for_state
from tests.support.factories import Factory

HERE = Path(__file__).parent

#: Answers per candidate (B is right): 3, 2, 2, 1, 1, 0 right answers.
ANSWERS = [
    {"Q1": "B", "Q2": "B", "Q3": "B"},
    {"Q1": "B", "Q2": "B", "Q3": "A"},
    {"Q1": "B", "Q2": "A", "Q3": "B"},
    {"Q1": "B", "Q2": "A", "Q3": "A"},
    {"Q1": "A", "Q2": "B", "Q3": "A"},
    {"Q1": "A", "Q2": "A", "Q3": "A"},
]


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Reporting's database tests take PostgreSQL only, unless marked ``sqlite_too`` (the
    same indirect parametrization other slow database tests declare one by one)."""
    here = Path(str(metafunc.definition.fspath)).is_relative_to(HERE)
    if (
        here
        and "backend" in metafunc.fixturenames
        and metafunc.definition.get_closest_marker("sqlite_too") is None
    ):
        # As a mark, before pytest's own hook reads the marks and the fixtures' params.
        metafunc.definition.add_marker(
            pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
        )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_too: a reporting test run on SQLite as well")


@dataclass
class Cohort:
    exam: Exam
    attempts: list[str]

    @property
    def admin(self) -> dict[str, str]:
        return self.exam.world.headers

    @property
    def administration_id(self) -> str:
        return str(self.exam.administration["id"])


async def released_cohort(
    app: FastAPI,
    client: httpx.AsyncClient,
    make: Factory,
    *,
    release: str = "immediately",
    answers: list[dict[str, str]] | None = None,
) -> Cohort:
    """Six candidates (``ANSWERS``) of a three-item test, scored, and released when the
    policy says ``immediately``; scaled = 100 x raw + 200, pass from 400."""
    chosen = answers or ANSWERS
    ex = await exam(
        client,
        make,
        candidates=len(chosen),
        scoring={
            "release": release,
            "report_percentile": True,
            "scale_slope": 100,
            "scale_intercept": 200,
            "bands": [
                {"name": "Below standard", "min_score": 0, "passed": False},
                {"name": "Standard", "min_score": 400, "passed": True},
            ],
        },
    )
    attempts = []
    for code, answer in zip(ex.codes, chosen, strict=True):
        attempt_id = await submit_answers(client, code, answer)
        wanted = "released" if release == "immediately" else "scored"
        assert await wait_for_state(app, attempt_id, wanted) == wanted
        attempts.append(attempt_id)
    return Cohort(ex, attempts)
