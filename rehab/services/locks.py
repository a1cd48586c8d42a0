"""Locks for a read that the following write depends on, the same call on SQLite and PostgreSQL.

A transaction reads before its first write without any lock (rehab/db.py), so a read whose result decides
the write (the audit chain's last hash, an account's failed sign-ins) must take a lock first, or two
transactions at once would both act on the same value.
"""

from __future__ import annotations

from sqlalchemy import literal, select, text
from sqlmodel import Session

# In a SQLite connection's info, set by rehab/db.py: its transaction holds the write lock already.
HOLDS_WRITE_LOCK = "rehab.writing"
# On SQLite a locking read (what PostgreSQL would run FOR UPDATE) takes the database's one write lock first:
# rehab/db.py sees the statement's FOR UPDATE (which SQLite's SQL drops) and asks for the lock before it runs.
_SQLITE_WRITE_LOCK = select(literal(1)).with_for_update()


def hold_write_lock(session: Session) -> None:
    """On SQLite, take the write lock now (it is held until the transaction ends, and every other writer
    waits for it); on PostgreSQL nothing: writes lock the rows they touch."""
    if session.get_bind().dialect.name != "postgresql" and not session.connection().info.get(HOLDS_WRITE_LOCK):
        session.execute(_SQLITE_WRITE_LOCK)


def serialise(session: Session, *key: int) -> None:
    """Until the transaction ends, no other transaction passes ``serialise`` with the same key: PostgreSQL's
    transaction-scoped advisory lock (one or two integers), SQLite's write lock."""
    if session.get_bind().dialect.name == "postgresql":
        names = ", ".join(f":key{index}" for index in range(len(key)))
        session.execute(text(f"SELECT pg_advisory_xact_lock({names})"),  # noqa: S608 (placeholders only)
                        {f"key{index}": value for index, value in enumerate(key)})
    else:
        hold_write_lock(session)
