"""Forms posted after their session timed out, kept for their author for a short time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from rehab.models.base import utcnow


class KeptForm(SQLModel, table=True):
    """What a therapist typed into a form they sent after the idle sign-out (rehab/services/kept_forms.py).

    Only that account gets it back, after signing in again, on the page the form was on; nothing of it is
    applied until they press Save there. ``fields`` is the posted form as JSON [name, value] pairs, without the
    CSRF token or any password: patient data at rest, so rows expire (``expires_at``) and are purged."""

    __tablename__ = "kept_form"

    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    page: str = Field(max_length=1000)  # the address of the page the form was on (where its author returns)
    action: str = Field(max_length=1000)  # the path the form posts to (which form of the page it is)
    fields: str = Field(sa_column=Column(Text, nullable=False))
    kept_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
