"""The forms already sent: one row per state-changing form, keyed by the form's one-time id."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from rehab.models.base import utcnow


class FormSubmission(SQLModel, table=True):
    """A form that was applied. ``form_id`` is unique, so of two posts of one form (a double tap, Back then
    Save, a resent request) the database lets exactly one commit; the other finds this row and shows
    ``result``, where the first one led."""

    __tablename__ = "form_submission"

    id: int = Field(default=None, primary_key=True)
    form_id: str = Field(max_length=64, unique=True)
    action: str = Field(max_length=40)
    clinic_id: int | None = Field(default=None, foreign_key="clinic.id")
    user_id: int | None = Field(default=None, foreign_key="user_account.id")  # None: the patient, on the portal
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    # The path the first post led to ("" until it is known); for the FHIR API, the id of the patient it created.
    result: str = Field(default="", max_length=300)
    at: datetime = Field(default_factory=utcnow, index=True)  # rows older than a retention are pruned by it
