"""The therapist's dashboard: today's visits, patients who need attention, recently seen; for the therapist's own
patients ("My patients": assigned to them, or to nobody who still works here) or the whole clinic.

A fixed number of queries whatever the size of the clinic, and no scan of its visits: "quiet" and "recently
seen" read ``Patient.last_session_at`` (kept by services/last_session.py) on the (clinic, last session) index.
Alerts come most urgent first (``vocabulary.ALERT_URGENCY``), ordered in SQL so the limit keeps the urgent ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, true
from sqlmodel import Session, col, select

from rehab.models import Alert, Patient, Protocol, ProtocolVersion, User, Visit
from rehab.services.adherence import WeekAdherence
from rehab.services.assignment import assigned_name, is_mine
from rehab.services.caseload import alert_urgency
from rehab.services.clinic_changes import generation
from rehab.services.clinic_week import behind_first, clinic_most_behind, clinic_under_half
from rehab.services.kept_results import KeptResults
from rehab.services.protocol_content import ProtocolContent, visit_ceiling
from rehab.vocabulary import PAIN_ALERTS, STOPPING_ALERTS

INACTIVE_AFTER = timedelta(days=14)
# The dashboard's "under half this week" shows the patients furthest behind, this many, with how many there are
# in all and the way to the whole list (views/dashboard.py under_half): from Thursday a clinic may have a
# thousand, a list no therapist reads on their home page.
UNDER_HALF_SHOWN = 25
# And "Quiet 14+ days" the patients quiet longest, with the count and the whole list (views/dashboard.py quiet).
QUIET_SHOWN = 25
# And "Today's visits" the latest, with the count and the whole day's list (views/dashboard.py today): by the
# afternoon a clinic's day holds hundreds, which cost the home page more than everything else on it together.
TODAY_SHOWN = 25


@dataclass(frozen=True)
class InactivePatient:
    patient: Patient
    last_activity: datetime | None  # None: no session since the protocol started
    since: datetime


@dataclass(frozen=True)
class TodayVisit:
    """A row of "today's visits": only what the list shows (a clinic may see hundreds of visits a day)."""

    occurred_at: datetime
    pain_worst: int
    minutes: float
    patient_id: int
    first_name: str
    last_name: str
    ceiling: int | None  # the pain ceiling the visit was held to (None: its phase is not in its version)

    @property
    def above_ceiling(self) -> bool:
        return self.ceiling is not None and self.pain_worst > self.ceiling


@dataclass(frozen=True)
class DashboardAlert:
    alert: Alert
    patient: Patient
    therapist: str | None  # the assigned therapist's name; None: unassigned

    @property
    def pain_above_ceiling(self) -> bool:
        return self.alert.kind in PAIN_ALERTS

    @property
    def stops_walking(self) -> bool:
        return self.alert.kind in STOPPING_ALERTS


@dataclass(frozen=True)
class Dashboard:
    today: list[TodayVisit]
    alerts: list[DashboardAlert]  # most urgent first
    inactive: list[InactivePatient]  # the longest quiet first
    recent: list[tuple[Patient, datetime]]
    mine_only: bool
    day: date  # today in the clinic's time zone
    under_half: list[tuple[Patient, WeekAdherence]]  # this week so far, the furthest behind first
    under_half_total: int  # how many are under half in all (``under_half`` holds the first of them)
    inactive_total: int  # how many are quiet in all (``inactive`` holds the first of them)
    alerts_total: int  # how many are open in all (``alerts`` holds the most urgent of them)
    today_total: int  # how many visits today in all (``today`` holds the latest of them, in time order)


def local_day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """Midnight to midnight of a clinic's local day, as UTC instants."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, start + timedelta(days=1)


def build_dashboard(session: Session, *, clinic_id: int, zone: str, now: datetime, therapist_id: int | None = None,
                    recent_limit: int = 10, inactive_limit: int = QUIET_SHOWN, alert_limit: int = 100,
                    under_half_limit: int = UNDER_HALF_SHOWN, today_limit: int = TODAY_SHOWN,
                    kept: KeptResults | None = None) -> Dashboard:
    """The dashboard of ``therapist_id``'s patients, or of the whole clinic when None. ``kept``: where the
    process keeps "under half this week" between views (``most_behind``)."""
    mine = is_mine(therapist_id) if therapist_id is not None else true()
    day = now.astimezone(ZoneInfo(zone)).date()
    today, today_total = todays_visits(session, clinic_id=clinic_id, zone=zone, now=now, mine=mine,
                                       limit=today_limit, latest=True)
    # With how many are open in all, counted before the limit: the card says it, and where the rest are.
    open_alerts = session.exec(
        select(Alert, Patient, User.name, func.count().over()).join(Patient, col(Patient.id) == Alert.patient_id)
        .outerjoin(User, assigned_name())
        .where(Alert.clinic_id == clinic_id, col(Alert.acknowledged_at).is_(None), mine)
        .order_by(alert_urgency(), col(Alert.created_at).desc(), col(Alert.id).desc()).limit(alert_limit)).all()
    alerts = [DashboardAlert(alert, patient, therapist) for alert, patient, therapist, _ in open_alerts]
    alerts_total = open_alerts[0][3] if open_alerts else 0
    inactive, inactive_total = quiet_patients(session, clinic_id=clinic_id, now=now, mine=mine, limit=inactive_limit)
    recent = [(patient, patient.last_session_at) for patient in session.exec(
        select(Patient)
        .where(Patient.clinic_id == clinic_id, col(Patient.archived_at).is_(None),
               col(Patient.last_session_at).is_not(None), mine)
        .order_by(col(Patient.last_session_at).desc(), col(Patient.id).desc()).limit(recent_limit)
    ) if patient.last_session_at is not None]  # the query's own condition, restated for the type
    under_half, under_half_total = most_behind(session, clinic_id=clinic_id, zone=zone, now=now,
                                               limit=under_half_limit, therapist_id=therapist_id, kept=kept)
    return Dashboard(today, alerts, inactive, recent, mine_only=therapist_id is not None, day=day,
                     under_half=under_half, under_half_total=under_half_total, inactive_total=inactive_total,
                     alerts_total=alerts_total, today_total=today_total)


def most_behind(session: Session, *, clinic_id: int, zone: str, now: datetime, limit: int,
                therapist_id: int | None, kept: KeptResults | None) -> tuple[list[tuple[Patient, WeekAdherence]], int]:
    """``clinic_most_behind``, kept in ``kept`` under the clinic's data generation and the clinic's day.

    Ranking a clinic's every active protocol is most of the dashboard's time, and its result changes only when
    one of the clinic's records is written (which moves the generation) or the day turns (the week's days over:
    the rule counts by local days, services/adherence.py). Between two such moments every view of the same
    scope reads the kept patients and weeks, and the patients' rows afresh (their names as they are now)."""
    if kept is None:
        return clinic_most_behind(session, clinic_id=clinic_id, zone=zone, now=now, limit=limit,
                                  therapist_id=therapist_id)
    key = ("most_behind", clinic_id, generation(session, clinic_id), zone, now.astimezone(ZoneInfo(zone)).date(),
           limit, therapist_id)
    found: tuple[tuple[tuple[int, WeekAdherence], ...], int] | None = kept.get(key)
    if found is not None:
        weeks, total = found
        patients = {patient.id: patient for patient in session.exec(
            select(Patient).where(col(Patient.id).in_([patient_id for patient_id, _ in weeks])))}
        if all(patient_id in patients for patient_id, _ in weeks):
            return [(patients[patient_id], week) for patient_id, week in weeks], total
    rows, total = clinic_most_behind(session, clinic_id=clinic_id, zone=zone, now=now, limit=limit,
                                     therapist_id=therapist_id)
    kept.put(key, (tuple((patient.id, week) for patient, week in rows), total))
    return rows, total


def _today_in_scope(clinic_id: int, zone: str, now: datetime, mine: ColumnElement[bool]) -> ColumnElement[bool]:
    """The clinic's visits (not deleted) of today in its zone, of the patients ``mine`` holds for."""
    start, end = local_day_bounds(now.astimezone(ZoneInfo(zone)).date(), zone)
    return and_(col(Visit.clinic_id) == clinic_id, col(Visit.deleted_at).is_(None), col(Visit.occurred_at) >= start,
                col(Visit.occurred_at) < end, mine)


def todays_visits(session: Session, *, clinic_id: int, zone: str, now: datetime, mine: ColumnElement[bool],
                  limit: int, offset: int = 0, latest: bool = False) -> tuple[list[TodayVisit], int]:
    """Today's visits in time order, ``limit`` of them from ``offset`` (``latest``: the last ``limit`` of the
    day), and how many there are in all (counted in the same statement; 0 past the end). Two queries."""
    order = (col(Visit.occurred_at).desc(), col(Visit.id).desc()) if latest else (col(Visit.occurred_at),
                                                                                  col(Visit.id))
    # Rows of these columns, read by name (SQLModel's select() is typed for at most four columns, hence the ignore).
    visits: list[Any] = list(session.exec(
        select(Visit.occurred_at, Visit.pain_worst, Visit.minutes, Visit.patient_id, Patient.first_name,  # type: ignore[call-overload]  # see above
               Patient.last_name, Visit.protocol_id, Visit.protocol_version, Visit.phase_index, Visit.exercise,
               func.count().over().label("total"))
        .join(Patient, Patient.id == Visit.patient_id)
        .where(_today_in_scope(clinic_id, zone, now, mine))
        .order_by(*order).offset(offset).limit(limit)
    ))
    if latest:
        visits.reverse()
    ceilings = _ceilings(session, visits)
    return [TodayVisit(row.occurred_at, row.pain_worst, row.minutes, row.patient_id, row.first_name, row.last_name,
                       ceilings.get((row.protocol_id, row.protocol_version, row.phase_index, row.exercise)))
            for row in visits], visits[0].total if visits else 0


def todays_patients(session: Session, *, clinic_id: int, zone: str, now: datetime,
                    mine: ColumnElement[bool]) -> set[int]:
    """Every patient with a visit today (``mine``: of those it holds for): whose sheets "Print today's home
    sheets" prints, however many the dashboard shows."""
    return set(session.exec(select(Visit.patient_id).distinct().join(Patient, col(Patient.id) == Visit.patient_id)
                            .where(_today_in_scope(clinic_id, zone, now, mine))))


def quiet_since(cutoff: datetime) -> ColumnElement[bool]:
    """No session since ``cutoff``, or none ever and the protocol begun before it: the coalesced "since", stated
    as the two ranges of the (clinic, last session) index so the database reads only the quiet patients."""
    return or_(col(Patient.last_session_at) < cutoff,
               col(Patient.last_session_at).is_(None) & (col(Protocol.created_at) < cutoff))


def quiet_patients(session: Session, *, clinic_id: int, now: datetime, mine: ColumnElement[bool] | None = None,
                   limit: int, offset: int = 0) -> tuple[list[InactivePatient], int]:
    """The patients quiet 14+ days whom nobody has noted as quiet since, the longest quiet first: ``limit`` of
    them from ``offset``, and how many there are in all (one statement; 0 past the end). ``mine``: only those
    it holds for.

    A note ("Acknowledge") counts while it is newer than the last session and under 14 days old."""
    acknowledged = (select(Alert.patient_id, func.max(Alert.acknowledged_at).label("ack_at"))
                    .where(Alert.clinic_id == clinic_id, Alert.kind == "inactive")
                    .group_by(col(Alert.patient_id)).subquery())
    cutoff = now - INACTIVE_AFTER
    # Quiet since the last session, or since the protocol started for a patient who has had none.
    since = func.coalesce(Patient.last_session_at, Protocol.created_at)
    ack_at = acknowledged.c.ack_at
    quiet = session.exec(
        select(Patient, Protocol.created_at, func.count().over().label("quiet"))
        .join(Protocol, (col(Protocol.patient_id) == Patient.id) & (col(Protocol.status) == "active"))
        .outerjoin(acknowledged, acknowledged.c.patient_id == Patient.id)
        .where(Patient.clinic_id == clinic_id, col(Patient.archived_at).is_(None), quiet_since(cutoff),
               true() if mine is None else mine, or_(ack_at.is_(None), ack_at < since, ack_at < cutoff))
        .order_by(since, col(Patient.id))
        .offset(offset).limit(limit)
    ).all()
    patients = [InactivePatient(patient, patient.last_session_at, patient.last_session_at or started)
                for patient, started, _ in quiet]
    return patients, quiet[0][2] if quiet else 0  # past the last page: nothing, and no count to read


def under_half_this_week(session: Session, *, clinic_id: int, zone: str, now: datetime,
                         mine: ColumnElement[bool] | None = None) -> list[tuple[Patient, WeekAdherence]]:
    """Patients who have done under half the sessions due so far this week (docs/clinical.md, "Adherence"),
    fewest done first (then by name, then as entered): seven queries whatever the caseload, the database
    counting the protocols whose week is steady (services/clinic_week.py). ``mine``: only the patients it holds
    for."""
    return sorted(clinic_under_half(session, clinic_id=clinic_id, zone=zone, now=now, mine=mine), key=behind_first)


def _ceilings(session: Session, visits: list[Any]) -> dict[tuple[int, int, int, str], int]:
    """The pain ceiling of each (protocol, version, phase, exercise) among ``visits``: one query for the versions
    they were recorded under (always run, so the page's query count does not depend on today's visits).

    The versions are looked up by protocol through the (protocol, number) index; a (protocol, number) list in
    SQL would read the whole version table on SQLite. Each version's ceilings come from its stored text, worked
    out once per worker for the same text (``_content_ceilings``)."""
    pairs = {(row.protocol_id, row.protocol_version) for row in visits}
    versions = session.execute(select(ProtocolVersion.protocol_id, ProtocolVersion.number, ProtocolVersion.content)
                               .where(col(ProtocolVersion.protocol_id).in_(sorted({pair[0] for pair in pairs}))))
    contents = {(protocol_id, number): content for protocol_id, number, content in versions
                if (protocol_id, number) in pairs}
    ceilings: dict[tuple[int, int, int, str], int] = {}
    for row in visits:
        content = contents.get((row.protocol_id, row.protocol_version))
        phases = _phase_ceilings(content) if content is not None else ()
        if row.phase_index < len(phases):
            own, first = phases[row.phase_index]
            ceilings[(row.protocol_id, row.protocol_version, row.phase_index, row.exercise)] = own.get(
                row.exercise, first)
    return ceilings


@lru_cache(maxsize=1024)
def _phase_ceilings(content: str) -> tuple[tuple[Mapping[str, int], int], ...]:
    """Each phase's pain ceiling by exercise, and the one of an exercise it does not prescribe (its first's), as
    ``visit_ceiling`` reads them, from a version's stored content. Keyed by the text itself: never stale."""
    phases = ProtocolContent.model_validate_json(content).phases
    return tuple((MappingProxyType({rx.exercise: visit_ceiling(phase, rx.exercise) for rx in phase.prescriptions}),
                  visit_ceiling(phase, "")) for phase in phases)
