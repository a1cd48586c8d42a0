"""The therapist's dashboard: today's visits, patients who need attention, recently seen.

A fixed number of queries whatever the size of the clinic, and no scan of its visits: "quiet" and "recently
seen" read ``Patient.last_session_at`` (kept by services/last_session.py) on the (clinic, last session) index."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from rehab.models import Alert, Patient, Protocol, Visit
from rehab.services.adherence import WeekAdherence
from rehab.services.adherence_records import clinic_this_week
from rehab.services.visits import open_alerts

INACTIVE_AFTER = timedelta(days=14)


@dataclass(frozen=True)
class InactivePatient:
    patient: Patient
    last_activity: datetime | None  # None: no session since the protocol started
    since: datetime


class TodayVisit(typing.Protocol):
    """A row of "today's visits": only what the list shows (a clinic may see hundreds of visits a day)."""

    occurred_at: datetime
    pain_worst: int
    minutes: float
    patient_id: int
    first_name: str
    last_name: str


@dataclass(frozen=True)
class Dashboard:
    today: list[TodayVisit]
    alerts: list[tuple[Alert, Patient]]
    inactive: list[InactivePatient]
    recent: list[tuple[Patient, datetime]]
    under_half: list[tuple[Patient, WeekAdherence]]  # this week so far, fewest done first


def local_day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """Midnight to midnight of a clinic's local day, as UTC instants."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, start + timedelta(days=1)


def build_dashboard(session: Session, *, clinic_id: int, zone: str, now: datetime, recent_limit: int = 10,
                    inactive_limit: int = 50) -> Dashboard:
    start, end = local_day_bounds(now.astimezone(ZoneInfo(zone)).date(), zone)
    # A row of these columns has them as attributes: it is a TodayVisit (SQLModel's select() is typed for at most
    # four columns, hence the ignore).
    today = typing.cast(list[TodayVisit], list(session.exec(
        select(Visit.occurred_at, Visit.pain_worst, Visit.minutes, Visit.patient_id, Patient.first_name,  # type: ignore[call-overload]  # see above
               Patient.last_name).join(Patient, Patient.id == Visit.patient_id)
        .where(Visit.clinic_id == clinic_id, col(Visit.deleted_at).is_(None), Visit.occurred_at >= start,
               Visit.occurred_at < end)
        .order_by(col(Visit.occurred_at))
    )))
    acknowledged = (select(Alert.patient_id, func.max(Alert.acknowledged_at).label("ack_at"))
                    .where(Alert.clinic_id == clinic_id, Alert.kind == "inactive")
                    .group_by(col(Alert.patient_id)).subquery())
    cutoff = now - INACTIVE_AFTER
    # Quiet since the last session, or since the protocol started for a patient who has had none.
    since = func.coalesce(Patient.last_session_at, Protocol.created_at)
    quiet = session.exec(
        select(Patient, Protocol.created_at, acknowledged.c.ack_at)
        .join(Protocol, (col(Protocol.patient_id) == Patient.id) & (col(Protocol.status) == "active"))
        .outerjoin(acknowledged, acknowledged.c.patient_id == Patient.id)
        .where(Patient.clinic_id == clinic_id, col(Patient.archived_at).is_(None), since < cutoff)
        .order_by(since)
        .limit(inactive_limit)
    ).all()
    inactive = [InactivePatient(patient, patient.last_session_at, patient.last_session_at or started)
                for patient, started, ack_at in quiet
                if ack_at is None or ack_at < (patient.last_session_at or started) or ack_at < cutoff]
    recent = [(patient, patient.last_session_at) for patient in session.exec(
        select(Patient)
        .where(Patient.clinic_id == clinic_id, col(Patient.archived_at).is_(None),
               col(Patient.last_session_at).is_not(None))
        .order_by(col(Patient.last_session_at).desc(), col(Patient.id).desc()).limit(recent_limit)
    ) if patient.last_session_at is not None]  # the query's own condition, restated for the type
    return Dashboard(today, open_alerts(session, clinic_id=clinic_id), inactive, recent,
                     under_half_this_week(session, clinic_id=clinic_id, zone=zone, now=now))


def under_half_this_week(session: Session, *, clinic_id: int, zone: str, now: datetime
                         ) -> list[tuple[Patient, WeekAdherence]]:
    """Patients who have done under half the sessions due so far this week (docs/clinical.md, "Adherence"),
    fewest done first: seven queries whatever the caseload."""
    behind = {patient_id: week for patient_id, week in clinic_this_week(session, clinic_id=clinic_id, zone=zone,
                                                                        now=now).items() if week.under_half}
    patients = session.exec(select(Patient).where(col(Patient.id).in_(behind)))
    rows = [(patient, behind[patient.id]) for patient in patients]
    return sorted(rows, key=lambda row: (row[1].counted / row[1].due, row[0].last_name, row[0].first_name))
