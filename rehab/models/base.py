"""Conventions shared by every table."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC (the storage convention)."""
    return datetime.now(UTC)
