"""Reading a clinic's audit trail: events filtered by patient name, date range, action, person and outcome, as
sentences ("Ana Ruiz recorded a visit for John Smith on 3 Dec 2026 at 10:42"), a page at a time or all of
them as CSV. Read-only: the trail is appended to, and its chain checked, in ``services/audit.py`` alone.

Sign-in attempts with an unknown email belong to no clinic and are never listed to any clinic's admins."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from rehab.dates import day_text, local, time_text
from rehab.models import AuditEvent, Patient, User
from rehab.services.audit_words import ActionWords, words_for
from rehab.services.patients import name_search

OUTCOMES = {"ok": "Done", "denied": "Refused", "failed": "Failed"}
# Characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class TrailFilters:
    patient: str = ""  # words of a patient's name or chart number
    action: str = ""  # an action code of the filter (``audit_words.filter_choices``)
    outcome: str = ""
    user_id: int | None = None
    since: date | None = None  # the clinic's days, both included
    until: date | None = None


@dataclass(frozen=True)
class TrailRow:
    event: AuditEvent
    actor: str
    patient: str
    target: str  # the account an account action was about
    words: ActionWords

    def sentence(self, zone: tzinfo) -> str:
        """The event as a sentence, with its day and time in the clinic's zone."""
        what = self.words.sentence.format(actor=self.actor, patient=self.patient or "a patient",
                                          target=self.target or "an account")
        return f"{what} on {day_text(self.event.at, 'en', zone)} at {time_text(self.event.at, 'en', zone)}"

    @property
    def outcome(self) -> str:
        return OUTCOMES.get(self.event.outcome, self.event.outcome.capitalize())


def _conditions(clinic_id: int, filters: TrailFilters, zone: tzinfo) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [col(AuditEvent.clinic_id) == clinic_id]
    if filters.action:  # the action and its refusals ("portal.open" and "portal.open.expired")
        conditions.append(or_(col(AuditEvent.action) == filters.action,
                              col(AuditEvent.action).startswith(filters.action + ".", autoescape=True)))
    if filters.outcome:
        conditions.append(col(AuditEvent.outcome) == filters.outcome)
    if filters.user_id:
        conditions.append(col(AuditEvent.user_id) == filters.user_id)
    if filters.patient.strip():
        matching = select(Patient.id).where(col(Patient.clinic_id) == clinic_id, *name_search(filters.patient))
        conditions.append(col(AuditEvent.patient_id).in_(matching))
    if filters.since:
        conditions.append(col(AuditEvent.at) >= _start_of(filters.since, zone))
    if filters.until:
        conditions.append(col(AuditEvent.at) < _start_of(filters.until + timedelta(days=1), zone))
    return conditions


def _start_of(day: date, zone: tzinfo) -> datetime:
    """When the clinic's day begins, in UTC as the trail stores times."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _rows(session: Session, clinic_id: int, conditions: list[ColumnElement[bool]]) -> Any:
    target = aliased(User)
    return (select(AuditEvent, User.name, Patient.first_name + " " + Patient.last_name, target.name)
            .outerjoin(User, col(User.id) == AuditEvent.user_id)
            .outerjoin(Patient, (col(Patient.id) == AuditEvent.patient_id) & (col(Patient.clinic_id) == clinic_id))
            .outerjoin(target, (col(target.id) == AuditEvent.object_id) & (col(AuditEvent.object_type) == "user"))
            .where(*conditions))


def _row(event: AuditEvent, user_name: str | None, patient_name: str | None, target_name: str | None) -> TrailRow:
    if user_name:
        actor = user_name
    elif event.action.startswith("portal"):
        actor = "The patient"
    elif event.action.startswith("fhir"):
        actor = "A records system"
    else:
        actor = "Someone"
    return TrailRow(event, actor, patient_name or "", target_name or "", words_for(event.action))


def search(session: Session, *, clinic_id: int, filters: TrailFilters, zone: tzinfo, page: int = 1,
           per_page: int = 50) -> tuple[list[TrailRow], int]:
    """A page of the clinic's events, newest first, and how many match."""
    conditions = _conditions(clinic_id, filters, zone)
    total = session.exec(select(func.count()).select_from(AuditEvent).where(*conditions)).one()
    statement = _rows(session, clinic_id, conditions).order_by(col(AuditEvent.id).desc())
    rows = session.exec(statement.offset((page - 1) * per_page).limit(per_page)).all()
    return [_row(*row) for row in rows], total


def every_row(session: Session, *, clinic_id: int, filters: TrailFilters, zone: tzinfo,
              batch: int = 1000) -> Iterator[TrailRow]:
    """Every matching event, newest first, read a batch at a time (an export of years stays small in memory)."""
    conditions = _conditions(clinic_id, filters, zone)
    before: int | None = None
    while True:
        statement = _rows(session, clinic_id, conditions + ([col(AuditEvent.id) < before] if before else []))
        rows = session.exec(statement.order_by(col(AuditEvent.id).desc()).limit(batch)).all()
        if not rows:
            return
        yield from (_row(*row) for row in rows)
        before = rows[-1][0].id


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


CSV_HEADER = ("Event", "When", "Who", "Action", "Patient", "What happened", "Outcome")


def csv_lines(rows: Iterable[TrailRow], zone: tzinfo) -> Iterator[str]:
    """The rows as CSV, a line at a time: the time as ISO in the clinic's zone (sortable), the rest in words."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for values in ([CSV_HEADER], ([row.event.id, local(row.event.at, zone).isoformat(timespec="seconds"),
                                   row.actor, row.words.label, row.patient, row.sentence(zone), row.outcome]
                                  for row in rows)):
        for line in values:
            writer.writerow([safe_cell(value) for value in line])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
