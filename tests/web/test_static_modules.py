"""The player's ES modules as files: every import names a file the app serves (from the same
route, under the same Content-Security-Policy), nothing is loaded from elsewhere, every
module is type-checked (``// @ts-check``; ``make js`` runs the checker) and stays small
enough to read in one sitting. No browser needed."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from waa_ads.web.router import CONTENT_SECURITY_POLICY, router

STATIC = Path(__file__).resolve().parents[2] / "src" / "waa_ads" / "web" / "static"
MODULES = sorted(STATIC.glob("*.js"))
# `import ... from "x"`, `import "x"`, `export ... from "x"` and `import("x")` in code (JSDoc
# type imports are comments and load nothing).
STATIC_IMPORT = re.compile(
    r"""^\s*(?:import\s+(?:[\w$*{}\s,]+?\s+from\s+)?"""
    r"""|export\s+(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})\s+from\s+)["']([^"']+)["']""",
    re.MULTILINE,
)
DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*["'`]([^"'`]+)["'`]""")
MAX_LINES = 300


def _code(path: Path) -> str:
    """The module without its comments (so JSDoc's ``import("./types.js")`` is not code)."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    return re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE)


def _imports(path: Path) -> list[str]:
    code = _code(path)
    return STATIC_IMPORT.findall(code) + DYNAMIC_IMPORT.findall(code)


def test_there_are_modules() -> None:
    names = {p.name for p in MODULES}
    assert {"player.js", "store.js", "api.js", "sync.js", "interactions.js"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_imports_are_sibling_files(path: Path) -> None:
    for target in _imports(path):
        assert target.startswith("./"), f"{path.name} imports {target!r}: only ./sibling.js"
        assert "/" not in target[2:], f"{path.name} imports {target!r} from another folder"
        assert (STATIC / target[2:]).is_file(), f"{path.name} imports {target!r}, which is missing"


def test_every_module_is_reached_from_the_page() -> None:
    """Every module is loaded by the player page's entry module (types.js is types only,
    pci-frame.js the PCI host page's script)."""
    reached: set[str] = set()
    todo = ["player.js"]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        todo.extend(t[2:] for t in _imports(STATIC / name))
    # pci-frame.js is the classic script of the PCI host page (its sandboxed frame).
    assert {p.name for p in MODULES} - reached == {"types.js", "pci-frame.js"}
    assert '<script src="/player/pci-frame/pci-frame.js">' in (STATIC / "pci-frame.html").read_text(
        encoding="utf-8"
    )
    assert '<script type="module" src="/static/player/player.js">' in (
        STATIC.parent / "templates" / "player.html"
    ).read_text(encoding="utf-8")
    assert not (STATIC / "player.html").exists(), "the page is a template, not a static file"


def test_no_import_cycle() -> None:
    graph = {p.name: [t[2:] for t in _imports(p)] for p in MODULES}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for target in graph.get(name, []):
            visit(target, (*path, name))
        done.add(name)

    for name in graph:
        visit(name, ())


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_modules_are_type_checked_and_small(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "// @ts-check", f"{path.name} must start with // @ts-check"
    assert len(lines) <= MAX_LINES, f"{path.name} has {len(lines)} lines; split it by role"


@pytest.mark.asyncio
async def test_every_module_is_served_under_the_policy() -> None:
    app = FastAPI()
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://player.test") as client:
        for path in MODULES:
            response = await client.get(f"/static/player/{path.name}")
            assert response.status_code == 200, path.name
            assert response.headers["content-type"].startswith("text/javascript")
            assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert response.content == path.read_bytes()
