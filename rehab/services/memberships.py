"""Who works in which clinic, and who administers it (SECURITY.md 28).

Admin is a role per clinic. An admin may change a clinic's memberships only in clinics they administer, and
may act on an account itself (its password, whether it is active) only when they administer every clinic
the account works in: otherwise an admin of one clinic could take over a colleague's access to another.
A clinic always keeps an admin, and nobody takes their own admin role or membership away.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from rehab.models import Clinic, Membership, User

# The messages an admin sees when a change is refused (one home, shared by the pages and the tests).
NOT_YOURSELF = "You cannot change your own membership or admin role. Ask another admin of this clinic."
LAST_ADMIN = "A clinic needs at least one admin: make someone else an admin first."
ALREADY_MEMBER = "They already work in this clinic."
NOT_A_MEMBER = "They do not work in this clinic."
NO_SUCH_ACCOUNT = "No account has this email. Add a new therapist on the Team page instead."
# A page from before another admin made the same change: refused, with the members as they are now.
ALREADY_ADMIN = "They are already an admin of this clinic; nothing was changed."
ALREADY_NOT_ADMIN = "They are no longer an admin of this clinic; nothing was changed."
# What a change changes nothing on, as opposed to a rule refusing it.
UNCHANGED = frozenset({NOT_A_MEMBER, ALREADY_ADMIN, ALREADY_NOT_ADMIN})


@dataclass(frozen=True)
class Member:
    user: User
    is_admin: bool


def clinic_ids_of(session: Session, user_id: int) -> set[int]:
    return set(session.exec(select(Membership.clinic_id).where(Membership.user_id == user_id)))


def administered_clinic_ids(session: Session, user_id: int) -> set[int]:
    return set(session.exec(select(Membership.clinic_id).where(Membership.user_id == user_id,
                                                                Membership.is_admin == True)))  # noqa: E712


def administered_clinics(session: Session, user_id: int) -> list[Clinic]:
    return list(session.exec(
        select(Clinic).join(Membership, col(Membership.clinic_id) == Clinic.id)
        .where(Membership.user_id == user_id, Membership.is_admin == True)  # noqa: E712
        .order_by(col(Clinic.name), col(Clinic.id))))


def is_admin_of(session: Session, *, user_id: int, clinic_id: int) -> bool:
    return clinic_id in administered_clinic_ids(session, user_id)


def unmanageable_user_ids(session: Session, *, admin_id: int, user_ids: list[int]) -> set[int]:
    """Of these accounts, those working in a clinic the admin does not administer (one query for a list)."""
    if not user_ids:
        return set()
    administered = administered_clinic_ids(session, admin_id)
    rows = session.exec(select(Membership.user_id, Membership.clinic_id)
                        .where(col(Membership.user_id).in_(user_ids)))
    return {user_id for user_id, clinic_id in rows if clinic_id not in administered}


def may_manage_account(session: Session, *, admin_id: int, user_id: int) -> bool:
    """True when the admin administers every clinic this account works in (and it works in at least one)."""
    clinics = clinic_ids_of(session, user_id)
    return bool(clinics) and clinics <= administered_clinic_ids(session, admin_id)


def members(session: Session, clinic_id: int) -> list[Member]:
    rows = session.exec(
        select(User, Membership.is_admin).join(Membership, col(Membership.user_id) == User.id)
        .where(Membership.clinic_id == clinic_id).order_by(col(User.is_active).desc(), col(User.name), col(User.id)))
    return [Member(user, is_admin) for user, is_admin in rows]


def clinics_with_roles(session: Session, user_id: int) -> list[tuple[Clinic, bool]]:
    """The clinics an account works in, by name, each with whether it is an admin there."""
    rows = session.exec(
        select(Clinic, Membership.is_admin).join(Membership, col(Membership.clinic_id) == Clinic.id)
        .where(Membership.user_id == user_id).order_by(col(Clinic.name), col(Clinic.id)))
    return [(clinic, is_admin) for clinic, is_admin in rows]


def create_clinic(session: Session, *, name: str, creator_id: int) -> Clinic:
    """A new clinic, administered by the admin who created it (so it is never without an admin)."""
    clinic = Clinic(name=name.strip())
    session.add(clinic)
    session.flush()
    session.add(Membership(user_id=creator_id, clinic_id=clinic.id, is_admin=True))
    session.flush()
    return clinic


def add_member(session: Session, *, clinic_id: int, email: str, is_admin: bool) -> tuple[User | None, str | None]:
    """Add an existing account to a clinic; the account, or why not."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        return None, NO_SUCH_ACCOUNT
    if session.get(Membership, (user.id, clinic_id)) is not None:
        return user, ALREADY_MEMBER
    session.add(Membership(user_id=user.id, clinic_id=clinic_id, is_admin=is_admin))
    session.flush()
    return user, None


def remove_member(session: Session, *, admin_id: int, clinic_id: int, user_id: int) -> str | None:
    """Take an account out of a clinic; None when done, else why not."""
    problem = _check_change(session, admin_id=admin_id, clinic_id=clinic_id, user_id=user_id, losing_admin=True)
    if problem is None:
        session.execute(delete(Membership).where(col(Membership.user_id) == user_id,
                                                 col(Membership.clinic_id) == clinic_id))
    return problem


def set_admin(session: Session, *, admin_id: int, clinic_id: int, user_id: int, is_admin: bool) -> str | None:
    """Make a member an admin of the clinic, or no longer one; None when done, else why not."""
    problem = _check_change(session, admin_id=admin_id, clinic_id=clinic_id, user_id=user_id,
                            losing_admin=not is_admin)
    membership = session.get(Membership, (user_id, clinic_id)) if problem is None else None
    if membership is not None and membership.is_admin == is_admin:
        problem = ALREADY_ADMIN if is_admin else ALREADY_NOT_ADMIN
    if problem is None:
        session.execute(update(Membership).where(col(Membership.user_id) == user_id,
                                                 col(Membership.clinic_id) == clinic_id)
                        .values(is_admin=is_admin))
    return problem


def _check_change(session: Session, *, admin_id: int, clinic_id: int, user_id: int, losing_admin: bool) -> str | None:
    if user_id == admin_id:
        return NOT_YOURSELF
    # The clinic's row is locked until the caller commits: two admins taking each other's role at the same
    # moment would otherwise both see the other still there (PostgreSQL; SQLite's write lock already
    # serialises the two).
    session.exec(select(Clinic.id).where(Clinic.id == clinic_id).with_for_update()).first()
    membership = session.get(Membership, (user_id, clinic_id))
    if membership is None:
        return NOT_A_MEMBER
    if losing_admin and membership.is_admin:
        admins = session.exec(select(func.count()).select_from(Membership).where(
            Membership.clinic_id == clinic_id, Membership.is_admin == True)).one()  # noqa: E712
        if admins <= 1:
            return LAST_ADMIN
    return None
