"""The portal's modules import in any order: no import cycle, and each imports alone in a fresh interpreter.

A cycle works only while the modules happen to be imported in one order; a new import elsewhere (a script, a
test, gunicorn's config) then fails with a half-initialised module. The check reads each module's top-level
imports (imports inside functions are deliberate deferrals). Importing ``pkg.sub`` imports ``pkg`` first, so
it counts as importing both; a package's route modules reading ``bp`` from their package is the blueprint
idiom (the package declares ``bp`` before it imports them) and is the one edge not counted.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PORTAL = ("rehab.views.portal", "rehab.views.sharing", "rehab.patient_links", "rehab.services.portal_links",
          "rehab.services.home_logs", "rehab.services.patient_text", "rehab.services.tokens")


def _modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "rehab").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The rehab modules ``name`` imports at its top level (with the packages those imports load)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names}
    edges = set()
    for target in targets:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        while target:  # importing a.b.c loads a.b and a first
            if target in MODULES and target != name and not name.startswith(target + "."):
                edges.add(target)
            target = target.rpartition(".")[0]
    return edges


def _cycles() -> list[set[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return groups


def _is_portal(name: str) -> bool:
    return any(name == module or name.startswith(module + ".") for module in PORTAL)


def test_no_portal_module_is_in_an_import_cycle():
    tangled = [sorted(group) for group in _cycles() if any(_is_portal(name) for name in group)]
    assert not tangled, f"these modules import each other: {tangled}"


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    """The check itself can fail: two modules importing each other are found."""
    (tmp_path / "a.py").write_text("from rehab.services import b\n")
    (tmp_path / "b.py").write_text("import rehab.services.a\n")
    monkeypatch.setitem(MODULES, "rehab.services.a", tmp_path / "a.py")
    monkeypatch.setitem(MODULES, "rehab.services.b", tmp_path / "b.py")
    assert {"rehab.services.a", "rehab.services.b"} in _cycles()


@pytest.mark.parametrize("module", sorted(name for name in MODULES if _is_portal(name)))
def test_each_portal_module_imports_alone(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
