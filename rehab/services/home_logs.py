"""The home sessions patients log through their link: the form's shape, saving, correcting, and the alerts.

A patient may correct an entry for 24 hours; the earlier answers are kept for the therapist. Messages meant for
patients are English msgids marked with ``N_`` and translated by the view, so this module stays Flask-free.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from rehab.dates import day_text
from rehab.models import Alert, EditRecord, HomeLog, Patient, Protocol
from rehab.models.portal import HomeLogBase
from rehab.services.advice.alerts import alerts_for
from rehab.services.advice.types import SessionReport
from rehab.services.edits import StaleEdit, apply_changes, claim_version
from rehab.services.last_session import note_session
from rehab.services.protocol_content import Phase
from rehab.translation import N_
from rehab.vocabulary import RedFlag, Soreness

EDIT_WINDOW = timedelta(hours=24)
LOG_DAYS_BACK = 30

FLAG_FIELDS = tuple(RedFlag)
# One plain message per field, whatever was wrong with it (the date has two, from its validator).
FIELD_MESSAGES: dict[str, str] = {
    "session_date": N_("Enter the date you walked."),
    "minutes": N_("Enter the minutes you walked backward: a number from 0.5 to 180."),
    "pain_worst": N_("Choose your worst pain: a number from 0 to 10."),
    "pain_next_morning": N_("Choose a number from 0 to 10, or choose “I don’t know yet”."),
    "soreness": N_("Choose one answer."),
    "stumbled": N_("Choose yes or no."),
    "fell": N_("Choose yes or no."),
    "note": N_("Your note is too long. Use 1000 letters or fewer."),
    **{name: N_("Choose yes or no.") for name in FLAG_FIELDS},
}


class HomeLogInput(HomeLogBase):
    """A home session as the patient logs it: the table's fields and limits (``HomeLogBase``) and the rules of
    input. Validate with ``validate_home_log`` (it passes today's date)."""

    # Asked as yes or no, never assumed: a fall must not be missed by an unticked box (the table defaults to no).
    stumbled: bool
    fell: bool

    @field_validator("session_date")
    @classmethod
    def _recent_past(cls, value: date, info: ValidationInfo) -> date:
        today = (info.context or {}).get("today") or datetime.now(UTC).date()
        if value > today:
            raise ValueError(N_("The date cannot be in the future."))
        if value < today - timedelta(days=LOG_DAYS_BACK):
            raise ValueError(N_("Choose a date in the last 30 days. Tell your therapist about older sessions."))
        return value


def home_log_data(form: Any) -> dict[str, Any]:
    """Plain data from a submitted form: empty means "not given", a decimal comma is accepted."""
    data: dict[str, Any] = {}
    for name in HomeLogInput.model_fields:
        if name in FLAG_FIELDS:
            data[name] = form.get(name) in ("1", "on", "yes")
            continue
        value = str(form.get(name, "")).strip()
        if name == "minutes":
            value = value.replace(",", ".")
        if value != "" or name == "note":
            data[name] = value
    return data


def validate_home_log(data: dict[str, Any], *, today: date) -> tuple[HomeLogInput | None, dict[str, str]]:
    """The shape, or None and one message (an English msgid) per field."""
    try:
        return HomeLogInput.model_validate(data, context={"today": today}), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "session_date"
            own = str((error.get("ctx") or {}).get("error", "")) if error["type"] == "value_error" else ""
            errors.setdefault(field, own or FIELD_MESSAGES.get(field, N_("Check this answer.")))
        return None, errors


def create_home_log(session: Session, *, patient: Patient, protocol: Protocol, form: HomeLogInput,
                    link_id: int | None, now: datetime) -> HomeLog:
    log = HomeLog(patient_id=patient.id, clinic_id=patient.clinic_id, protocol_id=protocol.id,
                  protocol_version=protocol.latest_version, phase_index=protocol.current_phase,
                  created_at=now, updated_at=now, link_id=link_id, **form.model_dump())
    session.add(log)
    session.flush()
    note_session(session, patient_id=log.patient_id, at=log.created_at)
    return log


class TooLate(Exception):
    """The entry is older than the 24 hours in which a patient may correct it."""


def can_correct(log: HomeLog, now: datetime) -> bool:
    return now - log.created_at < EDIT_WINDOW


def correct_home_log(session: Session, *, log: HomeLog, form: HomeLogInput, seen_version: int, now: datetime
                     ) -> dict[str, list[Any]]:
    """Apply the patient's correction, keeping old and new values in EditRecord (entity "home_log").

    Raises TooLate after 24 hours and StaleEdit when the entry changed since the form was opened."""
    if not can_correct(log, now):
        raise TooLate
    if log.version != seen_version:
        raise StaleEdit
    changes = apply_changes(log, form.model_dump())
    if changes:
        claim_version(session, log, column="version", seen=seen_version)
        log.updated_at = now
        session.add(log)
        session.add(EditRecord(entity="home_log", entity_id=log.id, patient_id=log.patient_id, user_id=None,
                               at=now, changes=json.dumps(changes)))
        session.flush()
        # No last-session upkeep: a log counts from when it was logged (created_at), which a correction keeps.
    return changes


# The patient page reads these on every view: built once, bound per request.
_HOME_LOGS = (select(HomeLog).where(HomeLog.patient_id == bindparam("patient_id"))
              .order_by(col(HomeLog.session_date).desc(), col(HomeLog.id).desc()))



def home_logs_of(session: Session, *, patient_id: int, limit: int | None = None) -> list[HomeLog]:
    """A patient's home logs, newest first."""
    return list(session.exec(_HOME_LOGS.limit(limit) if limit else _HOME_LOGS, params={"patient_id": patient_id}))


def get_home_log(session: Session, *, patient_id: int, log_id: int) -> HomeLog | None:
    """The log only if it is this patient's: another patient's id is simply not found."""
    return session.exec(select(HomeLog).where(HomeLog.id == log_id, HomeLog.patient_id == patient_id)).first()


def session_time(log: HomeLog) -> datetime:
    """When a home session happened, for ordering it among visits: the time it was logged when it was logged
    the same day, otherwise noon of its date (a patient gives a date, not a time)."""
    if log.created_at.date() <= log.session_date:
        return log.created_at
    return datetime.combine(log.session_date, time(12), tzinfo=UTC)


def report_of_log(log: HomeLog) -> SessionReport:
    return SessionReport(
        at=session_time(log), source="home", pain_worst=log.pain_worst, pain_next_morning=log.pain_next_morning,
        soreness=log.soreness, stumbles=int(log.stumbled), falls=int(log.fell), minutes=log.minutes,
        red_flags=tuple(name for name in FLAG_FIELDS if getattr(log, name)), recorded_at=log.updated_at,
        day=log.session_date,
    )


def home_ceiling(phase: Phase) -> int:
    """The pain ceiling for home sessions: the lowest of the phase's home exercises (of all, if none is at
    home), so an alert is never later than the strictest dose allows."""
    home = [rx.pain_ceiling for rx in phase.prescriptions if rx.setting != "clinic"]
    return min(home or [rx.pain_ceiling for rx in phase.prescriptions])


def raise_home_alerts(session: Session, *, log: HomeLog, previous: SessionReport | None, ceiling: int,
                      now: datetime) -> list[Alert]:
    """Dashboard alerts from a home log (red flag, fall, pain above the ceiling twice), with home_log_id set.

    After a correction only kinds not already raised for this log are added."""
    raised = set(session.exec(select(Alert.kind).where(Alert.home_log_id == log.id)))
    alerts = [Alert(clinic_id=log.clinic_id, patient_id=log.patient_id, kind=kind, home_log_id=log.id,
                    created_at=now, message=f"Home session {day_text(log.session_date)}: {message}"[:300])
              for kind, message in alerts_for(report_of_log(log), previous, ceiling=ceiling) if kind not in raised]
    session.add_all(alerts)
    session.flush()
    return alerts


def previous_report(reports: list[SessionReport], *, before: datetime) -> SessionReport | None:
    """The latest session strictly before a moment, from reports in any order."""
    earlier = [report for report in reports if report.at < before]
    return max(earlier, key=lambda report: report.at) if earlier else None


# ------------------------------------------------------------------------------ the next morning, asked later

# The next morning's pain is asked on the patient's next visit to their page, from the day after the session
# for a week; later, "this morning" says little about that session (expert opinion, docs/clinical.md).
MORNING_DAYS = 7
MORNING_MESSAGES: dict[str, str] = {
    "pain": N_("Choose your pain this morning: a number from 0 to 10."),
    "sore": N_("Choose yes or no."),
}


class MorningAnswer(BaseModel):
    """"How is your knee this morning?": the pain (0-10) and whether the knee is sore or stiff."""

    pain: int = Field(ge=0, le=10)
    sore: bool


def morning_pending(log: HomeLog | None, *, today: date) -> bool:
    """Whether to ask about the morning after ``log`` (the patient's latest home session) today."""
    return (log is not None and log.pain_next_morning is None
            and 1 <= (today - log.session_date).days <= MORNING_DAYS)


def awaiting_morning(session: Session, *, patient_id: int, today: date) -> HomeLog | None:
    """The latest home session when its next morning is still to be asked, else None."""
    latest = home_logs_of(session, patient_id=patient_id, limit=1)
    return latest[0] if latest and morning_pending(latest[0], today=today) else None


def validate_morning(form: Any) -> tuple[MorningAnswer | None, dict[str, str]]:
    data = {"pain": str(form.get("pain", "")).strip() or None,
            "sore": {"yes": True, "no": False}.get(str(form.get("sore", "")))}
    try:
        return MorningAnswer.model_validate(data), {}
    except ValidationError as exc:
        return None, {str(error["loc"][0]): MORNING_MESSAGES[str(error["loc"][0])] for error in exc.errors()}


def record_morning(session: Session, *, log: HomeLog, answer: MorningAnswer, now: datetime) -> dict[str, list[Any]]:
    """Keep the morning's pain on the session it follows, as the log form's own "pain the next morning" (the
    advice reads it there), with the change kept for the therapist. A sore knee that morning is the soreness
    rules' "sore more than an hour after, or the next day", unless the session's soreness already says worse."""
    values: dict[str, Any] = {"pain_next_morning": answer.pain}
    if answer.sore and log.soreness in (Soreness.NONE, Soreness.WARMUP_GONE):
        values["soreness"] = Soreness.LATE.value
    changes = apply_changes(log, values)
    claim_version(session, log, column="version", seen=log.version)
    log.updated_at = now
    session.add(log)
    session.add(EditRecord(entity="home_log", entity_id=log.id, patient_id=log.patient_id, user_id=None, at=now,
                           changes=json.dumps(changes)))
    session.flush()
    return changes


# ------------------------------------------------------------------------------------ the therapist's table

# What the patient changed in their entries, oldest first (EditRecord rows of entity "home_log").
CORRECTION_ENTITY = "home_log"
_CORRECTIONS = (select(EditRecord).where(EditRecord.patient_id == bindparam("patient_id"),
                                         EditRecord.entity == CORRECTION_ENTITY).order_by(col(EditRecord.at)))


@dataclass(frozen=True)
class HomeLogRow:
    """One home session as the therapist's table shows it, with each correction the patient made."""

    id: int
    session_date: date
    minutes: float
    pain_worst: int
    pain_next_morning: int | None
    soreness: str
    red_flags: bool
    fell: bool
    stumbled: bool
    note: str
    corrections: list[tuple[datetime, dict[str, list[Any]]]]  # (when, {field: [old, new]}), oldest first


@dataclass(frozen=True)
class HomeLogTable:
    rows: list[HomeLogRow]  # newest first
    more: bool  # the patient logged more than the rows shown


def home_log_table(session: Session, *, patient_id: int, limit: int | None = None,
                   corrections_read: list[EditRecord] | None = None, logs_read: list[HomeLog] | None = None
                   ) -> HomeLogTable:
    """The patient's home sessions for the therapist: the newest ``limit`` (all when None) and their
    corrections, in two queries (one when there is none). A caller that read them with other records passes
    them: the newest ``limit + 1`` logs as ``home_logs_of`` lists them (``logs_read``), the patient's
    corrections oldest first (``corrections_read``)."""
    logs = logs_read if logs_read is not None else home_logs_of(session, patient_id=patient_id,
                                                                limit=limit + 1 if limit else None)
    more = limit is not None and len(logs) > limit
    logs = logs[:limit] if limit else logs
    corrections: dict[int, list[tuple[datetime, dict[str, list[Any]]]]] = {}
    if logs:
        records = corrections_read if corrections_read is not None else session.exec(
            _CORRECTIONS, params={"patient_id": patient_id})
        for record in records:
            corrections.setdefault(record.entity_id, []).append((record.at, json.loads(record.changes)))
    rows = [HomeLogRow(id=log.id, session_date=log.session_date, minutes=log.minutes,
                       pain_worst=log.pain_worst, pain_next_morning=log.pain_next_morning, soreness=log.soreness,
                       red_flags=log.red_flags, fell=log.fell, stumbled=log.stumbled, note=log.note,
                       corrections=corrections.get(log.id, []))
            for log in logs]
    return HomeLogTable(rows, more)
