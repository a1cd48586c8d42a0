"""The clinic's admin manages the team and the clinic's settings; therapists cannot (SECURITY.md 10-11)."""

from __future__ import annotations

import pytest
from flask import url_for
from sqlmodel import Session, col, select

from rehab.models import AuditEvent, Clinic, Membership, User
from tests.conftest import PASSWORD, sign_in, submit
from tests.pages import visible_text

pytestmark = pytest.mark.db

NEW_THERAPIST = {"name": "Sam Newhire", "email": "sam.newhire@clinic.example", "password": "backward steps daily"}
CLINIC_SETTINGS = {"name": "Lakeside Knee Clinic", "address": "4 Harbour Way, Springfield", "phone": "555-0199",
                   "paper_size": "a4", "speed_unit": "mph", "timezone": "Europe/Lisbon"}


def fetch(db: Session, statement) -> list:  # type: ignore[no-untyped-def]
    """Rows as committed now; commits at once so no transaction holds SQLite's write lock meanwhile."""
    rows = list(db.exec(statement.execution_options(populate_existing=True)))
    db.commit()
    return rows


def users_by_email(db: Session) -> dict[str, User]:
    return {user.email: user for user in fetch(db, select(User))}


def reload(db: Session, model, row_id: int):  # type: ignore[no-untyped-def]
    return fetch(db, select(model).where(model.id == row_id))[0]


def can_sign_in(app, email: str, password: str = PASSWORD) -> bool:  # type: ignore[no-untyped-def]
    response = sign_in(app.test_client(), email, password)
    return response.status_code == 302


# ------------------------------------------------------------------------------------------ adding people


def test_admin_adds_a_therapist_who_can_then_sign_in(app, admin_client, clinic, db):
    response = submit(admin_client, "/admin/users/new", NEW_THERAPIST, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Sam Newhire can now sign in with sam.newhire@clinic.example." in html
    assert "sam.newhire@clinic.example" in admin_client.get("/admin/users").get_data(as_text=True)
    user = users_by_email(db)["sam.newhire@clinic.example"]
    assert user.is_active
    assert NEW_THERAPIST["password"] not in user.password_hash
    assert fetch(db, select(Membership.clinic_id, Membership.is_admin)
                 .where(Membership.user_id == user.id)) == [(clinic.id, False)]
    assert can_sign_in(app, NEW_THERAPIST["email"], NEW_THERAPIST["password"])


def test_admin_can_add_another_admin(app, admin_client, db):
    submit(admin_client, "/admin/users/new", {**NEW_THERAPIST, "is_admin": "1"})
    user = users_by_email(db)[NEW_THERAPIST["email"]]
    assert fetch(db, select(Membership.is_admin).where(Membership.user_id == user.id)) == [True]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("password", "short pass", "Use at least 12 characters"),
        ("password", "password1234", "This password is too common"),
        ("password", "aaaaaaaaaaaaaaa", "This password is too common"),
        ("password", "sam.newhire walks", "Do not use your name or email address"),
        ("password", "x" * 129, "the limit is 128. Shorten it by 1 character."),
        ("email", "sam.newhire", "Enter an email address"),
        ("name", "<script>alert(1)</script>", "no &lt; or &gt;"),
        ("name", "", "This field is required"),
    ],
)
def test_bad_new_accounts_are_explained_beside_the_field_and_not_saved(admin_client, db, field, value, message):
    before = users_by_email(db)
    response = submit(admin_client, "/admin/users/new", {**NEW_THERAPIST, field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert f'id="{field}-error"' in html  # beside the field it is about
    assert "<script>alert(1)</script>" not in html
    assert users_by_email(db).keys() == before.keys()


def test_a_duplicate_email_is_refused_whatever_its_case(admin_client, therapist, db):
    response = submit(admin_client, "/admin/users/new", {**NEW_THERAPIST, "email": therapist.email.upper()})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "An account with this email already exists." in html and 'id="email-error"' in html
    assert len(fetch(db, select(User).where(User.email == therapist.email))) == 1


def test_the_role_and_clinic_come_from_the_admin_not_the_form(admin_client, clinic, make_clinic, db):
    other = make_clinic("Someone else's clinic")
    submit(admin_client, "/admin/users/new", {**NEW_THERAPIST, "clinic_id": str(other.id), "is_active": "0",
                                              "id": "999", "password_hash": "x"})
    user = users_by_email(db)[NEW_THERAPIST["email"]]
    assert user.is_active and user.id != 999 and user.password_hash != "x"
    assert fetch(db, select(Membership.clinic_id).where(Membership.user_id == user.id)) == [clinic.id]


# ------------------------------------------------------------------------------------ therapists are kept out


def _admin_urls(app, user_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every admin route with the methods it answers, built from the app's own URL map."""
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("admin."):
                url = url_for(rule.endpoint, **{name: user_id for name in rule.arguments})
                urls += [(method, url) for method in ("GET", "POST") if method in rule.methods]
    return urls


def test_a_therapist_gets_403_on_every_admin_page(app, therapist_client, therapist, admin, clinic, db):
    urls = _admin_urls(app, admin.id)
    assert {url for _, url in urls} >= {"/admin/users", "/admin/users/new", "/admin/clinic",
                                        f"/admin/users/{admin.id}/active", f"/admin/users/{admin.id}/password"}
    attempt = {**NEW_THERAPIST, **CLINIC_SETTINGS, "active": "0", "password": "taken over account"}
    token_page = "/patients/"
    for method, url in urls:
        if method == "GET":
            response = therapist_client.get(url)
        else:
            response = submit(therapist_client, url, attempt, form_page=token_page)
        assert response.status_code == 403, (method, url)
        assert "You do not have access to this page" in response.get_data(as_text=True)
    assert set(users_by_email(db)) == {therapist.email, admin.email}
    assert reload(db, Clinic, clinic.id).name == clinic.name
    assert reload(db, User, admin.id).is_active
    assert can_sign_in(app, admin.email)  # the admin's password was not changed
    denials = fetch(db, select(AuditEvent).where(AuditEvent.action == "admin.denied"))
    assert len(denials) == len(urls)  # each refusal is in the audit trail, with who tried
    assert {(event.user_id, event.outcome) for event in denials} == {(therapist.id, "denied")}


def test_therapists_see_no_admin_links(therapist_client, admin_client_factory):
    html = therapist_client.get("/patients/").get_data(as_text=True)
    assert "/admin/users" not in html and "/admin/clinic" not in html
    admin_html = admin_client_factory().get("/patients/").get_data(as_text=True)
    assert "/admin/users" in admin_html and "/admin/clinic" in admin_html


@pytest.fixture
def admin_client_factory(app, admin):  # type: ignore[no-untyped-def]
    def make():  # type: ignore[no-untyped-def]
        browser = app.test_client()
        assert sign_in(browser, admin.email).status_code == 302
        return browser

    return make


# ------------------------------------------------------------------------------------ deactivate, reset


def set_active(client, user_id: int, active: bool):  # type: ignore[no-untyped-def]
    return submit(client, f"/admin/users/{user_id}/active", {"active": "1" if active else "0"},
                  form_page="/admin/users", follow_redirects=True)


def test_admin_deactivates_and_reactivates_a_therapist(app, admin_client, therapist, db):
    html = set_active(admin_client, therapist.id, False).get_data(as_text=True)
    assert "Pat Therapist was deactivated." in html and "Deactivated" in html
    assert not reload(db, User, therapist.id).is_active
    assert not can_sign_in(app, therapist.email)
    html = set_active(admin_client, therapist.id, True).get_data(as_text=True)
    assert "Pat Therapist was reactivated." in html
    assert reload(db, User, therapist.id).is_active
    assert can_sign_in(app, therapist.email)
    actions = [event.action for event in fetch(db, select(AuditEvent).where(AuditEvent.object_type == "user"))]
    assert actions == ["user.deactivate", "user.activate"]


def test_admin_cannot_deactivate_themself(app, admin_client, admin, db):
    # The page offers no such button; a hand-made post (with a form id from another page) is refused too.
    html = submit(admin_client, f"/admin/users/{admin.id}/active", {"active": "0"}, form_page="/admin/users/new",
                  follow_redirects=True).get_data(as_text=True)
    assert "You cannot deactivate your own account." in html
    assert reload(db, User, admin.id).is_active
    assert can_sign_in(app, admin.email)


def test_admin_sets_a_new_password_that_then_signs_in(app, admin_client, therapist):
    page = admin_client.get(f"/admin/users/{therapist.id}/password").get_data(as_text=True)
    assert "Set a new password for Pat Therapist" in page
    new_password = "river walk backwards"
    response = submit(admin_client, f"/admin/users/{therapist.id}/password", {"password": new_password},
                      follow_redirects=True)
    assert "The password for Pat Therapist was changed." in response.get_data(as_text=True)
    assert can_sign_in(app, therapist.email, new_password)
    assert not can_sign_in(app, therapist.email, PASSWORD)


def test_a_weak_reset_password_is_refused_beside_the_field(app, admin_client, therapist):
    response = submit(admin_client, f"/admin/users/{therapist.id}/password", {"password": "password1234"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "too common" in html and 'id="password-error"' in html
    assert can_sign_in(app, therapist.email, PASSWORD)


def test_a_password_reset_lifts_a_sign_in_throttle(app, admin_client, therapist):
    locked_out = app.test_client()
    for _ in range(10):
        submit(locked_out, "/login", {"email": therapist.email, "password": "not it at all, sorry"})
    assert not can_sign_in(app, therapist.email)
    submit(admin_client, f"/admin/users/{therapist.id}/password", {"password": "river walk backwards"})
    assert can_sign_in(app, therapist.email, "river walk backwards")


def test_an_admin_cannot_touch_an_account_of_another_clinic(app, admin_client, make_clinic, make_user, db):
    outsider = make_user("olga.other@elsewhere.example", clinics=[make_clinic("Elsewhere PT")])
    assert admin_client.get(f"/admin/users/{outsider.id}/password").status_code == 404
    deactivate = submit(admin_client, f"/admin/users/{outsider.id}/active", {"active": "0"},
                        form_page="/admin/users")
    reset = submit(admin_client, f"/admin/users/{outsider.id}/password", {"password": "taken over account"},
                   form_page="/admin/users")
    assert deactivate.status_code == reset.status_code == 404
    assert "We could not find that page" in reset.get_data(as_text=True)
    assert "olga.other@elsewhere.example" not in admin_client.get("/admin/users").get_data(as_text=True)
    assert reload(db, User, outsider.id).is_active
    assert can_sign_in(app, outsider.email, PASSWORD)


# ------------------------------------------------------------------------------------------ clinic settings


def test_clinic_settings_are_saved_and_shown(admin_client, clinic, db):
    response = submit(admin_client, "/admin/clinic", {**CLINIC_SETTINGS, "version": "1"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Clinic settings saved." in html
    assert 'value="Lakeside Knee Clinic"' in html and 'value="Europe/Lisbon"' in html
    saved = reload(db, Clinic, clinic.id)
    assert {name: getattr(saved, name) for name in CLINIC_SETTINGS} == CLINIC_SETTINGS
    assert "Lakeside Knee Clinic" in admin_client.get("/patients/").get_data(as_text=True)  # the top bar


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus_Mons", "Choose a time zone from the list"),
        ("paper_size", "legal", "Choose one of the options"),
        ("speed_unit", "furlongs", "Choose one of the options"),
        ("name", "", "This field is required"),
        ("name", "<b>Clinic</b>", "no &lt; or &gt;"),
        ("phone", "5" * 41, "the limit is 40. Shorten it by 1 character."),
    ],
)
def test_bad_clinic_settings_are_refused_beside_the_field(admin_client, clinic, db, field, value, message):
    response = submit(admin_client, "/admin/clinic", {**CLINIC_SETTINGS, "version": "1", field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html and f'id="{field}-error"' in html
    assert "Nothing was saved" in html
    saved = reload(db, Clinic, clinic.id)
    assert (saved.name, saved.timezone, saved.paper_size) == ("Riverside PT", "UTC", "letter")


def test_clinic_settings_change_only_the_admins_own_clinic(admin_client, clinic, make_clinic, db):
    other = make_clinic("Elsewhere PT")
    submit(admin_client, "/admin/clinic", {**CLINIC_SETTINGS, "version": "1", "id": str(other.id)})
    assert reload(db, Clinic, other.id).name == "Elsewhere PT"
    assert reload(db, Clinic, clinic.id).name == CLINIC_SETTINGS["name"]
    assert [event.object_id for event in fetch(db, select(AuditEvent).where(AuditEvent.action == "clinic.update")
                                                   .order_by(col(AuditEvent.id)))] == [clinic.id]


def test_the_audit_trail_lists_and_filters_the_clinics_events(admin_client, therapist, clinic, make_patient, client):
    patient = make_patient(clinic, first_name="Ana", last_name="Audited")
    admin_client.get(f"/patients/{patient.id}")
    other = type(client)(client.application)  # a second browser: the therapist mistypes their password
    submit(other, "/login", {"email": therapist.email, "password": "wrong password 123"})
    page = visible_text(admin_client.get("/admin/audit").get_data(as_text=True))
    assert "Ada Admin opened the record of Ana Audited on " in page
    assert "A sign-in as Pat Therapist failed (wrong password) on " in page
    assert "patient.view" not in page and "login.failed" not in page  # codes only in the filter's values
    assert "Opened a patient record" in page  # the filter's entry
    filtered = admin_client.get("/admin/audit", query_string={"action": "login.failed"}).get_data(as_text=True)
    assert "A sign-in as Pat Therapist failed" in filtered and "opened the record of" not in filtered
    by_patient = admin_client.get("/admin/audit", query_string={"patient": "audited"}).get_data(as_text=True)
    assert "opened the record of Ana Audited" in by_patient and "A sign-in as" not in by_patient


def test_the_audit_trail_is_for_admins_only_and_read_only(therapist_client, app):
    assert therapist_client.get("/admin/audit").status_code == 403
    audit_rules = [rule for rule in app.url_map.iter_rules() if "audit" in rule.rule]
    assert [sorted(rule.methods - {"HEAD", "OPTIONS"}) for rule in audit_rules] == [["GET"], ["GET"]]  # + its CSV
