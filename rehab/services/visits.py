"""Visits in the database and the alerts they raise (the advice they lead to: ``advice.inputs``).

Services add and flush; the view commits once. Visit edits keep their history in EditRecord and deletion is
soft, with a reason, so no clinical record disappears.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from pydantic import field_validator
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from rehab.dates import moment_text
from rehab.models import Alert, EditRecord, Patient, Protocol, Visit
from rehab.models.visits import VisitBase
from rehab.services.advice.alerts import alerts_for
from rehab.services.advice.types import SessionReport
from rehab.services.catalogue import known_exercise
from rehab.services.edits import StaleEdit, apply_changes, claim_version
from rehab.services.last_session import note_session, refresh_last_session
from rehab.services.shapes import recorded_moment
from rehab.vocabulary import RedFlag


class VisitInput(VisitBase):
    """One visit as the therapist records it: the table's fields and limits (``VisitBase``) and the rules of
    input. Speeds arrive in km/h (the view converts mph)."""

    # The out-of-range message of each number, filled with the field's limits (services.shapes.range_messages).
    RANGE_WORDS: ClassVar[dict[str, str]] = {
        "pain_before": "pain from {ge} to {le}",
        "pain_worst": "pain from {ge} to {le}",
        "pain_after": "pain from {ge} to {le}",
        "pain_next_morning": "pain from {ge} to {le}",
        "minutes": "minutes between {ge} and {le}",
        "speed_kmh": "a speed between {ge} and {le} km/h ({ge_mph} to {le_mph} mph)",
        "incline_pct": "an incline between {ge} and {le} %",
        "stumbles": "a number of stumbles from {ge} to {le}",
        "falls": "a number of falls from {ge} to {le}",
        "backward_walk_3m_s": "{ge} to {le} seconds",
        "tug_s": "{ge} to {le} seconds",
        "gait_speed_ms": "{ge} to {le} m/s",
        "six_minute_walk_m": "{ge} to {le} metres",
        "knee_flexion_deg": "{ge} to {le} degrees",
        "knee_extension_deg": "{ge} to {le} degrees",
    }
    CHECKBOXES: ClassVar[tuple[str, ...]] = tuple(RedFlag)

    @field_validator("occurred_at")
    @classmethod
    def _not_in_future(cls, value: datetime) -> datetime:
        return recorded_moment(value, "visit")

    @field_validator("exercise")
    @classmethod
    def _known_exercise(cls, value: str) -> str:
        return known_exercise(value)


def protocol_started_at(protocol: Protocol) -> datetime:
    """When a protocol began, floored to the minute visit times are entered in (a visit typed for the minute
    the protocol was saved in belongs to it)."""
    return protocol.created_at.replace(second=0, microsecond=0)


def before_protocol_start(protocol: Protocol, occurred_at: datetime, *, zone: str) -> str | None:
    """Why a visit dated before its protocol began is refused, or None.

    Refused rather than kept against no protocol: its dose and pain would be judged against a protocol that was
    not yet in force, and the advice never counts it, so it would sit in the record counting for nothing. What a
    therapist means by it is nearly always a mistyped date; measures from before the protocol are the baseline
    fall-risk screen's."""
    started = protocol_started_at(protocol)
    if occurred_at >= started:
        return None
    local = moment_text(started, zone=zone)
    return (f"This visit is dated before the protocol started ({local}), so it cannot count against it. Check "
            "the date and time; measures from before the protocol go in a fall-risk screen.")


def visits_of(session: Session, *, patient_id: int, include_deleted: bool = False) -> list[Visit]:
    """A patient's visits in time order (one query, served by the (patient, time) index)."""
    statement = select(Visit).where(Visit.patient_id == patient_id)
    if not include_deleted:
        statement = statement.where(col(Visit.deleted_at).is_(None))
    return list(session.exec(statement.order_by(col(Visit.occurred_at), col(Visit.id))))


# The patient page's queries run on every view of it: built once, bound per request (building a statement
# costs about as much as running it on an index).
_PATIENT_VISITS = select(Visit).where(Visit.patient_id == bindparam("patient_id"), col(Visit.deleted_at).is_(None))
_NEWEST_VISITS = _PATIENT_VISITS.order_by(col(Visit.occurred_at).desc(), col(Visit.id).desc())


def latest_visits(session: Session, *, patient_id: int, limit: int | None) -> list[Visit]:
    """A patient's newest visits, newest first (the patient page shows a few; the visits page shows all)."""
    statement = _NEWEST_VISITS if limit is None else _NEWEST_VISITS.limit(limit)
    return list(session.exec(statement, params={"patient_id": patient_id}))


def previous_visit(session: Session, *, patient_id: int, before: datetime, excluding: int | None = None
                   ) -> Visit | None:
    """The patient's latest visit at or before a moment (the one a new visit is compared with for alerts);
    ``excluding`` leaves out the visit being corrected, which is at its own moment."""
    query = _NEWEST_VISITS.where(Visit.occurred_at <= bindparam("before"))
    if excluding is not None:
        query = query.where(Visit.id != excluding)
    return session.exec(query.limit(1), params={"patient_id": patient_id, "before": before}).first()


# A note up to this many characters shows whole in a table; a longer one shows its opening words, the rest
# one click away (a table row stays a row, and nothing of the note is hidden for good).
NOTE_SHOWN_WHOLE = 160


@dataclass(frozen=True)
class NoteText:
    """A free-text note as a table, a page or the report shows it: ``opening`` always, ``rest`` when long."""

    whole: str
    opening: str

    @property
    def is_long(self) -> bool:
        return self.opening != self.whole


def note_text(note: str, *, shown_whole: int = NOTE_SHOWN_WHOLE) -> NoteText:
    """The note, and its opening cut at a word (never mid-word) when it is longer than ``shown_whole``."""
    whole = note.strip()
    if len(whole) <= shown_whole:
        return NoteText(whole, whole)
    cut = whole[: shown_whole - 40]  # room for the "read the whole note" label beside it
    opening = cut.rsplit(None, 1)[0] if " " in cut.strip() else cut
    return NoteText(whole, opening.rstrip(" ,;:.-") + "…")


@dataclass(frozen=True)
class VisitNote:
    """One visit's note with when it was written and the phase it was recorded in (``phase_index`` from 0)."""

    visit_id: int
    occurred_at: datetime
    phase_index: int
    note: str


def notes_of(session: Session, *, patient_id: int, since: datetime | None = None,
             until: datetime | None = None) -> list[VisitNote]:
    """The notes of a patient's visits (deleted visits and empty notes left out), oldest first: the report's
    "Notes" section and anything else that lists what therapists wrote."""
    statement = select(Visit).where(Visit.patient_id == patient_id, col(Visit.deleted_at).is_(None), Visit.note != "")
    if since is not None:
        statement = statement.where(Visit.occurred_at >= since)
    if until is not None:
        statement = statement.where(Visit.occurred_at < until)
    return [VisitNote(visit.id, visit.occurred_at, visit.phase_index, visit.note.strip())
            for visit in session.exec(statement.order_by(col(Visit.occurred_at), col(Visit.id)))]


def get_visit(session: Session, *, patient_id: int, visit_id: int) -> Visit | None:
    return session.exec(select(Visit).where(Visit.id == visit_id, Visit.patient_id == patient_id)).first()


def report_of(visit: Visit) -> SessionReport:
    return SessionReport(
        at=visit.occurred_at, source="visit", pain_before=visit.pain_before, pain_worst=visit.pain_worst,
        pain_after=visit.pain_after, pain_next_morning=visit.pain_next_morning, soreness=visit.soreness,
        effusion=visit.effusion, stumbles=visit.stumbles, falls=visit.falls, minutes=visit.minutes,
        red_flags=tuple(name for name in RedFlag if getattr(visit, name)), recorded_at=visit.updated_at,
    )


def create_visit(session: Session, *, patient: Patient, protocol: Protocol, form: VisitInput, user_id: int,
                 now: datetime) -> Visit:
    visit = Visit(patient_id=patient.id, clinic_id=patient.clinic_id, protocol_id=protocol.id,
                  protocol_version=protocol.latest_version, phase_index=protocol.current_phase,
                  created_at=now, updated_at=now, created_by_id=user_id, **form.model_dump())
    session.add(visit)
    session.flush()
    note_session(session, patient_id=visit.patient_id, at=visit.occurred_at)
    return visit



def update_visit(session: Session, *, visit: Visit, form: VisitInput, seen_version: int, user_id: int,
                 now: datetime) -> dict[str, list[Any]]:
    """Apply an edit, keeping old and new values; raises StaleEdit when someone saved meanwhile."""
    if visit.version != seen_version:
        raise StaleEdit
    # A version claimed by someone else meanwhile undoes the changes applied to ``visit`` (and expires it).
    with session.begin_nested():
        changes = apply_changes(visit, form.model_dump())
        if changes:
            claim_version(session, visit, column="version", seen=seen_version)
            visit.updated_at = now
            session.add(visit)
            session.add(EditRecord(entity="visit", entity_id=visit.id, patient_id=visit.patient_id,
                                   user_id=user_id, at=now, changes=json.dumps(changes)))
            session.flush()
            if "occurred_at" in changes:  # only the visit's time can move the patient's last session
                refresh_last_session(session, patient_id=visit.patient_id)
    return changes


def delete_visit(session: Session, *, visit: Visit, reason: str, user_id: int, now: datetime) -> None:
    """Soft delete: the visit leaves lists, charts and advice but stays in the record with the reason."""
    visit.deleted_at, visit.deleted_by_id, visit.delete_reason = now, user_id, reason
    session.add(visit)
    session.add(EditRecord(entity="visit", entity_id=visit.id, patient_id=visit.patient_id, user_id=user_id,
                           at=now, changes=json.dumps({"deleted": [None, reason]})))
    session.flush()
    refresh_last_session(session, patient_id=visit.patient_id)


def visit_history(session: Session, *, visit_id: int) -> list[tuple[EditRecord, str]]:
    from rehab.models import User

    rows = session.exec(
        select(EditRecord, User.name).outerjoin(User, col(User.id) == col(EditRecord.user_id))
        .where(EditRecord.entity == "visit", EditRecord.entity_id == visit_id)
        .order_by(col(EditRecord.at).desc())
    )
    return [(record, name or "Unknown") for record, name in rows]


# --------------------------------------------------------------------------------------------------- alerts


def still_recordable(session: Session, *, protocol_id: int, version: int, phase_index: int) -> bool:
    """Checked once the visit's write transaction holds the lock: the patient is not archived and the protocol
    is still active at the version and phase the visit is recorded against. On PostgreSQL the protocol row is
    share-locked until commit, so it cannot change before the visit lands; SQLite's write lock does the same."""
    return session.execute(
        select(Protocol.id).join(Patient, Patient.id == Protocol.patient_id)  # type: ignore[arg-type]
        .where(Protocol.id == protocol_id, Protocol.status == "active", Protocol.latest_version == version,
               Protocol.current_phase == phase_index, col(Patient.archived_at).is_(None))
        .with_for_update(read=True, of=Protocol)
    ).first() is not None


def raise_alerts(session: Session, *, patient: Patient, visit: Visit, previous: Visit | None, ceiling: int,
                 now: datetime, just_recorded: bool = False) -> list[Alert]:
    """Alerts for the therapists' dashboard from a recorded or corrected visit.

    A correction that adds a red flag or a fall alerts as the visit would have when first recorded (the safety
    loop must not depend on getting the form right the first time); only kinds not already raised for this
    visit are added, so correcting a visit twice, or correcting something else, alerts nobody again. A visit
    ``just_recorded`` in this transaction has raised nothing yet: its alerts are not read."""
    raised = set(session.exec(select(Alert.kind).where(Alert.visit_id == visit.id))) \
        if visit.id and not just_recorded else set()
    alerts = [Alert(clinic_id=patient.clinic_id, patient_id=patient.id, kind=kind, message=message,
                    visit_id=visit.id, created_at=now)
              for kind, message in alerts_for(report_of(visit), report_of(previous) if previous else None,
                                              ceiling=ceiling) if kind not in raised]
    session.add_all(alerts)
    return alerts


_OPEN_ALERTS = (select(Alert, Patient).join(Patient, Patient.id == Alert.patient_id)  # type: ignore[arg-type]
                .where(Alert.clinic_id == bindparam("clinic_id"), col(Alert.acknowledged_at).is_(None)))
_OPEN_ALERTS_OF_CLINIC = _OPEN_ALERTS.order_by(col(Alert.created_at).desc()).limit(100)
_OPEN_ALERTS_OF_PATIENT = (_OPEN_ALERTS.where(Alert.patient_id == bindparam("patient_id"))
                           .order_by(col(Alert.created_at).desc()).limit(100))


def open_alerts(session: Session, *, clinic_id: int, patient_id: int | None = None) -> list[tuple[Alert, Patient]]:
    if patient_id is None:
        return list(session.exec(_OPEN_ALERTS_OF_CLINIC, params={"clinic_id": clinic_id}))
    return list(session.exec(_OPEN_ALERTS_OF_PATIENT, params={"clinic_id": clinic_id, "patient_id": patient_id}))


def acknowledge(session: Session, *, alert: Alert, user_id: int, now: datetime) -> None:
    alert.acknowledged_at, alert.acknowledged_by_id = now, user_id
    session.add(alert)
