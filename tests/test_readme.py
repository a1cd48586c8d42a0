"""The README is a newcomer's map: it must name what the code has. Each check fails with the line to add."""

from __future__ import annotations

import re
from pathlib import Path

from rehab.config import Defaults

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SETTING_ROW = re.compile(r"^\| `REHAB_([A-Z0-9_]+)` \| ([^|]*) \|", re.MULTILINE)


def _section(heading: str, level: str = "##") -> str:
    start = README.index(f"{level} {heading}\n")
    following = README.find("\n## ", start + 1)
    return README[start:following if following != -1 else None]


def _settings() -> dict[str, str]:
    """Setting name -> its Default cell, from every settings table."""
    return {name: cell.strip() for name, cell in SETTING_ROW.findall(README)}


def _default_names() -> set[str]:
    return {name for name in vars(Defaults) if name.isupper()}


def _environment_names() -> set[str]:
    """REHAB_* variables the code reads directly (gunicorn's settings, the production switch)."""
    names: set[str] = set()
    for path in (ROOT / "rehab").rglob("*.py"):
        names |= set(re.findall(r"""environ(?:\.get|\.setdefault)?\(?\[?["']REHAB_([A-Z0-9_]+)""", path.read_text()))
    return names


def test_every_setting_the_app_reads_is_in_the_readme_table():
    missing = sorted((_default_names() | _environment_names()) - set(_settings()))
    assert not missing, f"add a row to the README's settings table for: {', '.join('REHAB_' + m for m in missing)}"


def test_the_readme_table_names_no_setting_the_app_does_not_read():
    unknown = sorted(set(_settings()) - _default_names() - _environment_names())
    assert not unknown, f"the README lists settings the code does not read: {unknown}"


def test_the_readme_gives_each_numeric_and_on_off_settings_real_default():
    cells = _settings()
    for name in _default_names():
        value = getattr(Defaults, name)
        if isinstance(value, bool):
            assert cells[name] == f"`{str(value).lower()}`", f"README default of REHAB_{name}: `{str(value).lower()}`"
        elif isinstance(value, int):
            assert cells[name] == f"`{value}`", f"README default of REHAB_{name}: `{value}`"


def test_every_module_is_named_in_the_layout():
    layout = _section("Layout")
    package = ROOT / "rehab"
    modules = [path for path in package.rglob("*.py")
               if "migrations" not in path.parts and path.name != "__init__.py"
               and path.parent.name not in {"models"}]  # the tables are named by their area in the models line
    missing = sorted(str(path.relative_to(ROOT)) for path in modules
                     if not re.search(rf"\b{re.escape(path.name)}\b", layout))
    assert not missing, f"name these modules in the README's Layout, with what they hold: {missing}"
    tables = sorted(path.stem for path in (package / "models").glob("*.py") if path.name != "__init__.py")
    assert all(re.search(rf"\b{stem}\b", layout) for stem in tables), tables


def test_the_readme_lists_the_makefiles_system_packages():
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    listed = _section("System packages", level="###")
    for variable in ("RUN_PACKAGES", "TEST_PACKAGES", "CI_PACKAGES"):
        match = re.search(rf"^{variable} := (.+)$", makefile, re.MULTILINE)
        assert match, f"the Makefile has no {variable}"
        for package in match.group(1).split():
            assert f"`{package}`" in listed, f"the README's System packages note does not list {package}"
