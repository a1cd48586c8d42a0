"""The hash-chained audit trail, without the app: altering or removing a row is found at the right id
(SECURITY.md 19). A plain SQLite file with the tables from the models is enough here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlmodel import Session, SQLModel, col, create_engine, select

from rehab.models import AuditEvent
from rehab.services.audit import GENESIS, first_broken_event, record_event


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


@pytest.fixture
def trail(session: Session) -> list[int]:
    """Six events as the app records them, committed one by one; returns their ids in order."""
    events = [
        {"action": "login", "user_id": None, "outcome": "ok"},
        {"action": "login.failed", "outcome": "failed"},
        {"action": "patient.view", "object_type": "patient", "object_id": 7},
        {"action": "patient.update", "object_type": "patient", "object_id": 7},
        {"action": "admin.denied", "outcome": "denied"},
        {"action": "logout"},
    ]
    ids = []
    for fields in events:
        ids.append(record_event(session, **fields).id)
        session.commit()
    return ids


def stored(session: Session) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))


def test_an_untouched_trail_verifies(session, trail):
    assert first_broken_event(session) is None
    events = stored(session)
    assert [event.id for event in events] == trail
    assert events[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
    assert len({event.hash for event in events}) == len(events)


def test_an_empty_trail_verifies(session):
    assert first_broken_event(session) is None


def test_times_are_utc_and_survive_the_round_trip(session, trail):
    """A time read back differently from how it was hashed would make every honest row look altered."""
    event = stored(session)[0]
    assert event.at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("column", "value"),
    [("action", "patient.view"), ("outcome", "denied"), ("object_id", 8), ("user_id", 99), ("object_type", "")],
)
def test_an_altered_row_is_named(session, trail, column, value):
    target = trail[3]
    session.execute(update(AuditEvent).where(AuditEvent.id == target).values({column: value}))
    session.commit()
    assert first_broken_event(session) == target


def test_an_altered_time_is_named(session, trail):
    target = trail[2]
    event = session.get(AuditEvent, target)
    session.execute(update(AuditEvent).where(AuditEvent.id == target).values(at=event.at - timedelta(hours=1)))
    session.commit()
    assert first_broken_event(session) == target


def test_a_row_rehashed_by_the_forger_breaks_the_link_to_the_next_one(session, trail):
    """Someone who knows the formula can fix the altered row's own hash, but not the following row's link."""
    from rehab.services.audit import _digest

    target = trail[2]
    event = session.get(AuditEvent, target)
    event.action = "patient.print"
    event.hash = _digest(event.prev_hash, event)
    session.add(event)
    session.commit()
    assert first_broken_event(session) == trail[3]


@pytest.mark.parametrize("position", [0, 2, 4])
def test_a_removed_row_is_found_at_the_row_after_it(session, trail, position):
    session.execute(delete(AuditEvent).where(AuditEvent.id == trail[position]))
    session.commit()
    assert first_broken_event(session) == trail[position + 1]


def test_a_break_is_found_across_batches(session, trail):
    target = trail[-1]
    session.execute(update(AuditEvent).where(AuditEvent.id == target).values(action="login"))
    session.commit()
    assert first_broken_event(session, batch=2) == target
    assert first_broken_event(session, batch=1) == target


def test_new_events_after_a_break_do_not_hide_it(session, trail):
    session.execute(delete(AuditEvent).where(AuditEvent.id == trail[1]))
    session.commit()
    record_event(session, action="login")
    session.commit()
    assert first_broken_event(session) == trail[2]
