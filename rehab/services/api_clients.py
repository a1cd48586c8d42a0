"""API clients: the records systems allowed to use a clinic's FHIR API.

A client's token is random and shown once; only its SHA-256 is stored (as patient links, SECURITY.md 22).
Every request looks the token up again, so a revoked client is refused at its very next request. Services
add and flush; the view commits once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func
from sqlmodel import Session, col, select

from rehab.models import ApiClient, AuditEvent, LoginAttempt
from rehab.services.shapes import too_long_message
from rehab.services.tokens import token_hash

Scope = Literal["read", "read-write"]
SCOPES: dict[str, str] = {"read": "Read only", "read-write": "Read and write (create patients)"}
TOKEN_PREFIX = "rhb_"  # noqa: S105 (a prefix, not a secret) lets a secret scanner or a clinic's IT person recognise a leaked token
_MAX_TOKEN_LENGTH = 128
NAME_MAX = 120
# Wrong tokens share the sign-in attempts table, so every worker sees the same count per address.
THROTTLE_ACCOUNT_KEY = "fhir"


def name_problem(name: str) -> str | None:
    """Why a client name cannot be used, or None."""
    if not name:
        return "Give the client a name, for example the records system it is for."
    if len(name) > NAME_MAX:
        return too_long_message(len(name), NAME_MAX)
    if "<" in name or ">" in name:
        return "Use letters, numbers and punctuation only (no < or >)."
    return None


def create_client(session: Session, *, clinic_id: int, name: str, scope: Scope, user_id: int | None,
                  now: datetime) -> tuple[ApiClient, str]:
    """A new client and its token (returned once, never stored)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(clinic_id=clinic_id, name=name, scope=scope, token_hash=token_hash(token), created_at=now,
                       created_by_id=user_id)
    session.add(client)
    session.flush()
    return client, token


def find_client(session: Session, token: str) -> tuple[ApiClient | None, Literal["ok", "unknown", "revoked"]]:
    """The client a bearer token belongs to and whether it may be used (a revoked one is returned too, so
    its refusal is audited in its clinic's trail)."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None, "unknown"
    client = session.exec(select(ApiClient).where(ApiClient.token_hash == token_hash(token))).first()
    if client is None:
        return None, "unknown"
    return client, "revoked" if client.revoked_at is not None else "ok"


def get_client(session: Session, *, clinic_id: int, client_id: int) -> ApiClient | None:
    client = session.get(ApiClient, client_id)
    return client if client is not None and client.clinic_id == clinic_id else None


def revoke(session: Session, *, client: ApiClient, user_id: int | None, now: datetime) -> None:
    if client.revoked_at is None:
        client.revoked_at = now
        client.revoked_by_id = user_id
        session.add(client)
        session.flush()


@dataclass(frozen=True)
class ClientRow:
    client: ApiClient
    last_used_at: datetime | None
    uses: int


def clients_of(session: Session, *, clinic_id: int) -> list[ClientRow]:
    """The clinic's clients, live ones first, with their last use from the audit trail (every use is
    audited, so no column has to be written on every request)."""
    usage = (select(AuditEvent.object_id, func.max(AuditEvent.at).label("last"), func.count().label("uses"))
             .where(AuditEvent.object_type == "api_client", AuditEvent.clinic_id == clinic_id,
                    col(AuditEvent.action).startswith("fhir."))
             .group_by(col(AuditEvent.object_id)).subquery())
    rows = session.exec(
        select(ApiClient, usage.c.last, usage.c.uses).outerjoin(usage, usage.c.object_id == ApiClient.id)
        .where(ApiClient.clinic_id == clinic_id)
        .order_by(col(ApiClient.revoked_at).is_not(None), col(ApiClient.created_at).desc())
    ).all()
    return [ClientRow(client, last, uses or 0) for client, last, uses in rows]


def bad_token_count(session: Session, *, address: str, since: datetime) -> int:
    """Wrong tokens sent from this address since ``since`` (a token is 256 bits: this stops a flood, not a
    guess)."""
    return session.exec(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.account_key == THROTTLE_ACCOUNT_KEY, LoginAttempt.address == address,
        LoginAttempt.succeeded == False, LoginAttempt.at >= since)).one()  # noqa: E712 (SQL comparison)


def record_bad_token(session: Session, *, address: str, now: datetime) -> None:
    session.add(LoginAttempt(at=now, account_key=THROTTLE_ACCOUNT_KEY, address=address[:64], succeeded=False))
