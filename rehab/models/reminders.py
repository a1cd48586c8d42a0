"""The patient's reminder calendar: a calendar address of its own for each personal link, and the time chosen."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import Column, Time
from sqlmodel import Field, SQLModel

from rehab.models.base import utcnow


class PortalCalendar(SQLModel, table=True):
    """The calendar (.ics) a patient's phone subscribes to, of one personal link.

    Calendar apps fetch without the portal's cookie, so the calendar has a token of its own; only its SHA-256 is
    stored, as for the link (SECURITY.md 22). It lives and dies with its link: a revoked or rotated link's
    calendar answers with no events."""

    __tablename__ = "portal_calendar"

    id: int = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="portal_link.id", sa_column_kwargs={"unique": True})
    patient_id: int = Field(foreign_key="patient.id", index=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    reminder_time: time = Field(sa_column=Column(Time(), nullable=False))  # the patient's, in the clinic's zone
    language: str = Field(default="en", max_length=5)  # the patient's language when they chose the time
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
