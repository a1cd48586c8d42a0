"""Who may manage whom, without the app (SECURITY.md 28). A plain SQLite file with the tables from the models
is enough here."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from rehab.models import Clinic, Membership, User
from rehab.services import memberships


def clinic(session: Session, name: str) -> int:
    row = Clinic(name=name)
    session.add(row)
    session.flush()
    return row.id  # type: ignore[return-value]


def person(session: Session, name: str, roles: dict[int, bool]) -> int:
    user = User(email=f"{name.lower()}@clinic.example", name=name, password_hash="x")
    session.add(user)
    session.flush()
    for clinic_id, is_admin in roles.items():
        session.add(Membership(user_id=user.id, clinic_id=clinic_id, is_admin=is_admin))
    session.flush()
    return user.id  # type: ignore[return-value]


@pytest.fixture
def world(session: Session) -> dict[str, int]:
    a, b = clinic(session, "A"), clinic(session, "B")
    return {
        "a": a, "b": b,
        "admin_a": person(session, "AdminA", {a: True}),
        "admin_ab": person(session, "AdminAB", {a: True, b: True}),
        "admin_a_therapist_b": person(session, "Mixed", {a: True, b: False}),
        "only_a": person(session, "OnlyA", {a: False}),
        "both": person(session, "Both", {a: False, b: False}),
        "nowhere": person(session, "Nowhere", {}),
    }


@pytest.mark.parametrize(("admin", "target", "allowed"), [
    ("admin_a", "only_a", True),
    ("admin_a", "both", False),  # works in B too, which admin_a does not administer: the takeover this stops
    ("admin_ab", "both", True),
    ("admin_a_therapist_b", "both", False),  # a member of B but not its admin
    ("admin_a", "admin_ab", False),
    ("admin_ab", "admin_a", True),
    ("admin_a", "nowhere", False),  # an account in no clinic is nobody's to manage
])
def test_an_account_is_managed_only_by_an_admin_of_all_its_clinics(session, world, admin, target, allowed):
    assert memberships.may_manage_account(session, admin_id=world[admin], user_id=world[target]) is allowed
    listed = memberships.unmanageable_user_ids(session, admin_id=world[admin], user_ids=[world[target]])
    assert (world[target] not in listed) is (allowed or target == "nowhere")


def test_the_last_admin_of_a_clinic_keeps_the_role_and_the_membership(session, world):
    b = world["b"]
    # admin_ab is B's only admin. Even a fellow admin (made so just now) cannot take it away once they
    # are the last one standing: the rule holds whoever asks.
    assert memberships.set_admin(session, admin_id=world["admin_ab"], clinic_id=b, user_id=world["both"],
                                 is_admin=True) is None
    assert memberships.set_admin(session, admin_id=world["both"], clinic_id=b, user_id=world["admin_ab"],
                                 is_admin=False) is None
    assert memberships.set_admin(session, admin_id=world["admin_ab"], clinic_id=b, user_id=world["both"],
                                 is_admin=False) == memberships.LAST_ADMIN
    assert memberships.remove_member(session, admin_id=world["admin_ab"], clinic_id=b,
                                     user_id=world["both"]) == memberships.LAST_ADMIN
    assert session.get(Membership, (world["both"], b)).is_admin is True


def test_a_role_already_given_or_taken_is_not_changed_again(session, world):
    """A page from before another admin's change: the role is what it asks for already, so nothing is done."""
    a = world["a"]
    assert memberships.set_admin(session, admin_id=world["admin_a"], clinic_id=a, user_id=world["admin_ab"],
                                 is_admin=True) == memberships.ALREADY_ADMIN
    assert memberships.set_admin(session, admin_id=world["admin_a"], clinic_id=a, user_id=world["only_a"],
                                 is_admin=False) == memberships.ALREADY_NOT_ADMIN
    assert session.get(Membership, (world["only_a"], a)).is_admin is False
    assert {memberships.ALREADY_ADMIN, memberships.ALREADY_NOT_ADMIN, memberships.NOT_A_MEMBER} == \
        memberships.UNCHANGED


def test_nobody_changes_their_own_role_or_membership(session, world):
    a = world["a"]
    for change in (lambda: memberships.set_admin(session, admin_id=world["admin_a"], clinic_id=a,
                                                 user_id=world["admin_a"], is_admin=False),
                   lambda: memberships.remove_member(session, admin_id=world["admin_a"], clinic_id=a,
                                                     user_id=world["admin_a"])):
        assert change() == memberships.NOT_YOURSELF
    assert session.get(Membership, (world["admin_a"], a)).is_admin is True


def test_members_are_added_once_and_removed_without_touching_their_other_clinics(session, world):
    a, b = world["a"], world["b"]
    user, problem = memberships.add_member(session, clinic_id=b, email=" OnlyA@Clinic.example ", is_admin=False)
    assert problem is None and user.id == world["only_a"]
    assert memberships.add_member(session, clinic_id=b, email="onlya@clinic.example", is_admin=True)[1] == \
        memberships.ALREADY_MEMBER
    assert memberships.add_member(session, clinic_id=b, email="ghost@clinic.example", is_admin=False) == \
        (None, memberships.NO_SUCH_ACCOUNT)
    assert memberships.remove_member(session, admin_id=world["admin_ab"], clinic_id=a, user_id=world["only_a"]) is None
    assert memberships.clinic_ids_of(session, world["only_a"]) == {b}
    assert memberships.remove_member(session, admin_id=world["admin_ab"], clinic_id=a,
                                     user_id=world["nowhere"]) == memberships.NOT_A_MEMBER


def test_a_new_clinic_is_administered_by_its_creator(session, world):
    created = memberships.create_clinic(session, name="  Cedar  ", creator_id=world["admin_a"])
    assert created.name == "Cedar"
    assert [clinic.name for clinic in memberships.administered_clinics(session, world["admin_a"])] == ["A", "Cedar"]
    assert session.exec(select(Membership.user_id).where(Membership.clinic_id == created.id)).all() == \
        [world["admin_a"]]
