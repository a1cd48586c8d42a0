"""Every signed-in user's own account page: who they are, and changing their own password (SECURITY.md 1-5)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from rehab.models import AuditEvent, LoginAttempt, User
from rehab.services import throttling
from rehab.services.passwords import verify_password
from tests.conftest import PASSWORD, sign_in, submit

pytestmark = pytest.mark.db

NEW = "a walk by the river at dawn"


def field_error(html: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="{name}-error">([^<]+)</p>', html)
    assert match, f"no error next to {name}"
    return match.group(1)


def change(client: FlaskClient, current: str = PASSWORD, password: str = NEW, repeat: str | None = None):  # type: ignore[no-untyped-def]
    return submit(client, "/account/password", {"current_password": current, "password": password,
                                                "password_repeat": password if repeat is None else repeat},
                  form_page="/account")


def signed_in(client: FlaskClient) -> bool:
    return client.get("/account").status_code == 200


def stored_hash(db: Session, user: User) -> str:
    value = db.exec(select(User.password_hash).where(User.id == user.id)).one()
    db.commit()
    return value


def test_the_account_page_shows_who_is_signed_in_and_where(therapist_client, therapist):
    html = therapist_client.get("/account").get_data(as_text=True)
    for shown in ("Pat Therapist", "pat.therapist@clinic.example", "Therapist", "Riverside PT", "Change my password"):
        assert shown in html
    assert 'href="/account"' in therapist_client.get("/patients/").get_data(as_text=True)  # linked from the header


def test_an_admin_of_two_clinics_sees_each_with_their_role(client, make_user, clinic, make_clinic, db):
    from rehab.models import Membership
    admin = make_user("ada.admin@clinic.example", clinics=[clinic], is_admin=True, name="Ada Admin")
    db.add(Membership(user_id=admin.id, clinic_id=make_clinic("Hillside PT").id, is_admin=False))
    db.commit()
    sign_in(client, admin.email)
    html = client.get("/account").get_data(as_text=True)
    assert "Hillside PT: therapist" in html and "Riverside PT: admin" in html


def test_a_therapist_changes_their_password_and_the_old_one_no_longer_signs_in(app, client, therapist, db):
    sign_in(client, therapist.email)
    response = change(client)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    page = client.get("/account").get_data(as_text=True)
    assert "Your password was changed. You stay signed in here" in page
    assert signed_in(client)
    assert verify_password(app.extensions["rehab.hasher"], stored_hash(db, therapist), NEW)
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "user.password_change")).all()
    assert [(event.user_id, event.object_id) for event in events] == [(therapist.id, therapist.id)]
    db.commit()
    other = app.test_client()
    assert sign_in(other, therapist.email).status_code == 401
    assert sign_in(other, therapist.email, NEW).status_code == 302


def test_the_other_sessions_end_and_this_one_stays(app, client, therapist):
    sign_in(client, therapist.email)
    tablet = app.test_client()
    sign_in(tablet, therapist.email)
    assert signed_in(tablet)
    change(client)
    assert signed_in(client)
    tablet_answer = tablet.get("/account")
    assert tablet_answer.status_code == 302 and tablet_answer.headers["Location"].startswith("/login")


def test_a_wrong_current_password_is_refused_by_its_field_and_saves_nothing(app, client, therapist, db):
    sign_in(client, therapist.email)
    before = stored_hash(db, therapist)
    response = change(client, current="not my password at all")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "current_password").startswith("This is not your current password")
    assert 'id="current_password" name="current_password" type="password" value=""' in html  # never echoed
    assert stored_hash(db, therapist) == before
    assert not db.exec(select(AuditEvent).where(AuditEvent.action == "user.password_change")).all()
    # Counted, and audited, although the request saved nothing else.
    key = throttling.password_check_key(therapist.email)
    assert len(db.exec(select(LoginAttempt).where(LoginAttempt.account_key == key)).all()) == 1
    assert db.exec(select(AuditEvent.outcome).where(AuditEvent.action == "user.password_change.failed")).all() \
        == ["denied"]
    db.commit()


def test_new_passwords_that_differ_are_refused_by_the_second_field(client, therapist, db):
    sign_in(client, therapist.email)
    before = stored_hash(db, therapist)
    response = change(client, repeat=NEW + "!")
    assert response.status_code == 422
    assert "not the same" in field_error(response.get_data(as_text=True), "password_repeat")
    assert stored_hash(db, therapist) == before
    # The corrected form can be sent: the refusal kept no claim on it.
    assert change(client).status_code == 302


def test_the_password_rules_of_the_whole_app_apply(client, therapist):
    sign_in(client, therapist.email)
    short = change(client, password="short one")
    assert "at least 12 characters" in field_error(short.get_data(as_text=True), "password")
    same = change(client, password=PASSWORD)
    assert "This is your current password" in field_error(same.get_data(as_text=True), "password")
    named = change(client, password="pat.therapist is me")
    assert "name or email" in field_error(named.get_data(as_text=True), "password")


def test_repeated_wrong_current_passwords_sign_this_browser_out(app, client, therapist, db):
    sign_in(client, therapist.email)
    for _ in range(throttling.PASSWORD_CHECK_LIMIT - 1):
        assert change(client, current="a wrong guess here").status_code == 422
    last = change(client, current="a wrong guess here")
    assert last.status_code == 302 and last.headers["Location"] == "/login"
    login = client.get("/login").get_data(as_text=True)
    assert "this browser was signed out" in login
    assert not signed_in(client)
    # The owner, who knows the password, signs in again and may change it at once.
    assert sign_in(client, therapist.email).status_code == 302
    assert change(client).status_code == 302


def test_an_admin_resetting_someone_else_still_works_through_the_shared_rules(client, admin, therapist, app, db):
    sign_in(client, admin.email)
    response = submit(client, f"/admin/users/{therapist.id}/password", {"password": "another long password 456"})
    assert response.status_code == 302
    assert verify_password(app.extensions["rehab.hasher"], stored_hash(db, therapist), "another long password 456")
    assert db.exec(select(col(AuditEvent.action)).where(AuditEvent.action == "user.password_reset")).all()
    db.commit()
