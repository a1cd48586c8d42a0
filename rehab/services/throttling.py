"""Sign-in throttles that stop guessing without locking real people out (SECURITY.md 3; docs/security.md).

Failures are counted per account and per address in the ``login_attempt`` table every worker shares. A
browser that signed in to an account before carries a signed "known device" cookie for it (OWASP's device
cookies): its own failures are counted for that device only, so an attacker's wrong guesses, or 50 failures
from a clinic's shared NAT address, never lock a therapist out of the browser they always use. A throttled
client adds at most one audit event per address or account per window (``note_throttled``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from rehab.models import LoginAttempt, ThrottleNotice
from rehab.services.locks import serialise

# The lock namespace (the two-key form) for serialising sign-ins per account (rehab/services/locks.py).
_PG_SIGN_IN_LOCKS = 74_202

Limit = Literal["account", "address", "device"]

# Wrong current passwords on the account page, per account and sign-in window, before the browser typing them
# is signed out. Whoever types them already holds a signed-in session (a screen left unlocked), so the answer is
# to end that session, not to count them toward the sign-in limit: that would lock the owner out of signing in
# from a new browser while the guesser's session stayed.
PASSWORD_CHECK_LIMIT = 5


@dataclass(frozen=True)
class ThrottleLimits:
    per_account: int
    per_address: int
    window: timedelta


def account_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def device_key(device_id: str, email: str) -> str:
    """The key a known device's failures for one account are counted under (never equal to an account's)."""
    return hashlib.sha256(f"device:{device_id}:{account_key(email)}".encode()).hexdigest()


def password_check_key(email: str) -> str:
    """The key wrong current passwords typed on the account page are counted under (never a sign-in's)."""
    return hashlib.sha256(f"password-check:{account_key(email)}".encode()).hexdigest()


def recent_failures(session: Session, *, key: str, now: datetime, window: timedelta,
                    address: str | None = None) -> int:
    """Failures counted under ``key`` in the window: all of them, or those from ``address`` only."""
    query = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.account_key == key, LoginAttempt.succeeded == False,  # noqa: E712 (SQL comparison)
        LoginAttempt.at >= now - window)
    if address is not None:
        query = query.where(LoginAttempt.address == address[:64])
    return session.exec(query).one()


def lock_account(session: Session, email: str) -> None:
    """Serialise sign-ins to one account until the caller commits, so parallel guesses cannot all be judged
    against the same count (SQLite: its write lock; PostgreSQL: an advisory lock per account)."""
    serialise(session, _PG_SIGN_IN_LOCKS, int(account_key(email)[:7], 16))


def throttled_by(session: Session, *, email: str, address: str, device: str | None, now: datetime,
                 limits: ThrottleLimits) -> Limit | None:
    """Which limit this sign-in is over, or None. ``device`` is the known-device key (``device_key``) when the
    browser proved it signed in to this account before: only that device's own failures count then."""
    failures = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.succeeded == False,  # noqa: E712 (SQL comparison)
        LoginAttempt.at >= now - limits.window,
    )
    if device is not None:
        by_device = session.exec(failures.where(LoginAttempt.account_key == device)).one()
        return "device" if by_device >= limits.per_account else None
    if session.exec(failures.where(LoginAttempt.account_key == account_key(email))).one() >= limits.per_account:
        return "account"
    if session.exec(failures.where(LoginAttempt.address == address)).one() >= limits.per_address:
        return "address"
    return None


def record_attempt(session: Session, *, email: str, address: str, device: str | None, succeeded: bool,
                   now: datetime, key: str | None = None) -> None:
    """One sign-in attempt; a known device's is counted under its device key, not the account's, and a
    wrong current password on the account page under ``key`` (``password_check_key``)."""
    session.add(LoginAttempt(at=now, account_key=key or device or account_key(email), address=address[:64],
                             succeeded=succeeded))


def note_throttled(session: Session, *, key: str, now: datetime, window: timedelta) -> bool:
    """True when ``key`` (an address or an account) was not yet noted as throttled in this window: the caller
    audits the event then, and only then. One statement (insert, or move an older notice forward), so two
    workers refusing the same client at once note it once."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ThrottleNotice).values(key=key[:100], noted_at=now)
    upsert = statement.on_conflict_do_update(
        index_elements=["key"], set_={"noted_at": now}, where=col(ThrottleNotice.noted_at) < now - window,
    ).returning(col(ThrottleNotice.key))
    return session.execute(upsert).first() is not None
