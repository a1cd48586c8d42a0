"""The therapist's dashboard: today's visits, patients who need attention, recently seen.

A fixed number of queries whatever the size of the clinic (grouped subqueries, no per-patient loop)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, union_all
from sqlmodel import Session, col, select

from rehab.models import Alert, HomeLog, Patient, Protocol, Visit
from rehab.services.visits import open_alerts

INACTIVE_AFTER = timedelta(days=14)


@dataclass(frozen=True)
class InactivePatient:
    patient: Patient
    last_activity: datetime | None  # None: no session since the protocol started
    since: datetime


@dataclass(frozen=True)
class Dashboard:
    today: list[tuple[Visit, Patient]]
    alerts: list[tuple[Alert, Patient]]
    inactive: list[InactivePatient]
    recent: list[tuple[Patient, datetime]]


def local_day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """Midnight to midnight of a clinic's local day, as UTC instants."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, start + timedelta(days=1)


def last_activity_subquery(clinic_id: int):  # type: ignore[no-untyped-def]
    """Latest session per patient of the clinic: a visit, or a home log (counted when the patient logged it)."""
    sessions = union_all(
        select(Visit.patient_id.label("patient_id"), Visit.occurred_at.label("at"))  # type: ignore[attr-defined]
        .where(Visit.clinic_id == clinic_id, col(Visit.deleted_at).is_(None)),
        select(HomeLog.patient_id.label("patient_id"), HomeLog.created_at.label("at"))  # type: ignore[attr-defined]
        .where(HomeLog.clinic_id == clinic_id),
    ).subquery()
    return (select(sessions.c.patient_id, func.max(sessions.c.at).label("last_at"))
            .group_by(sessions.c.patient_id).subquery())


def build_dashboard(session: Session, *, clinic_id: int, zone: str, now: datetime, recent_limit: int = 10,
                    inactive_limit: int = 50) -> Dashboard:
    start, end = local_day_bounds(now.astimezone(ZoneInfo(zone)).date(), zone)
    today = list(session.exec(
        select(Visit, Patient).join(Patient, Patient.id == Visit.patient_id)
        .where(Visit.clinic_id == clinic_id, col(Visit.deleted_at).is_(None), Visit.occurred_at >= start,
               Visit.occurred_at < end)
        .order_by(col(Visit.occurred_at))
    ))
    last = last_activity_subquery(clinic_id)
    acknowledged = (select(Alert.patient_id, func.max(Alert.acknowledged_at).label("ack_at"))
                    .where(Alert.clinic_id == clinic_id, Alert.kind == "inactive")
                    .group_by(Alert.patient_id).subquery())
    cutoff = now - INACTIVE_AFTER
    quiet = session.exec(
        select(Patient, Protocol.created_at, last.c.last_at, acknowledged.c.ack_at)
        .join(Protocol, (Protocol.patient_id == Patient.id) & (Protocol.status == "active"))
        .outerjoin(last, last.c.patient_id == Patient.id)
        .outerjoin(acknowledged, acknowledged.c.patient_id == Patient.id)
        .where(Patient.clinic_id == clinic_id, col(Patient.archived_at).is_(None),
               func.coalesce(last.c.last_at, Protocol.created_at) < cutoff)
        .order_by(func.coalesce(last.c.last_at, Protocol.created_at))
        .limit(inactive_limit)
    ).all()
    inactive = [InactivePatient(patient, last_at, last_at or started)
                for patient, started, last_at, ack_at in quiet
                if ack_at is None or ack_at < (last_at or started) or ack_at < cutoff]
    recent = [(patient, last_at) for patient, last_at in session.exec(
        select(Patient, last.c.last_at).join(last, last.c.patient_id == Patient.id)
        .where(col(Patient.archived_at).is_(None))
        .order_by(last.c.last_at.desc()).limit(recent_limit)
    )]
    return Dashboard(today, open_alerts(session, clinic_id=clinic_id), inactive, recent)
