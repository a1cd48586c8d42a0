"""Printed home sheets, the patient's personal link, and the sessions patients log at home."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from sqlalchemy import Column, Index, Text, text
from sqlmodel import AutoString, Field, SQLModel

from rehab.models.base import UnderProtocol, stop_condition, utcnow
from rehab.vocabulary import OneOf, RedFlag, Soreness


class HandoutPrint(UnderProtocol, table=True):
    """One printed home sheet. ``snapshot`` holds everything the sheet showed (JSON), so a reprint is the
    same sheet even after the clinic's phone number or the protocol changed."""

    __tablename__ = "handout_print"
    __table_args__ = (Index("ix_handout_print_patient_at", "patient_id", "printed_at"),)

    id: int = Field(default=None, primary_key=True)
    options: str = Field(max_length=300)  # JSON: paper, large_print, language, include_next
    snapshot: str = Field(sa_column=Column(Text, nullable=False))
    digest: str = Field(max_length=64, index=True)  # SHA-256 of the snapshot: the render cache key
    printed_at: datetime = Field(default_factory=utcnow)
    printed_by_id: int | None = Field(default=None, foreign_key="user_account.id")  # None: the patient
    source: str = Field(default="clinic", max_length=10)  # clinic | portal | batch


class ReportPrint(SQLModel, table=True):
    """One printed progress report for the referring physician. ``snapshot`` holds everything the letter showed
    (JSON), the assessment and plan typed at print time among it, so a reprint is the letter as printed."""

    __tablename__ = "report_print"
    __table_args__ = (Index("ix_report_print_patient_at", "patient_id", "printed_at"),)

    id: int = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    clinic_id: int = Field(foreign_key="clinic.id")
    options: str = Field(max_length=300)  # JSON: paper, language
    assessment: str = Field(sa_column=Column(Text, nullable=False))
    plan: str = Field(sa_column=Column(Text, nullable=False))
    snapshot: str = Field(sa_column=Column(Text, nullable=False))
    digest: str = Field(max_length=64, index=True)  # SHA-256 of the snapshot: the render cache key
    printed_at: datetime = Field(default_factory=utcnow)
    printed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    source: str = Field(default="clinic", max_length=10)  # clinic | reprint


class PortalLink(SQLModel, table=True):
    """A patient's personal link. Only the SHA-256 of the token is stored (SECURITY.md 22)."""

    __tablename__ = "portal_link"

    id: int = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    expires_at: datetime
    revoked_at: datetime | None = None
    require_birth_date: bool = False
    birth_date_failures: int = 0
    locked_at: datetime | None = None
    # The short code typed from a sheet (services/portal_codes.py): re-derived from the salt under the secret key
    # for each print, stored only as a keyed hash, unique among every link ever made. None: a link made before codes.
    code_salt: str | None = Field(default=None, max_length=32)
    code_hash: str | None = Field(default=None, max_length=64, sa_column_kwargs={"unique": True})


class PortalDevice(SQLModel, table=True):
    """A phone the patient chose to remember ("Remember this phone"): it opens the portal without the link for
    as long as the link lives. Only the SHA-256 of the cookie's random token is stored; forgetting the phone (the
    therapist, or the patient's "Close my page") or rotating or revoking the link ends it."""

    __tablename__ = "portal_device"

    id: int = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="portal_link.id", index=True)
    patient_id: int = Field(foreign_key="patient.id")
    clinic_id: int = Field(foreign_key="clinic.id")
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    label: str = Field(default="", max_length=60)  # "Android phone, Chrome": for the therapist to tell phones apart
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime = Field(default_factory=utcnow)
    forgotten_at: datetime | None = None


class HomeLogBase(SQLModel):
    """What the patient logs about a home session, each field with its limits: the table and the input shape
    (``services.home_logs.HomeLogInput``) both derive from it."""

    session_date: date
    minutes: float = Field(ge=0.5, le=180)
    pain_worst: int = Field(ge=0, le=10)
    pain_next_morning: int | None = Field(default=None, ge=0, le=10)
    soreness: Annotated[str, OneOf(Soreness)] = Field(default=Soreness.NONE, sa_type=AutoString(length=20))
    stumbled: bool = False
    fell: bool = False
    # The red flags (vocabulary.RedFlag), one yes/no column each.
    flag_calf: bool = False
    flag_chest: bool = False
    flag_infection: bool = False
    flag_locking: bool = False
    flag_sudden_pain: bool = False
    note: str = Field(default="", max_length=1000, sa_column=Column(Text, nullable=False, default=""))


class HomeLog(HomeLogBase, UnderProtocol, table=True):
    """A home session the patient logged. Patients may correct their own entry for 24 hours (history kept)."""

    __tablename__ = "home_log"
    __table_args__ = (Index("ix_home_log_patient_date", "patient_id", "session_date"),
                      Index("ix_home_log_clinic_created", "clinic_id", "created_at"),
                      # A clinic's home sessions of a week, counted per patient from the index alone (dashboard).
                      Index("ix_home_log_clinic_date", "clinic_id", "session_date", "patient_id"),
                      # The home sessions that stopped the walking (see ix_visit_stop).
                      Index("ix_home_log_stop", "patient_id", "session_date",
                            sqlite_where=text(stop_condition((*RedFlag, "fell"), boolean_as="= 1")),
                            postgresql_where=text(stop_condition((*RedFlag, "fell")))))

    id: int = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = 1
    link_id: int | None = Field(default=None, foreign_key="portal_link.id")

    @property
    def red_flags(self) -> bool:
        return self.flag_calf or self.flag_chest or self.flag_infection or self.flag_locking or self.flag_sudden_pain
