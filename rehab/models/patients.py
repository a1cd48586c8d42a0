"""Patients, the history of their edits, and the audit trail."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated

from sqlalchemy import Column, Connection, Index, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapper
from sqlmodel import AutoString, Field, SQLModel

from rehab.models.base import utcnow
from rehab.vocabulary import Condition, Knee, Language, OneOf


def search_text(text: str) -> str:
    """Text folded for searching: case-folded, accents removed ("Muñoz" and "munoz" match)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


# Between the parts of the key: sorts before any printable character (so "Van, Zed" comes before
# "Van Der Berg, Al", as by last name then first name) and never appears in a search word (it is whitespace).
KEY_SEPARATOR = "\x1f"


# Each part's folded length, so the key fits its 260-character column (two separators between). Folding can
# lengthen text (a ligature or an Arabic phrase unfolds into many letters); a real name keeps every letter.
_KEY_PART_LENGTHS = (109, 109, 40)


def patient_search_key(first_name: str, last_name: str, chart_number: str | None) -> str:
    """What the caseload search matches and sorts by: last name, first name and chart number, folded.
    Sorting by it is sorting by last name, then first name."""
    parts = (last_name, first_name, chart_number or "")
    return KEY_SEPARATOR.join(search_text(part)[:limit] for part, limit in zip(parts, _KEY_PART_LENGTHS, strict=True))


class PatientBase(SQLModel):
    """What a therapist types about a patient, each field with its limits: the table below and the input shape
    (``services.patients.PatientInput``) both derive from it, so a limit is written once."""

    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date
    chart_number: str | None = Field(default=None, max_length=40)
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=254)
    affected_knee: Annotated[str, OneOf(Knee)] = Field(sa_type=AutoString(length=10))
    condition: Annotated[str, OneOf(Condition)] = Field(sa_type=AutoString(length=20))
    condition_other: str = Field(default="", max_length=200)
    surgery_date: date | None = None
    # The precautions (vocabulary.Precaution), one yes/no column each.
    uses_walker: bool = False
    vestibular_disorder: bool = False
    peripheral_neuropathy: bool = False
    anticoagulants: bool = False
    cognitive_impairment: bool = False
    precaution_other: str = Field(default="", max_length=200)
    language: Annotated[str, OneOf(Language)] = Field(default=Language.EN, sa_type=AutoString(length=5))
    notes: str = Field(default="", max_length=5000, sa_column=Column(Text, nullable=False, default=""))
    # The physician who referred the patient: the progress report is a letter addressed to them.
    referring_physician: str = Field(default="", max_length=150)
    referring_practice: str = Field(default="", max_length=200)
    referring_address: str = Field(default="", max_length=300)
    referring_fax: str = Field(default="", max_length=40)


class Patient(PatientBase, table=True):
    __table_args__ = (
        UniqueConstraint("clinic_id", "chart_number", name="uq_patient_clinic_chart"),
        Index("ix_patient_clinic_name", "clinic_id", "last_name", "first_name"),
        # The caseload list and search: the clinic's active patients in name order, matched on the index
        # alone (the row is read only for the page shown).
        Index("ix_patient_clinic_search", "clinic_id", "archived_at", "search_key"),
        # The dashboard's "recently seen" and "quiet for 14 days".
        Index("ix_patient_clinic_last_session", "clinic_id", "last_session_at"),
        # "My patients": one therapist's patients of a clinic, newest session first.
        Index("ix_patient_clinic_therapist", "clinic_id", "therapist_id", "last_session_at"),
        # The dashboard's week of every active patient, "My patients" or not, read on the index alone.
        Index("ix_patient_clinic_assigned", "clinic_id", "archived_at", "therapist_id"),
    )

    id: int = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    archived_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    # Bumped by every edit; a form carries the version it was opened at (see services/patients.py).
    version: int = Field(default=1)
    # Kept by the events below from the name and chart number; never set by hand.
    search_key: str = Field(max_length=260)
    # The latest visit or home session, kept by services/last_session.py in the same transaction as the write.
    last_session_at: datetime | None = None
    # The therapist who looks after the patient ("My patients" on the dashboard), chosen on the patient form.
    # None, or an account no longer active in the clinic, reads "Unassigned" (services/assignment.py).
    therapist_id: int | None = Field(default=None, foreign_key="user_account.id")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@event.listens_for(Patient, "before_insert")
@event.listens_for(Patient, "before_update")
def _keep_search_key(_mapper: Mapper[Patient], _connection: Connection, patient: Patient) -> None:
    patient.search_key = patient_search_key(patient.first_name, patient.last_name, patient.chart_number)


class EditRecord(SQLModel, table=True):
    """What a clinical edit changed: field -> [old, new], who and when (SECURITY.md 21)."""

    __tablename__ = "edit_record"
    __table_args__ = (Index("ix_edit_record_entity", "entity", "entity_id", "at"),)

    id: int = Field(default=None, primary_key=True)
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

    id: int = Field(default=None, primary_key=True)
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
