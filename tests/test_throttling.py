"""Throttles that stop guessing without locking real people out, behind a proxy or a clinic's NAT too."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from rehab import create_app
from rehab.known_devices import COOKIE as DEVICE_COOKIE
from rehab.models import AuditEvent, LoginAttempt
from rehab.services import accounts
from tests.conftest import base_config, engine_of, sign_in, submit, write_lock_is_free
from tests.test_auth import WRONG, fetch, is_signed_in, login_error

THROTTLED = "Too many failed sign-ins"


def _signed_in_once_then_out(app, user):  # type: ignore[no-untyped-def]
    """The therapist's own browser: it signed in before (so it holds the known-device cookie)."""
    browser = app.test_client()
    assert sign_in(browser, user.email).status_code == 302
    assert browser.get_cookie(DEVICE_COOKIE, path="/login") is not None
    submit(browser, "/logout", {}, form_page="/patients/")
    return browser


def _actions(db) -> list[str]:  # type: ignore[no-untyped-def]
    return [event.action for event in fetch(db, select(AuditEvent).order_by(col(AuditEvent.id)))]


@pytest.mark.db
def test_ten_wrong_guesses_by_someone_else_do_not_lock_the_therapist_out_of_their_own_browser(app, therapist):
    own_browser = _signed_in_once_then_out(app, therapist)
    attacker = app.test_client()
    for _ in range(10):
        submit(attacker, "/login", {"email": therapist.email, "password": WRONG})
    assert THROTTLED in login_error(sign_in(attacker, therapist.email))  # a new browser is still throttled
    assert sign_in(own_browser, therapist.email).status_code == 302
    assert is_signed_in(own_browser)


@pytest.mark.db
def test_a_known_browser_gets_only_its_own_ten_tries(app, therapist):
    own_browser = _signed_in_once_then_out(app, therapist)
    for _ in range(10):
        assert "not right" in login_error(submit(own_browser, "/login", {"email": therapist.email, "password": WRONG}))
    assert THROTTLED in login_error(sign_in(own_browser, therapist.email))


@pytest.mark.db
def test_a_forged_or_foreign_device_cookie_earns_nothing(app, therapist, make_user, clinic):
    colleague = make_user("sam@clinic.example", clinics=[clinic])
    colleague_browser = _signed_in_once_then_out(app, colleague)  # known for the colleague, not the therapist
    for _ in range(10):
        submit(app.test_client(), "/login", {"email": therapist.email, "password": WRONG})
    assert THROTTLED in login_error(sign_in(colleague_browser, therapist.email))
    forged = app.test_client()
    forged.set_cookie(DEVICE_COOKIE, "eyJkIjoieCIsImEiOltdfQ.forged.signature", path="/login")
    assert THROTTLED in login_error(sign_in(forged, therapist.email))


@pytest.mark.db
def test_a_clinic_nat_full_of_failures_does_not_lock_out_therapists_on_their_browsers(app, therapist):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    own_browser = _signed_in_once_then_out(app, therapist)
    for number in range(3):  # the same (NAT) address as every browser here
        submit(app.test_client(), "/login", {"email": f"typo{number}@clinic.example", "password": WRONG})
    assert THROTTLED in login_error(sign_in(app.test_client(), therapist.email))
    assert sign_in(own_browser, therapist.email).status_code == 302


@pytest.mark.db
def test_behind_a_trusted_proxy_each_client_is_counted_at_its_own_address(database_url, therapist, db):
    forwarded = {"REMOTE_ADDR": "127.0.0.1"}
    for proxies, expected in ((0, {"127.0.0.1"}), (1, {"203.0.113.5", "198.51.100.6"})):
        app = create_app({**base_config(database_url), "TRUSTED_PROXY_COUNT": proxies})
        try:
            for client_address in ("203.0.113.5", "198.51.100.6"):
                client = app.test_client()
                client.environ_base.update(forwarded, HTTP_X_FORWARDED_FOR=client_address)
                submit(client, "/login", {"email": therapist.email, "password": WRONG})
            assert {row.address for row in fetch(db, select(LoginAttempt))} == expected
            db.exec(LoginAttempt.__table__.delete())  # type: ignore[call-overload]
            db.commit()
        finally:
            engine_of(app).dispose()


@pytest.mark.db
def test_a_throttled_client_writes_one_audit_event_per_window_not_one_per_try(app, client, therapist, db):
    for _ in range(10):
        submit(client, "/login", {"email": therapist.email, "password": WRONG})
    for _ in range(40):
        submit(client, "/login", {"email": therapist.email, "password": WRONG})
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 12
    for number in range(30):  # the address is throttled too now (10 + 2 failures)
        submit(client, "/login", {"email": f"someone{number}@clinic.example", "password": WRONG})
    actions = _actions(db)
    assert actions.count("login.failed") == 12
    assert actions.count("login.throttled") == 2  # once for the account, once for the address


def test_sign_in_verifies_the_password_without_holding_the_write_lock(app, client, therapist, monkeypatch):
    """Argon2 takes about 135 ms; on SQLite no other write in any clinic may wait for it. (SQLite only:
    PostgreSQL has no database-wide write lock.)"""
    if not app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("PostgreSQL has no database-wide write lock")
    real_verify = accounts.verify_password
    lock_free: list[bool] = []

    def verify_while_checking_the_lock(*args, **kwargs):  # type: ignore[no-untyped-def]
        lock_free.append(write_lock_is_free(app.config["DATABASE_URL"]))
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(accounts, "verify_password", verify_while_checking_the_lock)
    submit(client, "/login", {"email": therapist.email, "password": WRONG})
    assert sign_in(client, therapist.email).status_code == 302
    assert lock_free == [True, True]
