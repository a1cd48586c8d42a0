"""Database engine and the one-session-per-request rule.

SQLite is tuned for several server processes writing at once (SECURITY.md 25): WAL, foreign keys, a busy
timeout, and ``BEGIN IMMEDIATE`` for transactions that will write. A deferred transaction that reads and
then writes can fail at once with "database is locked" when another process wrote in between, and the busy
timeout does not help there; taking the write lock up front makes writers queue instead.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from flask import Flask, current_app, g, request
from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

# True when the current unit of work will write. Requests set it from their method; everything outside a
# request (CLI, migrations, tests) writes, so it defaults to True.
_write_intent: ContextVar[bool] = ContextVar("rehab_write_intent", default=True)

EXTENSION_KEY = "rehab.db"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_app(app: Flask) -> None:
    """Create the app's engine and hook the per-request session."""
    engine = make_engine(
        app.config["DATABASE_URL"],
        echo=app.config["DATABASE_ECHO"],
        busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"],
    )
    app.extensions[EXTENSION_KEY] = engine
    if app.config["COUNT_QUERIES"]:
        _count_queries(engine)

        @app.after_request
        def _report_query_count(response):  # type: ignore[no-untyped-def]
            # Read by the tests that hold pages to a fixed number of queries, and by `make bench`.
            response.headers["X-Query-Count"] = str(g.get("query_count", 0))
            return response

    @app.before_request
    def _set_write_intent() -> None:
        g.write_intent_token = _write_intent.set(request.method not in SAFE_METHODS)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()  # rolls back anything the view did not commit
        token = g.pop("write_intent_token", None)
        if token is not None:
            _write_intent.reset(token)
        # Work that must happen after the request's own transaction is gone (see after_close).
        for callback in g.pop("after_close", []):
            callback()


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
    return create_engine(url, echo=echo, hide_parameters=True, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (the pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode, much faster than FULL
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        if _write_intent.get():
            _begin_immediate(connection.connection.driver_connection, busy_timeout_ms)
        else:
            connection.exec_driver_sql("BEGIN")


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
    return current_app.extensions[EXTENSION_KEY]


def get_session() -> Session:
    """The request's session: one per request, committed once by the view."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


def after_close(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the request's session is closed (e.g. to record a denial that the request's
    rollback must not erase). Writing from a second connection while the request's own write transaction
    holds SQLite's lock would wait on itself, hence "after"."""
    g.setdefault("after_close", []).append(callback)


@contextlib.contextmanager
def read_session() -> Iterator[Session]:
    """A short session of its own that only reads, even during a POST: on SQLite it must not take the write
    lock (BEGIN IMMEDIATE), which every other writer would then wait for."""
    token = _write_intent.set(False)
    try:
        with Session(get_engine(), expire_on_commit=False) as session:
            yield session
    finally:
        _write_intent.reset(token)


@contextlib.contextmanager
def lookup_session() -> Iterator[Session]:
    """For reads made before the view runs (the signed-in user): a GET's own request session, which saves
    opening a second transaction on every page; a write request's would take SQLite's write lock for a read,
    so it gets a short read session of its own."""
    if _write_intent.get():
        with read_session() as session:
            yield session
    else:
        yield get_session()


def reads_first() -> None:
    """This request reads before it writes: its transaction starts as a read, and ``begin_writes`` takes the
    write lock only for the writes. For the busiest writes (a visit, a home log), so SQLite's one writer at a
    time holds the lock for a millisecond rather than for the whole request."""
    _write_intent.set(False)


def begin_writes() -> None:
    """End the request's read transaction (nothing was written: this only releases its snapshot) so the next
    statement begins a write transaction. Loaded objects stay loaded (``expire_on_commit=False``). As under
    PostgreSQL's READ COMMITTED, what was read may change before the write; edits guard against that with
    their version check (``claim_version``) as everywhere else."""
    session = g.get("db_session")
    if session is not None and session.in_transaction():
        session.commit()
    _write_intent.set(True)


@contextlib.contextmanager
def side_transaction() -> Iterator[Session]:
    """A short write transaction of its own, committed even if the request later fails.

    Used before the request's own session starts (session activity) and after it has closed
    (``after_close``), never while it is open: on SQLite that would wait for a lock the request holds.
    """
    token = _write_intent.set(True)
    try:
        with Session(get_engine(), expire_on_commit=False) as session:
            yield session
            session.commit()
    finally:
        _write_intent.reset(token)
