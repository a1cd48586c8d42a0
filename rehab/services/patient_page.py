"""Everything the patient page shows, gathered in a fixed number of queries whatever the number of visits.

The page reads only what it shows: the visits the advice needs (its 28-day window), the newest few for the
table with the number of visits, and each measure's first and last recording for the change since baseline.
The full list is on the visits page; the chart is an image of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, bindparam, cast, func, literal, union_all
from sqlmodel import Session, col, select

from rehab.models import Alert, Patient, Protocol, Visit
from rehab.services import patients as patient_service
from rehab.services import protocol_records, visits
from rehab.services.advice.card import AdviceCard, advice_card
from rehab.services.advice.decisions import ClearanceEntry, clearances_of, decision_history
from rehab.services.advice.inputs import advice_for
from rehab.services.baseline_change import MeasureChange, summarize_progress
from rehab.services.charts import ChartPoint
from rehab.services.home_logs import HomeLogTable, home_log_table
from rehab.services.portal_links import LinkCard, link_card
from rehab.services.protocol_content import ProtocolContent
from rehab.services.questionnaire_records import QuestionnaireSection, questionnaire_section

MEASURE_FIELDS = ("pain_before", "pain_worst", "backward_walk_3m_s", "tug_s", "gait_speed_ms", "six_minute_walk_m")
LATEST_VISITS_SHOWN = 10
HOME_LOGS_SHOWN = 10
DECISIONS_SHOWN = 5  # on the card; the visits page shows them all


@dataclass(frozen=True)
class PatientOverview:
    history: list[patient_service.HistoryEntry]
    protocols: list[Protocol]
    active: Protocol | None
    content: ProtocolContent | None
    latest_visits: list[Visit]  # newest first, at most LATEST_VISITS_SHOWN
    visit_count: int
    card: AdviceCard | None  # the advice card (none without an active protocol or before a first session)
    alerts: list[Alert]
    progress: list[MeasureChange]
    clearances: list[ClearanceEntry]
    share: LinkCard | None  # the patient's current personal link (none for an archived patient)
    home_logs: HomeLogTable  # the newest HOME_LOGS_SHOWN home sessions
    questionnaires: QuestionnaireSection


def patient_overview(session: Session, *, patient: Patient, now: datetime, speed_unit: str, user_id: int,
                     zone: str) -> PatientOverview:
    """``user_id`` is the viewer (the card offers an undo to the one who decided), ``zone`` the clinic's."""
    history = patient_service.patient_history(session, patient_id=patient.id, limit=20)
    protocols = protocol_records.protocols_of(session, patient_id=patient.id)
    active = next((protocol for protocol in protocols if protocol.status == "active"), None)
    latest, visit_count = latest_visits_counted(session, patient_id=patient.id)
    home_logs = home_log_table(session, patient_id=patient.id, limit=HOME_LOGS_SHOWN)
    card = content = None
    if active is not None:
        advice = advice_for(session, patient=patient, protocol=active, now=now, speed_unit=speed_unit)
        content = advice.content
        card = advice_card(protocol=active, context=advice, has_sessions=bool(visit_count or home_logs.rows),
                           history=decision_history(session, patient.id, limit=DECISIONS_SHOWN), user_id=user_id,
                           now=now, zone=zone)
    alerts = [alert for alert, _ in visits.open_alerts(session, clinic_id=patient.clinic_id, patient_id=patient.id)]
    measures = measure_rows(session, patient_id=patient.id)
    progress = summarize_progress(measures)
    clearances = clearances_of(session, patient_id=patient.id, limit=5)
    share = link_card(session, patient_id=patient.id, now=now) if patient.archived_at is None else None
    questionnaires = questionnaire_section(session, patient_id=patient.id)
    return PatientOverview(history, protocols, active, content, latest, visit_count, card, alerts, progress,
                           clearances, share, home_logs, questionnaires)


# A window count in the query for the newest visits would read every visit's whole row: a count is cheaper.
_VISIT_COUNT = select(func.count()).select_from(Visit).where(Visit.patient_id == bindparam("patient_id"),
                                                             col(Visit.deleted_at).is_(None))


def latest_visits_counted(session: Session, *, patient_id: int) -> tuple[list[Visit], int]:
    """The newest visits, newest first, and how many visits the patient has in all."""
    latest = visits.latest_visits(session, patient_id=patient_id, limit=LATEST_VISITS_SHOWN)
    return latest, (session.exec(_VISIT_COUNT, params={"patient_id": patient_id}).one() if latest else 0)


def _measure_end(name: str, end: str) -> Any:
    """The first or the last visit that recorded one measure: (measure, end, visit id, when, value)."""
    column = getattr(Visit, name)
    order = (col(Visit.occurred_at), col(Visit.id)) if end == "first" else (
        col(Visit.occurred_at).desc(), col(Visit.id).desc())
    return (select(literal(name).label("measure"), literal(end).label("end"), Visit.id, Visit.occurred_at,  # type: ignore[call-overload]  # SQLModel's select() is typed for at most four columns
                   cast(column, Float).label("value"))
            .where(Visit.patient_id == bindparam("patient_id"), col(Visit.deleted_at).is_(None),
                   col(column).is_not(None))
            .order_by(*order).limit(1).subquery().select())


# The change since baseline needs, per measure, only the first and the last visit that recorded it: twelve
# index lookups in one round trip, whatever the number of visits.
_MEASURE_ENDS = union_all(*[_measure_end(name, end) for name in MEASURE_FIELDS for end in ("first", "last")])


def measure_rows(session: Session, *, patient_id: int) -> list[tuple[datetime, dict[str, float | None]]]:
    """(when, {measure: value}) rows in time order for ``summarize_progress``: each measure's first and last
    recording, or nothing for a measure recorded fewer than twice."""
    ends: dict[str, dict[str, tuple[int, datetime, float]]] = {}
    for name, end, visit_id, at, value in session.execute(_MEASURE_ENDS, {"patient_id": patient_id}):
        ends.setdefault(name, {})[end] = (visit_id, at, value)
    rows: list[tuple[datetime, dict[str, float | None]]] = []
    for name, pair in ends.items():
        (first_id, first_at, first), (last_id, last_at, last) = pair["first"], pair["last"]
        if first_id != last_id:
            rows += [(first_at, {name: first}), (last_at, {name: last})]
    return sorted(rows, key=lambda row: row[0])


def chart_points(patient_visits: list[Visit]) -> list[ChartPoint]:
    return [ChartPoint(visit.occurred_at, visit.pain_before, visit.pain_worst, visit.pain_after, visit.minutes)
            for visit in patient_visits]
