"""The append-only audit trail, chained with an HMAC under a key kept outside the database (SECURITY.md 19).

Each event's hash is an HMAC-SHA-256, under the chain key, of its own fields and the previous event's hash;
``first_broken_event`` walks the chain and names the first row that was altered, or that follows a removed
row. A plain hash would not do: whoever can write the table could delete a row and re-hash everything after
it. Without the key nobody can compute a hash that verifies, so the database alone is not enough to forge.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import insert, text, update
from sqlmodel import Session, col, select

from rehab.models import AuditEvent, utcnow

GENESIS = "0" * 64
# Any constant: PostgreSQL's advisory lock that serialises appends to the chain (SQLite's write lock does there).
_PG_CHAIN_LOCK = 74_201
# Labels the key derived from SECRET_KEY, so it differs from every other use of that secret.
_DERIVED_KEY_LABEL = b"rehab audit chain v1"



class EventFields(Protocol):
    """What an event's hash covers: a stored row (``AuditEvent``) or an event just appended (``AppendedEvent``)."""

    @property
    def at(self) -> datetime: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def clinic_id(self) -> int | None: ...
    @property
    def patient_id(self) -> int | None: ...
    @property
    def action(self) -> str: ...
    @property
    def object_type(self) -> str: ...
    @property
    def object_id(self) -> int | None: ...
    @property
    def outcome(self) -> str: ...


@dataclass
class AppendedEvent:
    """An event as ``record_event`` appended it: the row's values, without an ORM object (building one cost a
    fifth of an audited download's append)."""

    at: datetime
    user_id: int | None
    clinic_id: int | None
    patient_id: int | None
    action: str
    object_type: str
    object_id: int | None
    outcome: str
    prev_hash: str
    hash: str = ""
    id: int | None = None


Digest = Callable[[str, EventFields], str]


def chain_key(*, audit_key: str, secret_key: str) -> bytes:
    """The install's AUDIT_KEY, or when it has none a key derived from SECRET_KEY (which every install
    already keeps outside the database)."""
    if audit_key:
        return audit_key.encode()
    return hmac.new(secret_key.encode(), _DERIVED_KEY_LABEL, hashlib.sha256).digest()


def _payload(prev_hash: str, event: EventFields) -> bytes:
    fields = json.dumps(
        [event.at.isoformat(timespec="microseconds"), event.user_id, event.clinic_id, event.patient_id,
         event.action, event.object_type, event.object_id, event.outcome],
        separators=(",", ":"),
    )
    return f"{prev_hash}|{fields}".encode()


def keyed_digest(key: bytes) -> Digest:
    def digest(prev_hash: str, event: EventFields) -> str:
        return hmac.new(key, _payload(prev_hash, event), hashlib.sha256).hexdigest()

    return digest


def legacy_digest(prev_hash: str, event: EventFields) -> str:
    """The unkeyed SHA-256 of installs before the chain was keyed (read only by ``rekey``)."""
    return hashlib.sha256(_payload(prev_hash, event)).hexdigest()


# Run on every audited request; built once. On SQLite the read of the last hash takes the database's write
# lock itself (rehab/db.py sees its FOR UPDATE, which SQLite's SQL drops), rather than a statement of its own
# taking it first: one round trip fewer on every audited page.
_LAST_HASH_LOCKED = select(AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1).with_for_update()
# On PostgreSQL the chain's advisory lock and the read of its head are one call of a function (migration
# d20audit_0900): a plain statement would read from a snapshot taken before its lock was granted.
_PG_LOCKED_HEAD = text("SELECT rehab_audit_chain_head(:lock_key)")
_APPEND = insert(AuditEvent.__table__)  # type: ignore[attr-defined]  # SQLModel's table, a plain Core insert


def record_event(session: Session, *, key: bytes, action: str, user_id: int | None = None,
                 clinic_id: int | None = None, patient_id: int | None = None, object_type: str = "",
                 object_id: int | None = None, outcome: str = "ok", at: datetime | None = None) -> AppendedEvent:
    """Append one event. Appends take turns (the chain's lock): two at once must not chain to the same hash.

    Written with a plain INSERT on the session's connection (the ORM's flush of one object cost more than the
    rest of the append); the event returned carries its id and hash, and is not in the session."""
    if session.get_bind().dialect.name == "postgresql":
        # An advisory lock, not a row lock on the last event: that would not stop two appends chaining to it.
        prev = session.execute(_PG_LOCKED_HEAD, {"lock_key": _PG_CHAIN_LOCK}).scalar()
    else:
        prev = session.exec(_LAST_HASH_LOCKED).first()
    event = AppendedEvent(at=at or utcnow(), user_id=user_id, clinic_id=clinic_id, patient_id=patient_id,
                          action=action, object_type=object_type, object_id=object_id, outcome=outcome,
                          prev_hash=prev or GENESIS)
    event.hash = keyed_digest(key)(event.prev_hash, event)
    inserted = session.connection().execute(_APPEND, {
        "at": event.at, "user_id": user_id, "clinic_id": clinic_id, "patient_id": patient_id, "action": action,
        "object_type": object_type, "object_id": object_id, "outcome": outcome, "prev_hash": event.prev_hash,
        "hash": event.hash})
    event.id = inserted.inserted_primary_key[0]  # type: ignore[index]
    return event


def _events(session: Session, batch: int) -> Iterator[AuditEvent]:
    last_id = 0
    while True:
        rows = session.exec(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(col(AuditEvent.id)).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


@dataclass(frozen=True)
class ChainReport:
    broken_at: int | None  # the first event that does not check out, or None
    head_id: int | None  # the newest event (None for an empty trail)
    head: str  # its hash: record it elsewhere and pass it to ``audit verify --expect`` later
    count: int


def check_chain(session: Session, *, key: bytes, batch: int = 5000) -> ChainReport:
    digest = keyed_digest(key)
    expected_prev, head_id, count, broken = GENESIS, None, 0, None
    for event in _events(session, batch):
        if broken is None and (event.prev_hash != expected_prev or digest(event.prev_hash, event) != event.hash):
            broken = event.id
        expected_prev, head_id, count = event.hash, event.id, count + 1
    return ChainReport(broken_at=broken, head_id=head_id, head=expected_prev, count=count)


def first_broken_event(session: Session, *, key: bytes, batch: int = 5000) -> int | None:
    """The id of the first event whose hash or link does not check out, or None if the chain is whole."""
    return check_chain(session, key=key, batch=batch).broken_at


def position_of(session: Session, head: str) -> int | None:
    """The id of the event with this hash (a head recorded earlier), or None when no event has it."""
    return session.exec(select(AuditEvent.id).where(AuditEvent.hash == head).order_by(col(AuditEvent.id))).first()


def rekey(session: Session, *, old: Digest, new: Digest, batch: int = 5000) -> int:
    """Re-hash every event from the old scheme (an old key, or the unkeyed chain) to the new one; the count.

    Only what verified under the old scheme verifies under the new: a row whose hash or link was already
    wrong keeps its old value, so ``audit verify`` still names the same first broken event and re-keying
    never launders a forgery. Needs UPDATE on the table: run it with the owner's (migration) URL."""
    expected_old_prev, new_prev, count = GENESIS, GENESIS, 0
    for event in _events(session, batch):
        linked = event.prev_hash == expected_old_prev
        intact = old(event.prev_hash, event) == event.hash
        prev_value = new_prev if linked else event.prev_hash
        hash_value = new(prev_value, event) if linked and intact else event.hash
        expected_old_prev, new_prev = event.hash, hash_value
        session.execute(update(AuditEvent).where(col(AuditEvent.id) == event.id)
                        .values(prev_hash=prev_value, hash=hash_value))
        count += 1
    return count
