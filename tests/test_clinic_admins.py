"""Admin is a role per clinic (SECURITY.md 28-29): an admin of one clinic cannot take over a colleague who
also works in another; admins add clinics and manage who works in each; a session leaves a clinic its user
was removed from at the next request."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from rehab.models import AuditEvent, Clinic, Membership, Patient, User, UserSession
from rehab.services import memberships
from tests.conftest import PASSWORD, form_fields, sign_in, submit
from tests.test_admin import fetch

pytestmark = pytest.mark.db

NEW_PASSWORD = "walking backwards again"


def events(db: Session, action: str) -> list[AuditEvent]:
    return fetch(db, select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id)))


def roles(db: Session, user: User) -> dict[int, bool]:
    return dict(fetch(db, select(Membership.clinic_id, Membership.is_admin).where(Membership.user_id == user.id)))


def post(client: FlaskClient, url: str, data: dict[str, str], page: str = "/patients/new"):  # type: ignore[no-untyped-def]
    """A hand-made post with a CSRF token and a fresh one-time form id (any page's form carries both)."""
    page_html = client.get(page, follow_redirects=True).get_data(as_text=True)
    return client.post(url, data={**data, **form_fields(page_html)})


@pytest.fixture
def two_clinics(make_clinic):  # type: ignore[no-untyped-def]
    return make_clinic("Alder PT"), make_clinic("Birch PT")  # sign-in opens the first by name: Alder


@pytest.fixture
def shared_therapist(make_user, two_clinics) -> User:  # type: ignore[no-untyped-def]
    """Works in both clinics."""
    return make_user("sam.shared@clinic.example", clinics=list(two_clinics), name="Sam Shared")


@pytest.fixture
def admin_of_alder(make_user, two_clinics) -> User:  # type: ignore[no-untyped-def]
    return make_user("ada.alder@clinic.example", clinics=[two_clinics[0]], is_admin=True, name="Ada Alder")


def browser(app, user: User) -> FlaskClient:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert sign_in(client, user.email).status_code == 302
    return client


# ------------------------------------------------------------------------------- accounts of other clinics


def test_an_admin_of_one_clinic_cannot_reset_or_deactivate_a_therapist_who_also_works_in_another(
        app, db, admin_of_alder, shared_therapist):
    admin = browser(app, admin_of_alder)
    team = admin.get("/admin/users").get_data(as_text=True)
    assert "Sam Shared" in team and "Also works in a clinic you do not administer" in team
    assert f"/admin/users/{shared_therapist.id}/password" not in team
    page = admin.get(f"/admin/users/{shared_therapist.id}/password")
    assert page.status_code == 403 and "only an admin of all their clinics" in page.get_data(as_text=True)
    reset = post(admin, f"/admin/users/{shared_therapist.id}/password", {"password": NEW_PASSWORD})
    deactivate = post(admin, f"/admin/users/{shared_therapist.id}/active", {"active": "0"})
    assert reset.status_code == deactivate.status_code == 403
    # The takeover fails: the old password still works, the new one does not, and the account is active.
    assert sign_in(app.test_client(), shared_therapist.email, NEW_PASSWORD).status_code == 401
    assert sign_in(app.test_client(), shared_therapist.email, PASSWORD).status_code == 302
    assert [event.outcome for event in events(db, "user.manage.denied")] == ["denied"] * 3
    assert not events(db, "user.password_reset") and not events(db, "user.deactivate")


def test_an_admin_of_every_clinic_of_the_account_resets_and_deactivates_audited_in_each(
        app, db, make_user, two_clinics, shared_therapist):
    alder, birch = two_clinics
    owner = make_user("olga.owner@clinic.example", clinics=[alder, birch], is_admin=True, name="Olga Owner")
    admin = browser(app, owner)
    assert submit(admin, f"/admin/users/{shared_therapist.id}/password", {"password": NEW_PASSWORD}
                  ).status_code == 302
    assert sign_in(app.test_client(), shared_therapist.email, NEW_PASSWORD).status_code == 302
    assert post(admin, f"/admin/users/{shared_therapist.id}/active", {"active": "0"}).status_code == 302
    assert not fetch(db, select(User).where(User.id == shared_therapist.id))[0].is_active
    # Both clinics' trails show both events, so Birch's admins learn what happened to their therapist.
    for action in ("user.password_reset", "user.deactivate"):
        assert sorted((event.clinic_id, event.user_id, event.object_id) for event in events(db, action)) == [
            (alder.id, owner.id, shared_therapist.id), (birch.id, owner.id, shared_therapist.id)]
    birch_trail = admin.get("/admin/audit").get_data(as_text=True)  # working in Alder: Alder's trail
    assert "set a new password for" in birch_trail


def test_admin_of_one_clinic_is_a_therapist_in_another(app, db, make_user, two_clinics):
    alder, birch = two_clinics
    user = make_user("mixed@clinic.example", clinics=[alder, birch], name="Mo Mixed")
    db.get(Membership, (user.id, alder.id)).is_admin = True
    db.commit()
    client = browser(app, user)  # working in Alder, where they are an admin
    assert client.get("/admin/users").status_code == 200
    assert "Team" in client.get("/patients/").get_data(as_text=True)
    post(client, "/clinic", {"clinic_id": str(birch.id)})
    assert client.get("/admin/users").status_code == 403
    assert client.get(f"/admin/clinics/{birch.id}").status_code == 403  # not an admin where they work now
    assert ">Team<" not in client.get("/patients/").get_data(as_text=True)


# ------------------------------------------------------------------------------------------ adding a clinic


def test_an_admin_adds_a_clinic_becomes_its_admin_and_it_is_audited(app, db, admin_of_alder, two_clinics):
    admin = browser(app, admin_of_alder)
    page = admin.get("/admin/clinics").get_data(as_text=True)
    assert "Alder PT" in page and "Birch PT" not in page  # only the clinics they administer
    response = submit(admin, "/admin/clinics", {"name": "Cedar PT"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Cedar PT was added and you are its admin." in html and "Members of Cedar PT" in html
    [cedar] = fetch(db, select(Clinic).where(Clinic.name == "Cedar PT"))
    assert roles(db, admin_of_alder) == {two_clinics[0].id: True, cedar.id: True}
    assert sorted(event.clinic_id for event in events(db, "clinic.create")) == sorted([two_clinics[0].id, cedar.id])
    # The clinic switcher offers it at once, and the admin can work there.
    assert "Cedar PT" in admin.get("/patients/").get_data(as_text=True)
    post(admin, "/clinic", {"clinic_id": str(cedar.id)})
    assert admin.get("/admin/clinic").status_code == 200


@pytest.mark.parametrize(("name", "message"), [("", "This field is required."), ("<b>Cedar</b>", "(no &lt; or &gt;)"),
                                               ("C" * 121, "the limit is 120. Shorten it by 1 character.")])
def test_a_bad_clinic_name_is_explained_beside_the_field_and_nothing_is_saved(app, db, admin_of_alder, two_clinics,
                                                                             name, message):
    admin = browser(app, admin_of_alder)
    response = submit(admin, "/admin/clinics", {"name": name})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="name-error"' in html
    assert message in html
    assert len(fetch(db, select(Clinic))) == 2


# -------------------------------------------------------------------------------------------- memberships


def test_an_admin_adds_an_existing_therapist_makes_and_unmakes_admin_and_removes_them(
        app, db, admin_of_alder, make_user, two_clinics):
    alder, birch = two_clinics
    bea = make_user("bea.birch@clinic.example", clinics=[birch], name="Bea Birch")
    admin = browser(app, admin_of_alder)
    members_url = f"/admin/clinics/{alder.id}"
    added = submit(admin, f"{members_url}/members", {"email": "Bea.Birch@clinic.example"}, form_page=members_url,
                   follow_redirects=True)
    assert "Bea Birch now works at Alder PT." in added.get_data(as_text=True)
    assert roles(db, bea) == {alder.id: False, birch.id: False}
    assert post(admin, f"{members_url}/members/{bea.id}", {"action": "make_admin"}, members_url).status_code == 302
    assert roles(db, bea) == {alder.id: True, birch.id: False}  # admin of Alder only
    assert post(admin, f"{members_url}/members/{bea.id}", {"action": "unmake_admin"}, members_url).status_code == 302
    assert roles(db, bea)[alder.id] is False
    assert post(admin, f"{members_url}/members/{bea.id}", {"action": "remove"}, members_url).status_code == 302
    assert roles(db, bea) == {birch.id: False}  # her account and her other clinic stay
    trail = [(event.action, event.clinic_id, event.object_id) for event in
             fetch(db, select(AuditEvent).where(col(AuditEvent.action).startswith("membership.")))]
    assert trail == [("membership.add", alder.id, bea.id), ("membership.admin_grant", alder.id, bea.id),
                     ("membership.admin_revoke", alder.id, bea.id), ("membership.remove", alder.id, bea.id)]


@pytest.mark.parametrize(("email", "message"), [("nobody@clinic.example", memberships.NO_SUCH_ACCOUNT),
                                                ("sam.shared@clinic.example", memberships.ALREADY_MEMBER),
                                                ("not an email", "Enter an email address")])
def test_adding_a_member_explains_what_is_wrong_beside_the_field(app, db, admin_of_alder, shared_therapist,
                                                                 two_clinics, email, message):
    admin = browser(app, admin_of_alder)
    url = f"/admin/clinics/{two_clinics[0].id}"
    before = fetch(db, select(Membership.user_id, Membership.clinic_id, Membership.is_admin))
    response = submit(admin, f"{url}/members", {"email": email, "is_admin": "1"}, form_page=url)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="email-error"' in html and message in html
    assert fetch(db, select(Membership.user_id, Membership.clinic_id, Membership.is_admin)) == before


def test_an_admin_cannot_change_their_own_role_or_membership(app, db, admin_of_alder, two_clinics):
    admin = browser(app, admin_of_alder)
    url = f"/admin/clinics/{two_clinics[0].id}"
    assert "You (another admin can change this)" in admin.get(url).get_data(as_text=True)
    for action in ("unmake_admin", "remove"):
        response = post(admin, f"{url}/members/{admin_of_alder.id}", {"action": action}, url)
        assert response.status_code == 302
        assert memberships.NOT_YOURSELF in admin.get(url).get_data(as_text=True)
    assert roles(db, admin_of_alder) == {two_clinics[0].id: True}  # still in, still an admin
    assert not fetch(db, select(AuditEvent).where(col(AuditEvent.action).startswith("membership.")))


def test_another_clinics_membership_pages_are_not_found(app, db, admin_of_alder, shared_therapist, two_clinics):
    """Birch's pages do not exist for an admin of Alder only, even though they share a therapist."""
    birch = two_clinics[1]
    admin = browser(app, admin_of_alder)
    assert admin.get(f"/admin/clinics/{birch.id}").status_code == 404
    assert post(admin, f"/admin/clinics/{birch.id}/members/{shared_therapist.id}", {"action": "remove"}
                ).status_code == 404
    assert post(admin, f"/admin/clinics/{birch.id}/members", {"email": "ada.alder@clinic.example"}
                ).status_code == 404
    assert roles(db, shared_therapist) == {two_clinics[0].id: False, birch.id: False}
    assert roles(db, admin_of_alder) == {two_clinics[0].id: True}


# ------------------------------------------------------------------------------ sessions of removed members


def test_removed_from_the_clinic_they_work_in_the_next_request_moves_them_to_their_other_clinic(
        app, db, admin_of_alder, shared_therapist, two_clinics, make_patient):
    alder, birch = two_clinics
    alder_patient = make_patient(alder, first_name="Alma", last_name="Alderson")
    therapist = browser(app, shared_therapist)
    assert "Alderson" in therapist.get("/patients/").get_data(as_text=True)  # working in Alder
    memberships.remove_member(db, admin_id=admin_of_alder.id, clinic_id=alder.id, user_id=shared_therapist.id)
    db.commit()
    moved = therapist.get(f"/patients/{alder_patient.id}")
    assert moved.status_code == 302 and moved.headers["Location"] == "/"
    landing = therapist.get("/patients/", follow_redirects=True).get_data(as_text=True)
    assert "You no longer work at Alder PT. You are now working at Birch PT." in landing
    assert "Alderson" not in landing
    assert therapist.get(f"/patients/{alder_patient.id}").status_code == 404
    [record] = fetch(db, select(UserSession).where(UserSession.user_id == shared_therapist.id))
    assert record.clinic_id == birch.id and record.ended_at is None


def test_a_form_opened_for_the_old_clinic_is_not_saved_into_the_new_one(app, db, admin_of_alder, shared_therapist,
                                                                        two_clinics):
    therapist = browser(app, shared_therapist)
    token = form_fields(therapist.get("/patients/new", follow_redirects=True).get_data(as_text=True))
    memberships.remove_member(db, admin_id=admin_of_alder.id, clinic_id=two_clinics[0].id,
                              user_id=shared_therapist.id)
    db.commit()
    response = therapist.post("/patients/new", data={
        **token, "first_name": "Wrong", "last_name": "Clinic", "date_of_birth": "1950-01-01",
        "affected_knee": "left", "condition": "knee_oa"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert fetch(db, select(Patient)) == []


def test_removed_from_their_only_clinic_the_session_ends(app, db, admin_of_alder, make_user, two_clinics):
    alder = two_clinics[0]
    theo = make_user("theo@clinic.example", clinics=[alder], name="Theo Only")
    therapist = browser(app, theo)
    memberships.remove_member(db, admin_id=admin_of_alder.id, clinic_id=alder.id, user_id=theo.id)
    db.commit()
    response = therapist.get("/patients/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    page = therapist.get("/login").get_data(as_text=True)
    assert "You no longer work at Alder PT and belong to no other clinic" in page
    [record] = fetch(db, select(UserSession).where(UserSession.user_id == theo.id))
    assert record.ended_at is not None
    assert therapist.get("/patients/").headers["Location"].startswith("/login")
