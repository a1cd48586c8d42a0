"""Conventions shared by every table.

A table's ``id`` is declared ``id: int = Field(default=None, primary_key=True)``: the database assigns it when
the row is first flushed, and code only reads ids of rows it loaded or flushed, so the type says ``int`` rather
than making every caller prove the row was saved (``int | None`` would put a check or an ignore at each use).
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC (the storage convention)."""
    return datetime.now(UTC)
