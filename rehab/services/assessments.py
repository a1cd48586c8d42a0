"""Fall-risk screens: baseline assessments recorded on the patient page before any protocol exists, and the
newest screen the protocol builder's safety check reads, from assessments and visits alike.

Services add and flush; the view commits once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from pydantic import field_validator
from sqlalchemy import Float, Select, bindparam, cast, literal, union_all
from sqlmodel import Session, col, select

from rehab.models import Assessment, Patient, Visit
from rehab.models.visits import AssessmentBase
from rehab.services.safety import PatientFacts
from rehab.services.shapes import recorded_moment

MEASURES = ("backward_walk_3m_s", "tug_s", "gait_speed_ms")


class AssessmentInput(AssessmentBase):
    """A baseline (or later) fall-risk screen as the therapist records it: at least one of the three measures."""

    RANGE_WORDS: ClassVar[dict[str, str]] = {
        "backward_walk_3m_s": "{ge} to {le} seconds",
        "tug_s": "{ge} to {le} seconds",
        "gait_speed_ms": "{ge} to {le} m/s",
    }

    @field_validator("occurred_at")
    @classmethod
    def _not_in_future(cls, value: datetime) -> datetime:
        return recorded_moment(value, "assessment")

    @property
    def measured(self) -> bool:
        return any(getattr(self, measure) is not None for measure in MEASURES)


@dataclass(frozen=True)
class Measured:
    """One measure's newest value, when it was taken and where it was recorded."""

    value: float
    at: datetime
    source: Literal["baseline", "visit"]


@dataclass(frozen=True)
class FallScreen:
    """The newest value of each fall-risk measure. Each measure is read on its own, so a later visit that
    re-tested only the TUG does not hide an earlier high 3-metre backward walk (the safer reading)."""

    backward_walk_3m_s: Measured | None = None
    tug_s: Measured | None = None
    gait_speed_ms: Measured | None = None

    @property
    def measured(self) -> list[tuple[str, Measured]]:
        return [(name, value) for name in MEASURES if (value := getattr(self, name)) is not None]


def _newest(model: type[Assessment] | type[Visit], name: str, source: str) -> Select[Any]:
    column = getattr(model, name)
    return (select(literal(name).label("measure"), literal(source).label("source"), model.occurred_at,
                   cast(column, Float).label("value"))
            .where(model.patient_id == bindparam("patient_id"), col(model.deleted_at).is_(None),
                   col(column).is_not(None))
            .order_by(col(model.occurred_at).desc(), col(model.id).desc()).limit(1).subquery().select())


# Six index lookups in one round trip: each measure's newest value in assessments and in visits.
_NEWEST = union_all(*[_newest(model, name, source) for name in MEASURES
                      for model, source in ((Assessment, "baseline"), (Visit, "visit"))])


def latest_screen(session: Session, *, patient_id: int) -> FallScreen:
    return screen_of(session.execute(_NEWEST, {"patient_id": patient_id}))


def screen_of(newest: Iterable[tuple[str, Any, datetime, float]]) -> FallScreen:
    """The screen from each measure's newest values as (measure, source, when, value), baselines before visits:
    the later one counts, a baseline on a tie."""
    best: dict[str, Measured] = {}
    for name, source, at, value in newest:
        if name not in best or at > best[name].at:
            best[name] = Measured(value, at, source)
    return FallScreen(**best)


def patient_facts(patient: Patient, screen: FallScreen, *, today: date) -> PatientFacts:
    """What the builder's safety check knows about the patient: precautions, surgery and the newest screen."""
    values = {name: measured.value for name, measured in screen.measured}
    return PatientFacts(
        today=today, uses_walker=patient.uses_walker, condition=patient.condition, surgery_date=patient.surgery_date,
        vestibular_disorder=patient.vestibular_disorder, peripheral_neuropathy=patient.peripheral_neuropathy,
        cognitive_impairment=patient.cognitive_impairment, anticoagulants=patient.anticoagulants, **values)


def record_assessment(session: Session, *, patient: Patient, form: AssessmentInput, user_id: int,
                      now: datetime) -> Assessment:
    assessment = Assessment(patient_id=patient.id, clinic_id=patient.clinic_id, created_at=now,
                            created_by_id=user_id, **form.model_dump())
    session.add(assessment)
    session.flush()
    return assessment


_ASSESSMENTS = (select(Assessment).where(Assessment.patient_id == bindparam("patient_id"),
                                         col(Assessment.deleted_at).is_(None))
                .order_by(col(Assessment.occurred_at).desc(), col(Assessment.id).desc()))


def assessments_of(session: Session, *, patient_id: int) -> list[Assessment]:
    """A patient's assessments, newest first."""
    return list(session.exec(_ASSESSMENTS, params={"patient_id": patient_id}))
