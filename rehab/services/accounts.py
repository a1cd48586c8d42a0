"""Sign-in, throttling and server-side sessions (SECURITY.md 1-7).

The browser's cookie carries a random token; the database keeps its SHA-256 with the session's times, so
the server can end a session (sign-out, password change, deactivation) whatever the browser kept.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal

from argon2 import PasswordHasher
from sqlalchemy import bindparam, delete, update
from sqlmodel import Session, col, select

from rehab.models import Clinic, LoginAttempt, Membership, User, UserSession
from rehab.services.passwords import hash_password, password_problem, verify_password
from rehab.services.throttling import account_key, password_check_key
from rehab.services.tokens import token_hash

# Verified against when the email is unknown, so both answers take the same time.
_DUMMY_HASH_SOURCE = "not-a-real-password-0000"


@lru_cache(maxsize=8)
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Made once per hasher: hashing it on every unknown email would double that answer's time."""
    return hasher.hash(_DUMMY_HASH_SOURCE)


def check_credentials(session: Session, hasher: PasswordHasher, *, email: str, password: str
                      ) -> tuple[User | None, str | None]:
    """The active user with this email and password, or None (same work either way), and the password's new
    hash when the install's hashing cost changed since it was stored.

    Only reads: the caller runs it before taking any write lock (argon2 takes about 135 ms) and stores the
    new hash in its write transaction."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        verify_password(hasher, _dummy_hash(hasher), password)
        return None, None
    if not verify_password(hasher, user.password_hash, password) or not user.is_active:
        return None, None
    rehashed = hash_password(hasher, password) if hasher.check_needs_rehash(user.password_hash) else None
    return user, rehashed


def clear_failures(session: Session, *, email: str, device: str | None = None) -> None:
    """A successful sign-in (or a new password) forgives the account's failures, its wrong current passwords
    on the account page (and the known device's, when it signed in from one)."""
    keys = [account_key(email), password_check_key(email)] + ([device] if device else [])
    session.execute(
        delete(LoginAttempt)
        .where(col(LoginAttempt.account_key).in_(keys), col(LoginAttempt.succeeded) == False)  # noqa: E712
    )


def clinics_for(session: Session, user_id: int) -> list[Clinic]:
    rows = session.exec(
        select(Clinic).join(Membership, col(Membership.clinic_id) == Clinic.id)
        .where(Membership.user_id == user_id).order_by(Clinic.name)
    )
    return list(rows)


def start_session(session: Session, *, user_id: int, clinic_id: int, now: datetime) -> str:
    """Create a server-side session and return the token for the cookie."""
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=token_hash(token), user_id=user_id, clinic_id=clinic_id,
                            created_at=now, last_seen_at=now))
    return token


@dataclass(frozen=True)
class ActiveSession:
    record: UserSession
    user: User
    clinic: Clinic
    # The membership of the session's clinic: None once an admin removed the user from it (the caller then
    # moves the session to another of their clinics, or ends it).
    is_admin: bool | None


# Every signed-in request runs this lookup: the statement is built once (building it is a third of its cost)
# and only the token's hash is bound per request.
_SESSION_LOOKUP = (
    select(UserSession, User, Clinic, Membership.is_admin)
    .join(User, col(User.id) == UserSession.user_id)
    .join(Clinic, col(Clinic.id) == UserSession.clinic_id)
    .outerjoin(Membership, (col(Membership.user_id) == UserSession.user_id)
               & (col(Membership.clinic_id) == UserSession.clinic_id))
    .where(UserSession.token_hash == bindparam("token_hash"))
)


def find_session(session: Session, token: str, *, now: datetime, idle: timedelta, absolute: timedelta
                 ) -> tuple[ActiveSession | None, Literal["ok", "missing", "idle", "expired"]]:
    """The live session for a cookie token, or why there is none."""
    row = session.exec(_SESSION_LOOKUP, params={"token_hash": token_hash(token)}).first()
    if row is None:
        return None, "missing"
    record, user, clinic, is_admin = row
    if record.ended_at is not None or not user.is_active:
        return None, "missing"
    if now - record.created_at > absolute:
        return None, "expired"
    if now - record.last_seen_at > idle:
        return None, "idle"
    return ActiveSession(record, user, clinic, is_admin), "ok"


def timed_out_owner(session: Session, token: str, *, now: datetime, idle: timedelta, absolute: timedelta
                    ) -> tuple[int, int] | None:
    """The account and clinic of a session that ended by time (idle, or its limit), for a form its open pages
    send afterwards (services/kept_forms.py). None when it is live, or was ended on purpose: signed out, a
    changed password, a deactivated account, a removed membership."""
    row = session.exec(_SESSION_LOOKUP, params={"token_hash": token_hash(token)}).first()
    if row is None:
        return None
    record, user, _clinic, is_admin = row
    if record.ended_at is not None or not user.is_active or is_admin is None:
        return None
    if now - record.created_at > absolute or now - record.last_seen_at > idle:
        return record.user_id, record.clinic_id
    return None


def move_session(session: Session, *, session_id: int, clinic_id: int | None, now: datetime) -> None:
    """Point a session at another clinic of its user, or end it when they have none left."""
    values = {"clinic_id": clinic_id} if clinic_id is not None else {"ended_at": now}
    session.execute(update(UserSession).where(col(UserSession.id) == session_id).values(**values))


def end_session(session: Session, token: str, *, now: datetime) -> None:
    session.execute(
        update(UserSession).where(col(UserSession.token_hash) == token_hash(token), col(UserSession.ended_at).is_(None))
        .values(ended_at=now)
    )


def end_all_sessions(session: Session, *, user_id: int, now: datetime, keep_id: int | None = None) -> None:
    """End every session of a user (password change, deactivation), optionally keeping the current one."""
    statement = update(UserSession).where(col(UserSession.user_id) == user_id, col(UserSession.ended_at).is_(None))
    if keep_id is not None:
        statement = statement.where(col(UserSession.id) != keep_id)
    session.execute(statement.values(ended_at=now))


WRONG_CURRENT = "This is not your current password. Type the password you signed in with."
NOT_THE_SAME = "The two new passwords are not the same. Type the new password again in both fields."
UNCHANGED = "This is your current password. Choose a new one."


def own_password_problems(hasher: PasswordHasher, user: User, *, current: str, password: str, repeat: str
                          ) -> dict[str, str]:
    """Why a change of one's own password is refused, by field (``current_password``, ``password``,
    ``password_repeat``); empty when it may be saved. The current password is asked so that whoever finds a
    screen left signed in cannot keep the account."""
    problems: dict[str, str] = {}
    current_right = verify_password(hasher, user.password_hash, current)
    if not current_right:
        problems["current_password"] = WRONG_CURRENT
    if problem := password_problem(password, email=user.email, name=user.name):
        problems["password"] = problem
    elif current_right and password == current:
        problems["password"] = UNCHANGED
    elif repeat != password:
        problems["password_repeat"] = NOT_THE_SAME
    return problems


def set_password(session: Session, hasher: PasswordHasher, user: User, *, password: str, now: datetime,
                 keep_session_id: int | None = None) -> None:
    """Store a new password (the caller checked it) and end every session of the account but
    ``keep_session_id``, so a browser signed in with the old one is out; its failed sign-ins are forgiven."""
    user.password_hash = hash_password(hasher, password)
    user.password_changed_at = now
    session.add(user)
    end_all_sessions(session, user_id=user.id, now=now, keep_id=keep_session_id)
    clear_failures(session, email=user.email)


def touch_session(session: Session, *, session_id: int, now: datetime) -> None:
    session.execute(update(UserSession).where(col(UserSession.id) == session_id).values(last_seen_at=now))


def create_user(session: Session, hasher: PasswordHasher, *, email: str, name: str, password: str,
                clinic_ids: list[int], is_admin: bool = False) -> User:
    """Add an account with memberships (as an admin of those clinics when ``is_admin``); the caller checks the
    password policy and email uniqueness."""
    user = User(email=email.strip().lower(), name=name.strip(), password_hash=hash_password(hasher, password))
    session.add(user)
    session.flush()
    for clinic_id in clinic_ids:
        session.add(Membership(user_id=user.id, clinic_id=clinic_id, is_admin=is_admin))
    return user


def account_and_clinic(session: Session, email: str) -> tuple[int | None, int | None]:
    """The account with this email and its first clinic, or (None, None)."""
    row = session.exec(
        select(User.id, Membership.clinic_id).outerjoin(Membership, col(Membership.user_id) == User.id)
        .where(User.email == email.strip().lower()).order_by(col(Membership.clinic_id))
    ).first()
    return (row[0], row[1]) if row else (None, None)


def email_taken(session: Session, email: str) -> bool:
    return session.exec(select(User.id).where(User.email == email.strip().lower())).first() is not None
