"""A form sent after the idle sign-out is kept for its author and put back on its page after signing in again;
the idle warning's status and "Stay signed in" (rehab/kept_forms.py, rehab/security.py)."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from rehab.models import AuditEvent, KeptForm, Patient, UserSession, Visit, utcnow
from tests.conftest import PASSWORD, count_rows, csrf_from, form_fields, sign_in
from tests.test_visits import visit_form

pytestmark = pytest.mark.db

NOTE = "Your unsaved entries were kept — check and press Save."
TYPED_NOTE = "Left knee stiff after the stairs; walked 5 min backward on the rails"


def age_session(db: Session, user_id: int, **ago: timedelta) -> None:
    for record in db.exec(select(UserSession).where(UserSession.user_id == user_id)):
        for field, delta in ago.items():
            setattr(record, field, utcnow() - delta)
        db.add(record)
    db.commit()


def open_form(client: FlaskClient, url: str) -> tuple[str, dict[str, str]]:
    """Open a form's page as a browser does; returns its address and the hidden fields its form sends."""
    response = client.get(url)
    if response.status_code == 302:  # the visit form gives itself its one-time id in the address
        url = response.headers["Location"]
        response = client.get(url)
    page = response.get_data(as_text=True)
    match = re.search(r'name="form_page" value="([^"]*)"', page)
    assert match, "the form carries the address of its page"
    return url, {**form_fields(page), "form_page": html.unescape(match.group(1))}


def kept_fields_on(page: str) -> list[list[str]]:
    match = re.search(r'data-kept-fields="([^"]*)"', page)
    assert match, "the page carries the kept entries for its script"
    fields: list[list[str]] = json.loads(html.unescape(match.group(1)))
    return fields


def kept_id_on(page: str) -> str:
    match = re.search(r'data-kept-id="(\d+)"', page)
    assert match
    return match.group(1)


def repost(client: FlaskClient, url: str, page: str) -> Any:
    """Press Save on the restored form, as rehab/static/js/session.js fills it: the kept fields, this page's
    CSRF token and the kept form's id."""
    data: dict[str, Any] = {}
    for name, value in kept_fields_on(page):
        data.setdefault(name, []).append(value)
    data["csrf_token"] = csrf_from(page)
    data["kept_form"] = kept_id_on(page)
    return client.post(url, data=data)


@pytest.fixture
def timed_out_visit(therapist_client, therapist, patient, protocol, db):  # type: ignore[no-untyped-def]
    """A therapist opens the visit form, treats for 20 minutes, then presses Save."""
    url, hidden = open_form(therapist_client, f"/patients/{patient.id}/visits/new")
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=20))
    response = therapist_client.post(url, data={**hidden, **visit_form(note=TYPED_NOTE, pain_worst="3")})
    return url, hidden, response


def test_a_visit_sent_after_the_idle_sign_out_is_kept_and_not_saved(therapist_client, therapist, patient,
                                                                    timed_out_visit, db):
    url, hidden, response = timed_out_visit
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    login = therapist_client.get("/login").get_data(as_text=True)
    assert "You were signed out after 15 minutes without activity." in login
    assert "What you typed was kept, not saved." in login
    assert count_rows(db, Visit) == 0
    kept = db.exec(select(KeptForm)).one()
    assert (kept.user_id, kept.clinic_id) == (therapist.id, patient.clinic_id)
    assert kept.page == url and kept.action == f"/patients/{patient.id}/visits/new"
    names = {name for name, _ in json.loads(kept.fields)}
    assert "csrf_token" not in names and "form_page" not in names
    assert ["note", TYPED_NOTE] in json.loads(kept.fields)
    assert ["form_id", hidden["form_id"]] in json.loads(kept.fields)
    # Kept for 30 minutes (KEPT_FORM_MINUTES), and the audit trail says so.
    assert timedelta(minutes=29) < kept.expires_at - utcnow() <= timedelta(minutes=30)
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "form.kept")).one()
    assert (event.user_id, event.object_type, event.object_id) == (therapist.id, "kept_form", kept.id)


def test_signing_in_again_leads_back_to_the_form_with_what_was_typed_and_saves_only_on_save(
        therapist_client, therapist, patient, timed_out_visit, db):
    url, hidden, _ = timed_out_visit
    signed_in = sign_in(therapist_client, therapist.email)
    kept = db.exec(select(KeptForm)).one()
    assert signed_in.headers["Location"] == f"{url}&kept={kept.id}"
    page = therapist_client.get(signed_in.headers["Location"]).get_data(as_text=True)
    assert NOTE in page
    assert ["note", TYPED_NOTE] in kept_fields_on(page) and ["pain_worst", "3"] in kept_fields_on(page)
    assert f'name="form_id" value="{hidden["form_id"]}"' in page  # the same one-time id as the first post
    assert count_rows(db, Visit) == 0  # signing in and seeing it saved nothing

    saved = repost(therapist_client, url, page)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("#advice")
    db.expire_all()
    visit = db.exec(select(Visit)).one()
    assert visit.note == TYPED_NOTE and visit.pain_worst == 3
    assert count_rows(db, KeptForm) == 0  # saved: the kept copy is gone
    # Save pressed again on the same restored form: "Already saved", still one visit.
    again = repost(therapist_client, url, page)
    assert "Already saved" in again.get_data(as_text=True)
    assert count_rows(db, Visit) == 1


def test_another_account_signing_in_on_the_same_browser_never_sees_it(therapist_client, make_user, clinic,
                                                                        patient, timed_out_visit, db):
    url, _, _ = timed_out_visit
    colleague = make_user("colleague@example.org", clinics=[clinic])
    signed_in = sign_in(therapist_client, colleague.email)
    assert "kept=" not in signed_in.headers["Location"]
    kept = db.exec(select(KeptForm)).one()
    page = therapist_client.get(f"{url}&kept={kept.id}").get_data(as_text=True)
    assert NOTE not in page and TYPED_NOTE not in page and "data-kept-fields" not in page
    assert count_rows(db, KeptForm) == 1  # still there for its own account
    # Even posting its id with a form removes nothing of another account's.
    therapist_client.post(url, data={**open_form(therapist_client, url)[1], **visit_form(), "kept_form": kept.id})
    db.expire_all()
    assert count_rows(db, KeptForm) == 1


def test_a_kept_form_expires_and_expired_ones_are_purged(app, therapist_client, therapist, patient, protocol,
                                                         timed_out_visit, db):
    url, _, _ = timed_out_visit
    kept = db.exec(select(KeptForm)).one()
    kept.expires_at = utcnow() - timedelta(seconds=1)
    db.add(kept)
    db.commit()
    signed_in = sign_in(therapist_client, therapist.email)
    assert "kept=" not in signed_in.headers["Location"]
    assert NOTE not in therapist_client.get(f"{url}&kept={kept.id}").get_data(as_text=True)
    # The next form kept (by anyone) purges the expired one.
    url2, hidden = open_form(therapist_client, f"/patients/{patient.id}/visits/new")
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=20))
    therapist_client.post(url2, data={**hidden, **visit_form()})
    db.expire_all()
    assert [row.page for row in db.exec(select(KeptForm))] == [url2]


def test_the_kept_time_is_a_setting(app, therapist_client, therapist, patient, protocol, db):
    app.config["KEPT_FORM_MINUTES"] = 5
    url, hidden = open_form(therapist_client, f"/patients/{patient.id}/visits/new")
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=20))
    therapist_client.post(url, data={**hidden, **visit_form()})
    kept = db.exec(select(KeptForm)).one()
    assert kept.expires_at - kept.kept_at == timedelta(minutes=5)


def test_passwords_are_never_kept(therapist_client, therapist, db):
    _, hidden = open_form(therapist_client, "/account")
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=20))
    therapist_client.post("/account/password", data={**hidden, "current_password": PASSWORD,
                                                      "password": "a new long password 1",
                                                      "password_repeat": "a new long password 1"})
    kept = db.exec(select(KeptForm)).one()
    assert "password" not in kept.fields and PASSWORD not in kept.fields


def test_a_kept_edit_is_still_refused_when_someone_else_saved_meanwhile(therapist_client, therapist, clinic,
                                                                         make_patient, db):
    patient = make_patient(clinic, phone="555-1111")
    url, hidden = open_form(therapist_client, f"/patients/{patient.id}/edit")
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=20))
    typed = {"first_name": patient.first_name, "last_name": patient.last_name, "date_of_birth": "1944-05-02",
             "affected_knee": "left", "condition": "knee_oa", "language": "en", "phone": "555-9999", "version": "1"}
    therapist_client.post(url, data={**hidden, **typed})
    patient.phone, patient.version = "555-3333", 2  # a colleague saves the patient in the meantime
    db.add(patient)
    db.commit()
    page = therapist_client.get(sign_in(therapist_client, therapist.email).headers["Location"]).get_data(as_text=True)
    assert ["version", "1"] in kept_fields_on(page)  # the version the form was opened at, not today's
    refused = repost(therapist_client, url, page)
    assert refused.status_code == 409 and "Someone else saved this patient" in refused.get_data(as_text=True)
    db.expire_all()
    assert db.get(Patient, patient.id).phone == "555-3333"


def test_a_form_sent_after_another_tab_met_the_sign_out_is_kept_too(therapist_client, therapist, patient,
                                                                     protocol, db):
    url, hidden = open_form(therapist_client, f"/patients/{patient.id}/visits/new")
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=20))
    assert therapist_client.get("/patients/").headers["Location"].startswith("/login")  # another tab, first
    response = therapist_client.post(url, data={**hidden, **visit_form(note=TYPED_NOTE)})
    assert response.headers["Location"].startswith("/login")
    assert db.exec(select(KeptForm)).one().user_id == therapist.id


def test_after_signing_out_on_purpose_nothing_is_kept(therapist_client, therapist, patient, protocol, db):
    url, hidden = open_form(therapist_client, f"/patients/{patient.id}/visits/new")
    therapist_client.post("/logout", data={"csrf_token": hidden["csrf_token"]})
    response = therapist_client.post(url, data={**hidden, **visit_form(note=TYPED_NOTE)})
    assert response.status_code == 400  # the form expired with the session, as before
    assert count_rows(db, KeptForm) == 0 and count_rows(db, Visit) == 0


def test_asking_how_long_is_left_does_not_extend_the_session_and_staying_does(therapist_client, therapist, db):
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=10))
    status = therapist_client.get("/session").get_json()
    assert status["signed_in"] and 290 <= status["seconds_left"] <= 300 and status["warn_seconds"] == 120
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=14))
    assert therapist_client.get("/session").get_json()["seconds_left"] <= 60  # asking did not move it
    page = therapist_client.get("/account").get_data(as_text=True)  # a page is activity
    assert re.search(r"data-seconds-left=\"(\d+)\"", page).group(1) == "900" and "Stay signed in" in page
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=14))
    stayed = therapist_client.post("/session/stay", data={"csrf_token": csrf_from(page)})
    assert stayed.get_json()["seconds_left"] >= 895
    assert therapist_client.get("/session").get_json()["seconds_left"] >= 895
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=16))
    assert therapist_client.get("/session").headers["Location"].startswith("/login")


def test_stay_signed_in_needs_its_csrf_token(therapist_client, therapist, db):
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=14))
    assert therapist_client.post("/session/stay").status_code == 400
    assert therapist_client.get("/session").get_json()["seconds_left"] <= 60


def test_two_forms_kept_from_two_tabs_both_come_back(therapist_client, therapist, clinic, make_patient, patient,
                                                    protocol, db):
    other_patient = make_patient(clinic, first_name="Ruth", last_name="Abernathy")
    visit_url, visit_hidden = open_form(therapist_client, f"/patients/{patient.id}/visits/new")
    edit_url, edit_hidden = open_form(therapist_client, f"/patients/{other_patient.id}/edit")
    age_session(db, therapist.id, last_seen_at=timedelta(minutes=20))
    therapist_client.post(visit_url, data={**visit_hidden, **visit_form(note=TYPED_NOTE)})
    therapist_client.post(edit_url, data={**edit_hidden, "first_name": "Ruthie", "version": "1"})
    kept = {row.page: row for row in db.exec(select(KeptForm))}
    assert set(kept) == {visit_url, edit_url}
    first = therapist_client.get(sign_in(therapist_client, therapist.email).headers["Location"])
    page = first.get_data(as_text=True)
    assert ["first_name", "Ruthie"] in kept_fields_on(page)  # the newest first
    link = re.search(r'<a href="([^"]+)">the form sent at \d\d:\d\d</a>', page)
    assert link and html.unescape(link.group(1)) == f"{visit_url}&kept={kept[visit_url].id}"
    assert ["note", TYPED_NOTE] in kept_fields_on(therapist_client.get(html.unescape(link.group(1))).get_data(
        as_text=True))
