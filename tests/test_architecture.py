"""The import and transaction rules of docs/architecture.md, checked over the source tree.

Each rule reads the imports of every module under ``src/waa_ads`` (including imports made
inside functions) with :mod:`ast`, so a rule cannot be dodged by importing late.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "waa_ads"

#: The application's domains and the domains each may import (besides itself). The order
#: is the one way imports flow: a domain never imports one listed after it.
DOMAIN_IMPORTS: dict[str, frozenset[str]] = {
    "core": frozenset(),
    # The message catalogues (data only; core.i18n reads them).
    "locales": frozenset(),
    "audit": frozenset({"core"}),
    "auth": frozenset({"core", "audit"}),
    "content": frozenset({"core", "audit", "auth"}),
    "assessments": frozenset({"core", "audit", "auth", "content"}),
    "delivery": frozenset({"core", "audit", "auth", "content", "assessments"}),
    "scoring": frozenset({"core", "audit", "auth", "content", "assessments", "delivery"}),
    "rating": frozenset({"core", "audit", "auth", "content", "assessments", "delivery", "scoring"}),
    # Integrity and rating both follow scoring; neither imports the other.
    "integrity": frozenset(
        {"core", "audit", "auth", "content", "assessments", "delivery", "scoring"}
    ),
    # Psychometrics follows scoring too (it reads item scores); it imports neither sibling.
    "psychometrics": frozenset(
        {"core", "audit", "auth", "content", "assessments", "delivery", "scoring"}
    ),
    # Automated scoring trains on human ratings and hands doubtful answers to the rating
    # queue, so it follows rating.
    "autoscore": frozenset(
        {"core", "audit", "auth", "content", "assessments", "delivery", "scoring", "rating"}
    ),
    # Reporting reads what every scoring-side domain produced; none of them imports it.
    "reporting": frozenset(
        {
            "core",
            "audit",
            "auth",
            "content",
            "assessments",
            "delivery",
            "scoring",
            "rating",
            "integrity",
            "psychometrics",
        }
    ),
    # Integrations (LTI, webhooks, Caliper, e-mail) hear domain events and call outward.
    "integrations": frozenset(
        {"core", "audit", "auth", "content", "assessments", "delivery", "scoring"}
    ),
    "web": frozenset(
        {
            "core",
            "audit",
            "auth",
            "content",
            "assessments",
            "delivery",
            "scoring",
            "rating",
            "integrity",
            "psychometrics",
            "autoscore",
            "reporting",
            "integrations",
        }
    ),
}

#: Where the application is put together; they may import every domain, and no domain
#: imports them.
COMPOSITION_ROOTS = frozenset({"__main__", "main", "api", "worker", "cli", "models", "demo"})

#: Single exceptions to DOMAIN_IMPORTS, each with its reason.
EDGE_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("waa_ads.audit.router", "auth"): "the audit API authorizes its callers at the HTTP edge",
}

#: Modules with no I/O: plain values in, plain values out, tested without fixtures.
PURE_MODULES = (
    "waa_ads.core.yamlmarks",
    "waa_ads.audit.chain",
    "waa_ads.assessments.definition",
    "waa_ads.assessments.assembly",
    "waa_ads.delivery.state_machine",
    "waa_ads.delivery.timers",
    "waa_ads.scoring.policy",
    "waa_ads.scoring.engine",
    "waa_ads.scoring.vectorized",
    "waa_ads.rating.agreement",
    "waa_ads.rating.rules",
    "waa_ads.integrity.rules",
    "waa_ads.integrity.signals",
    "waa_ads.integrity.similarity",
    "waa_ads.integrity.simulate",
    "waa_ads.integrity.similarity_csv",
    "waa_ads.integrity.frames",
    "waa_ads.psychometrics.errors",
    "waa_ads.psychometrics.classical",
    "waa_ads.psychometrics.irt",
    "waa_ads.psychometrics.csvio",
    "waa_ads.psychometrics.datasets",
    "waa_ads.psychometrics.dif",
    "waa_ads.reporting.figures",
    "waa_ads.reporting.cohort",
    "waa_ads.integrations.events",
    "waa_ads.integrations.signing",
    "waa_ads.integrations.lti_claims",
    "waa_ads.integrations.caliper",
    "waa_ads.psychometrics.linking",
    "waa_ads.assessments.adaptive",
    "waa_ads.autoscore.errors",
    "waa_ads.autoscore.metrics",
    "waa_ads.autoscore.features",
    "waa_ads.autoscore.model",
    # Reads a sentence-embedding model's files from a local folder, as model.py reads a
    # trained model's; never the database or the network.
    "waa_ads.autoscore.embeddings",
    "waa_ads.autoscore.gate",
    "waa_ads.autoscore.synthetic",
    "waa_ads.autoscore.csvio",
)
#: Packages all of whose modules are pure.
PURE_PACKAGES = (
    "waa_ads.content.item",
    "waa_ads.content.interchange",
    "waa_ads.content.render",
    "waa_ads.content.media",
    "waa_ads.content.rubrics",
)
#: What a pure module may import from the project besides other pure modules: the error
#: classes it raises, and the message catalogue its sentences are looked up in (it reads
#: the package's own catalogue files once, never the database or the network).
#: The settings are read for where a local model folder is configured (the environment only).
PURE_MAY_IMPORT = frozenset({"waa_ads.core.errors", "waa_ads.core.i18n", "waa_ads.core.settings"})
#: Libraries that do I/O or own a request, a session or a task; pure modules import none.
IO_LIBRARIES = frozenset(
    {
        "sqlalchemy",
        "fastapi",
        "starlette",
        "celery",
        "redis",
        "redbeat",
        "asyncpg",
        "aiosqlite",
        "httpx",
        "boto3",
        "aiobotocore",
        "structlog",
        "socket",
        "subprocess",
        "asyncio",
    }
)

#: The bank's sub-packages and which of them each may import: only downward.
CONTENT_SUBPACKAGES: dict[str, frozenset[str]] = {
    "item": frozenset(),
    "rubrics": frozenset(),
    "render": frozenset({"item"}),
    "media": frozenset({"render"}),
    "interchange": frozenset({"item", "render", "media"}),
}

#: The only modules that commit a transaction: the request's session dependency and the
#: unit-of-work helper that tasks and scripts use.
COMMITTERS = frozenset({"waa_ads.core.db"})


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (for ``from a import b``: ``a.b`` when b is a module)
    line: int


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


@cache
def _tree(module: str) -> ast.Module:
    return ast.parse(_modules()[module].read_text(encoding="utf-8"))


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module if _modules()[module].name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _imports(module: str) -> list[Import]:
    found: list[Import] = []
    modules = _modules()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append(
                    Import(module, candidate if candidate in modules else base, node.lineno)
                )
    return found


def _all_imports() -> list[Import]:
    return [imp for module in _modules() for imp in _imports(module)]


def _domain(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _is_pure(module: str) -> bool:
    return module in PURE_MODULES or any(
        module == package or module.startswith(package + ".") for package in PURE_PACKAGES
    )


def _where(imp: Import) -> str:
    return f"{_modules()[imp.module].relative_to(SRC.parent)}:{imp.line} imports {imp.target}"


def test_every_module_belongs_to_a_known_domain_or_root() -> None:
    unknown = {
        _domain(m)
        for m in _modules()
        if _domain(m) not in DOMAIN_IMPORTS and _domain(m) not in COMPOSITION_ROOTS
    } - {None}
    assert not unknown, (
        f"new top-level packages {sorted(d for d in unknown if d)}: add them to "
        "docs/architecture.md and to DOMAIN_IMPORTS or COMPOSITION_ROOTS here"
    )


def test_domains_import_only_the_domains_below_them() -> None:
    broken = []
    for imp in _all_imports():
        source, target = _domain(imp.module), _domain(imp.target)
        if not imp.target.startswith("waa_ads.") or source == target:
            continue
        if source in COMPOSITION_ROOTS:
            continue
        if target in COMPOSITION_ROOTS:
            broken.append(_where(imp) + " (a composition root)")
            continue
        assert source is not None and target is not None
        if target in DOMAIN_IMPORTS[source] or (imp.module, target) in EDGE_EXCEPTIONS:
            continue
        broken.append(_where(imp))
    assert not broken, "imports against the domain order:\n" + "\n".join(broken)


def test_delivery_never_imports_scoring() -> None:
    # Spelled out because it is the rule most tempting to break: an ended attempt reaches
    # scoring through the named task "scoring.score_attempt", not through an import.
    assert "scoring" not in DOMAIN_IMPORTS["delivery"]


def test_pure_modules_do_no_io_and_import_only_pure_modules() -> None:
    pure = [m for m in _modules() if _is_pure(m)]
    assert len(pure) >= len(PURE_MODULES), "a listed pure module does not exist"
    for listed in PURE_MODULES:
        assert listed in _modules(), f"{listed} is listed as pure but does not exist"
    broken = []
    for module in pure:
        for imp in _imports(module):
            root = imp.target.split(".")[0]
            if root in IO_LIBRARIES:
                broken.append(_where(imp) + " (I/O)")
            elif root == "waa_ads" and not (_is_pure(imp.target) or imp.target in PURE_MAY_IMPORT):
                broken.append(_where(imp) + " (not pure)")
    assert not broken, "pure modules that reach for I/O:\n" + "\n".join(broken)


def test_content_subpackages_import_only_downward() -> None:
    broken = []
    for imp in _all_imports():
        parts, target = imp.module.split("."), imp.target.split(".")
        if parts[:2] != ["waa_ads", "content"] or len(parts) < 4:
            continue  # only modules inside a sub-package are bound by this rule
        own = parts[2]
        if own not in CONTENT_SUBPACKAGES or target[:2] != ["waa_ads", "content"]:
            continue
        other = target[2] if len(target) > 2 else None
        if other == own or other in CONTENT_SUBPACKAGES[own]:
            continue
        broken.append(_where(imp))
    assert not broken, "content sub-package imports against the order:\n" + "\n".join(broken)


def test_only_the_unit_of_work_commits() -> None:
    broken = []
    for module in _modules():
        if module in COMMITTERS:
            continue
        for node in ast.walk(_tree(module)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "commit"
            ):
                broken.append(f"{_modules()[module].relative_to(SRC.parent)}:{node.lineno}")
    assert not broken, "services and routers only flush; commits found at:\n" + "\n".join(broken)


def test_routers_hold_no_queries() -> None:
    broken = []
    for module in _modules():
        if not module.endswith(".router"):
            continue
        for imp in _imports(module):
            if imp.target.split(".")[0] == "sqlalchemy":
                broken.append(_where(imp))
        for node in ast.walk(_tree(module)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"execute", "scalar", "scalars", "get"}
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "session"
            ):
                where = _modules()[module].relative_to(SRC.parent)
                broken.append(f"{where}:{node.lineno} session.{node.func.attr}()")
    assert not broken, "routers call one service function instead of querying:\n" + "\n".join(
        broken
    )


@pytest.mark.parametrize(
    "package", sorted({m for m in _modules() if _modules()[m].name == "__init__.py"})
)
def test_every_package_says_what_it_owns(package: str) -> None:
    docstring = ast.get_docstring(_tree(package))
    assert docstring and len(docstring.split()) >= 5, f"{package}/__init__.py has no docstring"


def test_the_rules_catch_a_violation(tmp_path: Path) -> None:
    """The checker itself: an import against the order is seen, even inside a function."""
    tree = ast.parse("def f():\n    from waa_ads.scoring import service\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert node.module == "waa_ads.scoring"
    imp = Import("waa_ads.delivery.service", "waa_ads.scoring.service", node.lineno)
    assert _domain(imp.target) not in DOMAIN_IMPORTS[_domain(imp.module) or ""]
    assert not _is_pure("waa_ads.content.service")
    assert _is_pure("waa_ads.content.item.definition")
