"""An independent QTI 3 player in Chromium, for checking that exports mean the same thing
elsewhere: 1EdTech-style web components (``@citolab/qti-components``, a devDependency in
package.json, installed by ``make js``), loaded by a page the test serves itself.

Nothing comes from the network: the page, the player's module and the exported package are
answered by Playwright's request routing from disk under a made-up origin, and any other
request is aborted and recorded (so a picture the package lacks shows as a failure).
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.services import unavailable
from waa_ads.content.item.definition import BaseType, Cardinality, ResponseDeclaration

REPO = Path(__file__).resolve().parents[2]
PLAYER = REPO / "node_modules" / "@citolab" / "qti-components"
ORIGIN = "http://qti-player.test"

# The player's documented route for one item: qtiTransformItem().load(url) reads and
# transforms the XML, .path(base) resolves its relative media against the item's folder,
# .htmlDoc() gives the custom elements; <qti-assessment-item> then takes responses with
# updateResponseVariable(), runs its response processing with processResponse() and
# reports outcomes with getOutcome().
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>QTI 3 player</title>
<link rel="stylesheet" href="/player/dist/item.css"></head>
<body><main id="host"></main>
<script type="module">
import { qtiTransformItem } from '/player/cdn/index.js';
const host = document.getElementById('host');
const item = () => host.querySelector('qti-assessment-item');
window.loadItem = async (href) => {
  const base = href.replace(/[^/]*$/, '');
  const api = await qtiTransformItem(false).load(href);
  host.replaceChildren(api.path(base).htmlDoc());
  const element = item();
  await element.updateComplete;
  await customElements.whenDefined('qti-assessment-item');
  await new Promise((resolve) => requestAnimationFrame(() => resolve(null)));
  const pictures = [...host.querySelectorAll('img')];
  await Promise.all(pictures.map((img) => img.decode().catch(() => null)));
  return pictures.filter((img) => !(img.complete && img.naturalWidth > 0)).map((img) => img.src);
};
window.answer = (values) => {
  for (const [identifier, value] of Object.entries(values)) {
    item().updateResponseVariable(identifier, value);
  }
};
window.score = () => {
  const element = item();
  element.processResponse(true, false);
  const outcome = element.getOutcome('SCORE');
  const response = (id) => element.variables.find((v) => v.identifier === id)?.value ?? null;
  return { score: outcome ? outcome.value : null, responses: Object.fromEntries(
    element.variables.filter((v) => v.type === 'response').map((v) => [v.identifier, response(v.identifier)])) };
};
window.playerReady = true;
</script></body></html>
"""


@dataclass
class PlayerPage:
    """One page of the player; ``problems`` collects script errors and refused requests."""

    page: Any
    problems: list[str] = field(default_factory=list)

    def load(self, href: str) -> None:
        """Show the item at ``href`` (package-relative); a picture that does not show is a
        problem."""
        broken = self.page.evaluate("href => window.loadItem(href)", f"{ORIGIN}/{href}")
        self.problems.extend(f"picture not shown in {href}: {src}" for src in broken)

    def answer(self, values: dict[str, Any]) -> None:
        self.page.evaluate("values => window.answer(values)", values)

    def score(self) -> tuple[float, dict[str, Any]]:
        """SCORE after the player's response processing (QTI: a numeric outcome without a
        default starts at 0, so an unset SCORE is 0) and the responses it scored."""
        result = self.page.evaluate("() => window.score()")
        value = result["score"]
        return (0.0 if value in (None, "") else float(value)), result["responses"]


def _route(package: Path, problems: list[str]) -> Any:
    def handle(route: Any) -> None:
        url = route.request.url.split("?", 1)[0].split("#", 1)[0]
        if not url.startswith(ORIGIN + "/"):
            problems.append(f"request outside the test: {url}")
            route.abort()
            return
        path = url[len(ORIGIN) + 1 :]
        if path == "":
            route.fulfill(body=PAGE, content_type="text/html; charset=utf-8")
            return
        root, rest = (
            (PLAYER, path[len("player/") :])
            if path.startswith("player/")
            else (
                package,
                path,
            )
        )
        target = (root / rest).resolve()
        if root.resolve() not in target.parents or not target.is_file():
            problems.append(f"404 {path}")
            route.fulfill(status=404, body="not found")
            return
        kind = "text/javascript" if target.suffix == ".js" else mimetypes.guess_type(target.name)[0]
        route.fulfill(body=target.read_bytes(), content_type=kind or "application/octet-stream")

    return handle


def require_player() -> None:
    if not (PLAYER / "cdn" / "index.js").is_file():
        unavailable(f"the QTI 3 player is not installed at {PLAYER} (run make js: npm ci)")


@contextmanager
def player_page(browser: Any, package: Path) -> Iterator[PlayerPage]:
    """A page with the player ready, serving the unpacked ``package`` at the origin's root."""
    require_player()
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    holder = PlayerPage(page)
    page.on("pageerror", lambda exc: holder.problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: holder.problems.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    context.route("**/*", _route(package, holder.problems))
    try:
        page.goto(f"{ORIGIN}/")
        page.wait_for_function("window.playerReady === true")
        yield holder
    finally:
        context.close()


def player_value(declaration: ResponseDeclaration, value: Any) -> Any:
    """A response in the product's JSON shape as the player's string form: identifiers and
    strings as they are, booleans ``true``/``false`` (the exported true/false question is
    an identifier response with those choices), numbers as text, pairs and points as two
    space-separated parts, containers as lists of those; None is no response."""
    if value is None:
        return None
    base = declaration.base_type

    def one(v: Any) -> str:
        if base in (BaseType.PAIR, BaseType.DIRECTED_PAIR, BaseType.POINT):
            return f"{_text(v[0])} {_text(v[1])}"
        return _text(v)

    if declaration.cardinality is Cardinality.SINGLE:
        return one(value)
    return [one(v) for v in value]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return str(value)
