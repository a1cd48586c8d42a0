"""Database engine and each request's one transaction.

One commit per request, as Indico's ``RH.process`` does it: the view and the services it calls only add and
flush on ``get_session()``; ``dispatch`` commits once the view has returned, and rolls everything back when it
raises (an ``abort``, a refusal raised with its page, any error). So:

- a view that refuses after it wrote raises (``abort(status)``, ``abort(make_response(page, status))``):
  nothing of it is saved. A page returned normally, even an error page, is committed with what was written
  (a failed sign-in is recorded, because throttling counts it);
- a service that expects a write to clash (a taken chart number) wraps it in a SAVEPOINT
  (``session.begin_nested()``) and carries on after the clash; a form sent twice clashes without one
  (``submissions.claim``: its INSERT does nothing on a taken id);
- what must be kept even when the request rolls back (a denial, a bad token counted) is written by
  ``after_close`` in a ``side_transaction``, once the request's session is closed;
- what must be saved exactly when the view's answer is (a page read's audit row) is left to ``before_commit``,
  which runs after the view returns, inside the same commit;
- the request's session refuses ``commit()`` and ``rollback()`` (``RequestSession``): only ``dispatch`` ends it.

SQLite is tuned for several server processes writing at once (SECURITY.md 25): WAL, foreign keys, a busy
timeout, and a write lock held only from a transaction's first write to its commit. Every transaction starts
as a read (``BEGIN``); its first statement that writes, or a read that PostgreSQL would lock (``FOR UPDATE``,
see rehab/services/locks.py), first ends the read and takes the write lock (``BEGIN IMMEDIATE``, asked for
every half millisecond). Reading, checking a form and hashing a password (135 ms) thus never hold up another
clinic's writes: a visit holds the lock for a few milliseconds. A deferred transaction that has
read must not upgrade itself instead: it fails at once with "database is locked" when another process wrote
in between, and the busy timeout does not help there. What was read before the first write may have changed
by then, as under PostgreSQL's READ COMMITTED: edits guard against that with their version check
(``claim_version``), creations with unique constraints, and reads the write depends on lock
(``rehab.services.locks``).

The ways to open a session, each for a reason: ``get_session()`` (the request's, or in the CLI the app
context's, which only reads), ``side_transaction()`` (a short write transaction of its own, committed at its
end: the CLI's writes and ``after_close`` work), and the migrations' and the PostgreSQL owner role's own
connections (rehab/migrate.py, rehab/cli.py).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session, create_engine

from rehab.services import clinic_changes
from rehab.services.locks import HOLDS_WRITE_LOCK, hold_write_lock

EXTENSION_KEY = "rehab.db"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


class EndedByDispatch(RuntimeError):
    """A view or a service tried to commit or roll back the request's transaction (see the module's text)."""


class RequestSession(Session):
    """The request's session. Views and services add and flush; ``dispatch`` commits or rolls back, once."""

    def commit(self) -> None:
        raise EndedByDispatch("The request commits once, after its view returns (rehab/db.py): add and flush "
                              "only. To refuse after writing, raise (abort) so that nothing is saved.")

    def rollback(self) -> None:
        raise EndedByDispatch("The request rolls back when its view raises (rehab/db.py): raise (abort) "
                              "instead, or wrap a write that may clash in session.begin_nested().")

    def _end(self, *, commit: bool) -> None:
        (Session.commit if commit else Session.rollback)(self)


def init_app(app: Flask) -> None:
    """Create the app's engine and hook the per-request session."""
    engine = make_engine(
        app.config["DATABASE_URL"],
        echo=app.config["DATABASE_ECHO"],
        busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"],
    )
    app.extensions[EXTENSION_KEY] = engine
    clinic_changes.install()  # each clinic's data generation moves with its writes (what the dashboard keeps)
    if app.config["COUNT_QUERIES"]:
        _count_queries(engine)

        @app.after_request
        def _report_query_count(response):  # type: ignore[no-untyped-def]
            # Read by the tests that hold pages to a fixed number of queries, and by `make bench`.
            response.headers["X-Query-Count"] = str(g.get("query_count", 0))
            return response

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()  # rolls back what was written after dispatch ended the transaction (nothing should be)
        # Work that must happen after the request's own transaction is gone (see after_close).
        for callback in g.pop("after_close", []):
            callback()


def dispatch(view: Callable[[], T]) -> T:
    """Run the request's view (``Flask.dispatch_request``) as the request's one transaction: commit when it
    returns, roll back when it raises, before any error handler runs (so an error page reads a clean session).

    What before-request hooks wrote is part of it; one that answers instead of the view (a redirect to sign
    in) has its writes rolled back at teardown. Error handlers and after-request hooks write nothing here."""
    g.rehab_in_view = True
    try:
        result = view()
        for callback in g.pop("before_commit", []):
            callback()  # what a returned view leaves for its commit (``before_commit``): part of the same commit
        session = g.get("db_session")
        if session is not None:
            session._end(commit=True)
    except BaseException:
        session = g.get("db_session")
        if session is not None:
            session._end(commit=False)
        raise
    finally:
        g.rehab_in_view = False
    return result


def in_view() -> bool:
    """Whether the request's view is running (``before_commit`` work then goes into its commit); False in the
    hooks before it (which may answer instead of the view) and in the error handlers and hooks after it."""
    return bool(g.get("rehab_in_view"))


def make_engine(url: str, *, echo: bool = False, busy_timeout_ms: int = 10_000) -> Engine:
    """An engine for SQLite (tuned as above) or PostgreSQL.

    ``hide_parameters``: bound values are patient data, and SQLAlchemy would otherwise put them in its SQL log
    and in the text of every database error, which the 500 handler logs (SECURITY.md 20)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        )
        _tune_sqlite(engine, busy_timeout_ms)
        return engine
    engine = create_engine(url, echo=echo, hide_parameters=True, pool_size=5, max_overflow=5)
    _ping_when_idle(engine)
    return engine


# A pooled PostgreSQL connection unused this long is checked before use (the server may have restarted or
# dropped it); one in steady use is not.
IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping`` costs a round trip on every checkout, that is on every request (measured:
    one of the eight on a cached sheet). Only a connection that sat idle is pinged here; a dead one is replaced
    before the request uses it (``DisconnectionError`` makes the pool connect anew). A connection that breaks
    while in steady use fails its request, and the pool then replaces every connection made before it."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 (any failure of the ping means a dead connection)
            raise DisconnectionError("the pooled connection is gone") from error
        if not alive:
            raise DisconnectionError("the pooled connection is gone")


_RETURNED_AT = "rehab.returned_at"


_WRITING = HOLDS_WRITE_LOCK  # in a connection's info: its transaction holds SQLite's write lock
_BEGIN_WRITING = "rehab_begin_writing"  # an execution option: this connection's transactions begin writing


def _tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (the pysqlite recipe), so SAVEPOINTs nest.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode, much faster than FULL
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        raw = connection.connection.driver_connection
        if connection.get_execution_options().get(_BEGIN_WRITING):
            # A side transaction writes for sure: take the lock at BEGIN rather than BEGIN, COMMIT, BEGIN
            # IMMEDIATE at its first locking statement (three round trips on every audited read).
            _begin_immediate(raw, busy_timeout_ms)
            connection.info[_WRITING] = True
            return
        connection.info[_WRITING] = False
        raw.execute("BEGIN")  # a read until it first writes

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(connection, _cursor, statement, _parameters, context, _many) -> None:  # type: ignore[no-untyped-def]
        if connection.info.get(_WRITING, True) or not _needs_write_lock(statement, context):
            return
        raw = connection.connection.driver_connection
        if raw.in_transaction:
            raw.execute("COMMIT")  # end the read (nothing was written): only releases its snapshot
        _begin_immediate(raw, busy_timeout_ms)
        connection.info[_WRITING] = True


def _needs_write_lock(statement: str, context: Any) -> bool:
    """Anything but a plain read: INSERT, UPDATE, DELETE, SAVEPOINT, DDL, and reads marked FOR UPDATE or FOR
    SHARE (SQLite's SQL has no such clause; the statement object still carries it)."""
    if statement.lstrip()[:6].upper() not in ("SELECT", "WITH "):
        return True
    if any(getattr(context, flag, False) for flag in ("isinsert", "isupdate", "isdelete")):  # WITH ... INSERT
        return True
    compiled = getattr(getattr(context, "compiled", None), "statement", None)
    return getattr(compiled, "_for_update_arg", None) is not None


# How often a writer asks again for SQLite's write lock while another process holds it.
_WRITE_LOCK_POLL_SECONDS = 0.0005


def _begin_immediate(raw: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """Take SQLite's write lock, asking again every half millisecond while another process holds it.

    SQLite's own busy handler waits 1, 2, 5, 10, 15, 20, 25... ms between tries: under steady writes from two
    workers, the waiting one sleeps through several releases while the other takes the lock again, and a
    3 ms write waited over 100 ms (measured with `make bench`). Asking often hands the lock over within half a
    millisecond of its release; a failed try costs microseconds. The busy timeout still bounds the wait."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
            time.sleep(_WRITE_LOCK_POLL_SECONDS)
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")


def _count_queries(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args, **_kwargs) -> None:  # type: ignore[no-untyped-def]
        with contextlib.suppress(RuntimeError):  # outside an app context
            g.query_count = g.get("query_count", 0) + 1


def get_engine() -> Engine:
    engine: Engine = current_app.extensions[EXTENSION_KEY]
    return engine


def get_session() -> RequestSession:
    """The request's session (in the CLI: the app context's, for reading), ended by ``dispatch``."""
    if "db_session" not in g:
        g.db_session = RequestSession(get_engine(), expire_on_commit=False)
    session: RequestSession = g.db_session
    return session


def before_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the view has returned, in the request's transaction, just before its commit: what
    it writes is committed with the request or not at all. Dropped when the view raises (nothing commits then).
    Only while the view runs (``in_view``).

    The audit row of a page read is written this way (``rehab.security.record_read``): the page and its row
    go together, and a read costs no second transaction."""
    g.setdefault("before_commit", []).append(callback)


def after_close(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the request's session is closed, whether it committed or rolled back (e.g. to
    record a denial that the request's rollback must not erase). Writing from a second connection while the
    request's own transaction holds SQLite's write lock would wait on itself, hence "after"."""
    g.setdefault("after_close", []).append(callback)


@contextlib.contextmanager
def side_transaction() -> Iterator[Session]:
    """A short write transaction of its own, committed at the end of the block even if a request fails.

    It takes SQLite's write lock at once, so what it reads is what it writes on. Used by the CLI, and before
    the request's own session starts (a sign-in's session activity) or after it has closed (``after_close``),
    never while it is open: on SQLite it would wait for a lock the request may hold."""
    with get_engine().connect().execution_options(**{_BEGIN_WRITING: True}) as connection, \
            Session(connection, expire_on_commit=False) as session:
        hold_write_lock(session)  # on SQLite already held since BEGIN; a no-op on PostgreSQL
        yield session
        session.commit()
