"""Who looks after each patient: the therapist chosen on the patient form, and "My patients".

A patient is assigned while their therapist's account is active and works in the patient's clinic. A therapist
who leaves (deactivated, or taken out of the clinic) needs no write: their patients read "Unassigned" at once,
and an admin or a colleague reassigns them on the patient form. Unassigned patients count as everyone's in
"My patients", so a departure never hides a patient's alerts from the team (the safer side).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlmodel import Session, col, select

from rehab.models import Membership, Patient, User

UNASSIGNED = "Unassigned"
NOT_A_THERAPIST = "Choose a therapist of this clinic, or Unassigned."


@dataclass(frozen=True)
class Therapist:
    id: int
    name: str


def therapists(session: Session, *, clinic_id: int) -> list[Therapist]:
    """The clinic's active accounts by name: whom a patient can be assigned to."""
    rows = session.exec(select(User.id, User.name).join(Membership, col(Membership.user_id) == User.id)
                        .where(Membership.clinic_id == clinic_id, col(User.is_active).is_(True))
                        .order_by(col(User.name), col(User.id)))
    return [Therapist(user_id, name) for user_id, name in rows]


def is_assigned() -> ColumnElement[bool]:
    """SQL: the patient's therapist is an active account working in the patient's clinic (correlated with the
    enclosing query on ``patient``)."""
    return exists(select(Membership.user_id).join(User, col(User.id) == Membership.user_id)
                  .where(col(Membership.user_id) == Patient.therapist_id,
                         col(Membership.clinic_id) == Patient.clinic_id, col(User.is_active).is_(True))
                  .correlate(Patient))


def is_mine(user_id: int) -> ColumnElement[bool]:
    """SQL: the patient is assigned to this therapist, or to nobody who still works here."""
    return or_(col(Patient.therapist_id) == user_id, col(Patient.therapist_id).is_(None), ~is_assigned())


def assigned_name() -> ColumnElement[bool]:
    """The join condition for the assigned therapist's account, only while assigned (else the outer join gives
    NULL: "Unassigned")."""
    return and_(col(User.id) == Patient.therapist_id, is_assigned())


def therapist_choice(choices: list[Therapist], raw: str) -> tuple[int | None, str | None]:
    """The therapist picked on the form (an id among ``choices``, or "" for Unassigned), or the field's error."""
    if not raw.strip():
        return None, None
    if raw.isdigit() and any(choice.id == int(raw) for choice in choices):
        return int(raw), None
    return None, NOT_A_THERAPIST


def current_choice(choices: list[Therapist], therapist_id: int | None) -> int | None:
    """The patient's therapist as the form shows it: None (Unassigned) when they no longer work here."""
    return therapist_id if any(choice.id == therapist_id for choice in choices) else None


def name_of(choices: list[Therapist], therapist_id: int | None) -> str:
    return next((choice.name for choice in choices if choice.id == therapist_id), UNASSIGNED)
