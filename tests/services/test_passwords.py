"""Password hashing and the password policy, without the app (SECURITY.md 1-2)."""

from __future__ import annotations

import pytest

from rehab.services.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    hash_password,
    make_hasher,
    password_problem,
    verify_password,
)

# A sentence with plenty of different letters, cut to any length the boundary tests need.
SENTENCE = "walking backwards up the hill strengthens the quadriceps, said the physio on tuesday " * 2


def of_length(length: int) -> str:
    assert len(SENTENCE) >= length
    return SENTENCE[:length]


@pytest.fixture(scope="module")
def hasher():  # type: ignore[no-untyped-def]
    return make_hasher(time_cost=1, memory_kib=8)  # cheap for tests; the algorithm is the same


def test_the_same_password_hashes_differently_and_both_verify(hasher):
    first = hash_password(hasher, "correct horse battery")
    second = hash_password(hasher, "correct horse battery")
    assert first != second  # a fresh salt each time
    assert first.startswith("$argon2id$") and second.startswith("$argon2id$")
    assert "correct horse battery" not in first
    assert verify_password(hasher, first, "correct horse battery")
    assert verify_password(hasher, second, "correct horse battery")


def test_a_wrong_password_or_a_damaged_hash_does_not_verify(hasher):
    stored = hash_password(hasher, "correct horse battery")
    assert not verify_password(hasher, stored, "correct horse batterY")
    assert not verify_password(hasher, stored, "")
    assert not verify_password(hasher, "not-a-hash", "correct horse battery")
    assert not verify_password(hasher, stored[:-4], "correct horse battery")


def test_production_cost_is_argon2ids_recommended_profile():
    production = make_hasher()
    stored = hash_password(production, "correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=1$")


@pytest.mark.parametrize(
    ("length", "accepted"),
    [(MIN_LENGTH - 1, False), (MIN_LENGTH, True), (MAX_LENGTH, True), (MAX_LENGTH + 1, False)],
    ids=["11 refused", "12 accepted", "128 accepted", "129 refused"],
)
def test_length_boundaries(length, accepted):
    assert (MIN_LENGTH, MAX_LENGTH) == (12, 128)
    problem = password_problem(of_length(length))
    if accepted:
        assert problem is None
    else:
        assert problem is not None
        assert ("at least 12" in problem) if length < MIN_LENGTH else ("at most 128" in problem)


@pytest.mark.parametrize("password", ["all lowercase words", "ALLUPPERCASEWORDS", "123456789 3141592",
                                      "ünïcödé wörds ok"])
def test_no_composition_rules(password):
    assert password_problem(password) is None


@pytest.mark.parametrize("password", ["password1234", "Password1234", "PASSWORD1234", "correcthorsebatterystaple",
                                      "qwertyuiopasdf", "aaaaaaaaaaaa", "abababababab", "abcabcabcabc"])
def test_common_and_repetitive_passwords_are_refused(password):
    assert password_problem(password) == "This password is too common. Choose something less predictable."


def test_the_email_local_part_or_the_name_is_refused():
    assert password_problem("margaret.okafor 1951", email="margaret.okafor@clinic.example") == \
        "Do not use your name or email address in your password."
    assert password_problem("MARGARET.OKAFOR rocks", email="margaret.okafor@clinic.example") is not None
    assert password_problem("Margaret Okafor Jr", name="Margaret Okafor Jr") is not None
    # A very short local part is not a meaningful match (it would refuse too many good passwords).
    assert password_problem("alfalfa sprouts grow", email="al@clinic.example") is None
