"""Questionnaires sent to patients (and their answers as they go), and licensed totals a clinic records."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from sqlalchemy import Column, Index, Text
from sqlmodel import AutoString, Field, SQLModel

from rehab.models.base import utcnow
from rehab.vocabulary import Language, OneOf


class QuestionnaireResponse(SQLModel, table=True):
    """One questionnaire for one patient: sent (or scheduled), answered item by item, then finished.

    ``answers`` is JSON ``{item number: option value}``, saved after every page the patient answers so a
    half-answered questionnaire resumes where it stopped. ``score`` is set only when every item is answered
    (services.questionnaires.score). A licensed total (WOMAC, Oxford Knee Score) is a row with no answers and
    the total typed by the clinic."""

    __tablename__ = "questionnaire_response"
    __table_args__ = (Index("ix_questionnaire_response_patient", "patient_id", "instrument", "sent_at"),
                      Index("ix_questionnaire_response_clinic_done", "clinic_id", "completed_at"))

    id: int = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    clinic_id: int = Field(foreign_key="clinic.id")
    protocol_id: int | None = Field(default=None, foreign_key="protocol.id")
    instrument: str = Field(max_length=30)
    occasion: str = Field(default="sent", max_length=20)  # sent | scheduled | discharge | clinic_entry
    sent_at: datetime = Field(default_factory=utcnow)
    sent_by_id: int | None = Field(default=None, foreign_key="user_account.id")  # None: the schedule
    answers: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    language: Annotated[str, OneOf(Language)] = Field(default=Language.EN, sa_type=AutoString(length=5))
    started_at: datetime | None = None
    completed_at: datetime | None = None
    score: float | None = None
    version: int = 1  # bumped on every save: two tabs saving at once cannot both win silently
