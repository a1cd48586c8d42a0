"""Changing one's own password, without the app: what is refused and by which field."""

from __future__ import annotations

import pytest

from rehab.models import User
from rehab.services.accounts import NOT_THE_SAME, UNCHANGED, WRONG_CURRENT, own_password_problems
from rehab.services.passwords import hash_password, make_hasher

CURRENT = "the old knee brace story"
NEW = "a walk by the river at dawn"


@pytest.fixture(scope="module")
def hasher():  # type: ignore[no-untyped-def]
    return make_hasher(time_cost=1, memory_kib=8)


@pytest.fixture
def user(hasher) -> User:  # type: ignore[no-untyped-def]
    return User(email="pat.therapist@clinic.example", name="Pat Therapist",
                password_hash=hash_password(hasher, CURRENT))


def test_the_right_current_password_and_a_good_new_one_twice_pass(hasher, user):
    assert own_password_problems(hasher, user, current=CURRENT, password=NEW, repeat=NEW) == {}


def test_each_problem_is_named_by_its_field(hasher, user):
    assert own_password_problems(hasher, user, current="wrong", password=NEW, repeat=NEW) == \
        {"current_password": WRONG_CURRENT}
    assert own_password_problems(hasher, user, current=CURRENT, password=NEW, repeat=NEW + "x") == \
        {"password_repeat": NOT_THE_SAME}
    assert own_password_problems(hasher, user, current=CURRENT, password=CURRENT, repeat=CURRENT) == \
        {"password": UNCHANGED}


def test_the_apps_one_password_policy_decides_the_new_one(hasher, user):
    problems = own_password_problems(hasher, user, current="wrong", password="short", repeat="other")
    assert set(problems) == {"current_password", "password"}  # a repeat of a refused password is not judged
    assert "at least 12 characters" in problems["password"]
