"""Clinic visits, the advice shown for them and what the therapist decided, and patient alerts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from rehab.models.base import utcnow


class Visit(SQLModel, table=True):
    """What the patient reported and did at one visit. Edits keep history; deletion is soft, with a reason.

    ``protocol_version`` and ``phase_index`` record the dose in force when the visit happened."""

    __table_args__ = (Index("ix_visit_patient_when", "patient_id", "occurred_at"),
                      Index("ix_visit_clinic_when", "clinic_id", "occurred_at"))

    id: int = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    clinic_id: int = Field(foreign_key="clinic.id")
    protocol_id: int = Field(foreign_key="protocol.id")
    protocol_version: int
    phase_index: int
    occurred_at: datetime
    # NPRS 0-10 (LOINC 72514-3, reported).
    pain_before: int
    pain_worst: int
    pain_after: int
    pain_next_morning: int | None = None  # after the last session, as reported
    soreness: str = Field(default="none", max_length=20)  # none | warmup_gone | warmup_stayed | late
    effusion: str = Field(default="0", max_length=5)  # 0 | trace | 1+ | 2+ | 3+ (stroke test)
    exercise: str = Field(max_length=40)
    minutes: float
    speed_kmh: float | None = None
    incline_pct: float = 0
    support: str = Field(max_length=20)
    stumbles: int = 0
    falls: int = 0
    flag_calf: bool = False  # calf pain or swelling
    flag_chest: bool = False  # chest pain or breathlessness
    flag_infection: bool = False  # spreading redness, heat, fever or wound drainage
    flag_locking: bool = False  # knee locking or giving way
    flag_sudden_pain: bool = False  # sudden sharp rise in pain
    backward_walk_3m_s: float | None = None
    tug_s: float | None = None
    gait_speed_ms: float | None = None
    six_minute_walk_m: float | None = None
    knee_flexion_deg: float | None = None
    knee_extension_deg: float | None = None
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
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


class Assessment(SQLModel, table=True):
    """A fall-risk screen recorded on its own, before any protocol exists (the baseline) or between visits: the
    3-metre backward walk test, the Timed Up and Go and gait speed. The protocol builder's safety check reads the
    newest value of each, from these and from visits. Removal is soft, with a reason."""

    __table_args__ = (Index("ix_assessment_patient_when", "patient_id", "occurred_at"),)

    id: int = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    clinic_id: int = Field(foreign_key="clinic.id")
    occurred_at: datetime
    backward_walk_3m_s: float | None = None
    tug_s: float | None = None
    gait_speed_ms: float | None = None
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    deleted_at: datetime | None = None
    deleted_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    delete_reason: str = Field(default="", max_length=300)


class AdviceDecision(SQLModel, table=True):
    """The advice shown after a visit and what the therapist did with it (accepted or overridden)."""

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
    decision: str = Field(max_length=12)  # accepted | overridden
    reason: str = Field(default="", max_length=500)
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    at: datetime = Field(default_factory=utcnow)


class Alert(SQLModel, table=True):
    """Something a therapist must look at: a red flag, a fall, pain above the ceiling twice, no activity.

    Alerts are acknowledged, never deleted."""

    __table_args__ = (Index("ix_alert_clinic_open", "clinic_id", "acknowledged_at"),)

    id: int = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    kind: str = Field(max_length=20)  # red_flag | fall | pain_twice | pain_high | inactive | dob_lockout | clinic_only
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
    action: str = Field(max_length=12)  # called | referred | cleared
    note: str = Field(sa_column=Column(Text, nullable=False))
    covers: str = Field(sa_column=Column(Text, nullable=False))  # JSON list: what was reported, in words
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    at: datetime = Field(default_factory=utcnow)
