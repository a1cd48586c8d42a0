"""The facts adherence is counted from, read from the database for one patient or a whole clinic in six
queries whatever the number of patients or sessions: protocols, the versions and phase moves that set the plan,
visit times, home log dates, and the red flags, falls and clearances that stopped the walking.

The counting itself is ``services.adherence`` (plain values, no database)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, union_all
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
    phase = phases[min(max(phase_index, 0), len(phases) - 1)]
    clinic = home = 0
    for rx in phase.get("prescriptions", []):
        sessions = int(rx.get("sessions_per_week") or 0)
        if rx.get("setting") == Setting.CLINIC:
            clinic = max(clinic, sessions)
        else:
            home = max(home, sessions)
    return clinic, home


@dataclass(frozen=True)
class ProtocolSpan:
    """What the plan needs of a protocol: when it started and ended, and its phase now."""

    started: datetime
    ended: datetime | None
    current_phase: int


@dataclass(frozen=True)
class VersionDose:
    """A saved version: its number, when it was saved, its content as stored (JSON)."""

    number: int
    at: datetime
    content: dict[str, Any]


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
        clinic, home = phase_plan(version.content, phase)
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


def adherence_by_patient(session: Session, *, patients: Any, zone: str, now: datetime,
                         first_week: date | None = None, active_only: bool = False) -> dict[int, Adherence]:
    """Adherence of every patient ``patients`` selects (a list of ids or a SELECT of ids), from ``first_week``
    (None: the whole course) to this week; a patient with no protocol is left out."""
    tz = ZoneInfo(zone)
    since_day = first_week or date.min
    since = datetime.combine(since_day, time.min, tzinfo=tz) if first_week else None
    wanted: list[ColumnElement[bool]] = [col(Protocol.patient_id).in_(patients)]
    if active_only:
        wanted.append(col(Protocol.status) == "active")
    protocols = {protocol_id: (patient_id, ProtocolSpan(_aware(started), _aware(ended) if ended else None, phase))
                 for protocol_id, patient_id, started, ended, phase in session.execute(
                     select_columns(col(Protocol.id), col(Protocol.patient_id), col(Protocol.created_at),
                                    col(Protocol.ended_at), col(Protocol.current_phase)).where(*wanted))}
    # No early return when nothing is found: a page's number of queries stays the same whatever the data.
    protocol_ids = list(protocols)

    # Only the versions in force from ``first_week`` on: the last one saved before it and every later one.
    earlier = aliased(ProtocolVersion)
    version_filter: list[ColumnElement[bool]] = [col(ProtocolVersion.protocol_id).in_(protocol_ids)]
    if since is not None:
        in_force = (select(func.coalesce(func.max(earlier.number), 1))
                    .where(earlier.protocol_id == ProtocolVersion.protocol_id, earlier.created_at <= since)
                    .scalar_subquery())
        version_filter.append(col(ProtocolVersion.number) >= in_force)
    versions: dict[int, list[VersionDose]] = defaultdict(list)
    for protocol_id, number, at, content in session.execute(
            select_columns(col(ProtocolVersion.protocol_id), col(ProtocolVersion.number),
                           col(ProtocolVersion.created_at), col(ProtocolVersion.content)).where(*version_filter)):
        versions[protocol_id].append(VersionDose(number, _aware(at), json.loads(content)))
    moves: dict[int, list[PhaseMove]] = defaultdict(list)
    for protocol_id, at, from_phase, to_phase in session.execute(
            select_columns(col(PhaseChange.protocol_id), col(PhaseChange.at), col(PhaseChange.from_phase),
                           col(PhaseChange.to_phase))
            .where(col(PhaseChange.protocol_id).in_(protocol_ids))):
        moves[protocol_id].append(PhaseMove(_aware(at), from_phase, to_phase))

    patient_ids = {patient_id for patient_id, _ in protocols.values()}
    visit_times: dict[int, list[datetime]] = defaultdict(list)
    flagged: dict[int, list[tuple[datetime | date, datetime]]] = defaultdict(list)
    visits = (col(Visit.patient_id), col(Visit.occurred_at), col(Visit.updated_at), VISIT_STOPS.label("stops"))
    own = (col(Visit.patient_id).in_(patient_ids), col(Visit.deleted_at).is_(None))
    for patient_id, at, updated, stops in session.execute(
            select_columns(*visits).where(*own) if since is None else union_all(
                select_columns(*visits).where(*own, col(Visit.occurred_at) >= since),
                select_columns(*visits).where(*own, col(Visit.occurred_at) < since, VISIT_STOPS))):
        visit_times[patient_id].append(_aware(at))
        if stops:
            flagged[patient_id].append((_aware(at), _aware(updated)))
    home_days: dict[int, list[date]] = defaultdict(list)
    logs = (col(HomeLog.patient_id), col(HomeLog.session_date), col(HomeLog.updated_at), HOME_STOPS.label("stops"))
    mine = col(HomeLog.patient_id).in_(patient_ids)
    for patient_id, day, updated, stops in session.execute(
            select_columns(*logs).where(mine) if since is None else union_all(
                select_columns(*logs).where(mine, col(HomeLog.session_date) >= since_day),
                select_columns(*logs).where(mine, col(HomeLog.session_date) < since_day, HOME_STOPS))):
        home_days[patient_id].append(day)
        if stops:
            flagged[patient_id].append((day, _aware(updated)))
    cleared: dict[int, list[datetime]] = defaultdict(list)
    for patient_id, at in session.execute(
            select_columns(col(RedFlagClearance.patient_id), col(RedFlagClearance.at))
            .where(col(RedFlagClearance.patient_id).in_(patient_ids), col(RedFlagClearance.action) == "cleared")):
        cleared[patient_id].append(_aware(at))

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
    patients = (select(Patient.id).where(Patient.clinic_id == clinic_id, col(Patient.archived_at).is_(None)))
    found = adherence_by_patient(session, patients=patients, zone=zone, now=now,
                                 first_week=recent_weeks_start(now, zone, 1), active_only=True)
    return {patient_id: week for patient_id, adherence in found.items()
            if (week := adherence.this_week) is not None}
