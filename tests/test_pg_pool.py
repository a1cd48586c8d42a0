"""PostgreSQL's pooled connections (rehab/db.py): a request does not pay a ping's round trip, and a connection
the server dropped while it sat idle is replaced before a page uses it."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from rehab import db as database
from tests.conftest import POSTGRES_URL

pytestmark = [pytest.mark.db, pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL's connection pool")]


def statements_of(app, client, url: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every statement the driver was sent for one page, the pool's own included."""
    import psycopg

    sent: list[str] = []
    real = psycopg.Cursor.execute

    def spy(cursor, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(str(query).strip())
        return real(cursor, query, *args, **kwargs)

    psycopg.Cursor.execute = spy  # type: ignore[method-assign]
    try:
        assert client.get(url).status_code == 200
    finally:
        psycopg.Cursor.execute = real  # type: ignore[method-assign]
    return sent


def test_a_page_on_a_connection_in_use_sends_no_ping(app, therapist_client, patient):
    therapist_client.get(f"/patients/{patient.id}")  # the pool now holds a connection used just now
    sent = statements_of(app, therapist_client, f"/patients/{patient.id}")
    assert sent and ";" not in sent  # SQLAlchemy's pre-ping is an empty statement


def test_a_connection_dropped_while_idle_is_replaced_before_the_page_uses_it(app, therapist_client, patient,
                                                                              monkeypatch):
    assert therapist_client.get(f"/patients/{patient.id}").status_code == 200
    outside = create_engine(POSTGRES_URL, poolclass=NullPool)  # the server ends the pooled ones, as a restart would
    with outside.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        connection.commit()
    outside.dispose()
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)
    page = therapist_client.get(f"/patients/{patient.id}")
    assert page.status_code == 200 and "Margaret Okafor" in page.get_data(as_text=True)

