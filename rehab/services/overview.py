"""Everything the patient page shows, gathered in a fixed number of queries whatever the number of visits.

The page reads only what it shows: the visits the advice needs (its 28-day window), the newest few for the
table, and the measure columns of all visits (plain tuples, not objects) for the change since baseline. The
full list is on the visits page; the chart is an image of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from rehab.models import Alert, Patient, Protocol, Visit
from rehab.services import patients as patient_service
from rehab.services import protocol_records, visits
from rehab.services.charts import ChartPoint
from rehab.services.portal import home_log_reports
from rehab.services.progress import MeasureChange, summarize_progress
from rehab.services.protocols import ProtocolContent

MEASURE_FIELDS = ("pain_before", "pain_worst", "backward_walk_3m_s", "tug_s", "gait_speed_ms", "six_minute_walk_m")
LATEST_VISITS_SHOWN = 10


@dataclass(frozen=True)
class PatientOverview:
    history: list[patient_service.HistoryEntry]
    protocols: list[Protocol]
    active: Protocol | None
    content: ProtocolContent | None
    latest_visits: list[Visit]  # newest first, at most LATEST_VISITS_SHOWN
    visit_count: int
    advice: visits.AdviceContext | None
    alerts: list[Alert]
    progress: list[MeasureChange]


def patient_overview(session: Session, *, patient: Patient, now: datetime, speed_unit: str) -> PatientOverview:
    history = patient_service.patient_history(session, patient_id=patient.id, limit=20)  # type: ignore[arg-type]
    protocols = protocol_records.protocols_of(session, patient_id=patient.id)  # type: ignore[arg-type]
    active = next((protocol for protocol in protocols if protocol.status == "active"), None)
    latest = visits.latest_visits(session, patient_id=patient.id, limit=LATEST_VISITS_SHOWN)  # type: ignore[arg-type]
    advice = content = None
    if active is not None:
        window = visits.recent_visits(session, patient_id=patient.id, since=now - visits.ADVICE_WINDOW)  # type: ignore[arg-type]
        home = home_log_reports(session, patient_id=patient.id, protocol_id=active.id, now=now)  # type: ignore[arg-type]
        advice = visits.advice_for(session, protocol=active, visits=window, now=now, speed_unit=speed_unit,
                                   extra_sessions=home)
        content = advice.content
    alerts = [alert for alert, _ in visits.open_alerts(session, clinic_id=patient.clinic_id, patient_id=patient.id)]
    measures = measure_rows(session, patient_id=patient.id)  # type: ignore[arg-type]
    progress = summarize_progress(measures)
    return PatientOverview(history, protocols, active, content, latest, len(measures), advice, alerts, progress)


def measure_rows(session: Session, *, patient_id: int) -> list[tuple[datetime, dict[str, float | None]]]:
    """Every visit's outcome measures in time order, as (when, {measure: value}), read as plain rows."""
    columns = [getattr(Visit, name) for name in MEASURE_FIELDS]
    rows = session.exec(select(Visit.occurred_at, *columns)  # type: ignore[call-overload]
                        .where(Visit.patient_id == patient_id, col(Visit.deleted_at).is_(None))
                        .order_by(col(Visit.occurred_at), col(Visit.id)))
    return [(row[0], dict(zip(MEASURE_FIELDS, row[1:], strict=True))) for row in rows]


def chart_points(patient_visits: list[Visit]) -> list[ChartPoint]:
    return [ChartPoint(visit.occurred_at, visit.pain_before, visit.pain_worst, visit.pain_after, visit.minutes)
            for visit in patient_visits]
