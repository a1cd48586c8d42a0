"""Dates and times in words, one format per language, wherever a person reads them: pages, the portal, the home
sheet, the physician report, and the messages services write ("3 Dec 2026" / "3 dic 2026"; with the time
"3 Dec 2026, 10:42"). Numeric forms such as 2026-12-03 read differently across countries (is 03/12 March or
December?), so a month in letters is the one that cannot be misread.

Flask-free: services call it with the language and the clinic's time zone they were given; templates go
through the filters of ``rehab/templating.py``, which pass the page's language and the current clinic's zone.
Machine-read dates (form values, ``datetime=`` attributes, CSV and FHIR) stay ISO.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_time

DAY_PATTERN = "d MMM y"  # 3 Dec 2026 · 3 dic 2026
TIME_PATTERN = "HH:mm"  # 24-hour in both languages: a clinic's schedule, never "am" misread as "pm"


def zone_of(name: str | None) -> tzinfo:
    """A time zone by its name; UTC for none or an unknown one (a clinic's setting is checked when saved)."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local(moment: datetime, zone: str | tzinfo | None) -> datetime:
    """A stored time (UTC; a naive one is UTC too, as SQLite returns them) in ``zone``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone if isinstance(zone, tzinfo) else zone_of(zone))


def day_text(value: date | datetime | str | None, language: str = "en", zone: str | tzinfo | None = None) -> str:
    """The day in words; a time is first moved to ``zone`` (its day there); ISO text (a kept snapshot) is read."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = local(value, zone).date()
    return _day_words(value, language)


# Babel looks up the locale and reads the pattern on every call (a tenth of the patient page's time, with its
# forty dates): each day and clock time is worded once per language and worker instead. Plain values in and out.
@lru_cache(maxsize=8192)
def _day_words(day: date, language: str) -> str:
    return format_date(day, DAY_PATTERN, locale=language)


@lru_cache(maxsize=4096)
def _clock_words(hour: int, minute: int, language: str) -> str:
    return format_time(time(hour, minute), TIME_PATTERN, locale=language)


def time_text(moment: datetime | None, language: str = "en", zone: str | tzinfo | None = None) -> str:
    """The clock time in ``zone``."""
    if moment is None:
        return ""
    there = local(moment, zone)
    return _clock_words(there.hour, there.minute, language)


def moment_text(moment: datetime | None, language: str = "en", zone: str | tzinfo | None = None) -> str:
    """The day and time in ``zone``: "3 Dec 2026, 10:42"."""
    if moment is None:
        return ""
    return f"{day_text(moment, language, zone)}, {time_text(moment, language, zone)}"
