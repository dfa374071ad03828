"""A QTI 3.0 export means the same in an independent QTI 3 player.

The demo bank (every interaction type the bank supports) is exported with ``waa-ads
export``; each item of the package is loaded into an independent open-source QTI 3 player
(tests/support/qti3player.py) in Chromium, answered correctly, wrongly (the demo's scoring
cases: partial credit, tolerance, case, negative marking...) and not at all through the
player's API, a few by clicking and typing as a candidate would, and scored by the
player's own response processing. Each score is compared with ``waa-ads score-item`` on
the same exported file. A difference is a failure unless it is in ``PLAYER_LIMITATIONS``
below, each entry naming the clause of the specification the product follows; the figures
are written to ``test-artifacts/qti3-interop.json``.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.demo.test_demo_content import SCORE_CASES
from tests.support.browser import chromium, shot
from tests.support.qti3player import PlayerPage, player_page, player_value, require_player
from waa_ads.content.interchange.native import load_item_bytes
from waa_ads.content.item.definition import Cardinality, InteractionType, ItemDefinition

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

_TOLERANCE = (
    "the player compares <qti-equal> exactly whatever its tolerance-mode (its processing "
    "logs 'toleranceMode is not supported yet'), so an answer inside the tolerance scores 0; "
    "the product follows QTI 3.0 ASI Information Model, expression 'equal': tolerance-mode "
    "absolute or relative with tolerance (and include-lower-bound, include-upper-bound) "
    "accepts a value within the range"
)

_BOOLEAN_CONDITION = (
    "the player takes a boolean response given the value false as true where the response "
    "itself is the condition (<qti-variable> directly in <qti-response-if>): the end attempt "
    "response PASS set to false scores as a pass; the product follows QTI 3.0 ASI Information "
    "Model, responseIf: the branch is taken only when its expression is true (false and NULL "
    "are not)"
)

#: item identifier -> why the other player scores some answers to it differently, and the
#: specification clause the product follows. Only the other player's shortcomings belong
#: here; its exact answers (the correct response, no response) must still agree.
PLAYER_LIMITATIONS: dict[str, str] = {
    "sample-numeric-circle-area": _TOLERANCE,
    "sample-numeric-fahrenheit": _TOLERANCE,
    "sample-numeric-sun-distance": _TOLERANCE,
    "sample-slider-water-surface": _TOLERANCE,
    "sample-end-attempt-longest-river": _BOOLEAN_CONDITION,
}
#: What the player reports about those limitations on the console.
PLAYER_LIMITATION_MESSAGES = ("toleranceMode is not supported yet",)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bank as ``waa-ads demo`` loads it (embedded SQLite) and ``waa-ads export``
    writes it, unpacked."""
    from waa_ads.cli import app as cli

    require_player()
    root = tmp_path_factory.mktemp("interop")
    env = {
        "WAA_DATA_DIR": str(root / "data"),
        "WAA_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'data' / 'waa.db'}",
        "WAA_BLOB_DIR": str(root / "data" / "blobs"),
    }
    (root / "data").mkdir()
    for args in (["demo"], ["export", "--out", str(root / "out")]):
        done = CliRunner().invoke(cli, args, env=env)
        assert done.exit_code == 0, done.output
    (zipped,) = (root / "out").glob("*.zip")
    unpacked = root / "package"
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(unpacked)
    return unpacked


@pytest.fixture(scope="module")
def player(package: Path) -> Iterator[PlayerPage]:
    with chromium() as browser, player_page(browser, package) as page:
        yield page


def _items(package: Path) -> dict[str, tuple[Path, ItemDefinition]]:
    found = {}
    for path in sorted((package / "items").glob("*.xml")):
        item = load_item_bytes(path.read_bytes(), path.name)
        found[item.identifier] = (path, item)
    return found


def _cases(item: ItemDefinition) -> list[tuple[str, dict[str, Any]]]:
    """(name, responses in the product's JSON shape) for one item."""
    empty = {d.identifier: None for d in item.response_declarations}
    cases: list[tuple[str, dict[str, Any]]] = [("empty", empty)]
    correct = {
        d.identifier: d.correct_response
        for d in item.response_declarations
        if d.correct_response is not None
    }
    if correct:
        cases.append(("correct", correct))
    for n, (name, responses, _) in enumerate(SCORE_CASES):
        if item.identifier == "sample-" + name.rsplit(".", 1)[0]:
            cases.append((f"case-{n}", responses))
    if any(i.type is InteractionType.EXTENDED_TEXT for i in item.interactions):
        cases.append(("essay", {"RESPONSE": "Cities are busy; the countryside is calm."}))
    return cases


#: Why a cloned item (an item template) is compared on its empty response only: each player
#: runs template processing for each new item session (QTI 3.0 ASI Information Model,
#: templateProcessing) with its own random numbers, so the other player's values, and so its
#: key, are not the ones ``waa-ads score-item`` takes (the declared defaults).
CLONED = (
    "a cloned item: the other player draws its own template values, so only the empty "
    "response can be compared"
)


def _product_score(path: Path, responses: dict[str, Any]) -> float:
    from waa_ads.cli import app as cli

    result = CliRunner().invoke(cli, ["score-item", str(path), "-r", json.dumps(responses)])
    assert result.exit_code == 0, result.output
    value = json.loads(result.output)["outcomes"].get("SCORE")
    return 0.0 if value is None else float(value)


def _unordered(values: dict[str, Any], item: ItemDefinition) -> dict[str, Any]:
    """Responses with each multiple one sorted: it is a set, which the player lists in the
    (shuffled) order its choices were shown."""
    multiple = {
        d.identifier for d in item.response_declarations if d.cardinality is Cardinality.MULTIPLE
    }
    return {k: sorted(v) if k in multiple and v else v for k, v in values.items()}


def _player_score(player: PlayerPage, href: str, item: ItemDefinition, responses: Any) -> float:
    player.load(href)
    declarations = {d.identifier: d for d in item.response_declarations}
    player.answer({k: player_value(declarations[k], v) for k, v in responses.items()})
    score, _ = player.score()
    return score


def test_every_exported_item_scores_the_same_in_an_independent_qti3_player(
    package: Path, player: PlayerPage
) -> None:
    items = _items(package)
    kinds = {i.type for _, item in items.values() for i in item.interactions}
    # A portable custom interaction runs its item's own code: the demo bank has none, and
    # tests/web/test_player_pci_browser.py answers one in the player.
    assert kinds == set(InteractionType) - {InteractionType.PORTABLE_CUSTOM}, (
        "the export covers every interaction type"
    )
    agreed, differences, allowed = 0, [], []
    cloned: list[tuple[str, str]] = []
    for identifier, (path, item) in items.items():
        href = f"items/{path.name}"
        for case, responses in _cases(item):
            if item.is_template and case != "empty":
                cloned.append((identifier, case))
                continue
            ours = _product_score(path, responses)
            theirs = _player_score(player, href, item, responses)
            if abs(ours - theirs) < 1e-9:
                agreed += 1
            elif identifier in PLAYER_LIMITATIONS and case not in ("correct", "empty"):
                allowed.append((identifier, case, ours, theirs))
            else:
                differences.append((identifier, case, responses, ours, theirs))
    total = agreed + len(differences) + len(allowed)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "qti3-interop.json").write_text(
        json.dumps(
            {
                "items": len(items),
                "comparisons": total,
                "agreed": agreed,
                "player_limitations": [list(a) for a in allowed],
                "cloned_items_not_compared": [[*c, CLONED] for c in cloned],
                "differences": [[str(x) for x in d] for d in differences],
            },
            indent=2,
        )
    )
    print(f"QTI 3 interop: {agreed} of {total} scores agree over {len(items)} items")
    assert differences == [], f"{len(differences)} of {total} scores differ: {differences}"
    problems = [p for p in player.problems if not any(m in p for m in PLAYER_LIMITATION_MESSAGES)]
    assert problems == [], problems
    stale = set(PLAYER_LIMITATIONS) - {a[0] for a in allowed}
    assert not stale, f"listed limitations that no longer differ: {sorted(stale)}"


# (item, [(what to click or type into, text to type or None)], the responses that means)
BY_HAND: list[tuple[str, list[tuple[str, str | None]], dict[str, Any]]] = [
    (
        "sample-choice-largest-planet",
        [('qti-simple-choice[identifier="jupiter"]', None)],
        {"RESPONSE": "jupiter"},
    ),
    (
        "sample-choice-largest-planet",
        [('qti-simple-choice[identifier="earth"]', None)],
        {"RESPONSE": "earth"},
    ),
    ("sample-tf-sahara", [('qti-simple-choice[identifier="true"]', None)], {"RESPONSE": True}),
    ("sample-tf-sahara", [('qti-simple-choice[identifier="false"]', None)], {"RESPONSE": False}),
    (
        "sample-multi-mammals",
        [
            ('qti-simple-choice[identifier="dolphin"]', None),
            ('qti-simple-choice[identifier="bat"]', None),
        ],
        {"RESPONSE": ["dolphin", "bat"]},
    ),
    (
        "sample-text-capital-canada",
        [("qti-text-entry-interaction input", "OTTAWA")],
        {"RESPONSE": "OTTAWA"},
    ),
    (
        "sample-hotspot-town-map",
        [('qti-hotspot-choice[identifier="library"]', None)],
        {"RESPONSE": "library"},
    ),
    (
        "sample-text-symbol-sodium",
        [("qti-text-entry-interaction input", "NA")],
        {"RESPONSE": "NA"},
    ),
]


def test_answers_given_by_clicking_and_typing_score_the_same(
    package: Path, player: PlayerPage
) -> None:
    items = _items(package)
    player.problems.clear()
    for identifier, steps, meant in BY_HAND:
        path, item = items[identifier]
        player.load(f"items/{path.name}")
        for selector, text in steps:
            target = player.page.locator(selector).first
            if text is None:
                target.click()
            else:
                target.fill(text)
                target.press("Tab")
        theirs, recorded = player.score()
        shot(player.page, f"qti3-player-{identifier}")
        declarations = {d.identifier: d for d in item.response_declarations}
        expected = {k: player_value(declarations[k], v) for k, v in meant.items()}

        got = {k: recorded.get(k) for k in meant}
        assert _unordered(got, item) == _unordered(expected, item), identifier
        assert theirs == _product_score(path, meant), (identifier, meant)
    assert player.problems == []
