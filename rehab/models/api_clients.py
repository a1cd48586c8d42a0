"""Records systems that read and write a clinic's patients through the FHIR API."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from rehab.models.base import utcnow


class ApiClient(SQLModel, table=True):
    """One records system of one clinic. Its token is shown once; only the token's SHA-256 is stored, as for
    patient links (SECURITY.md 22), so a copy of the database opens nothing. Revoking is immediate: every
    request looks the token up again."""

    __tablename__ = "api_client"

    id: int = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    name: str = Field(max_length=120)
    scope: str = Field(max_length=12)  # read | read-write
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    revoked_at: datetime | None = None
    revoked_by_id: int | None = Field(default=None, foreign_key="user_account.id")
