"""The append-only, hash-chained audit trail (SECURITY.md 19).

Each event's hash covers its own fields and the previous event's hash; ``first_broken_event`` walks the
chain and names the first row that was altered, or that follows a removed row.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session, col, select

from rehab.models import AuditEvent, utcnow

GENESIS = "0" * 64
# Any constant: PostgreSQL's transaction-scoped advisory lock that serialises appends to the chain.
_PG_CHAIN_LOCK = 74_201


def _digest(prev_hash: str, event: AuditEvent) -> str:
    payload = json.dumps(
        [event.at.isoformat(timespec="microseconds"), event.user_id, event.clinic_id, event.patient_id,
         event.action, event.object_type, event.object_id, event.outcome],
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{prev_hash}|{payload}".encode()).hexdigest()


# Runs on every audited request; built once.
_LAST_HASH = select(AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)


def record_event(session: Session, *, action: str, user_id: int | None = None, clinic_id: int | None = None,
                 patient_id: int | None = None, object_type: str = "", object_id: int | None = None,
                 outcome: str = "ok", at: datetime | None = None) -> AuditEvent:
    """Append one event. Call inside a write transaction (SQLite's BEGIN IMMEDIATE serialises it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CHAIN_LOCK})
    prev = session.exec(_LAST_HASH).first()
    event = AuditEvent(at=at or utcnow(), user_id=user_id, clinic_id=clinic_id, patient_id=patient_id,
                       action=action, object_type=object_type, object_id=object_id, outcome=outcome,
                       prev_hash=prev or GENESIS, hash="")
    event.hash = _digest(event.prev_hash, event)
    session.add(event)
    session.flush()
    return event


def first_broken_event(session: Session, *, batch: int = 5000) -> int | None:
    """The id of the first event whose hash or link does not check out, or None if the chain is whole."""
    expected_prev = GENESIS
    last_id = 0
    while True:
        rows = session.exec(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(col(AuditEvent.id)).limit(batch)
        ).all()
        if not rows:
            return None
        for event in rows:
            if event.prev_hash != expected_prev or _digest(event.prev_hash, event) != event.hash:
                return event.id
            expected_prev = event.hash
            last_id = event.id


def search_events(session: Session, *, clinic_id: int, action: str = "", outcome: str = "", user_id: int | None = None,
                  patient_id: int | None = None, page: int = 1, per_page: int = 50
                  ) -> tuple[list[tuple[AuditEvent, str | None, str | None]], int]:
    """A page of one clinic's audit events (with the user's and patient's names), and the total.

    Sign-in attempts with an unknown email belong to no clinic and are not listed to any clinic's admins."""
    from sqlalchemy import func

    from rehab.models import Patient, User

    conditions = [AuditEvent.clinic_id == clinic_id]
    if action:
        conditions.append(col(AuditEvent.action).startswith(action))
    if outcome:
        conditions.append(AuditEvent.outcome == outcome)
    if user_id:
        conditions.append(AuditEvent.user_id == user_id)
    if patient_id:
        conditions.append(AuditEvent.patient_id == patient_id)
    total = session.exec(select(func.count()).select_from(AuditEvent).where(*conditions)).one()
    rows = session.exec(
        select(AuditEvent, User.name, Patient.last_name + ", " + Patient.first_name)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .outerjoin(Patient, (Patient.id == AuditEvent.patient_id) & (Patient.clinic_id == clinic_id))
        .where(*conditions).order_by(col(AuditEvent.id).desc())
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    return [(event, user_name, patient_name) for event, user_name, patient_name in rows], total
