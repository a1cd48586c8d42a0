"""Everything the advice is computed from, gathered in one place for the patient page, the decision and the
portal, so all three judge the same sessions.

The advice reads the last 28 days of visits and home logs of the patient (every protocol: a red flag on the
last plan still counts), and older sessions only where they still matter: a red flag or a fall, and an
effusion of 2+ or more that no later visit graded trace or none. It reads the last "cleared to go on", the
protocol's last moves and the last accepted raise. Five queries, whatever the history's length.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, bindparam, exists, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from rehab.models import (
    AdviceDecision,
    HomeLog,
    Patient,
    PhaseChange,
    Protocol,
    ProtocolVersion,
    RedFlagClearance,
    Visit,
)
from rehab.services import protocol_records
from rehab.services.advice.dose_steps import dose_jumps
from rehab.services.advice.engine import advise
from rehab.services.advice.situation import uncleared_sessions
from rehab.services.advice.types import Advice, DoseChange, SessionReport
from rehab.services.home_logs import report_of_log
from rehab.services.protocol_content import ProtocolContent
from rehab.services.safety import SafetyWarning
from rehab.services.visits import report_of

ADVICE_WINDOW = timedelta(days=28)  # older sessions do not change today's advice (weekly trend needs two weeks)
_LIFTING_GRADES = ("0", "trace")
_HOLDING_GRADES = ("2+", "3+")

# --------------------------------------------------------------------------------------------------- queries

_later = aliased(Visit)
_VISIT_STOPS = or_(col(Visit.flag_calf), col(Visit.flag_chest), col(Visit.flag_infection), col(Visit.flag_locking),
                   col(Visit.flag_sudden_pain), col(Visit.falls) > 0)
_UNLIFTED_HOLD = and_(col(Visit.effusion).in_(_HOLDING_GRADES), ~exists().where(
    col(_later.patient_id) == Visit.patient_id, col(_later.deleted_at).is_(None),
    col(_later.occurred_at) > Visit.occurred_at,
    col(_later.effusion).in_(_LIFTING_GRADES)))
_OWN_VISITS = (Visit.patient_id == bindparam("patient_id"), col(Visit.deleted_at).is_(None))
_FOR_ADVICE_VISIT = or_(Visit.occurred_at >= bindparam("since"), _VISIT_STOPS, _UNLIFTED_HOLD)
_ADVICE_VISITS = select(Visit).where(*_OWN_VISITS, _FOR_ADVICE_VISIT).order_by(col(Visit.occurred_at), col(Visit.id))
_HOME_STOPS = or_(col(HomeLog.flag_calf), col(HomeLog.flag_chest), col(HomeLog.flag_infection),
                  col(HomeLog.flag_locking), col(HomeLog.flag_sudden_pain), col(HomeLog.fell))
_OWN_LOGS = HomeLog.patient_id == bindparam("patient_id")
_FOR_ADVICE_LOG = or_(HomeLog.session_date >= bindparam("since_day"), _HOME_STOPS)
_ADVICE_HOME_LOGS = select(HomeLog).where(_OWN_LOGS, _FOR_ADVICE_LOG)
# The same sessions with the patient's newest few (the patient page's tables, ``visits.latest_visits`` and
# ``home_logs.home_logs_of``), each row marked with what it was read for: one statement per kind of session.
_NEWEST_VISIT = col(Visit.id).in_(select(Visit.id).where(*_OWN_VISITS)
                                  .order_by(col(Visit.occurred_at).desc(), col(Visit.id).desc())
                                  .limit(bindparam("newest")))
_ADVICE_AND_NEWEST_VISITS = (select(Visit, _FOR_ADVICE_VISIT.label("for_advice"), _NEWEST_VISIT.label("newest"))
                             .where(*_OWN_VISITS, or_(_FOR_ADVICE_VISIT, _NEWEST_VISIT))
                             .order_by(col(Visit.occurred_at), col(Visit.id)))
_NEWEST_LOG = col(HomeLog.id).in_(select(HomeLog.id).where(_OWN_LOGS)
                                  .order_by(col(HomeLog.session_date).desc(), col(HomeLog.id).desc())
                                  .limit(bindparam("newest")))
_ADVICE_AND_NEWEST_LOGS = (select(HomeLog, _FOR_ADVICE_LOG.label("for_advice"), _NEWEST_LOG.label("newest"))
                           .where(_OWN_LOGS, or_(_FOR_ADVICE_LOG, _NEWEST_LOG))
                           .order_by(col(HomeLog.session_date), col(HomeLog.id)))


def _sessions(session: Session, *, patient_id: int, since: datetime, newest_visits: int, newest_logs: int
              ) -> tuple[list[Visit], list[HomeLog], list[Visit], list[HomeLog]]:
    """The advice's visits (time order) and home logs, and the newest ``newest_visits`` visits and
    ``newest_logs`` logs, newest first (none asked: not read)."""
    params = {"patient_id": patient_id, "since": since, "since_day": since.date()}
    if not (newest_visits or newest_logs):
        return (list(session.exec(_ADVICE_VISITS, params=params)),
                list(session.exec(_ADVICE_HOME_LOGS, params=params)), [], [])
    visits = session.execute(_ADVICE_AND_NEWEST_VISITS, params | {"newest": newest_visits}).all()
    logs = session.execute(_ADVICE_AND_NEWEST_LOGS, params | {"newest": newest_logs}).all()
    return ([visit for visit, advice, _ in visits if advice], [log for log, advice, _ in logs if advice],
            [visit for visit, _, newest in reversed(visits) if newest],
            [log for log, _, newest in reversed(logs) if newest])

_ACCEPTED_ADVANCES = (select(AdviceDecision).where(AdviceDecision.protocol_id == bindparam("protocol_id"),
                                                   AdviceDecision.advice == "advance",
                                                   AdviceDecision.decision == "accepted",
                                                   col(AdviceDecision.undone_at).is_(None))
                      .order_by(col(AdviceDecision.at).desc(), col(AdviceDecision.id).desc()).limit(1).subquery())
# The protocol's last phase move, last move forward, last accepted "advance" (its change and phase), and the
# patient's last "cleared to go on", in one round trip. A decision undone, and the move it made, count as never
# made (services/advice/undo.py put the protocol back as it was).
_MOVE_COLUMNS = (
    select(func.max(PhaseChange.at)).where(PhaseChange.protocol_id == bindparam("protocol_id"),
                                           col(PhaseChange.undone_at).is_(None))
    .scalar_subquery().label("moved"),
    select(func.max(PhaseChange.at)).where(PhaseChange.protocol_id == bindparam("protocol_id"),
                                           col(PhaseChange.undone_at).is_(None),
                                           col(PhaseChange.to_phase) > col(PhaseChange.from_phase))
    .scalar_subquery().label("forward"),
    select(_ACCEPTED_ADVANCES.c.at).scalar_subquery().label("accepted"),
    select(_ACCEPTED_ADVANCES.c.change).scalar_subquery().label("accepted_change"),
    select(_ACCEPTED_ADVANCES.c.phase_index).scalar_subquery().label("accepted_phase"),
    select(func.max(RedFlagClearance.at)).where(RedFlagClearance.patient_id == bindparam("patient_id"),
                                                RedFlagClearance.action == "cleared")
    .scalar_subquery().label("cleared"),
)
_MOVES = select(*_MOVE_COLUMNS)  # type: ignore[call-overload]  # SQLModel's select() is typed for at most four columns
# The advice's version of the protocol with its moves, for ``gather``: one round trip instead of two.
_VERSION_AND_MOVES = (select(ProtocolVersion, *_MOVE_COLUMNS)  # type: ignore[call-overload]  # as above
                      .where(ProtocolVersion.protocol_id == bindparam("protocol_id"),
                             ProtocolVersion.number == bindparam("number")))


@dataclass(frozen=True)
class ProtocolMoves:
    moved: datetime | None  # the last phase move, either way
    forward: datetime | None  # the last move to a later phase
    accepted_advance: datetime | None  # the last accepted "advance"
    accepted_change: DoseChange | None = None
    accepted_phase: int | None = None
    cleared: datetime | None = None  # the patient's last "cleared to go on"


def protocol_moves(session: Session, *, protocol_id: int, patient_id: int) -> ProtocolMoves:
    return _moves_of(*session.execute(_MOVES, {"protocol_id": protocol_id, "patient_id": patient_id}).one())


def _moves_of(moved: datetime | None, forward: datetime | None, accepted: datetime | None, change: str | None,
              phase: int | None, cleared: datetime | None) -> ProtocolMoves:
    parsed = DoseChange(**json.loads(change)) if change else None
    return ProtocolMoves(moved, forward, accepted, parsed, phase, cleared)


def version_and_moves(session: Session, *, protocol: Protocol) -> tuple[ProtocolVersion, ProtocolMoves]:
    """The protocol's current version (``protocol_records.get_version``) and its moves (``protocol_moves``)."""
    version, *moves = session.execute(_VERSION_AND_MOVES, {
        "protocol_id": protocol.id, "number": protocol.latest_version, "patient_id": protocol.patient_id}).one()
    return version, _moves_of(*moves)


def dose_started_at(moves: ProtocolMoves, *, version: ProtocolVersion) -> datetime:
    """When the dose in force began: its version (or, for a version that put back an undone change, when that
    dose began), or the last phase move if later. Visit times are entered to the minute, so the start is floored
    to its minute: a visit recorded right after accepting a change counts."""
    since = version.dose_since or version.created_at
    started = max(since, moves.moved) if moves.moved else since
    return started.replace(second=0, microsecond=0)


def last_advance(moves: ProtocolMoves) -> datetime | None:
    """The last accepted level up (an accepted "advance", or a move to a later phase)."""
    times = [time for time in (moves.accepted_advance, moves.forward) if time is not None]
    return max(times) if times else None


def last_raise(moves: ProtocolMoves, *, phase_index: int) -> DoseChange | None:
    """The last raise in force at this phase, for a regress to undo: the accepted advance, or a later move."""
    if moves.forward is not None and (moves.accepted_advance is None or moves.forward > moves.accepted_advance):
        return DoseChange("move", to_phase=phase_index)
    if moves.accepted_change is not None and moves.accepted_phase == phase_index:
        return moves.accepted_change
    return None


# ---------------------------------------------------------------------------------------------- gathering


@dataclass(frozen=True)
class AdviceInputs:
    content: ProtocolContent
    version: ProtocolVersion
    sessions: tuple[SessionReport, ...]  # time order
    phase_index: int
    prescription_index: int
    latest_visit_id: int | None  # this protocol's latest visit: the one a decision is recorded against
    newest_visit_id: int | None  # the last visit recorded among those read, whatever its date (any protocol)
    newest_home_log_id: int | None  # the same for home logs
    dose_since: datetime
    last_advance_at: datetime | None
    last_raise: DoseChange | None
    cleared_until: datetime | None
    surgery_date: date | None
    # Read with the sessions when asked (``gather``'s ``newest_visits``/``newest_logs``), newest first.
    newest_visits: tuple[Visit, ...] = ()
    newest_logs: tuple[HomeLog, ...] = ()

    @property
    def uncleared(self) -> list[SessionReport]:
        """Red flags and falls no therapist has cleared: the portal shows "stop" while there are any."""
        return uncleared_sessions(self.sessions, self.cleared_until)


def gather(session: Session, *, patient: Patient, protocol: Protocol, now: datetime, newest_visits: int = 0,
           newest_logs: int = 0) -> AdviceInputs:
    """Everything the advice on the patient's active protocol is computed from, now: the one gatherer the
    patient page, the decision and the portal (its stop and its alerts) all read, so they judge the same.
    ``newest_visits``/``newest_logs``: also the patient's newest few sessions, in the same statements."""
    version, moves = version_and_moves(session, protocol=protocol)
    content = protocol_records.load_content(version)
    since = now - ADVICE_WINDOW
    visits, logs, latest_visits, latest_logs = _sessions(session, patient_id=patient.id, since=since,
                                                         newest_visits=newest_visits, newest_logs=newest_logs)
    reports = [report_of(visit) for visit in visits] + [report_of_log(log) for log in logs]
    # Sessions past the window stay only where they still stop or hold (the queries chose them for that).
    sessions = tuple(sorted(reports, key=lambda report: report.at))
    own = [visit for visit in visits if visit.protocol_id == protocol.id and visit.occurred_at >= since]
    phase = content.phases[protocol.current_phase]
    latest_exercise = own[-1].exercise if own else None
    index = next((i for i, rx in enumerate(phase.prescriptions) if rx.exercise == latest_exercise), 0)
    return AdviceInputs(content, version, sessions, protocol.current_phase, index, own[-1].id if own else None,
                        max((visit.id for visit in visits if visit.id is not None), default=None),
                        max((log.id for log in logs if log.id is not None), default=None),
                        dose_started_at(moves, version=version), last_advance(moves),
                        last_raise(moves, phase_index=protocol.current_phase), moves.cleared, patient.surgery_date,
                        tuple(latest_visits), tuple(latest_logs))


_LAST_CLEARED = (select(RedFlagClearance.patient_id, func.max(RedFlagClearance.at).label("at"))
                 .where(RedFlagClearance.action == "cleared").group_by(col(RedFlagClearance.patient_id)).subquery())


def waiting_red_flags(session: Session, *, patient_ids: Collection[int]) -> set[int]:
    """Which of these patients have a red flag or a fall no therapist has cleared (the same test as the
    advice's, in two queries for any number of patients: the batch print skips them)."""
    if not patient_ids:
        return set()
    ids = list(patient_ids)
    visits = (select(Visit.patient_id).outerjoin(_LAST_CLEARED, _LAST_CLEARED.c.patient_id == Visit.patient_id)
              .where(col(Visit.patient_id).in_(ids), col(Visit.deleted_at).is_(None), _VISIT_STOPS,
                     or_(_LAST_CLEARED.c.at.is_(None), Visit.updated_at > _LAST_CLEARED.c.at)))
    logs = (select(HomeLog.patient_id).outerjoin(_LAST_CLEARED, _LAST_CLEARED.c.patient_id == HomeLog.patient_id)
            .where(col(HomeLog.patient_id).in_(ids), _HOME_STOPS,
                   or_(_LAST_CLEARED.c.at.is_(None), HomeLog.updated_at > _LAST_CLEARED.c.at)))
    return set(session.exec(visits.distinct())) | set(session.exec(logs.distinct()))


_STOP_VISITS = (select(Visit).where(Visit.patient_id == bindparam("patient_id"), col(Visit.deleted_at).is_(None),
                                    _VISIT_STOPS).order_by(col(Visit.occurred_at), col(Visit.id)))
_STOP_HOME_LOGS = (select(HomeLog).where(HomeLog.patient_id == bindparam("patient_id"), _HOME_STOPS)
                   .order_by(col(HomeLog.id)))
_LAST_CLEARED_AT = select(func.max(RedFlagClearance.at)).where(RedFlagClearance.patient_id == bindparam("patient_id"),
                                                               RedFlagClearance.action == "cleared")


def uncleared_stops(session: Session, *, patient_id: int) -> list[SessionReport]:
    """``gather(...).uncleared`` for one patient, reading only what it needs: the sessions with a red flag or a
    fall (every one is among gather's sessions, whatever its date) and the last "cleared to go on", the latter
    only when there is such a session. The portal asks this on every page, to show "stop" instead."""
    params = {"patient_id": patient_id}
    reports = [report_of(visit) for visit in session.exec(_STOP_VISITS, params=params)]
    reports += [report_of_log(log) for log in session.exec(_STOP_HOME_LOGS, params=params)]
    if not reports:
        return []
    cleared = session.exec(_LAST_CLEARED_AT, params=params).one()
    return uncleared_sessions(sorted(reports, key=lambda report: report.at), cleared)


@dataclass(frozen=True)
class AdviceContext:
    """The advice with everything it was computed from, so the page can show it and the decision record it."""

    advice: Advice
    inputs: AdviceInputs

    @property
    def content(self) -> ProtocolContent:
        return self.inputs.content

    @property
    def version(self) -> ProtocolVersion:
        return self.inputs.version

    @property
    def prescription_index(self) -> int:
        return self.inputs.prescription_index

    @property
    def latest_visit_id(self) -> int | None:
        return self.inputs.latest_visit_id


def advice_for(session: Session, *, patient: Patient, protocol: Protocol, now: datetime,
               speed_unit: str = "kmh", newest_visits: int = 0, newest_logs: int = 0) -> AdviceContext:
    """The advice for a patient now (with the newest sessions asked for: ``gather``)."""
    inputs = gather(session, patient=patient, protocol=protocol, now=now, newest_visits=newest_visits,
                    newest_logs=newest_logs)
    advice = advise(phases=inputs.content.phases, phase_index=protocol.current_phase,
                    prescription_index=inputs.prescription_index, sessions=inputs.sessions,
                    dose_since=inputs.dose_since, last_advance_at=inputs.last_advance_at, now=now,
                    speed_unit=speed_unit, cleared_until=inputs.cleared_until, surgery_date=inputs.surgery_date,
                    last_raise=inputs.last_raise)
    return AdviceContext(advice, inputs)


_VERSION_A_WEEK_AGO = (select(ProtocolVersion).where(ProtocolVersion.protocol_id == bindparam("protocol_id"))
                       .order_by((ProtocolVersion.created_at <= bindparam("week_ago")).desc(),
                                 col(ProtocolVersion.number).desc()))


def hand_raise_warnings(session: Session, *, protocol: Protocol, content: ProtocolContent, now: datetime
                        ) -> list[SafetyWarning]:
    """The builder's warnings for a current dose raised by hand faster than the advice would raise it."""
    current = protocol_records.get_version(session, protocol_id=protocol.id, number=protocol.latest_version)
    week_ago = session.exec(_VERSION_A_WEEK_AGO, params={"protocol_id": protocol.id,
                                                         "week_ago": now - timedelta(days=7)}).first()
    if current is None or week_ago is None:
        return []
    if week_ago.created_at > now - timedelta(days=7):  # the protocol is younger than a week: its first version
        week_ago = protocol_records.get_version(session, protocol_id=protocol.id, number=1) or week_ago
    moves = protocol_moves(session, protocol_id=protocol.id, patient_id=protocol.patient_id)
    return dose_jumps(protocol_records.load_content(current), protocol_records.load_content(week_ago), content,
                      phase_index=protocol.current_phase, last_raise_at=last_advance(moves), now=now)

