"""An iCalendar (RFC 5545) file written by hand: the few properties a reminder calendar needs, done carefully.

Why by hand: the calendar holds plain events, and writing them is short, while a calendar library would be a new
dependency of every install for one page. The rules that break real files are all here: lines end in CRLF
(3.1), lines longer than 75 octets are folded with a space at the start of the next line, never inside a UTF-8
character (3.1), text values escape backslash, semicolon, comma and line breaks (3.3.11), times are UTC with
``Z`` (3.3.5, form #2) so no VTIMEZONE is needed, and all-day events are ``VALUE=DATE``. The tests parse the
result back with an independent parser (the ``icalendar`` package).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

CRLF = "\r\n"
_LINE_OCTETS = 75


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash first, then ``;`` ``,`` and every kind of line break."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """A content line folded into pieces of at most 75 octets, each continuation starting with one space."""
    pieces: list[str] = []
    current, size = "", 0
    limit = _LINE_OCTETS
    for char in line:
        octets = len(char.encode())
        if size + octets > limit:
            pieces.append(current)
            current, size = "", 0
            limit = _LINE_OCTETS - 1  # the leading space of a continuation line counts
        current += char
        size += octets
    pieces.append(current)
    return (CRLF + " ").join(pieces)


def utc_stamp(moment: datetime) -> str:
    """A DATE-TIME in UTC: ``20261203T170000Z`` (an aware time is converted; a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def day_stamp(day: date) -> str:
    return day.strftime("%Y%m%d")


def duration(length: timedelta) -> str:
    """A DURATION in whole minutes (``PT30M``), or ``PT0S``; negative ones lead with ``-``."""
    minutes = int(length.total_seconds() // 60)
    if minutes == 0:
        return "PT0S"
    return f"{'-' if minutes < 0 else ''}PT{abs(minutes)}M"


@dataclass(frozen=True)
class Event:
    """One VEVENT: timed (``start`` is an aware datetime, with ``length``) or all day (``start`` is a date).
    ``alarm`` adds a display alarm at the start, which calendars that honour a feed's alarms show."""

    uid: str
    start: datetime | date
    summary: str
    description: str = ""
    length: timedelta = timedelta(minutes=30)
    alarm: bool = True


@dataclass(frozen=True)
class Calendar:
    """A published calendar (METHOD:PUBLISH) that subscribed apps re-fetch every ``refresh``."""

    product: str  # PRODID: who wrote the file
    name: str  # the name a calendar app shows for it
    description: str
    zone: str  # the zone its events are meant in (X-WR-TIMEZONE: a display hint; the times are UTC)
    language: str
    refresh: timedelta = timedelta(hours=6)
    events: Sequence[Event] = field(default_factory=tuple)


def _event_lines(event: Event, stamp: str, language: str) -> Iterable[str]:
    yield "BEGIN:VEVENT"
    yield f"UID:{event.uid}"
    yield f"DTSTAMP:{stamp}"
    if isinstance(event.start, datetime):
        yield f"DTSTART:{utc_stamp(event.start)}"
        yield f"DTEND:{utc_stamp(event.start + event.length)}"
    else:
        yield f"DTSTART;VALUE=DATE:{day_stamp(event.start)}"
        yield f"DTEND;VALUE=DATE:{day_stamp(event.start + timedelta(days=1))}"
    yield f"SUMMARY;LANGUAGE={language}:{escape_text(event.summary)}"
    if event.description:
        yield f"DESCRIPTION;LANGUAGE={language}:{escape_text(event.description)}"
    yield "TRANSP:TRANSPARENT"  # a reminder, not time the patient is busy
    if event.alarm:
        yield "BEGIN:VALARM"
        yield "ACTION:DISPLAY"
        yield f"DESCRIPTION:{escape_text(event.summary)}"
        yield "TRIGGER:PT0S"
        yield "END:VALARM"
    yield "END:VEVENT"


def write(calendar: Calendar, *, now: datetime) -> str:
    """The calendar as iCalendar text: CRLF line ends, folded lines, every event with the same DTSTAMP."""
    stamp = utc_stamp(now.replace(second=0, microsecond=0))
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{calendar.product}", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{escape_text(calendar.name)}",
             f"NAME:{escape_text(calendar.name)}",
             f"X-WR-CALDESC:{escape_text(calendar.description)}",
             f"X-WR-TIMEZONE:{calendar.zone}",
             f"REFRESH-INTERVAL;VALUE=DURATION:{duration(calendar.refresh)}",  # RFC 7986
             f"X-PUBLISHED-TTL:{duration(calendar.refresh)}"]  # the same, as Outlook and older apps read it
    for event in calendar.events:
        lines.extend(_event_lines(event, stamp, calendar.language))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)
