"""A form sent twice applies once.

Every state-changing form carries a one-time id (``new_form_id``). The view claims it in the transaction
that applies the form (``claim``): the id is unique in ``form_submission``, so when the same form arrives
twice (a double tap, Back then Save, a browser resending a slow request) the database lets one of the two
commit and the other finds the first's row, whatever the timing: on PostgreSQL the second insert waits for
the first transaction and then fails; on SQLite writers already take turns. No read-then-write check.

A form is recognised for ``RETENTION`` (30 days) after it was applied; older rows are deleted by one claim
in ``PRUNE_EVERY``, so pruning needs no scheduled job and the other claims pay nothing for it. A form sent
again after that is checked only by its view's own guard (the version, phase or state the page showed).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Insert, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, select

from rehab.models import FormSubmission
from rehab.services.edits import rows_changed

_FORM_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Long enough for yesterday's tab, a session the browser restores after a weekend or Back a week later.
RETENTION = timedelta(days=30)
# One claim in this many prunes (by its row's id): a DELETE on the ``at`` index about every 500 forms.
PRUNE_EVERY = 500


class AlreadySubmitted(Exception):
    """This form was applied before; nothing was changed this time. ``earlier`` says by whom and where it led."""

    def __init__(self, earlier: FormSubmission) -> None:
        super().__init__(earlier.action)
        self.earlier = earlier


def new_form_id() -> str:
    """A fresh one-time id for a form being shown (128 random bits: not guessable, so not replayable by others)."""
    return secrets.token_urlsafe(16)


def is_form_id(value: object) -> bool:
    return isinstance(value, str) and _FORM_ID.fullmatch(value) is not None


def find(session: Session, *, form_id: str) -> FormSubmission | None:
    return session.exec(select(FormSubmission).where(FormSubmission.form_id == form_id)).first()


def claim(session: Session, *, form_id: str, action: str, clinic_id: int | None, user_id: int | None,
          patient_id: int | None, now: datetime, result: str = "") -> FormSubmission:
    """Record that this form is being applied, before anything else is written in the transaction.

    Raises AlreadySubmitted when the form was applied already, so the caller changes nothing (the request
    rolls back; the clash itself inserts nothing and raises nothing in the database, so the transaction stays
    usable for reading the first post's row). Claiming first also makes the second of two simultaneous posts
    wait on the first here, before it reads or writes anything the first is changing. ``result`` is where the
    form leads, when that is known before it is applied (else set it on the returned row)."""
    row = FormSubmission(form_id=form_id, action=action, clinic_id=clinic_id, user_id=user_id,
                         patient_id=patient_id, at=now, result=result[:300])
    claimed = session.execute(_claim_statement(session), row.model_dump(exclude={"id"})).scalar()
    if claimed is None:  # the id is taken (on PostgreSQL, once the transaction that took it committed)
        earlier = find(session, form_id=form_id)
        if earlier is None:  # pruned in between: cannot happen within RETENTION of the first post
            raise RuntimeError(f"form {form_id!r} clashed with a row that is gone")
        raise AlreadySubmitted(earlier)
    # The row is the one just inserted: the session tracks it (``once.leads_to`` sets its result) unread.
    row.id = claimed
    make_transient_to_detached(row)
    session.add(row)
    if row.id is not None and row.id % PRUNE_EVERY == 0:
        prune(session, now=now)
    return row


# The claim in one statement: a clash on the form's id inserts nothing and returns no id. A SAVEPOINT
# around a plain INSERT did the same in three (SAVEPOINT, INSERT, RELEASE), each a round trip on PostgreSQL,
# and a clash on anything else still raises.
_CLAIMS: dict[str, Insert] = {
    name: dialect_insert(FormSubmission.__table__).on_conflict_do_nothing(  # type: ignore[attr-defined]  # SQLModel declares no __table__
        index_elements=["form_id"]).returning(FormSubmission.__table__.c.id)  # type: ignore[attr-defined]
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}


def _claim_statement(session: Session) -> Insert:
    return _CLAIMS[session.get_bind().dialect.name]


def prune(session: Session, *, now: datetime) -> int:
    """Delete the forms applied more than RETENTION ago (in the caller's transaction); returns how many."""
    result = session.execute(delete(FormSubmission).where(col(FormSubmission.at) < now - RETENTION)
                             .execution_options(synchronize_session=False))
    return rows_changed(result)


def same_sender(earlier: FormSubmission, *, clinic_id: int | None, user_id: int | None,
                patient_id: int | None) -> bool:
    """Whether the repeat comes from whoever sent the first post (only they are shown what it did)."""
    if user_id is not None:
        return earlier.user_id == user_id and earlier.clinic_id == clinic_id
    return earlier.user_id is None and patient_id is not None and earlier.patient_id == patient_id
