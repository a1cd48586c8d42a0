"""The rows the clinic outcomes page needs, in a fixed number of queries whatever the number of patients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Float, and_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from rehab.models import Membership, Patient, Protocol, QuestionnaireResponse, User, Visit
from rehab.services.outcomes import BASELINE_DAYS, SIX_WEEK_DAYS, Episode, Observation

VISIT_MEASURES = ("pain_before", "tug_s", "backward_walk_3m_s", "six_minute_walk_m")


class days_after(FunctionElement[float]):  # noqa: N801 (an SQL function, named like one)
    """Days (with fractions) from the second timestamp to the first, on SQLite and PostgreSQL alike."""

    type = Float()
    inherit_cache = True


@compiles(days_after)
def _days_after_sqlite(element: days_after, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = element.clauses
    return f"(julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)}))"


@compiles(days_after, "postgresql")
def _days_after_postgresql(element: days_after, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = element.clauses
    return f"(EXTRACT(EPOCH FROM ({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})) / 86400.0)"


def _in_windows(at: Any) -> ColumnElement[bool]:
    """Recorded in the baseline or the 6-week window of its protocol, give or take a day: the database keeps
    back the months of visits between and after, and ``outcomes`` applies the exact windows to what is left."""
    days = days_after(at, Protocol.created_at)
    return or_(*(and_(days >= low - 1, days <= high + 1) for low, high in (BASELINE_DAYS, SIX_WEEK_DAYS)))


@dataclass(frozen=True)
class Filters:
    started_from: date | None = None
    started_to: date | None = None
    therapist_id: int | None = None
    condition: str = ""


def _protocols(clinic_id: int, filters: Filters, zone: ZoneInfo) -> SelectOfScalar[int]:
    statement = (select(Protocol.id).join(Patient, col(Patient.id) == Protocol.patient_id)
                 .where(Protocol.clinic_id == clinic_id))
    if filters.started_from:
        statement = statement.where(Protocol.created_at >= datetime.combine(filters.started_from, time(), zone))
    if filters.started_to:
        statement = statement.where(
            Protocol.created_at < datetime.combine(filters.started_to + timedelta(days=1), time(), zone))
    if filters.therapist_id:
        statement = statement.where(Protocol.created_by_id == filters.therapist_id)
    if filters.condition:
        statement = statement.where(Patient.condition == filters.condition)
    return statement


def load(session: Session, *, clinic_id: int, filters: Filters, zone: ZoneInfo
         ) -> tuple[list[Episode], list[Observation]]:
    """Every protocol of the clinic that matches the filters (archived patients and ended protocols too), and
    the measures recorded on them near its baseline and its 6 weeks: three queries."""
    chosen = _protocols(clinic_id, filters, zone).subquery()
    episodes = [
        Episode(protocol_id, template or "custom", therapist or "—", condition, started_at, status, discharge,
                archived_at is not None)
        for protocol_id, template, therapist, condition, started_at, status, discharge, archived_at in session.exec(
            select(Protocol.id, Protocol.template_key, User.name, Patient.condition, Protocol.created_at,  # type: ignore[call-overload]  # SQLModel's select() is typed for at most four columns
                   Protocol.status, Protocol.discharge_reason, Patient.archived_at)
            .join(Patient, Patient.id == Protocol.patient_id)
            .outerjoin(User, User.id == Protocol.created_by_id)
            .where(col(Protocol.id).in_(select(chosen.c.id)))
            .order_by(col(Protocol.id)))
    ]
    observations: list[Observation] = []
    visit_columns = [getattr(Visit, name) for name in VISIT_MEASURES]
    for protocol_id, at, *values in session.exec(
            select(Visit.protocol_id, Visit.occurred_at, *visit_columns)
            .join(Protocol, col(Protocol.id) == Visit.protocol_id)
            .where(Visit.clinic_id == clinic_id, col(Visit.deleted_at).is_(None),
                   col(Visit.protocol_id).in_(select(chosen.c.id)), _in_windows(Visit.occurred_at))):
        observations += [Observation(protocol_id, name, at, value) for name, value in zip(VISIT_MEASURES, values,
                                                                                         strict=True)
                         if value is not None]
    for protocol_id, instrument, at, score in session.exec(
            select(QuestionnaireResponse.protocol_id, QuestionnaireResponse.instrument,
                   QuestionnaireResponse.completed_at, QuestionnaireResponse.score)
            .join(Protocol, col(Protocol.id) == QuestionnaireResponse.protocol_id)
            .where(QuestionnaireResponse.clinic_id == clinic_id, col(QuestionnaireResponse.score).is_not(None),
                   col(QuestionnaireResponse.protocol_id).in_(select(chosen.c.id)),
                   _in_windows(QuestionnaireResponse.completed_at))):
        observations.append(Observation(protocol_id, instrument, at, score))  # type: ignore[arg-type]  # scored, so completed
    return episodes, observations


def therapists(session: Session, *, clinic_id: int) -> list[tuple[int, str]]:
    return [(user_id, name) for user_id, name in session.exec(
        select(User.id, User.name).join(Membership, col(Membership.user_id) == User.id)
        .where(Membership.clinic_id == clinic_id).order_by(col(User.name)))]
