"""Clinics, accounts and their sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from sqlalchemy import Index, false
from sqlmodel import AutoString, Field, SQLModel

from rehab.models.base import utcnow
from rehab.vocabulary import OneOf, PaperSize, SpeedUnit


class Clinic(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    address: str = Field(default="", max_length=300)
    phone: str = Field(default="", max_length=40)  # required before sharing a link or printing a sheet
    # What patients call in an emergency (chest pain, breathlessness, a suspected clot); 911 unless the
    # clinic is somewhere else (112, 999...).
    emergency_number: str = Field(default="911", max_length=20)
    paper_size: Annotated[str, OneOf(PaperSize)] = Field(default=PaperSize.LETTER, sa_type=AutoString(length=10))
    speed_unit: Annotated[str, OneOf(SpeedUnit)] = Field(default=SpeedUnit.KMH, sa_type=AutoString(length=5))
    timezone: str = Field(default="UTC", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    # Bumped by every save of the settings; the form carries the version it was opened at (services/clinic_settings.py).
    version: int = Field(default=1)


class ClinicGeneration(SQLModel, table=True):
    """How many transactions have written a clinic's records (services/clinic_changes.py): a result worked out
    from them can be kept per process under this number and is known stale as soon as it moves. A row of its
    own, not a column of the clinic's: on PostgreSQL the row is locked only by the last statement before a
    commit, so it never waits on the clinic's own row a settings save holds (no lock cycle). No row: 0."""

    __tablename__ = "clinic_generation"

    clinic_id: int = Field(foreign_key="clinic.id", primary_key=True, ondelete="CASCADE")  # goes with its clinic
    generation: int = Field(default=0)


class User(SQLModel, table=True):
    """A therapist's account. Being an admin is a role per clinic (``Membership.is_admin``), not of the account:
    an admin of one clinic has no say over another. ("user" is reserved in PostgreSQL.)"""

    __tablename__ = "user_account"

    id: int = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    password_changed_at: datetime = Field(default_factory=utcnow)


class Membership(SQLModel, table=True):
    """A therapist works in one or more clinics, and may be an admin of some of them."""

    user_id: int = Field(foreign_key="user_account.id", primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", primary_key=True, index=True)
    is_admin: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class UserSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so signing out or
    changing a password ends the session on the server, whatever the browser kept (SECURITY.md 5)."""

    __tablename__ = "user_session"

    id: int = Field(default=None, primary_key=True)
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

    id: int = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    account_key: str = Field(max_length=64)
    address: str = Field(max_length=64)
    succeeded: bool = False


class ThrottleNotice(SQLModel, table=True):
    """When a throttle last wrote its audit event for one address or account, so a throttled client adds at
    most one event per window however fast it retries (the audit trail is append-only: it must not fill up)."""

    __tablename__ = "throttle_notice"

    key: str = Field(max_length=100, primary_key=True)  # e.g. "login-address:203.0.113.7"
    noted_at: datetime = Field(default_factory=utcnow)
