"""The sheet PDFs already rendered, on disk and shared by every worker process (and, later, render workers).

A key is a snapshot's digest, so the same sheet is rendered once however often it is downloaded; a sheet
with a patient's link is kept under a key that includes the link, so one patient's link never appears on
another print."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import current_app

from rehab.printing.snapshot import snapshot_digest


def _location() -> Path:
    """``SHEET_CACHE_DIR``, else ``sheet-cache`` in the instance folder."""
    return Path(current_app.config.get("SHEET_CACHE_DIR") or Path(current_app.instance_path) / "sheet-cache")


def folder() -> Path:
    """The cache's folder, made when missing (for writing: a read of a missing folder finds nothing)."""
    path = _location()
    path.mkdir(parents=True, exist_ok=True)
    return path


def key(digest: str, portal_url: str | None) -> str:
    """The cache key of a sheet's snapshot digest as printed with (or without) the patient's link."""
    return digest if portal_url is None else snapshot_digest({"digest": digest, "portal_url": portal_url})


def read(cache_key: str) -> bytes | None:
    """The cached PDF, or None. Opened at once (no look before, no folder made): every cached download
    reads one file."""
    try:
        return (_location() / f"{cache_key}.pdf").read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def write(cache_key: str, pdf: bytes) -> None:
    """Keep ``pdf`` under ``cache_key``: a temporary file of its own, then renamed (atomic).

    A concurrent reader sees the whole file or none, and two workers rendering the same sheet at once (a
    double click) each rename their own file; with one shared temporary name, the second rename found it
    gone and that download failed."""
    target = folder() / f"{cache_key}.pdf"
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f"{cache_key[:8]}.", suffix=".tmp",
                                     delete=False) as out:
        out.write(pdf)
    Path(out.name).replace(target)


def has(cache_key: str) -> bool:
    """Whether ``cache_key`` is rendered (a waiting page asks this twice a second: no bytes are read)."""
    return (_location() / f"{cache_key}.pdf").is_file()
