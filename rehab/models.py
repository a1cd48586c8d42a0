"""Tables. Every patient belongs to one clinic; every query about patients is scoped to a clinic.

Times are aware UTC datetimes (``utcnow``); SQLModel's UTCDateTime column stores them the same way on
SQLite and PostgreSQL, and pages show them in the clinic's time zone. Choice fields are short strings
checked by the form shapes in ``rehab/forms.py``, not database enums, so adding a choice never needs a
PostgreSQL type migration.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Now, in UTC (the storage convention)."""
    return datetime.now(UTC)


class Clinic(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    address: str = Field(default="", max_length=300)
    phone: str = Field(default="", max_length=40)
    paper_size: str = Field(default="letter", max_length=10)  # letter | a4
    speed_unit: str = Field(default="kmh", max_length=5)  # kmh | mph
    timezone: str = Field(default="UTC", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A therapist or an admin. ("user" is reserved in PostgreSQL.)"""

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    is_admin: bool = False
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    password_changed_at: datetime = Field(default_factory=utcnow)


class Membership(SQLModel, table=True):
    """A therapist works in one or more clinics."""

    user_id: int = Field(foreign_key="user_account.id", primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", primary_key=True, index=True)


class UserSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so signing out or
    changing a password ends the session on the server, whatever the browser kept (SECURITY.md 5)."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int = Field(foreign_key="user_account.id", index=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class LoginAttempt(SQLModel, table=True):
    """Failed and successful sign-ins, shared by every worker for throttling (SECURITY.md 3).

    The account is stored as a hash of the typed email: people type passwords into the email field."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_account_at", "account_key", "at"),
        Index("ix_login_attempt_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    account_key: str = Field(max_length=64)
    address: str = Field(max_length=64)
    succeeded: bool = False


class Patient(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("clinic_id", "chart_number", name="uq_patient_clinic_chart"),
        Index("ix_patient_clinic_name", "clinic_id", "last_name", "first_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    date_of_birth: date
    chart_number: str | None = Field(default=None, max_length=40)
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=254)
    affected_knee: str = Field(max_length=10)  # left | right | both
    condition: str = Field(max_length=20)  # see forms.CONDITIONS
    condition_other: str = Field(default="", max_length=200)
    surgery_date: date | None = None
    uses_walker: bool = False
    vestibular_disorder: bool = False
    peripheral_neuropathy: bool = False
    anticoagulants: bool = False
    cognitive_impairment: bool = False
    precaution_other: str = Field(default="", max_length=200)
    language: str = Field(default="en", max_length=5)  # en | es
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    archived_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    # Bumped by every edit; a form carries the version it was opened at (see services/patients.py).
    version: int = Field(default=1)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class EditRecord(SQLModel, table=True):
    """What a clinical edit changed: field -> [old, new], who and when (SECURITY.md 21)."""

    __tablename__ = "edit_record"
    __table_args__ = (Index("ix_edit_record_entity", "entity", "entity_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=30)
    entity_id: int
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    at: datetime = Field(default_factory=utcnow)
    changes: str = Field(sa_column=Column(Text, nullable=False))  # JSON


class AuditEvent(SQLModel, table=True):
    """Append-only trail of sign-ins, patient reads and writes, prints and denials (SECURITY.md 19).

    Each row's hash covers its content and the previous row's hash, so a removed or altered row breaks
    the chain."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    clinic_id: int | None = Field(default=None, foreign_key="clinic.id")
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    action: str = Field(max_length=40)
    object_type: str = Field(default="", max_length=30)
    object_id: int | None = None
    outcome: str = Field(default="ok", max_length=10)  # ok | denied | failed
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class Protocol(SQLModel, table=True):
    """A patient's backward-walking program. One is active at a time; ended ones are kept.

    The content lives in immutable ``ProtocolVersion`` rows; ``latest_version`` is the number a builder form
    must have been opened at for its save to be accepted (the stale-edit check)."""

    __table_args__ = (
        # At most one active protocol per patient, enforced by the database on SQLite and PostgreSQL.
        Index("uq_protocol_one_active", "patient_id", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )

    id: int | None = Field(default=None, primary_key=True)
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


class ProtocolVersion(SQLModel, table=True):
    """An immutable snapshot of a protocol's content, with who saved it and what changed."""

    __tablename__ = "protocol_version"
    __table_args__ = (UniqueConstraint("protocol_id", "number", name="uq_protocol_version_number"),)

    id: int | None = Field(default=None, primary_key=True)
    protocol_id: int = Field(foreign_key="protocol.id", index=True)
    number: int
    created_at: datetime = Field(default_factory=utcnow)
    author_id: int | None = Field(default=None, foreign_key="user_account.id")
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # JSON list of lines
    content: str = Field(sa_column=Column(Text, nullable=False))  # JSON of services.protocols.ProtocolContent
    # Safety warnings the therapist chose to proceed past, with their reasons (JSON list).
    safety_overrides: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))


class PhaseChange(SQLModel, table=True):
    """A move to the next or previous phase, with the therapist's reason."""

    __tablename__ = "phase_change"

    id: int | None = Field(default=None, primary_key=True)
    protocol_id: int = Field(foreign_key="protocol.id", index=True)
    from_phase: int
    to_phase: int
    version_number: int
    reason: str = Field(max_length=500)
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    at: datetime = Field(default_factory=utcnow)


class ClinicTemplate(SQLModel, table=True):
    """A protocol saved by a clinic for reuse; admins rename and retire them."""

    __tablename__ = "clinic_template"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    name: str = Field(max_length=120)
    condition: str = Field(default="", max_length=20)
    content: str = Field(sa_column=Column(Text, nullable=False))
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow)
    archived_at: datetime | None = None
