"""The short code typed from a sheet, without the app: its alphabet, how typing is read, how a code is derived,
kept and retried on a collision, and the throttles (docs/security.md, "Short codes")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from rehab.models import LoginAttempt, Patient, PortalLink
from rehab.services import portal_codes, portal_links
from rehab.services.portal_codes import CodeLimits
from tests import factories

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SECRET = "unit-test-secret-key-0123456789-abcdef"


@pytest.fixture
def patient(session: Session) -> Patient:
    patient = factories.patient(session, factories.clinic(session))
    factories.protocol(session, patient, days_ago=20, now=NOW)
    return patient


def test_the_alphabet_is_crockfords_32_symbols_without_letters_people_misread() -> None:
    assert len(portal_codes.ALPHABET) == 32 == len(set(portal_codes.ALPHABET))
    assert not set("ILOU") & set(portal_codes.ALPHABET)
    assert portal_codes.BITS == 40


@pytest.mark.parametrize("typed", ["K7QM-3XPA", "k7qm3xpa", " k7qm 3xpa ", "K7QM–3XPA", "k7-qm-3x-pa", "K7QM.3XPA"])
def test_any_case_spaces_and_dashes_read_as_the_same_code(typed: str) -> None:
    assert portal_codes.normalise(typed).code == "K7QM3XPA"


def test_o_reads_as_zero_and_i_or_l_as_one() -> None:
    assert portal_codes.normalise("OOIL-0011").code == "00110011"
    assert portal_codes.normalise("oil1 o0l1").code == "01110011"


@pytest.mark.parametrize(("typed", "problem", "symbols", "unknown"), [
    ("", "empty", 0, ""), (" - ", "empty", 0, ""),
    ("K7QM-3XP", "length", 7, ""), ("K7QM-3XPAB", "length", 9, ""),
    ("K7QM-3XPU", "symbol", 8, "U"), ("K7QM/3XPA", "symbol", 9, "/"),
])
def test_what_is_not_a_code_says_why(typed: str, problem: str, symbols: int, unknown: str) -> None:
    reading = portal_codes.normalise(typed)
    assert (reading.code, reading.problem, reading.symbols, reading.unknown) == (None, problem, symbols, unknown)


def test_a_code_is_printed_in_two_groups_of_four() -> None:
    assert portal_codes.grouped("K7QM3XPA") == "K7QM-3XPA"


def test_encoding_takes_the_first_40_bits_five_at_a_time() -> None:
    assert portal_codes.encode(bytes(5)) == "00000000"
    assert portal_codes.encode(b"\xff" * 5) == "ZZZZZZZZ"
    assert portal_codes.encode(bytes([0b00001000, 0, 0, 0, 1])) == "10000001"  # 00001|000 00|...|00001


def test_the_code_is_derived_under_the_secret_and_differs_by_salt_link_and_key() -> None:
    code = portal_codes.derive(SECRET, link_id=7, salt="a1")
    assert re.fullmatch(f"[{portal_codes.ALPHABET}]{{8}}", code)
    assert portal_codes.derive(SECRET, link_id=7, salt="a1") == code  # a reprint prints it again
    others = {portal_codes.derive(SECRET, link_id=7, salt="a2"), portal_codes.derive(SECRET, link_id=8, salt="a1"),
              portal_codes.derive(SECRET + "x", link_id=7, salt="a1")}
    assert len(others | {code}) == 4


def test_a_new_link_gets_a_code_kept_only_as_a_keyed_hash(session: Session, patient: Patient) -> None:
    link, _token = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET)
    code = portal_codes.code_of(SECRET, link)
    assert code is not None and link.code_salt and link.code_hash
    assert link.code_hash == portal_codes.code_hash(SECRET, code)
    assert code not in repr(link.__dict__) and portal_codes.grouped(code) not in repr(link.__dict__)
    assert link.code_hash != portal_codes.code_hash(SECRET + "x", code)  # keyed: no key, no lookup table
    assert portal_codes.find(session, secret=SECRET, code=code) is link


def test_a_code_taken_by_any_link_is_drawn_again(session: Session, patient: Patient,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    first, _token = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET)
    taken = portal_codes.code_of(SECRET, first)
    portal_links.revoke(session, link=first, now=NOW)  # revoked: its code is still never given again
    second = PortalLink(patient_id=patient.id, clinic_id=patient.clinic_id, token_hash="b" * 64, created_at=NOW,
                        expires_at=NOW + timedelta(days=1))
    session.add(second)
    session.flush()
    real_derive = portal_codes.derive
    monkeypatch.setattr(portal_codes, "derive", lambda secret, *, link_id, salt:
                        taken if salt == "collides" else real_derive(secret, link_id=link_id, salt=salt))
    salts = iter(["collides", "collides", "fresh"])
    code = portal_codes.assign(session, link=second, secret=SECRET, draw=lambda: next(salts))
    assert code != taken and second.code_salt == "fresh"
    assert second.code_hash == portal_codes.code_hash(SECRET, code)


def test_a_draw_that_always_collides_stops_with_an_error(session: Session, patient: Patient) -> None:
    first, _token = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET)
    assert first.code_salt is not None
    other = PortalLink(patient_id=patient.id, clinic_id=patient.clinic_id, token_hash="c" * 64, created_at=NOW,
                       expires_at=NOW + timedelta(days=1), id=first.id)  # the same id and salt: the same code
    with pytest.raises(portal_codes.NoFreeCode):
        portal_codes.assign(session, link=other, secret=SECRET, draw=lambda: first.code_salt)  # type: ignore[arg-type, return-value]


def test_rotating_gives_a_new_code_and_can_turn_the_birth_date_check_on(session: Session, patient: Patient) -> None:
    old, _token = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET)
    new, _token = portal_links.rotate(session, link=old, patient=patient, user_id=None, now=NOW, secret=SECRET,
                                      require_birth_date=True)
    assert portal_codes.code_of(SECRET, new) != portal_codes.code_of(SECRET, old)
    session.refresh(old)
    assert new.require_birth_date and old.revoked_at is not None
    kept, _token = portal_links.rotate(session, link=new, patient=patient, user_id=None, now=NOW, secret=SECRET)
    assert kept.require_birth_date  # not chosen: as before


def test_wrong_codes_pause_one_address_then_everyone(session: Session) -> None:
    limits = CodeLimits(per_address=3, everyone=5, window=timedelta(minutes=15))
    for _ in range(3):
        assert portal_codes.throttled(session, address="10.0.0.1", now=NOW, limits=limits) is None
        portal_codes.record_wrong(session, address="10.0.0.1", now=NOW)
    assert portal_codes.throttled(session, address="10.0.0.1", now=NOW, limits=limits) == "address"
    assert portal_codes.throttled(session, address="10.0.0.2", now=NOW, limits=limits) is None
    portal_codes.record_wrong(session, address="10.0.0.2", now=NOW)
    portal_codes.record_wrong(session, address="10.0.0.3", now=NOW)
    assert portal_codes.throttled(session, address="10.0.0.4", now=NOW, limits=limits) == "everyone"
    later = NOW + timedelta(minutes=16)
    assert portal_codes.throttled(session, address="10.0.0.1", now=later, limits=limits) is None
    keys = set(session.exec(select(LoginAttempt.account_key)).all())
    assert keys == {portal_codes.THROTTLE_KEY}  # apart from the sign-in and link counts
