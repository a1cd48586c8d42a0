"""Everything the patient page shows, gathered in a fixed number of queries whatever the number of visits.

The page reads only what it shows: the visits the advice needs (its 28-day window), the newest few for the
table with the number of visits, and each measure's first and last recording for the change since baseline.
The full list is on the visits page; the chart is an image of its own."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, bindparam, cast, func, literal, union_all
from sqlmodel import Session, col, select

from rehab.models import Alert, Assessment, EditRecord, Membership, Patient, Protocol, User, Visit
from rehab.services import patients as patient_service
from rehab.services import visits
from rehab.services.advice.card import AdviceCard, advice_card
from rehab.services.advice.decisions import ClearanceEntry, clearances_of, decision_history
from rehab.services.advice.inputs import advice_for
from rehab.services.assessments import MEASURES as SCREEN_MEASURES
from rehab.services.assessments import FallScreen, assessments_of, screen_of
from rehab.services.assignment import UNASSIGNED
from rehab.services.baseline_change import MeasureChange, summarize_progress
from rehab.services.charts import ChartPoint
from rehab.services.home_logs import CORRECTION_ENTITY, HomeLogTable, home_log_table
from rehab.services.portal_links import LinkCard, link_card
from rehab.services.protocol_content import ProtocolContent
from rehab.services.questionnaire_records import QuestionnaireSection, questionnaire_section

MEASURE_FIELDS = ("pain_before", "pain_worst", "backward_walk_3m_s", "tug_s", "gait_speed_ms", "six_minute_walk_m")
LATEST_VISITS_SHOWN = 10
HOME_LOGS_SHOWN = 10
DECISIONS_SHOWN = 5  # on the card; the visits page shows them all
HISTORY_SHOWN = 20  # the record's own edits


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
    screen: FallScreen  # the newest fall-risk screen, from baseline assessments and visits
    assessments: list[Assessment]  # newest first
    therapist_name: str  # the assigned therapist, or "Unassigned"


def patient_overview(session: Session, *, patient: Patient, now: datetime, speed_unit: str, user_id: int,
                     zone: str) -> PatientOverview:
    """``user_id`` is the viewer (the card offers an undo to the one who decided), ``zone`` the clinic's."""
    history, corrections = patient_edits(session, patient_id=patient.id)
    protocols, visit_count, therapist_name = _protocols_counted(session, patient=patient)
    active = next((protocol for protocol in protocols if protocol.status == "active"), None)
    card = content = advice = None
    if active is not None:  # the advice reads the newest sessions of the tables with its own
        advice = advice_for(session, patient=patient, protocol=active, now=now, speed_unit=speed_unit,
                            newest_visits=LATEST_VISITS_SHOWN, newest_logs=HOME_LOGS_SHOWN + 1)
        latest, logs = list(advice.inputs.newest_visits), list(advice.inputs.newest_logs)
    else:
        latest, logs = visits.latest_visits(session, patient_id=patient.id, limit=LATEST_VISITS_SHOWN), None
    home_logs = home_log_table(session, patient_id=patient.id, limit=HOME_LOGS_SHOWN, corrections_read=corrections,
                               logs_read=logs)
    if advice is not None and active is not None:
        content = advice.content
        card = advice_card(protocol=active, context=advice, has_sessions=bool(visit_count or home_logs.rows),
                           history=decision_history(session, patient.id, limit=DECISIONS_SHOWN), user_id=user_id,
                           now=now, zone=zone)
    alerts = [alert for alert, _ in visits.open_alerts(session, clinic_id=patient.clinic_id, patient_id=patient.id)]
    ends = list(session.execute(_MEASURES_AND_SCREEN, {"patient_id": patient.id}))
    progress = summarize_progress(_first_and_last(ends))
    # Each measure's newest baseline, then its newest visit (its last end): on a tie the baseline counts.
    screen = screen_of([(name, "baseline", at, value) for name, end, _, at, value in ends if end == "baseline"]
                       + [(name, "visit", at, value) for name, end, _, at, value in ends
                          if end == "last" and name in SCREEN_MEASURES])
    clearances = clearances_of(session, patient_id=patient.id, limit=5)
    share = link_card(session, patient_id=patient.id, now=now) if patient.archived_at is None else None
    questionnaires = questionnaire_section(session, patient_id=patient.id)
    return PatientOverview(history, protocols, active, content, latest, visit_count, card, alerts, progress,
                           clearances, share, home_logs, questionnaires, screen,
                           assessments_of(session, patient_id=patient.id), therapist_name)


# The patient's edit records the page shows, in one round trip: the newest edits of the record itself (its
# change history) and every correction of a home session (the home sessions table marks them).
_EDITS = (select(EditRecord, User.name).outerjoin(User, col(User.id) == EditRecord.user_id)
          .where(col(EditRecord.id).in_(union_all(
              select(EditRecord.id).where(EditRecord.patient_id == bindparam("patient_id"),
                                          EditRecord.entity == patient_service.HISTORY_ENTITY)
              .order_by(col(EditRecord.at).desc(), col(EditRecord.id).desc()).limit(HISTORY_SHOWN).subquery().select(),
              select(EditRecord.id).where(EditRecord.patient_id == bindparam("patient_id"),
                                          EditRecord.entity == CORRECTION_ENTITY))))
          .order_by(col(EditRecord.at), col(EditRecord.id)))


def patient_edits(session: Session, *, patient_id: int) -> tuple[list[patient_service.HistoryEntry], list[EditRecord]]:
    """The change history (newest first, as ``patient_history``) and the home sessions' corrections (oldest
    first, as ``home_log_table`` reads them)."""
    rows = list(session.execute(_EDITS, {"patient_id": patient_id}))
    history = patient_service.history_entries(
        (record, name) for record, name in reversed(rows) if record.entity == patient_service.HISTORY_ENTITY)
    return history, [record for record, _ in rows if record.entity == CORRECTION_ENTITY]


# How many visits the patient has, and the name of their therapist while assigned (an active account of the
# patient's clinic: else "Unassigned", as on the patient form), in one row. A window count in the query for
# the newest visits would read every visit's whole row: a count is cheaper.
_VISIT_COUNT = (select(func.count()).select_from(Visit)
                .where(Visit.patient_id == bindparam("patient_id"), col(Visit.deleted_at).is_(None)).scalar_subquery())
_THERAPIST_NAME = (select(User.name).join(Membership, col(Membership.user_id) == User.id)
                   .where(User.id == bindparam("therapist_id"), Membership.clinic_id == bindparam("clinic_id"),
                          col(User.is_active).is_(True)).limit(1).scalar_subquery())
# With the patient's protocols (newest first, as ``protocol_records.protocols_of``), in one round trip: the
# one-row count on the left of an outer join stays when the patient has no protocol (a row of NULLs on the
# right, which loads as None).
_COUNTED = select(_VISIT_COUNT.label("visit_count"), _THERAPIST_NAME.label("therapist_name")).subquery()
_PROTOCOLS_COUNTED = (select(Protocol, _COUNTED.c.visit_count, _COUNTED.c.therapist_name)
                      .select_from(_COUNTED).outerjoin(Protocol, col(Protocol.patient_id) == bindparam("patient_id"))
                      .order_by(col(Protocol.created_at).desc()))


def _protocols_counted(session: Session, *, patient: Patient) -> tuple[list[Protocol], int, str]:
    rows = session.execute(_PROTOCOLS_COUNTED, {"patient_id": patient.id, "therapist_id": patient.therapist_id,
                                                "clinic_id": patient.clinic_id}).all()
    _, count, name = rows[0]
    return [protocol for protocol, _, _ in rows if protocol is not None], count, name or UNASSIGNED


def _measure_end(name: str, end: str, model: type[Visit] | type[Assessment] = Visit) -> Any:
    """The first or the last visit (or the newest assessment: end "baseline") that recorded one measure:
    (measure, end, record id, when, value)."""
    column = getattr(model, name)
    order = (col(model.occurred_at), col(model.id)) if end == "first" else (
        col(model.occurred_at).desc(), col(model.id).desc())
    return (select(literal(name).label("measure"), literal(end).label("end"), model.id, model.occurred_at,  # type: ignore[call-overload]  # SQLModel's select() is typed for at most four columns
                   cast(column, Float).label("value"))
            .where(model.patient_id == bindparam("patient_id"), col(model.deleted_at).is_(None),
                   col(column).is_not(None))
            .order_by(*order).limit(1).subquery().select())


# The change since baseline needs, per measure, only the first and the last visit that recorded it: twelve
# index lookups in one round trip, whatever the number of visits.
_MEASURE_ENDS = union_all(*[_measure_end(name, end) for name in MEASURE_FIELDS for end in ("first", "last")])
# With the newest baseline assessment of each fall-risk measure: the newest visit of a measure is its "last"
# end, so the fall-risk screen (``assessments.latest_screen``) comes in the same round trip.
_MEASURES_AND_SCREEN = union_all(*[_measure_end(name, end) for name in MEASURE_FIELDS for end in ("first", "last")],
                                 *[_measure_end(name, "baseline", Assessment) for name in SCREEN_MEASURES])


def measure_rows(session: Session, *, patient_id: int) -> list[tuple[datetime, dict[str, float | None]]]:
    """(when, {measure: value}) rows in time order for ``summarize_progress``: each measure's first and last
    recording, or nothing for a measure recorded fewer than twice."""
    return _first_and_last(session.execute(_MEASURE_ENDS, {"patient_id": patient_id}))


def _first_and_last(ends: Iterable[tuple[str, str, int, datetime, float]]
                    ) -> list[tuple[datetime, dict[str, float | None]]]:
    found: dict[str, dict[str, tuple[int, datetime, float]]] = {}
    for name, end, visit_id, at, value in ends:
        if end in ("first", "last"):
            found.setdefault(name, {})[end] = (visit_id, at, value)
    rows: list[tuple[datetime, dict[str, float | None]]] = []
    for name, pair in found.items():
        (first_id, first_at, first), (last_id, last_at, last) = pair["first"], pair["last"]
        if first_id != last_id:
            rows += [(first_at, {name: first}), (last_at, {name: last})]
    return sorted(rows, key=lambda row: row[0])


def chart_points(patient_visits: list[Visit]) -> list[ChartPoint]:
    return [ChartPoint(visit.occurred_at, visit.pain_before, visit.pain_worst, visit.pain_after, visit.minutes)
            for visit in patient_visits]
