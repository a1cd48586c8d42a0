"""The facts adherence is counted from, read from the database for one patient or a whole clinic in one
query whatever the number of patients or sessions: protocols, the versions and phase moves that set the plan,
visit times, home log dates, and the red flags, falls and clearances that stopped the walking.

The counting itself is ``services.adherence`` (plain values, no database)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    union_all,
)
from sqlalchemy import select as select_columns
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from rehab.models import HomeLog, Patient, PhaseChange, Protocol, ProtocolVersion, RedFlagClearance, Visit
from rehab.services.adherence import (
    Adherence,
    PlanChange,
    SafetyStop,
    WeekAdherence,
    week_start,
    weekly_adherence,
)
from rehab.vocabulary import RedFlag, Setting

WEEKS_SHOWN = 8  # the patient page's table

# The sessions that stopped the walking (a red flag or a fall), in the order of the partial indexes
# ix_visit_stop and ix_home_log_stop, whose condition the planner must find stated as it is there: the stops
# before the weeks shown are read through them, whatever the number of sessions.
VISIT_STOPS = or_(*(col(getattr(Visit, flag)) for flag in RedFlag), col(Visit.falls) > 0)
HOME_STOPS = or_(*(col(getattr(HomeLog, flag)) for flag in RedFlag), col(HomeLog.fell))


def phase_plan(content: dict[str, Any], phase_index: int) -> tuple[int, int]:
    """(clinic, home) sessions a week a stored version's phase asks for: the largest "sessions per week" of its
    clinic exercises and of its home ones (one setting's exercises are done in one session). Read from the JSON
    as stored, without validating the whole content (the dashboard reads every active protocol's)."""
    phases = content.get("phases") or []
    if not phases:
        return 0, 0
    return _plan_of_phase(phases[min(max(phase_index, 0), len(phases) - 1)])


def _plan_of_phase(phase: dict[str, Any]) -> tuple[int, int]:
    clinic = home = 0
    for rx in phase.get("prescriptions", []):
        sessions = int(rx.get("sessions_per_week") or 0)
        if rx.get("setting") == Setting.CLINIC:
            clinic = max(clinic, sessions)
        else:
            home = max(home, sessions)
    return clinic, home


@lru_cache(maxsize=2048)
def phase_plans(content: str) -> tuple[tuple[int, int], ...]:
    """Every phase's (clinic, home) sessions a week of a version's stored JSON, parsed once per worker for the
    same text: the dashboard reads every active protocol's version on each load, and parsing 2,000 of them
    (and collecting the garbage) was most of its time. Keyed by the text itself, so it can never be stale."""
    return tuple(_plan_of_phase(phase) for phase in json.loads(content).get("phases") or [])


def phase_plan_rows(protocol_id: int, number: int, saved_at: datetime, content: str) -> list[dict[str, Any]]:
    """The ``PhasePlan`` rows of a saved version: each phase's (clinic, home) sessions a week, as
    ``phase_plans`` reads them (a version with no phases has none)."""
    return [{"protocol_id": protocol_id, "version_number": number, "phase_index": index, "clinic_per_week": clinic,
             "home_per_week": home, "saved_at": saved_at} for index, (clinic, home) in enumerate(phase_plans(content))]


def plan_at(plans: tuple[tuple[int, int], ...], phase_index: int) -> tuple[int, int]:
    """``phase_plan`` on the parsed plans: a phase index past the end reads the last phase."""
    return plans[min(max(phase_index, 0), len(plans) - 1)] if plans else (0, 0)


@dataclass(frozen=True)
class ProtocolSpan:
    """What the plan needs of a protocol: when it started and ended, and its phase now."""

    started: datetime
    ended: datetime | None
    current_phase: int


@dataclass(frozen=True)
class VersionDose:
    """A saved version: its number, when it was saved, and each phase's (clinic, home) sessions a week."""

    number: int
    at: datetime
    plans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class PhaseMove:
    at: datetime
    from_phase: int
    to_phase: int


def protocol_plan(protocol: ProtocolSpan, versions: Iterable[VersionDose], moves: Iterable[PhaseMove]
                  ) -> list[PlanChange]:
    """Every change of one protocol's plan: its start, each saved version, each phase move, its end."""
    ordered = sorted(versions, key=lambda version: version.number)
    if not ordered:
        return []
    moves = sorted(moves, key=lambda move: move.at)
    phase = moves[0].from_phase if moves else protocol.current_phase
    # Events in time order: a version changes the dose, a move the phase; each yields the plan from then on.
    events: list[tuple[datetime, int, VersionDose | PhaseMove]] = (
        [(version.at, 0, version) for version in ordered] + [(move.at, 1, move) for move in moves])
    events.sort(key=lambda event: (event[0], event[1]))
    start = min(protocol.started, ordered[0].at)
    version = ordered[0]
    changes: list[PlanChange] = []
    for at, _, event in events:
        if isinstance(event, PhaseMove):
            phase = event.to_phase
        else:
            version = event
        clinic, home = plan_at(version.plans, phase)
        changes.append(PlanChange(max(at, start), clinic, home))
    if protocol.ended is not None:
        changes.append(PlanChange(protocol.ended, 0, 0))
    return changes


def _stops(flagged: Iterable[tuple[datetime | date, datetime]], clearances: list[datetime]) -> list[SafetyStop]:
    """Each flagged session stops the walking from its day until the first "cleared to go on" made after it was
    recorded (a clearance covers what was recorded before it)."""
    ordered = sorted(clearances)
    return [SafetyStop(start, next((at for at in ordered if at >= recorded), None)) for start, recorded in flagged]


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo("UTC"))


# Each fact adherence reads is a row of one statement (a UNION ALL of six reads): one round trip instead of six,
# which on PostgreSQL was most of the patient page's adherence time. A row is (kind, three integers, two times,
# a day, a version's content, whether a session stopped the walking); each kind fills what it has.
_PROTOCOL, _VERSION, _MOVE, _VISIT, _HOME_LOG, _CLEARANCE = range(6)


def _row(kind: int, first: Any, second: Any = None, third: Any = None, at: Any = None, at2: Any = None,
         day: Any = None, content: Any = None, stops: Any = None) -> Any:
    """One read of the union, its columns typed alike in every read (PostgreSQL unifies them by type, and
    SQLite's results are converted by the first read's types)."""
    def typed(value: Any, kind_of: Any) -> Any:
        return cast(null(), kind_of) if value is None else value
    return select_columns(literal_column(str(kind), Integer).label("kind"), typed(first, Integer),
                          typed(second, Integer), typed(third, Integer), typed(at, DateTime), typed(at2, DateTime),
                          typed(day, Date), typed(content, Text), typed(stops, Boolean))


def _build_read(*, of_clinic: bool, active_only: bool, from_week: bool) -> Any:
    """The one statement of a kind of call. Bound per call: ``patient_ids`` (expanding) or ``clinic_id``, and
    ``since`` / ``since_day`` for a count from a given week."""
    if of_clinic:  # every patient of the clinic who is not archived: ids read by the database, not sent to it
        patients: Any = select_columns(col(Patient.id)).where(col(Patient.clinic_id) == bindparam("clinic_id"),
                                                             col(Patient.archived_at).is_(None))
    else:
        patients = bindparam("patient_ids", expanding=True)
    wanted: list[ColumnElement[bool]] = [col(Protocol.patient_id).in_(patients)]
    if active_only:
        wanted.append(col(Protocol.status) == "active")
    protocol_ids = select_columns(col(Protocol.id)).where(*wanted)
    # The patients whose sessions count: those with a protocol read above.
    patient_ids = select_columns(col(Protocol.patient_id)).where(*wanted) if of_clinic else patients
    since: Any = bindparam("since")
    since_day: Any = bindparam("since_day")

    # Only the versions in force from ``first_week`` on: the last one saved before it and every later one.
    earlier = aliased(ProtocolVersion)
    version_filter: list[ColumnElement[bool]] = [col(ProtocolVersion.protocol_id).in_(protocol_ids)]
    if from_week:
        in_force = (select(func.coalesce(func.max(earlier.number), 1))
                    .where(earlier.protocol_id == ProtocolVersion.protocol_id, earlier.created_at <= since)
                    .scalar_subquery())
        version_filter.append(col(ProtocolVersion.number) >= in_force)
    visit = _row(_VISIT, col(Visit.patient_id), at=col(Visit.occurred_at), at2=col(Visit.updated_at),
                 stops=VISIT_STOPS)
    own = (col(Visit.patient_id).in_(patient_ids), col(Visit.deleted_at).is_(None))
    log = _row(_HOME_LOG, col(HomeLog.patient_id), at2=col(HomeLog.updated_at), day=col(HomeLog.session_date),
               stops=HOME_STOPS)
    mine = col(HomeLog.patient_id).in_(patient_ids)
    visits = [visit.where(*own)] if not from_week else [
        visit.where(*own, col(Visit.occurred_at) >= since), visit.where(*own, col(Visit.occurred_at) < since,
                                                                          VISIT_STOPS)]
    logs = [log.where(mine)] if not from_week else [
        log.where(mine, col(HomeLog.session_date) >= since_day), log.where(mine, col(HomeLog.session_date) < since_day,
                                                                            HOME_STOPS)]
    return union_all(
        _row(_PROTOCOL, col(Protocol.id), col(Protocol.patient_id), col(Protocol.current_phase),
             at=col(Protocol.created_at), at2=col(Protocol.ended_at)).where(*wanted),
        _row(_VERSION, col(ProtocolVersion.protocol_id), col(ProtocolVersion.number),
             at=col(ProtocolVersion.created_at), content=col(ProtocolVersion.content)).where(*version_filter),
        _row(_MOVE, col(PhaseChange.protocol_id), col(PhaseChange.from_phase), col(PhaseChange.to_phase),
             at=col(PhaseChange.at)).where(col(PhaseChange.protocol_id).in_(protocol_ids)),
        *visits, *logs,
        _row(_CLEARANCE, col(RedFlagClearance.patient_id), at=col(RedFlagClearance.at))
        .where(col(RedFlagClearance.patient_id).in_(patient_ids), col(RedFlagClearance.action) == "cleared"))


# Built once per kind of call (building and hashing the statement cost more than running it on the patient page).
_READS = {(of_clinic, active_only, from_week): _build_read(of_clinic=of_clinic, active_only=active_only,
                                                           from_week=from_week)
          for of_clinic in (False, True) for active_only in (False, True) for from_week in (False, True)}


def adherence_by_patient(session: Session, *, patients: list[int] | None = None, clinic_id: int | None = None,
                         zone: str, now: datetime, first_week: date | None = None,
                         active_only: bool = False) -> dict[int, Adherence]:
    """Adherence of the ``patients`` (their ids), or of every patient of ``clinic_id`` who is not archived, from
    ``first_week`` (None: the whole course) to this week; a patient with no protocol is left out."""
    tz = ZoneInfo(zone)
    since_day = first_week or date.min
    since = datetime.combine(since_day, time.min, tzinfo=tz) if first_week else None
    read = _READS[(clinic_id is not None, active_only, since is not None)]
    params: dict[str, Any] = ({"clinic_id": clinic_id} if clinic_id is not None
                              else {"patient_ids": list(patients or [])})
    if since is not None:
        params |= {"since": since, "since_day": since_day}
    # No early return when nothing is found: a page's number of queries stays the same whatever the data.
    protocols: dict[int, tuple[int, ProtocolSpan]] = {}
    versions: dict[int, list[VersionDose]] = defaultdict(list)
    moves: dict[int, list[PhaseMove]] = defaultdict(list)
    visit_times: dict[int, list[datetime]] = defaultdict(list)
    home_days: dict[int, list[date]] = defaultdict(list)
    flagged: dict[int, list[tuple[datetime | date, datetime]]] = defaultdict(list)
    cleared: dict[int, list[datetime]] = defaultdict(list)
    for kind, key, second, third, at, at2, day, content, stops in session.execute(read, params):
        if kind == _VISIT:
            visit_times[key].append(_aware(at))
            if stops:
                flagged[key].append((_aware(at), _aware(at2)))
        elif kind == _HOME_LOG:
            home_days[key].append(day)
            if stops:
                flagged[key].append((day, _aware(at2)))
        elif kind == _PROTOCOL:
            protocols[key] = (second, ProtocolSpan(_aware(at), _aware(at2) if at2 else None, third))
        elif kind == _VERSION:
            versions[key].append(VersionDose(second, _aware(at), phase_plans(content)))
        elif kind == _MOVE:
            moves[key].append(PhaseMove(_aware(at), second, third))
        else:
            cleared[key].append(_aware(at))

    plans: dict[int, list[PlanChange]] = defaultdict(list)
    for protocol_id, (patient_id, span) in protocols.items():
        plans[patient_id] += protocol_plan(span, versions[protocol_id], moves[protocol_id])
    return {patient_id: weekly_adherence(plan=plan, clinic_sessions=visit_times[patient_id],
                                         home_sessions=home_days[patient_id],
                                         stops=_stops(flagged[patient_id], cleared[patient_id]),
                                         zone=tz, now=now, first_week=first_week)
            for patient_id, plan in plans.items()}


def recent_weeks_start(now: datetime, zone: str, weeks: int) -> date:
    """The Monday ``weeks - 1`` weeks before this week's, in the clinic's zone."""
    return week_start(now.astimezone(ZoneInfo(zone)).date()) - timedelta(weeks=weeks - 1)


def patient_adherence(session: Session, *, patient_id: int, zone: str, now: datetime,
                      weeks: int | None = WEEKS_SHOWN) -> Adherence:
    """One patient's adherence over the newest ``weeks`` weeks (None: the whole course of care)."""
    first = recent_weeks_start(now, zone, weeks) if weeks else None
    found = adherence_by_patient(session, patients=[patient_id], zone=zone, now=now, first_week=first)
    return found.get(patient_id) or Adherence((), now.astimezone(ZoneInfo(zone)).date())


def clinic_this_week(session: Session, *, clinic_id: int, zone: str, now: datetime) -> dict[int, WeekAdherence]:
    """This week's adherence of every patient of the clinic with an active protocol (not archived)."""
    found = adherence_by_patient(session, clinic_id=clinic_id, zone=zone, now=now,
                                 first_week=recent_weeks_start(now, zone, 1), active_only=True)
    return {patient_id: week for patient_id, adherence in found.items()
            if (week := adherence.this_week) is not None}
