"""This week's adherence of a whole clinic, for the dashboard's "under half this week", counted by the database.

Most active protocols go through a week unchanged: started before it, on the same version and phase all week,
with no safety stop touching it. For those ("steady") the rule of ``services.adherence`` comes down to
arithmetic on the phase's stored sessions a week (``PhasePlan``) and the week's session counts, which the
database does, returning only the patients under half. The others (a protocol started, edited, moved or
stopped in the week, or whose facts the shortcut does not cover) are counted by the rule itself
(``adherence_by_patient``), so the list is the rule's whatever the data. Seven queries whatever the caseload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    or_,
    true,
)
from sqlalchemy import select as select_columns
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col, select

from rehab.models import HomeLog, Patient, PhaseChange, PhasePlan, Protocol, ProtocolVersion, RedFlagClearance, Visit
from rehab.services.adherence import WEEK, WeekAdherence, week_start
from rehab.services.adherence_records import HOME_STOPS, VISIT_STOPS, adherence_by_patient
from rehab.services.assignment import is_mine


@dataclass(frozen=True)
class WeekBounds:
    """This week in the clinic's zone: its Monday and Sunday, Monday's midnight and the next Monday's as
    instants, and how many of its days are over (the sessions due so far are theirs)."""

    monday: date
    start: datetime
    end: datetime
    days_over: int

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)


def week_bounds(now: datetime, zone: str) -> WeekBounds:
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    monday = week_start(today)
    return WeekBounds(monday, datetime.combine(monday, time.min, tzinfo=tz).astimezone(UTC),
                      datetime.combine(monday + WEEK, time.min, tzinfo=tz).astimezone(UTC), (today - monday).days)


def steady_week(week: WeekBounds, *, clinic_per_week: int, home_per_week: int, clinic_done: int,
                home_done: int) -> WeekAdherence:
    """``weekly_adherence``'s row for this week when one plan was in force all week and nothing stopped it:
    seven plan days of the plan's sevenths make the plan itself, and each day over adds a seventh of it."""
    return WeekAdherence(start=week.monday, planned_clinic=clinic_per_week, planned_home=home_per_week,
                         clinic_done=clinic_done, home_done=home_done, plan_days=7, stopped_days=0,
                         in_progress=True, due=Fraction(week.days_over * (clinic_per_week + home_per_week), 7))


def _least(first: Any, second: Any) -> Any:
    return case((first < second, first), else_=second)


def _build_query() -> Any:
    start: Any = bindparam("start")
    end: Any = bindparam("end")
    monday: Any = bindparam("monday")
    sunday: Any = bindparam("sunday")
    clinic_id: Any = bindparam("clinic_id")
    version = aliased(ProtocolVersion)
    move, later_move = aliased(PhaseChange), aliased(PhaseChange)
    patient_id = col(Protocol.patient_id)

    def cleared_before_the_week(recorded: Any) -> Any:
        """A "cleared" made after the session was recorded and before the week: its stop ended before."""
        return (exists().where(col(RedFlagClearance.patient_id) == patient_id,
                               col(RedFlagClearance.action) == "cleared", col(RedFlagClearance.at) >= recorded,
                               col(RedFlagClearance.at) < start).correlate_except(RedFlagClearance))

    home_stops = (select_columns(col(HomeLog.id))
                  .with_hint(HomeLog, "INDEXED BY ix_home_log_stop", dialect_name="sqlite")  # see below
                  .where(col(HomeLog.patient_id) == patient_id, HOME_STOPS, col(HomeLog.session_date) <= sunday,
                         ~cleared_before_the_week(HomeLog.updated_at)).correlate(Protocol).exists())
    # One plan all week: begun before it, not ended, its latest version saved before it and no other saved
    # after that or numbered above it (so the latest is in force however the rule orders them; read on the
    # (protocol, saved at, number) index without the versions' content), the phase it is in stored for that
    # version, and every phase move before the week, the newest ones to that phase. Anything else, however
    # odd, is left to the rule.
    steady = and_(
        col(Protocol.created_at) < start, col(Protocol.ended_at).is_(None), col(PhasePlan.saved_at) < start,
        ~exists().where(col(version.protocol_id) == Protocol.id, or_(
            col(version.created_at) > PhasePlan.saved_at, col(version.number) > Protocol.latest_version))
        .correlate_except(version),
        ~exists().where(col(move.protocol_id) == Protocol.id, or_(
            col(move.at) >= start,
            and_(col(move.to_phase) != Protocol.current_phase,
                 ~exists().where(col(later_move.protocol_id) == Protocol.id, col(later_move.at) > col(move.at))
                 .correlate_except(later_move)))).correlate(Protocol),
        # No red flag or fall stopping any day of the week: each reported on or before Sunday was cleared
        # before Monday (services.adherence_records._stops). The home sessions' are read on their partial index,
        # named for SQLite (whose planner, without statistics for an index holding no row yet, would read every
        # home session of each patient).
        ~exists().where(col(Visit.patient_id) == patient_id, col(Visit.deleted_at).is_(None), VISIT_STOPS,
                        col(Visit.occurred_at) < end, ~cleared_before_the_week(Visit.updated_at)
                        ).correlate(Protocol),
        ~home_stops)
    # The week's sessions of the clinic's patients, on the (clinic, when) indexes: a session is recorded under
    # its patient's clinic (services.visits, services.home_logs).
    visits = (select_columns(col(Visit.patient_id), func.count().label("done"))
              .where(col(Visit.clinic_id) == clinic_id, col(Visit.occurred_at) >= start, col(Visit.occurred_at) < end,
                     col(Visit.deleted_at).is_(None)).group_by(col(Visit.patient_id)).subquery())
    logs = (select_columns(col(HomeLog.patient_id), func.count().label("done"))
            .where(col(HomeLog.clinic_id) == clinic_id, col(HomeLog.session_date) >= monday,
                   col(HomeLog.session_date) <= sunday).group_by(col(HomeLog.patient_id)).subquery())
    return (select_columns(patient_id.label("patient_id"), case((steady, true()), else_=false()).label("steady"),
                           col(PhasePlan.clinic_per_week), col(PhasePlan.home_per_week),
                           func.coalesce(visits.c.done, 0).label("clinic_done"),
                           func.coalesce(logs.c.done, 0).label("home_done"))
            .select_from(Protocol).join(Patient, col(Patient.id) == patient_id)
            .outerjoin(PhasePlan, and_(col(PhasePlan.protocol_id) == Protocol.id,
                                       col(PhasePlan.version_number) == Protocol.latest_version,
                                       col(PhasePlan.phase_index) == Protocol.current_phase))
            .outerjoin(visits, visits.c.patient_id == patient_id).outerjoin(logs, logs.c.patient_id == patient_id)
            .where(col(Protocol.status) == "active", col(Patient.clinic_id) == clinic_id,
                   col(Patient.archived_at).is_(None)))


def clinic_under_half(session: Session, *, clinic_id: int, zone: str, now: datetime,
                      mine: ColumnElement[bool] | None = None) -> list[tuple[Patient, WeekAdherence]]:
    """Every patient of the clinic (``mine``: of those it holds for) with an active protocol who is under half
    this week (``WeekAdherence.under_half``), with the week, in no particular order."""
    return _under_half(session, _ranked_query(true() if mine is None else mine), clinic_id=clinic_id, zone=zone,
                       now=now, steady_limit=_EVERY)[0]


def clinic_most_behind(session: Session, *, clinic_id: int, zone: str, now: datetime, limit: int,
                       therapist_id: int | None = None) -> tuple[list[tuple[Patient, WeekAdherence]], int]:
    """The ``limit`` patients furthest behind this week (fewest done of those due, then by name, then as
    entered: the order of ``services.dashboard.under_half_this_week``) among those ``clinic_under_half``
    lists, and how many it lists in all: of the clinic's patients, or of ``therapist_id``'s (``is_mine``).

    The database ranks the steady weeks and returns the first ``limit`` with their count, so a Thursday's
    thousand patients under half load as ``limit`` rows; the changed weeks, all counted by the rule, join them
    and the first ``limit`` of both are kept. The statement is built once (``_MOST_BEHIND``), the scope one of
    its parameters: building it costs as much as the database's ranking."""
    found, total = _under_half(session, _MOST_BEHIND, clinic_id=clinic_id, zone=zone, now=now, steady_limit=limit,
                               whole_clinic=therapist_id is None, therapist_id=therapist_id or 0)
    return sorted(found, key=behind_first)[:limit], total


def behind_first(row: tuple[Patient, WeekAdherence]) -> tuple[Fraction, str, str, int]:
    """The order of "under half this week": fewest done of those due first, then by name, then as entered."""
    patient, week = row
    return week.counted / week.due, patient.last_name, patient.first_name, patient.id or 0


class code_point_order(FunctionElement[str]):
    """A text column compared character by character (as Python compares ``str``), whatever the database's
    collation: SQLite's default already does; PostgreSQL's may follow a language's rules."""

    type = String()
    inherit_cache = True


@compiles(code_point_order)
def _code_point_order(element: code_point_order, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(code_point_order, "postgresql")
def _code_point_order_postgresql(element: code_point_order, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


def _ranked_query(mine: ColumnElement[bool]) -> Any:
    """``mine``'s patients under half this week (the steady weeks whose figures say so, and every changed week
    for the rule to count), with each steady one's rank, furthest behind first, and their number; of the steady
    ones, only those ranked up to the ``steady_limit`` parameter."""
    rows = _WEEK.where(mine).cte("week_rows").prefix_with("MATERIALIZED")  # each week's checks run once a row
    per_week = rows.c.clinic_per_week + rows.c.home_per_week
    counted = _least(rows.c.clinic_done, rows.c.clinic_per_week) + _least(rows.c.home_done, rows.c.home_per_week)
    under_half = or_(~rows.c.steady, and_(_DAYS_OVER * per_week >= 7, 14 * counted < _DAYS_OVER * per_week))
    # A steady week's share of its due is 7 × counted / (days over × per week), days over the same for all:
    # counted / per week orders them alike, and as a float division of small whole numbers it ties exactly
    # where the fractions do.
    share = case((rows.c.steady, cast(counted, Float) / func.nullif(per_week, 0)), else_=0)
    named = aliased(Patient)
    ranked = (select_columns(rows, func.count().over(partition_by=rows.c.steady).label("listed"),
                             func.row_number().over(partition_by=rows.c.steady, order_by=(
                                 share, code_point_order(col(named.last_name)),
                                 code_point_order(col(named.first_name)), rows.c.patient_id)).label("rank"))
              .join(named, col(named.id) == rows.c.patient_id).where(under_half).subquery())
    return (select(Patient, ranked.c.steady, ranked.c.clinic_per_week, ranked.c.home_per_week,  # type: ignore[call-overload]  # SQLModel's select() is typed for at most four columns
                   ranked.c.clinic_done, ranked.c.home_done, ranked.c.listed)
            .join(ranked, ranked.c.patient_id == Patient.id)
            .where(or_(~ranked.c.steady, ranked.c.rank <= bindparam("steady_limit", type_=Integer))))


def _under_half(session: Session, statement: Any, *, clinic_id: int, zone: str, now: datetime,
                steady_limit: int, **scope: Any) -> tuple[list[tuple[Patient, WeekAdherence]], int]:
    """The patients under half this week and how many there are, ``statement`` a ``_ranked_query``: of the
    steady weeks, only ``steady_limit``, furthest behind first. ``scope``: the statement's own parameters."""
    week = week_bounds(now, zone)
    found = session.execute(statement, {
        "clinic_id": clinic_id, "start": week.start, "end": week.end, "monday": week.monday, "sunday": week.sunday,
        "days_over": week.days_over, "steady_limit": steady_limit, **scope}).all()
    behind = [(patient, steady_week(week, clinic_per_week=clinic, home_per_week=home, clinic_done=clinic_done,
                                    home_done=home_done))
              for patient, steady, clinic, home, clinic_done, home_done, _ in found if steady]
    steady_total = next((listed for _, steady, *_, listed in found if steady), 0)
    others = {patient.id: patient for patient, steady, *_ in found if not steady}
    # Always run, so the dashboard's number of queries does not depend on whether any protocol changed.
    exact = adherence_by_patient(session, patients=sorted(others), zone=zone, now=now, first_week=week.monday,
                                 active_only=True)
    changed = [(others[patient_id], this_week) for patient_id, adherence in exact.items()
               if (this_week := adherence.this_week) is not None and this_week.under_half]
    return behind + changed, steady_total + len(changed)


_WEEK = _build_query()
_DAYS_OVER: Any = bindparam("days_over")
_THERAPIST: Any = bindparam("therapist_id", type_=Integer)
_MOST_BEHIND = _ranked_query(or_(bindparam("whole_clinic", type_=Boolean), is_mine(_THERAPIST)))
_EVERY = 2**31 - 1  # a steady_limit that keeps them all
