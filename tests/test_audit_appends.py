"""Two appends to the audit chain at once, on the migrated database (SQLite, or PostgreSQL in CI's second
pass): the one that waits for the other's lock chains to the event that other committed, never to the head
it would have read before the lock was granted (on PostgreSQL the lock and the read are one function call,
each statement in it on a fresh snapshot: migration d20audit_0900)."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, col, select

from rehab.models import AuditEvent
from rehab.services import audit
from tests.conftest import engine_of

pytestmark = pytest.mark.db

KEY = audit.chain_key(audit_key="", secret_key="test-secret-key-that-is-long-enough-0123456789")


def test_an_append_that_waited_for_the_lock_chains_to_the_event_it_waited_for(app):
    engine = engine_of(app)
    with Session(engine) as setup:
        audit.record_event(setup, key=KEY, action="login")
        setup.commit()
    first, waiting = Session(engine), Session(engine)
    first_event = audit.record_event(first, key=KEY, action="patient.view", object_type="patient", object_id=1)
    appended: list[audit.AppendedEvent] = []
    started = threading.Event()

    def second_append() -> None:
        started.set()
        appended.append(audit.record_event(waiting, key=KEY, action="patient.update", object_type="patient",
                                           object_id=1))
        waiting.commit()

    thread = threading.Thread(target=second_append)
    thread.start()
    try:
        started.wait()
        thread.join(timeout=0.5)
        assert thread.is_alive(), "the second append went ahead while the first still held the chain"
        first.commit()
        thread.join(timeout=10)
        assert not thread.is_alive()
    finally:  # a failed check must not leave the chain locked for the tests after this one
        first.close()
        thread.join(timeout=10)
        waiting.close()

    assert appended[0].prev_hash == first_event.hash
    with Session(engine) as reader:
        events = reader.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        assert [event.action for event in events] == ["login", "patient.view", "patient.update"]
        assert audit.first_broken_event(reader, key=KEY) is None
