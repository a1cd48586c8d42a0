"""The patient list's columns beyond the patient's own row: the current phase and the open alerts, for one page
of patients in two queries whatever its size (the row itself brings the last session and the therapist)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Subquery, bindparam, case, func
from sqlmodel import Session, col, select

from rehab.models import Alert, Protocol, ProtocolVersion
from rehab.services.protocol_content import ProtocolContent
from rehab.vocabulary import ALERT_URGENCY, AlertKind


@dataclass(frozen=True)
class CurrentPhase:
    number: int  # from 1
    of: int
    name: str


@dataclass(frozen=True)
class OpenAlerts:
    count: int
    most_urgent: AlertKind | None  # None: a kind the urgency list does not rank

    @property
    def stops_walking(self) -> bool:
        return self.most_urgent in (AlertKind.RED_FLAG, AlertKind.FALL)


@dataclass(frozen=True)
class CaseloadColumns:
    phases: dict[int, CurrentPhase]  # patient id -> the active protocol's phase; absent: no active protocol
    alerts: dict[int, OpenAlerts]  # patient id -> open alerts; absent: none


def alert_urgency() -> ColumnElement[int]:
    """SQL: an alert's rank in ``ALERT_URGENCY`` (0 most urgent; a kind not listed comes after them all)."""
    return case({kind.value: rank for rank, kind in enumerate(ALERT_URGENCY)}, value=col(Alert.kind),
                else_=len(ALERT_URGENCY))


def open_alert_summary(clinic_id: int) -> Subquery:
    """The clinic's open alerts per patient: (patient_id, count, urgency: the rank of the most urgent), one row a
    patient with any. A subquery, for the list's columns and for sorting it by alerts."""
    return (select(col(Alert.patient_id).label("patient_id"), func.count().label("count"),
                   func.min(alert_urgency()).label("urgency"))
            .where(Alert.clinic_id == clinic_id, col(Alert.acknowledged_at).is_(None))
            .group_by(col(Alert.patient_id)).subquery())


# Built once (building a statement costs more than running it here); the page's ids are bound per request.
_ACTIVE_PHASES = (
    select(Protocol.patient_id, Protocol.current_phase, ProtocolVersion.content)
    .join(ProtocolVersion, (col(ProtocolVersion.protocol_id) == Protocol.id)
          & (col(ProtocolVersion.number) == Protocol.latest_version))
    .where(Protocol.clinic_id == bindparam("clinic_id"), Protocol.status == "active",
           col(Protocol.patient_id).in_(bindparam("ids", expanding=True))))
_OPEN_ALERTS = (
    select(Alert.patient_id, func.count(), func.min(alert_urgency()))
    .where(Alert.clinic_id == bindparam("clinic_id"), col(Alert.acknowledged_at).is_(None),
           col(Alert.patient_id).in_(bindparam("ids", expanding=True))).group_by(col(Alert.patient_id)))


@lru_cache(maxsize=2048)
def phase_names(content: str) -> tuple[str, ...]:
    """The phase names of a version's stored content, validated as ``load_content`` does. Cached by the content
    itself (a version never changes, and the same text always names the same phases): a page of 25 patients
    parsed 25 protocols on every search."""
    return tuple(phase.name for phase in ProtocolContent.model_validate_json(content).phases)


def caseload_columns(session: Session, *, clinic_id: int, patient_ids: Collection[int]) -> CaseloadColumns:
    """The phase and open alerts of each listed patient (the ids of one page)."""
    params = {"clinic_id": clinic_id, "ids": sorted(patient_ids)}
    phases = {}
    for patient_id, index, content in session.exec(_ACTIVE_PHASES, params=params):
        names = phase_names(content)
        if index < len(names):
            phases[patient_id] = CurrentPhase(index + 1, len(names), names[index])
    alerts = {}
    for patient_id, count, urgency in session.exec(_OPEN_ALERTS, params=params):
        alerts[patient_id] = OpenAlerts(count, ALERT_URGENCY[urgency] if urgency < len(ALERT_URGENCY) else None)
    return CaseloadColumns(phases, alerts)


def days_since(moment: datetime, *, today: date, zone: str) -> int:
    """Whole days from a moment's day to today, both in the clinic's time zone (0: today)."""
    return (today - moment.astimezone(ZoneInfo(zone)).date()).days
