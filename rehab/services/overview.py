"""Everything the patient page shows, gathered in a fixed number of queries whatever the number of visits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from rehab.models import Alert, Patient, Protocol, Visit
from rehab.services import patients as patient_service
from rehab.services import protocol_records, visits
from rehab.services.charts import ChartPoint
from rehab.services.portal import home_log_reports
from rehab.services.progress import MeasureChange, summarize_progress
from rehab.services.protocols import ProtocolContent

MEASURE_FIELDS = ("pain_before", "pain_worst", "backward_walk_3m_s", "tug_s", "gait_speed_ms", "six_minute_walk_m")


@dataclass(frozen=True)
class PatientOverview:
    history: list[patient_service.HistoryEntry]
    protocols: list[Protocol]
    active: Protocol | None
    content: ProtocolContent | None
    visits: list[Visit]
    advice: visits.AdviceContext | None
    alerts: list[Alert]
    progress: list[MeasureChange]


def patient_overview(session: Session, *, patient: Patient, now: datetime, speed_unit: str) -> PatientOverview:
    history = patient_service.patient_history(session, patient_id=patient.id, limit=20)  # type: ignore[arg-type]
    protocols = protocol_records.protocols_of(session, patient_id=patient.id)  # type: ignore[arg-type]
    active = next((protocol for protocol in protocols if protocol.status == "active"), None)
    patient_visits = visits.visits_of(session, patient_id=patient.id)  # type: ignore[arg-type]
    advice = content = None
    if active is not None:
        home = home_log_reports(session, patient_id=patient.id, protocol_id=active.id, now=now)  # type: ignore[arg-type]
        advice = visits.advice_for(session, protocol=active, visits=patient_visits, now=now, speed_unit=speed_unit,
                                   extra_sessions=home)
        content = advice.content
    alerts = [alert for alert, _ in visits.open_alerts(session, clinic_id=patient.clinic_id, patient_id=patient.id)]
    progress = summarize_progress([(visit.occurred_at, {name: getattr(visit, name) for name in MEASURE_FIELDS})
                                   for visit in patient_visits])
    return PatientOverview(history, protocols, active, content, patient_visits, advice, alerts, progress)


def chart_points(patient_visits: list[Visit]) -> list[ChartPoint]:
    return [ChartPoint(visit.occurred_at, visit.pain_before, visit.pain_worst, visit.pain_after, visit.minutes)
            for visit in patient_visits]
