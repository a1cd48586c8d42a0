"""Each clinic's data generation (``ClinicGeneration``): moved by every transaction that writes the clinic's
records, in that transaction, so a result worked out from them (the dashboard's "under half this week") can be
kept in a process under the generation it was worked out at, and is known stale as soon as anything changed.

It is installed on every session (the request's, ``side_transaction``'s, the CLI's, the render worker's and the
tests'), so no write path has to remember it: what the ORM flushes and the UPDATE, DELETE and INSERT statements
run through a session are both seen. A written row that names its clinic (``clinic_id``, or a clinic's own row)
moves that clinic's generation; one that does not (a protocol's version or phase move, an account, a bulk
statement) moves every clinic's, which costs them a recount, never a stale page. What every page writes as
bookkeeping (audit rows, sign-in sessions, kept forms, print records, portal devices) is not a record any kept
result reads: moving the generation for it would make every read a write.

One statement per writing transaction, the last before its commit: on PostgreSQL the generation's row is then
locked only by a transaction about to commit, which waits on nothing else, so no lock cycle can form with the
audit chain's lock or a clinic's own row. What is run on a connection rather than a session (the migrations, a
bulk load such as the bench's seed, raw SQL text) is not seen: the app writes clinic records through sessions,
and a process keeps nothing across a restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from sqlalchemy import event, literal, true
from sqlalchemy import select as select_columns
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import ORMExecuteState, SessionTransaction, UOWTransaction
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from rehab.models import (
    ApiClient,
    AuditEvent,
    Clinic,
    ClinicGeneration,
    FormSubmission,
    HandoutPrint,
    KeptForm,
    LoginAttempt,
    PortalDevice,
    PrintJob,
    PrintJobItem,
    ReportPrint,
    ThrottleNotice,
    UserSession,
)

EVERY_CLINIC: Literal["every clinic"] = "every clinic"
_TOUCHED = "rehab.clinics_written"  # the session's info: the clinics written in its open transaction

# Tables no kept result reads, written as a side effect of reading pages, signing in or printing.
BOOKKEEPING: frozenset[str] = frozenset(str(model.__tablename__) for model in (
    ApiClient, AuditEvent, ClinicGeneration, FormSubmission, HandoutPrint, KeptForm, LoginAttempt, PortalDevice,
    PrintJob, PrintJobItem, ReportPrint, ThrottleNotice, UserSession))


def generation(session: Session, clinic_id: int) -> int:
    """The clinic's data generation as this transaction sees it (0 before its first write)."""
    found = session.exec(select(ClinicGeneration.generation).where(col(ClinicGeneration.clinic_id) == clinic_id)
                         ).first()
    return found or 0


def _clinic_of(instance: Any) -> int | str | None:
    """The clinic a written row belongs to; ``EVERY_CLINIC`` when it does not say; None for bookkeeping."""
    table = getattr(instance, "__tablename__", None)
    if table in BOOKKEEPING:
        return None
    if isinstance(instance, Clinic):
        return instance.id if instance.id is not None else EVERY_CLINIC
    clinic_id = getattr(instance, "clinic_id", None)
    return clinic_id if isinstance(clinic_id, int) else EVERY_CLINIC


def _note(session: OrmSession, clinics: Iterable[int | str | None]) -> None:
    touched: set[int | str] = session.info.setdefault(_TOUCHED, set())
    touched.update(clinic for clinic in clinics if clinic is not None)


def _note_flushed(session: OrmSession, _flush: UOWTransaction, _instances: Any) -> None:
    changed = [*session.new, *session.deleted,
               *(instance for instance in session.dirty if session.is_modified(instance, include_collections=False))]
    _note(session, (_clinic_of(instance) for instance in changed))


def _note_statement(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) not in BOOKKEEPING:
        _note(state.session, [EVERY_CLINIC])


def _move_generations(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT's release: the outer commit moves them
    session.flush()  # what the commit would flush next is noted first
    touched = session.info.pop(_TOUCHED, None)
    if touched:
        session.connection().execute(_move_statement(session, touched))


def _forget(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction, committed or rolled back; not a SAVEPOINT's
        session.info.pop(_TOUCHED, None)


_LISTENERS = (("before_flush", _note_flushed), ("do_orm_execute", _note_statement),
              ("before_commit", _move_generations), ("after_transaction_end", _forget))


def install() -> None:
    """Listen on every session of the process (once, however many apps it creates)."""
    for name, listener in _LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def _move_statement(session: OrmSession, touched: set[int | str]) -> Any:
    """Each touched clinic's generation plus one, its row made on its first write."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = ClinicGeneration.__table__  # type: ignore[attr-defined]  # SQLModel's table, typed loosely
    if EVERY_CLINIC in touched:
        rows: Any = insert(table).from_select(["clinic_id", "generation"],
                                              select_columns(col(Clinic.id), literal(1)).where(true()))  # see below
    else:
        rows = insert(table).values([{"clinic_id": clinic, "generation": 1} for clinic in sorted(touched)])
    # (SQLite reads ON CONFLICT after a SELECT with no WHERE as part of a join: the WHERE settles it.)
    return rows.on_conflict_do_update(index_elements=[table.c.clinic_id],
                                      set_={"generation": table.c.generation + 1})
