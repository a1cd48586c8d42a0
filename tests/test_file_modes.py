"""Files that hold patient data or the secret key are readable by the app's own user only."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL, SECRET

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite files (PostgreSQL keeps its own)")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _run(script: str, tmp_path: Path) -> str:
    """In a fresh process started with the usual umask 022, as `make run` or a CLI command starts."""
    return subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", f"import os; os.umask(0o022)\n{script}"], cwd=ROOT, check=True, capture_output=True,
        text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120).stdout


def test_the_database_and_its_wal_are_created_private(tmp_path):
    database = tmp_path / "rehab.sqlite3"
    out = _run(f"""
import os, stat
from sqlalchemy import text
from rehab import create_app
from rehab.db import get_engine
from rehab.migrate import upgrade
app = create_app({{"TESTING": True, "SECRET_KEY": {SECRET!r}, "DATABASE_URL": "sqlite:///{database}"}})
with app.app_context():
    upgrade()
    with get_engine().connect() as connection:  # an open connection keeps the WAL and shared-memory files
        connection.execute(text("SELECT 1 FROM clinic"))
        for suffix in ("", "-wal", "-shm"):
            print(suffix or "db", oct(stat.S_IMODE(os.stat("{database}" + suffix).st_mode)))
""", tmp_path)
    assert out.split() == ["db", "0o600", "-wal", "0o600", "-shm", "0o600"]


def test_a_world_readable_database_and_secret_key_from_an_older_install_are_made_private(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(f"SECRET_KEY = {SECRET!r}\n")
    database = instance / "rehab.sqlite3"
    database.write_bytes(b"")
    for path in (instance / "config.py", database):
        path.chmod(0o644)
    _run(f"""
from rehab import create_app
create_app({{"TESTING": True, "DATABASE_URL": "sqlite:///{database}"}}, instance_path="{instance}")
""", tmp_path)
    assert mode(instance / "config.py") == 0o600 and mode(database) == 0o600


def test_a_backup_is_private_even_over_an_existing_file(tmp_path, app, runner):
    target = tmp_path / "backup.sqlite3"
    target.write_bytes(b"")
    target.chmod(0o644)
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert mode(target) == 0o600


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_writes_the_secret_key_file_private(tmp_path):
    subprocess.run(["sh", "-c", f"umask 022; make --no-print-directory -f {ROOT / 'Makefile'} instance/config.py"],  # noqa: S603, S607
                   cwd=tmp_path, check=True, capture_output=True, timeout=60)
    written = tmp_path / "instance" / "config.py"
    assert "SECRET_KEY = " in written.read_text() and mode(written) == 0o600
