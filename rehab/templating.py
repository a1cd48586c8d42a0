"""Jinja filters shared by pages."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, g


def init_app(app: Flask) -> None:
    app.add_template_filter(clinic_time)


def clinic_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time in the current clinic's time zone."""
    if value is None:
        return ""
    clinic = g.get("clinic")
    try:
        zone = ZoneInfo(clinic.timezone) if clinic is not None else UTC
    except ZoneInfoNotFoundError:
        zone = UTC
    return value.astimezone(zone).strftime(fmt)
