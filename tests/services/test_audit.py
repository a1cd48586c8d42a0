"""The HMAC-chained audit trail, without the app: altering or removing a row is found at the right id, and
so is a trail rewritten without the key (SECURITY.md 19). A plain SQLite file with the tables from the models
is enough here."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from rehab.models import AuditEvent
from rehab.services import audit
from rehab.services.audit import GENESIS, record_event

KEY = audit.chain_key(audit_key="", secret_key="test-secret-key-that-is-long-enough-0123456789")


def first_broken_event(session: Session, **options: int) -> int | None:
    return audit.first_broken_event(session, key=KEY, **options)


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
        ids.append(record_event(session, key=KEY, **fields).id)
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
    """Even with the key, fixing the altered row's own hash leaves the following row's link broken."""
    target = trail[2]
    event = session.get(AuditEvent, target)
    event.action = "patient.print"
    event.hash = audit.keyed_digest(KEY)(event.prev_hash, event)
    session.add(event)
    session.commit()
    assert first_broken_event(session) == trail[3]


def rehash_everything(session: Session, digest: audit.Digest) -> None:
    """The forger's rewrite: every remaining row re-linked and re-hashed in order."""
    previous = GENESIS
    for event in stored(session):
        event.prev_hash, event.hash = previous, digest(previous, event)
        previous = event.hash
        session.add(event)
    session.commit()


def test_deleting_an_event_and_rehashing_the_rest_with_sha256_is_found(session, trail):
    """The attack on the unkeyed chain: remove a row, recompute every hash with plain SHA-256. Before the chain
    was keyed, this verified; without the key it cannot."""
    session.execute(delete(AuditEvent).where(AuditEvent.id == trail[2]))
    session.commit()
    rehash_everything(session, audit.legacy_digest)
    assert audit.first_broken_event(session, key=KEY) == trail[0]  # the very first row no longer checks out
    # The same rewrite under the right key would pass: the key is the whole protection, so it lives outside
    # the database.
    rehash_everything(session, audit.keyed_digest(KEY))
    assert first_broken_event(session) is None


def test_a_rewrite_under_another_key_is_found(session, trail):
    session.execute(update(AuditEvent).where(AuditEvent.id == trail[4]).values(outcome="ok"))
    session.commit()
    rehash_everything(session, audit.keyed_digest(audit.chain_key(audit_key="a guess", secret_key="")))
    assert first_broken_event(session) == trail[0]


def test_the_key_comes_from_audit_key_or_is_derived_from_the_secret():
    derived = audit.chain_key(audit_key="", secret_key="s" * 40)
    assert derived != b"s" * 40 and len(derived) == 32  # a derived key, never the secret itself
    assert audit.chain_key(audit_key="", secret_key="t" * 40) != derived
    assert audit.chain_key(audit_key="own key", secret_key="s" * 40) == b"own key"


def test_the_chain_reports_its_head(session, trail):
    report = audit.check_chain(session, key=KEY)
    last = stored(session)[-1]
    assert (report.broken_at, report.head_id, report.head, report.count) == (None, last.id, last.hash, 6)
    assert audit.position_of(session, stored(session)[2].hash) == trail[2]
    assert audit.position_of(session, "f" * 64) is None


@pytest.mark.parametrize("old_key", [None, b"the old key"], ids=["from unkeyed", "from another key"])
def test_rekeying_keeps_the_chain_valid_and_keeps_a_break_where_it_was(session, trail, old_key):
    old = audit.legacy_digest if old_key is None else audit.keyed_digest(old_key)
    rehash_everything(session, old)  # the trail as the old scheme wrote it
    session.execute(update(AuditEvent).where(AuditEvent.id == trail[3]).values(action="login"))  # tampered then
    session.commit()
    assert first_broken_event(session) == trail[0]
    assert audit.rekey(session, old=old, new=audit.keyed_digest(KEY)) == 6
    session.commit()
    # Re-keying moved every intact row to the new key and left the tampered one failing: nothing laundered.
    assert first_broken_event(session) == trail[3]
    # Only that row: every row after it re-keyed and links to it as before.
    events = stored(session)
    digest = audit.keyed_digest(KEY)
    assert [digest(event.prev_hash, event) == event.hash for event in events] == [True, True, True, False, True, True]
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))


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
    record_event(session, key=KEY, action="login")
    session.commit()
    assert first_broken_event(session) == trail[2]
