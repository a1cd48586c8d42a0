"""Conventions shared by every table.

A table's ``id`` is declared ``id: int = Field(default=None, primary_key=True)``: the database assigns it when
the row is first flushed, and code only reads ids of rows it loaded or flushed, so the type says ``int`` rather
than making every caller prove the row was saved (``int | None`` would put a check or an ignore at each use).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Now, in UTC (the storage convention)."""
    return datetime.now(UTC)


def stop_condition(flags: tuple[str, ...], *more: str, boolean_as: str = "") -> str:
    """A partial index's condition for the sessions that stop the walking: any of these yes/no columns, or the
    further terms. On SQLite a boolean is compared with 1, as SQLAlchemy writes it there (the planner uses a
    partial index only for a query that states its condition); on PostgreSQL it stands alone."""
    return " OR ".join([f"{flag} {boolean_as}".strip() for flag in flags] + list(more))


class UnderProtocol(SQLModel):
    """The columns of a row recorded under a patient's protocol (a visit, a home session, a printed sheet): its
    patient and clinic, and the protocol version and phase whose dose was in force when it happened."""

    patient_id: int = Field(foreign_key="patient.id")
    clinic_id: int = Field(foreign_key="clinic.id")
    protocol_id: int = Field(foreign_key="protocol.id")
    protocol_version: int
    phase_index: int
