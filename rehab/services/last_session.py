"""When each patient last had a session, kept on ``Patient.last_session_at`` so the dashboard reads an index.

A session is a visit that is not deleted (at the time it occurred) or a home log (at the time the patient
logged it): the definition migration 0005 filled the column with. The services that add, move or remove a
visit or a home log call ``refresh_last_session`` in the same transaction; loaders that insert rows with
Core (no services, no ORM events) call ``refresh_all_last_sessions`` once afterwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Subquery, case, func, or_, type_coerce, union_all, update
from sqlmodel import Session, col, select

from rehab.models import HomeLog, Patient, Visit


def _sessions(patient_id: Any) -> Subquery:
    """The newest visit and the newest home log of a patient (two rows, either may be NULL).

    ``patient_id`` is a value, or ``Patient.id`` to correlate with an enclosing statement on the patient
    table. Both are served by the patient's index on each table: the visit max() from the end of
    (patient_id, occurred_at), the home log one from the patient's few rows found by (patient_id, session_date)."""
    return union_all(
        select(func.max(Visit.occurred_at).label("at"))
        .where(Visit.patient_id == patient_id, col(Visit.deleted_at).is_(None)).correlate(Patient),
        select(func.max(HomeLog.created_at).label("at"))
        .where(HomeLog.patient_id == patient_id).correlate(Patient),
    ).subquery()


def note_session(session: Session, *, patient_id: int, at: datetime) -> None:
    """A session was just added: move the patient's ``last_session_at`` forward to ``at`` if it is later.

    One conditional UPDATE, no read: recording a visit is the busiest write, and on SQLite every writer waits
    for it. It is safe under concurrency on PostgreSQL too: the UPDATE locks the row and re-reads it, so two
    sessions added at once both count. Edits and deletions can move the time back: they refresh instead."""
    current = Patient.last_session_at
    # Stored as the column stores times (SQLModel's table classes do not declare __table__, hence the ignore).
    moment = type_coerce(at, Patient.__table__.c.last_session_at.type)  # type: ignore[attr-defined]
    session.execute(update(Patient).where(col(Patient.id) == patient_id).values(
        last_session_at=case((or_(col(current).is_(None), col(current) < moment), moment), else_=current)))


def refresh_last_session(session: Session, *, patient_id: int) -> None:
    """Recompute one patient's ``last_session_at`` from their visits and home logs, and flush.

    Call it after the visit or home log is added or changed in ``session`` (autoflush makes the change
    visible to the query)."""
    # Lock the patient row before reading. On PostgreSQL two writes for the same patient at once (a visit
    # recorded while the patient logs a home session) would each read from their own snapshot, and the
    # last to commit would erase the other's session; with the lock the second waits, then reads what the
    # first committed. FOR NO KEY UPDATE rather than FOR UPDATE: inserting a visit or home log takes a key
    # share lock on the patient row, which FOR UPDATE would wait on (two such writes would deadlock).
    # SQLite has one writer at a time and no row locks; the clause is left out there.
    patient = session.get(Patient, patient_id, with_for_update={"key_share": True})
    if patient is None:
        return
    sessions = _sessions(patient_id)
    latest = session.exec(select(func.max(sessions.c.at))).one()
    if latest != patient.last_session_at:
        patient.last_session_at = latest
        session.add(patient)
        session.flush()


def refresh_all_last_sessions(bind: Session | Connection) -> None:
    """Recompute every patient's ``last_session_at`` in one statement (after a bulk load of visits and home
    logs that bypassed the services)."""
    sessions = _sessions(Patient.id)
    bind.execute(update(Patient).values(last_session_at=select(func.max(sessions.c.at)).scalar_subquery()))
