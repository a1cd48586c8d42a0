"""Backward-walking protocols, their immutable versions, phase moves and clinic templates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from rehab.models.base import utcnow


class Protocol(SQLModel, table=True):
    """A patient's backward-walking program. One is active at a time; ended ones are kept.

    The content lives in immutable ``ProtocolVersion`` rows; ``latest_version`` is the number a builder form
    must have been opened at for its save to be accepted (the stale-edit check)."""

    __table_args__ = (
        # At most one active protocol per patient, enforced by the database on SQLite and PostgreSQL.
        Index("uq_protocol_one_active", "patient_id", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )

    id: int = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    title: str = Field(max_length=120)
    template_key: str = Field(default="", max_length=40)
    status: str = Field(default="active", max_length=10)  # active | ended
    current_phase: int = 0  # index into the latest version's phases
    latest_version: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    ended_at: datetime | None = None
    end_reason: str = Field(default="", max_length=300)
    # Why the patient was discharged (services.outcomes.DISCHARGE_REASONS); "" for protocols ended otherwise.
    discharge_reason: str = Field(default="", max_length=20)


class ProtocolVersion(SQLModel, table=True):
    """An immutable snapshot of a protocol's content, with who saved it and what changed."""

    __tablename__ = "protocol_version"
    __table_args__ = (UniqueConstraint("protocol_id", "number", name="uq_protocol_version_number"),
                      # The version in force (the last saved), read without its content (the dashboard's week).
                      Index("ix_protocol_version_protocol_at", "protocol_id", "created_at", "number"))

    id: int = Field(default=None, primary_key=True)
    protocol_id: int = Field(foreign_key="protocol.id", index=True)
    number: int
    created_at: datetime = Field(default_factory=utcnow)
    author_id: int | None = Field(default=None, foreign_key="user_account.id")
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # JSON list of lines
    content: str = Field(sa_column=Column(Text, nullable=False))  # JSON of services.protocol_content.ProtocolContent
    # Safety warnings the therapist chose to proceed past, with their reasons (JSON list).
    safety_overrides: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    # A version that puts back the dose of an undone decision: when that dose began (the advice counts the
    # sessions at it from then, as if the undone change had never been made). None: when the version was saved.
    dose_since: datetime | None = None


class PhasePlan(SQLModel, table=True):
    """The sessions a week one phase of a saved version asks for, in the clinic and at home
    (``services.adherence_records.phase_plans`` of its content), stored with the version: the dashboard counts a
    whole clinic's week in SQL from these instead of parsing every active protocol's content on each load."""

    __tablename__ = "phase_plan"
    __table_args__ = {"sqlite_with_rowid": False}  # one lookup by its key, read per active protocol

    protocol_id: int = Field(foreign_key="protocol.id", primary_key=True)
    version_number: int = Field(primary_key=True)
    phase_index: int = Field(primary_key=True)
    clinic_per_week: int
    home_per_week: int
    saved_at: datetime  # the version's created_at: when this plan came into force


class PhaseChange(SQLModel, table=True):
    """A move to the next or previous phase, with the therapist's reason. A move made by accepting advice and
    undone the same day is kept with ``undone_at``; the protocol is back in ``from_phase`` and the advice reads
    it as never made."""

    __tablename__ = "phase_change"

    id: int = Field(default=None, primary_key=True)
    protocol_id: int = Field(foreign_key="protocol.id", index=True)
    from_phase: int
    to_phase: int
    version_number: int
    reason: str = Field(max_length=500)
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    at: datetime = Field(default_factory=utcnow)
    undone_at: datetime | None = None


class ClinicTemplate(SQLModel, table=True):
    """A protocol saved by a clinic for reuse; admins rename and retire them."""

    __tablename__ = "clinic_template"

    id: int = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    name: str = Field(max_length=120)
    condition: str = Field(default="", max_length=20)
    content: str = Field(sa_column=Column(Text, nullable=False))
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow)
    archived_at: datetime | None = None
    # Bumped by every rename, retirement or return; a rename carries the version its page showed.
    version: int = Field(default=1)
