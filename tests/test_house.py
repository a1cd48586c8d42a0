"""The shape of the code base a newcomer relies on: no import cycle and no oversized module
(tests/test_transactions.py holds views and services to one commit per request).

These read the source (ast), so they fail the moment a change breaks the rule, naming the modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rehab"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """Every module of the app (migrations aside: Alembic loads them itself), by dotted name."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The app's modules that ``name`` imports when it is loaded (module level, not inside functions).

    ``from package import submodule`` counts as importing the submodule only: Python loads the package's
    ``__init__`` first either way, and counting it would flag every blueprint package (``__init__`` imports
    its route modules, which import the blueprint from a module of their own)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    imported: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules.keys()
            if submodules:
                imported.update(submodules)
            if len(submodules) < len(node.names):
                imported.add(base)
    return {other for other in imported if other in modules and other != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_module_of_the_app_imports_itself_back_through_others():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    """The check above can fail: a made-up graph with a loop of three is reported, a chain is not."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_module_is_over_four_hundred_lines():
    oversized = {name: n for name, path in _modules().items()
                 if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert oversized == {}


PORTAL = ("rehab.views.portal", "rehab.views.sharing", "rehab.patient_links", "rehab.services.portal_links",
          "rehab.services.home_logs", "rehab.services.patient_text", "rehab.services.tokens")


@pytest.mark.parametrize("module", sorted(name for name in _modules()
                                          if any(name == m or name.startswith(m + ".") for m in PORTAL)))
def test_each_portal_module_imports_alone(module):
    """A module that works only after another was imported first breaks a script, a test or gunicorn's config
    that imports it on its own: each portal module is imported alone in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
