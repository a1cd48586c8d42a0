"""Clinic visits, the advice shown for them and what the therapist decided, and patient alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from sqlalchemy import Column, Index, Text, text
from sqlmodel import AutoString, Field, SQLModel

from rehab.models.base import UnderProtocol, stop_condition, utcnow
from rehab.vocabulary import AlertKind, ClearanceAction, Decision, Effusion, OneOf, RedFlag, Soreness, Support


class FallRiskMeasures(SQLModel):
    """The fall-risk screen's three measures and their plausible ranges, taken at a visit or on their own."""

    backward_walk_3m_s: float | None = Field(default=None, ge=1, le=120)
    tug_s: float | None = Field(default=None, ge=1, le=300)
    gait_speed_ms: float | None = Field(default=None, ge=0.05, le=3)


class VisitBase(FallRiskMeasures):
    """What the therapist records at a visit, each field with its limits: the table and the input shape
    (``services.visits.VisitInput``) both derive from it. Speeds are stored in km/h whatever the clinic's unit."""

    occurred_at: datetime
    # NPRS 0-10 (LOINC 72514-3, reported).
    pain_before: int = Field(ge=0, le=10)
    pain_worst: int = Field(ge=0, le=10)
    pain_after: int = Field(ge=0, le=10)
    pain_next_morning: int | None = Field(default=None, ge=0, le=10)  # after the last session, as reported
    soreness: Annotated[str, OneOf(Soreness)] = Field(default=Soreness.NONE, sa_type=AutoString(length=20))
    # Swelling by the stroke test.
    effusion: Annotated[str, OneOf(Effusion)] = Field(default=Effusion.ZERO, sa_type=AutoString(length=5))
    exercise: str = Field(min_length=1, max_length=40)
    minutes: float = Field(ge=0.5, le=120)
    speed_kmh: float | None = Field(default=None, ge=0.1, le=8)
    incline_pct: float = Field(default=0, ge=0, le=20)
    support: Annotated[str, OneOf(Support)] = Field(sa_type=AutoString(length=20))
    stumbles: int = Field(default=0, ge=0, le=50)
    falls: int = Field(default=0, ge=0, le=20)
    # The red flags (vocabulary.RedFlag), one yes/no column each.
    flag_calf: bool = False  # calf pain or swelling
    flag_chest: bool = False  # chest pain or breathlessness
    flag_infection: bool = False  # spreading redness, heat, fever or wound drainage
    flag_locking: bool = False  # knee locking or giving way
    flag_sudden_pain: bool = False  # sudden sharp rise in pain
    six_minute_walk_m: float | None = Field(default=None, ge=1, le=1000)
    knee_flexion_deg: float | None = Field(default=None, ge=0, le=160)
    knee_extension_deg: float | None = Field(default=None, ge=-30, le=40)
    note: str = Field(default="", max_length=2000, sa_column=Column(Text, nullable=False, default=""))


class Visit(VisitBase, UnderProtocol, table=True):
    """What the patient reported and did at one visit. Edits keep history; deletion is soft, with a reason.

    ``protocol_version`` and ``phase_index`` record the dose in force when the visit happened."""

    __table_args__ = (Index("ix_visit_patient_when", "patient_id", "occurred_at"),
                      Index("ix_visit_clinic_when", "clinic_id", "occurred_at"),
                      # The visits that stopped the walking (a red flag or a fall), rare and read whatever their
                      # age (adherence's safety stops): the condition as each dialect writes it, so the planner
                      # matches services.advice.inputs' test to it.
                      Index("ix_visit_stop", "patient_id", "occurred_at",
                            sqlite_where=text(stop_condition(tuple(RedFlag), "falls > 0", boolean_as="= 1")),
                            postgresql_where=text(stop_condition(tuple(RedFlag), "falls > 0"))))

    id: int = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = 1
    deleted_at: datetime | None = None
    deleted_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    delete_reason: str = Field(default="", max_length=300)

    @property
    def red_flags(self) -> bool:
        return self.flag_calf or self.flag_chest or self.flag_infection or self.flag_locking or self.flag_sudden_pain


class AssessmentBase(FallRiskMeasures):
    """A fall-risk screen as the therapist records it (``services.assessments.AssessmentInput`` derives from it)."""

    occurred_at: datetime
    note: str = Field(default="", max_length=1000, sa_column=Column(Text, nullable=False, default=""))


class Assessment(AssessmentBase, table=True):
    """A fall-risk screen recorded on its own, before any protocol exists (the baseline) or between visits: the
    3-metre backward walk test, the Timed Up and Go and gait speed. The protocol builder's safety check reads the
    newest value of each, from these and from visits. Removal is soft, with a reason."""

    __table_args__ = (Index("ix_assessment_patient_when", "patient_id", "occurred_at"),)

    id: int = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    clinic_id: int = Field(foreign_key="clinic.id")
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    deleted_at: datetime | None = None
    deleted_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    delete_reason: str = Field(default="", max_length=300)


class AdviceDecision(SQLModel, table=True):
    """The advice shown after a visit and what the therapist did with it (accepted or overridden).

    It keeps what the advice was based on (the newest visit and home log, with the protocol version and phase),
    so the card shows the decision while nothing new has come in, and what accepting applied (the version saved,
    the phase move), so an undo on the same day puts exactly that back. An undone decision is kept, marked."""

    __tablename__ = "advice_decision"

    id: int = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    protocol_id: int = Field(foreign_key="protocol.id")
    visit_id: int | None = Field(default=None, foreign_key="visit.id")
    protocol_version: int
    phase_index: int
    advice: str = Field(max_length=20)  # advance | repeat | hold | regress | stop_refer
    rules: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of the rules that fired
    change: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # JSON of the next dose
    decision: Annotated[str, OneOf(Decision)] = Field(sa_type=AutoString(length=12))
    reason: str = Field(default="", max_length=500)
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    at: datetime = Field(default_factory=utcnow)
    newest_visit_id: int | None = Field(default=None, foreign_key="visit.id")
    newest_home_log_id: int | None = Field(default=None, foreign_key="home_log.id")
    applied_version: int | None = None  # the version accepting saved, if it saved one
    applied_move_id: int | None = Field(default=None, foreign_key="phase_change.id")  # the phase move it made
    undone_at: datetime | None = None
    undone_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    undo_version: int | None = None  # the version the undo saved to put the dose back


class Alert(SQLModel, table=True):
    """Something a therapist must look at: a red flag, a fall, pain above the ceiling twice, no activity.

    Alerts are acknowledged, never deleted."""

    __table_args__ = (Index("ix_alert_clinic_open", "clinic_id", "acknowledged_at"),)

    id: int = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    kind: Annotated[str, OneOf(AlertKind)] = Field(sa_type=AutoString(length=20))
    message: str = Field(max_length=300)
    visit_id: int | None = Field(default=None, foreign_key="visit.id")
    home_log_id: int | None = Field(default=None, foreign_key="home_log.id")
    created_at: datetime = Field(default_factory=utcnow)
    acknowledged_at: datetime | None = None
    acknowledged_by_id: int | None = Field(default=None, foreign_key="user_account.id")


class RedFlagClearance(SQLModel, table=True):
    """What a therapist did about a patient's red flags and falls, with a note (kept for the record and the
    physician report). Only ``action == "cleared"`` lifts the stop: it covers every flagged session recorded up
    to ``at``; "called" and "referred" are kept and the stop stands."""

    __tablename__ = "red_flag_clearance"
    __table_args__ = (Index("ix_red_flag_clearance_patient_at", "patient_id", "at"),)

    id: int = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    clinic_id: int = Field(foreign_key="clinic.id")
    action: Annotated[str, OneOf(ClearanceAction)] = Field(sa_type=AutoString(length=12))
    note: str = Field(sa_column=Column(Text, nullable=False))
    covers: str = Field(sa_column=Column(Text, nullable=False))  # JSON list: what was reported, in words
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    at: datetime = Field(default_factory=utcnow)
