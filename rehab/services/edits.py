"""Shared record-keeping rules: optimistic locking for edits made on forms that may have gone stale."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, Result, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, SQLModel


class StaleEdit(Exception):
    """The record changed since the form was opened; the edit was not applied."""


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (its result is a CursorResult; Session.execute is typed for any
    statement)."""
    return cast(CursorResult[Any], result).rowcount


class Saved(Protocol):
    """A saved row of any table (the rows edited on forms have an integer id)."""

    id: int


def claim_version(session: Session, record: Saved, *, column: str, seen: int) -> int:
    """Move ``record.<column>`` from ``seen`` to ``seen + 1`` only if nobody else moved it first.

    A conditional UPDATE, so two saves racing (on PostgreSQL, or on SQLite between the form's reads and the
    transaction's first write) cannot both win. Raises StaleEdit when the form was opened at an older version;
    the changes already applied to ``record`` are then dropped, unwritten, and it reads as saved now (the
    request may show it on the page that says so, and commits nothing of it)."""
    model: Any = type(record)
    with session.no_autoflush:  # the record's own changes wait for the claim
        result = session.execute(
            update(model).where(model.id == record.id, getattr(model, column) == seen)
            .values({column: seen + 1})
            .execution_options(synchronize_session=False)
        )
    if rows_changed(result) != 1:
        session.expire(record)
        raise StaleEdit
    set_committed_value(record, column, seen + 1)
    return seen + 1


def jsonable(value: Any) -> Any:
    """A value as it is kept in an edit's history (dates as ISO text)."""
    return value.isoformat() if isinstance(value, date | datetime) else value


def apply_changes(record: SQLModel, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set the fields that differ and return them as {field: [old, new]} for the edit's history."""
    changes: dict[str, list[Any]] = {}
    for name, new in values.items():
        old = getattr(record, name)
        if old != new:
            changes[name] = [jsonable(old), jsonable(new)]
            setattr(record, name, new)
    return changes
