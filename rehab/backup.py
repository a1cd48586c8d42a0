"""Backups that are safe while the app is running (SECURITY.md 26).

SQLite: the online backup API copies a consistent snapshot page by page while writers carry on; a file copy
of a live WAL database can miss committed pages. PostgreSQL: ``pg_dump`` in its custom format.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess  # noqa: S404 (pg_dump and pg_restore, with argument lists, never a shell)
from pathlib import Path

from sqlalchemy.engine import make_url


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError("An in-memory database cannot be backed up.")
    return Path(database)


def integrity_problems(path: Path) -> list[str]:
    """SQLite's own check of a database file: an empty list when the file is sound."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        rows = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else rows


def _private_file(target: Path) -> None:
    """Create ``target`` readable by this user only before anything is written to it (a backup is the whole
    patient record); an existing file is made so too, since the backup replaces its content."""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)


def backup(url: str, target: Path) -> None:
    """Write a consistent backup of the database at ``url`` to ``target``."""
    _private_file(target)
    if url.startswith("sqlite"):
        source = sqlite3.connect(_sqlite_path(url))
        destination = sqlite3.connect(target)
        try:
            with destination:
                # One step, one snapshot. SQLite restarts a backup from the first page whenever another
                # connection writes between two steps, so a copy made in steps may never finish while the app
                # writes; in WAL mode this read holds no writer up.
                source.backup(destination, pages=-1)
        finally:
            destination.close()
            source.close()
        problems = integrity_problems(target)
        if problems:
            raise RuntimeError(f"The backup failed its integrity check: {problems[:3]}")
        return
    _run_pg("pg_dump", "--format=custom", "--no-owner", f"--file={target}", _pg_url(url))


def restore(url: str, source_file: Path) -> None:
    """Replace the database at ``url`` with a backup. Stop the app first."""
    if url.startswith("sqlite"):
        problems = integrity_problems(source_file)
        if problems:
            raise RuntimeError(f"The backup file failed its integrity check: {problems[:3]}")
        source = sqlite3.connect(source_file)
        destination = sqlite3.connect(_sqlite_path(url))
        try:
            with destination:
                source.backup(destination)
        finally:
            destination.close()
            source.close()
        return
    _run_pg("pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
            f"--dbname={_pg_url(url)}", str(source_file))


def _pg_url(url: str) -> str:
    """libpq understands postgresql://, not SQLAlchemy's postgresql+psycopg://."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run_pg(tool: str, *arguments: str) -> None:
    executable = shutil.which(tool)
    if executable is None:
        raise RuntimeError(f"{tool} is not installed (Debian package postgresql-client).")
    subprocess.run([executable, *arguments], check=True)  # noqa: S603 (fixed executable, argument list)
