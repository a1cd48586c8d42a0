"""Signing in and out as a therapist sees it, and as a clinic's IT person checks it (SECURITY.md 3, 5-7, 16)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from rehab.models import AuditEvent, LoginAttempt, UserSession, utcnow
from rehab.services.accounts import account_key
from tests.conftest import PASSWORD, sign_in, submit

pytestmark = pytest.mark.db

COOKIE = "rehab_session"
WRONG = "not the right password at all"
LOGIN_ERROR_RE = re.compile(r'id="login-error">([^<]+)</p>')


def login_error(response) -> str:  # type: ignore[no-untyped-def]
    match = LOGIN_ERROR_RE.search(response.get_data(as_text=True))
    assert match, "the sign-in page shows no error"
    return match.group(1)


def is_signed_in(client: FlaskClient) -> bool:
    response = client.get("/patients/")
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
        return False
    assert response.status_code == 200 and "<h1>Patients</h1>" in response.get_data(as_text=True)
    return True


def fetch(db: Session, statement) -> list:  # type: ignore[no-untyped-def]
    """Rows as committed now. Commits at once, so the next read starts a new SQLite snapshot (commit, unlike
    rollback, expires nothing)."""
    rows = list(db.exec(statement.execution_options(populate_existing=True)))
    db.commit()
    return rows


def sessions_of(db: Session, user_id: int) -> list[UserSession]:
    return fetch(db, select(UserSession).where(UserSession.user_id == user_id).order_by(col(UserSession.id)))


def audit_actions(db: Session) -> list[tuple[str, str]]:
    return [(event.action, event.outcome) for event in fetch(db, select(AuditEvent).order_by(col(AuditEvent.id)))]


# ------------------------------------------------------------------------------------------------ sign in


def test_sign_in_lands_on_todays_dashboard(client, therapist, clinic):
    response = sign_in(client, therapist.email)
    assert response.status_code == 302
    html = client.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "<h1>Today</h1>" in html
    assert therapist.name in html and clinic.name in html  # the top bar shows who and where


def test_email_is_matched_whatever_its_case(client, therapist):
    assert sign_in(client, therapist.email.upper()).status_code == 302
    assert is_signed_in(client)


def test_a_protected_page_asks_for_sign_in_then_returns_to_it(client, therapist):
    response = client.get("/patients/new")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    response = submit(client, response.headers["Location"], {"email": therapist.email, "password": PASSWORD})
    assert response.headers["Location"] == "/patients/new"


def test_wrong_password_and_unknown_email_get_the_same_answer(client, therapist, db):
    wrong_password = submit(client, "/login", {"email": therapist.email, "password": WRONG})
    unknown_email = submit(client, "/login", {"email": "nobody@clinic.example", "password": WRONG})
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert login_error(wrong_password) == login_error(unknown_email) == "The email or password is not right."
    assert not is_signed_in(client)
    assert audit_actions(db) == [("login.failed", "failed"), ("login.failed", "failed")]


def test_a_deactivated_account_gets_the_same_answer_as_a_wrong_password(client, therapist, db):
    therapist.is_active = False
    db.add(therapist)
    db.commit()
    response = sign_in(client, therapist.email)
    assert response.status_code == 401
    assert login_error(response) == "The email or password is not right."
    assert not is_signed_in(client)


class CountingHasher:
    """Counts the argon2 computations a sign-in costs (each takes the same, deliberately long, time)."""

    def __init__(self, hasher) -> None:  # type: ignore[no-untyped-def]
        self._hasher = hasher
        self.computations = 0

    def hash(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.computations += 1
        return self._hasher.hash(*args, **kwargs)

    def verify(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.computations += 1
        return self._hasher.verify(*args, **kwargs)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._hasher, name)


def test_an_unknown_email_takes_as_long_as_a_wrong_password(app, client, therapist):
    """Otherwise the response time tells an attacker which emails have accounts."""
    counting = CountingHasher(app.extensions["rehab.hasher"])
    app.extensions["rehab.hasher"] = counting
    submit(client, "/login", {"email": "first.try@clinic.example", "password": WRONG})  # any one-time setup
    costs = {}
    for label, email in (("unknown", "nobody@clinic.example"), ("wrong password", therapist.email)):
        counting.computations = 0
        assert submit(client, "/login", {"email": email, "password": WRONG}).status_code == 401
        costs[label] = counting.computations
    assert costs["unknown"] == costs["wrong password"] >= 1


# ---------------------------------------------------------------------------------------------- throttling


def test_ten_bad_sign_ins_then_even_the_right_password_is_refused(client, therapist, admin, db):
    for _ in range(10):
        response = submit(client, "/login", {"email": therapist.email, "password": WRONG})
        assert login_error(response) == "The email or password is not right."
    response = sign_in(client, therapist.email)
    assert response.status_code != 302
    assert "Too many failed sign-ins. Wait 15 minutes" in login_error(response)
    assert not is_signed_in(client)
    assert audit_actions(db)[-1] == ("login.throttled", "denied")
    # The throttle is per account: a colleague at the same front desk can still sign in.
    assert sign_in(client, admin.email).status_code == 302


def test_failures_from_one_address_throttle_every_account_it_tries(app, client, therapist):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    for number in range(3):
        submit(client, "/login", {"email": f"guess{number}@clinic.example", "password": WRONG})
    response = sign_in(client, therapist.email)
    assert "Too many failed sign-ins" in login_error(response)
    assert not is_signed_in(client)
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert sign_in(elsewhere, therapist.email).status_code == 302  # another address is not affected
    assert is_signed_in(elsewhere)


def test_a_successful_sign_in_forgives_earlier_failures(app, client, therapist, db):
    for _ in range(9):
        submit(client, "/login", {"email": therapist.email, "password": WRONG})
    assert sign_in(client, therapist.email).status_code == 302
    failures = select(LoginAttempt).where(LoginAttempt.account_key == account_key(therapist.email),
                                          LoginAttempt.succeeded == False)  # noqa: E712
    assert fetch(db, failures) == []
    other_browser = app.test_client()
    for _ in range(9):
        submit(other_browser, "/login", {"email": therapist.email, "password": WRONG})
    # 18 failures in the window, but only 9 since the last success: not throttled.
    assert sign_in(other_browser, therapist.email).status_code == 302


# ------------------------------------------------------------------------------------------------ sign out


def test_sign_out_is_a_post_with_a_csrf_token(therapist_client):
    assert therapist_client.get("/logout").status_code == 405
    assert therapist_client.post("/logout").status_code == 400  # no token: refused, still signed in
    assert is_signed_in(therapist_client)
    response = submit(therapist_client, "/logout", {}, form_page="/patients/", follow_redirects=True)
    assert "You are signed out." in response.get_data(as_text=True)
    assert not is_signed_in(therapist_client)


def test_a_copied_cookie_is_refused_after_sign_out(therapist_client, therapist, db):
    copied = therapist_client.get_cookie(COOKIE).value
    submit(therapist_client, "/logout", {}, form_page="/patients/")
    therapist_client.set_cookie(COOKIE, copied)
    response = therapist_client.get("/patients/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert all(record.ended_at is not None for record in sessions_of(db, therapist.id))


def test_sign_in_starts_a_new_session_with_a_safe_cookie(client, therapist):
    client.get("/login")
    before = client.get_cookie(COOKIE).value  # the anonymous session that holds the form's CSRF token
    response = sign_in(client, therapist.email)
    set_cookie = session_cookie_header(response)
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Secure" not in set_cookie  # plain http here; see the next test for https
    after = client.get_cookie(COOKIE).value
    assert after != before
    # Whoever held the pre-sign-in cookie (a shared kiosk, a planted cookie) did not get signed in too.
    client.set_cookie(COOKIE, before)
    assert not is_signed_in(client)
    client.set_cookie(COOKIE, after)
    assert is_signed_in(client)


def test_the_cookie_is_secure_when_the_install_says_it_is_served_over_https(app, client, therapist):
    app.config["SESSION_COOKIE_SECURE"] = True
    response = sign_in(client, therapist.email)
    assert "Secure" in session_cookie_header(response)
    assert all("Secure" in header for header in response.headers.getlist("Set-Cookie"))  # the device cookie too


def session_cookie_header(response) -> str:  # type: ignore[no-untyped-def]
    """The session's Set-Cookie (sign-in also sets the known-device cookie)."""
    [header] = [header for header in response.headers.getlist("Set-Cookie") if header.startswith(f"{COOKIE}=")]
    return header


def test_the_cookie_lives_as_long_as_the_installs_absolute_session_limit(database_url, therapist):
    """The cookie is sent when the session changes, not on every page: it must last as long as the server-side
    session may, 24 hours for an install that allows 24-hour sessions."""
    from email.utils import parsedate_to_datetime

    from rehab import create_app
    from tests.conftest import base_config

    app = create_app({**base_config(database_url), "ABSOLUTE_SESSION_HOURS": 24})
    try:
        client = app.test_client()
        response = sign_in(client, therapist.email)
        expires = re.search(r"Expires=([^;]+)", session_cookie_header(response)).group(1)
        assert abs(parsedate_to_datetime(expires) - (utcnow() + timedelta(hours=24))) < timedelta(minutes=1)
        client.get("/patients/")  # the first page may still store something (a message shown, a form token)
        assert "Set-Cookie" not in client.get("/patients/").headers
    finally:
        app.extensions["rehab.db"].dispose()  # this app's own pool: closed here, not left to the collector


def test_each_sign_in_gets_its_own_server_side_session(app, client, therapist, db):
    sign_in(client, therapist.email)
    second_browser = app.test_client()
    sign_in(second_browser, therapist.email)
    assert client.get_cookie(COOKIE).value != second_browser.get_cookie(COOKIE).value
    records = sessions_of(db, therapist.id)
    assert len(records) == 2 and records[0].token_hash != records[1].token_hash
    submit(client, "/logout", {}, form_page="/patients/")
    assert not is_signed_in(client)
    assert is_signed_in(second_browser)  # signing out one browser leaves the other signed in


def test_signing_in_again_ends_the_browsers_previous_session(therapist_client, therapist, admin, db):
    previous = therapist_client.get_cookie(COOKIE).value
    # Someone else signs in on the same browser, from a sign-in form opened in another tab.
    response = submit(therapist_client, "/login", {"email": admin.email, "password": PASSWORD}, form_page="/patients/")
    assert response.status_code == 302
    therapist_client.set_cookie(COOKIE, previous)
    assert not is_signed_in(therapist_client)
    assert all(record.ended_at is not None for record in sessions_of(db, therapist.id))


# -------------------------------------------------------------------------------------------- time limits


def age_session(db: Session, user_id: int, **ago: timedelta) -> None:
    record = db.exec(select(UserSession).where(UserSession.user_id == user_id)).one()
    for field, delta in ago.items():
        setattr(record, field, utcnow() - delta)
    db.add(record)
    db.commit()


def test_idle_sessions_end_after_fifteen_minutes(therapist_client, therapist, db):
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=16))
    response = therapist_client.get("/patients/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    html = therapist_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You were signed out after 15 minutes without activity." in html
    assert not is_signed_in(therapist_client)


def test_a_session_used_within_the_idle_timeout_stays_signed_in(therapist_client, therapist, db):
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=14))
    assert is_signed_in(therapist_client)
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=14))  # the visit above reset the clock
    assert is_signed_in(therapist_client)


def test_the_idle_timeout_is_configurable(app, therapist_client, therapist, db):
    app.config["IDLE_TIMEOUT_MINUTES"] = 30
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=16))
    assert is_signed_in(therapist_client)


def test_sessions_end_after_twelve_hours_even_when_active(therapist_client, therapist, db):
    age_session(db, therapist.id, created_at=timedelta(hours=11))
    assert is_signed_in(therapist_client)
    age_session(db, therapist.id, created_at=timedelta(hours=13))
    response = therapist_client.get("/patients/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    html = therapist_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your session reached its time limit." in html
    assert not is_signed_in(therapist_client)


# ------------------------------------------------------------------------------ ended by someone else


@pytest.fixture
def admin_browser(app, admin):  # type: ignore[no-untyped-def]
    browser = app.test_client()
    assert sign_in(browser, admin.email).status_code == 302
    return browser


def test_deactivating_a_therapist_signs_them_out_everywhere(therapist_client, therapist, admin_browser, db):
    submit(admin_browser, f"/admin/users/{therapist.id}/active", {"active": "0"}, form_page="/admin/users")
    assert not is_signed_in(therapist_client)
    assert all(record.ended_at is not None for record in sessions_of(db, therapist.id))


def test_a_password_reset_by_the_admin_signs_the_therapist_out(therapist_client, therapist, admin_browser, db):
    new_password = "a brand new knee walk"
    response = submit(admin_browser, f"/admin/users/{therapist.id}/password", {"password": new_password})
    assert response.status_code == 302
    assert not is_signed_in(therapist_client)
    assert all(record.ended_at is not None for record in sessions_of(db, therapist.id))
    assert sign_in(therapist_client, therapist.email, new_password).status_code == 302


def test_changing_your_own_password_ends_your_other_sessions_only(app, admin_browser, admin):
    other_browser = app.test_client()
    sign_in(other_browser, admin.email)
    submit(admin_browser, f"/admin/users/{admin.id}/password",
           {"password": "my fresh admin phrase", "current_password": PASSWORD})
    assert is_signed_in(admin_browser)
    assert not is_signed_in(other_browser)


@pytest.mark.parametrize("current", ["", "not my password at all"])
def test_your_own_password_changes_only_with_the_current_one(app, admin_browser, admin, db, current):
    """Whoever finds an admin's screen unlocked must not be able to take the account over."""
    page = admin_browser.get(f"/admin/users/{admin.id}/password").get_data(as_text=True)
    assert "Change your password" in page and 'autocomplete="current-password"' in page
    response = submit(admin_browser, f"/admin/users/{admin.id}/password",
                      {"password": "a new admin phrase here", "current_password": current})
    assert response.status_code == 422
    assert "Enter your current password to set a new one." in response.get_data(as_text=True)
    assert sign_in(app.test_client(), admin.email).status_code == 302  # the old password still works


# ---------------------------------------------------------------------------------------- forms and links


def test_sign_in_without_a_csrf_token_gets_the_expired_form_page(client, therapist, db):
    response = client.post("/login", data={"email": therapist.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert not is_signed_in(client)
    assert sessions_of(db, therapist.id) == []


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "javascript:alert(1)",
                                    "evil.example/patients/", "/\\evil.example", "/\t/evil.example"])
def test_after_sign_in_the_next_link_never_leaves_the_site(client, therapist, target):
    url = f"/login?{urlencode({'next': target})}"
    response = submit(client, url, {"email": therapist.email, "password": PASSWORD})
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert response.status_code == 302
    assert not parts.scheme and not parts.netloc and location.startswith("/")
    assert not location.startswith("//") and "\\" not in location  # browsers read /\ as //


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example"])
def test_an_off_site_next_link_lands_on_the_dashboard(client, therapist, target):
    url = f"/login?{urlencode({'next': target})}"
    response = submit(client, url, {"email": therapist.email, "password": PASSWORD}, follow_redirects=True)
    assert response.request.path == "/dashboard"
    assert "<h1>Today</h1>" in response.get_data(as_text=True)
