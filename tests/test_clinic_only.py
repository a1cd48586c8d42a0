"""Plans with nothing for home: the sheet and the patient's pages say "not on your own yet" and offer no log,
and a home session logged anyway alerts the therapist. Blood thinners add a falls warning."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from rehab.models import Alert, utcnow
from rehab.services import portal_links
from rehab.services.catalogue import templates
from rehab.services.protocol_content import content_from_template
from rehab.services.protocol_records import create_protocol
from tests.conftest import SECRET, submit
from tests.test_emergency import flat_pdf_text

pytestmark = pytest.mark.db
NOT_ALONE = "Do not practise backward walking on your own yet"


def start(db, patient, key, phase=0):  # type: ignore[no-untyped-def]
    made = create_protocol(db, patient=patient, content=content_from_template(templates()[key]), user_id=None,
                           now=utcnow() - timedelta(days=21), overrides=[], start_phase=phase)
    db.commit()
    return made


def sheet(client, patient):  # type: ignore[no-untyped-def]
    response = submit(client, f"/patients/{patient.id}/sheet", {"paper": "letter", "language": "en"},
                      follow_redirects=True)
    assert response.mimetype == "application/pdf"
    return flat_pdf_text(response.data)


def phone_for(app, db, patient):  # type: ignore[no-untyped-def]
    _, token = portal_links.issue_link(db, patient=patient, user_id=None, now=utcnow(), secret=SECRET)
    db.commit()
    phone = app.test_client()
    phone.get(f"/p/{token}")
    return phone


LOG = {"minutes": "5", "pain_worst": "2", "soreness": "none", "stumbled": "no", "fell": "no"}


def test_a_clinic_only_sheet_says_not_on_your_own_and_has_no_log(app_config, therapist_client, clinic, make_patient,
                                                                 db):
    patient = make_patient(clinic, uses_walker=True)
    start(db, patient, "post_tka")  # phase 1: parallel bars, in the clinic
    text = sheet(therapist_client, patient)
    assert NOT_ALONE in text and "only at the clinic, with your therapist" in text
    assert "Your log for the next 2 weeks" not in text and "Pain next day" not in text
    assert "Ask a partner to walk forward beside you" not in text  # no home-walking advice
    assert "Emergency: call 911" in text  # what to do in an emergency stays


def test_a_sheet_with_home_walking_keeps_its_advice_and_log(app_config, therapist_client, clinic, make_patient, db):
    patient = make_patient(clinic)
    start(db, patient, "knee_oa", phase=2)  # phase 3: walking at home with a partner
    text = sheet(therapist_client, patient)
    assert NOT_ALONE not in text
    assert "Your log for the next 2 weeks" in text and "Ask a partner to walk forward beside you" in text


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_portal_of_a_clinic_only_plan_offers_no_log(app, db, clinic, make_patient, language):
    patient = make_patient(clinic, language=language)
    start(db, patient, "post_tka")
    phone = phone_for(app, db, patient)
    home = phone.get("/p/home").get_data(as_text=True)
    progress = phone.get("/p/progress").get_data(as_text=True)
    expected = NOT_ALONE if language == "en" else "Todavía no practique caminar hacia atrás por su cuenta"
    assert expected in home
    for page in (home, progress):
        assert 'href="/p/log"' not in page  # neither the menu nor the button offers a log


def test_a_home_log_of_a_clinic_only_plan_alerts_the_therapist(app, db, clinic, make_patient, therapist_client):
    """The page stays reachable (a fall at home must still be reported) and says the plan has nothing for home."""
    patient = make_patient(clinic)
    start(db, patient, "post_tka")
    phone = phone_for(app, db, patient)
    log_page = phone.get("/p/log", follow_redirects=True).get_data(as_text=True)
    assert "Your plan has no backward walking at home yet" in log_page
    response = submit(phone, "/p/log", {**LOG, "session_date": utcnow().date().isoformat()})
    assert response.status_code == 302
    alert = db.exec(select(Alert).where(Alert.patient_id == patient.id)).one()
    assert alert.kind == "clinic_only" and "has no exercise for home" in alert.message
    page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Home session of a clinic-only program" in page


def test_a_home_log_of_a_home_plan_raises_no_such_alert(app, db, clinic, make_patient):
    patient = make_patient(clinic)
    start(db, patient, "knee_oa", phase=2)
    phone = phone_for(app, db, patient)
    assert 'href="/p/log"' in phone.get("/p/home").get_data(as_text=True)
    submit(phone, "/p/log", {**LOG, "session_date": utcnow().date().isoformat()})
    assert db.exec(select(Alert).where(Alert.kind == "clinic_only")).first() is None


@pytest.mark.parametrize("anticoagulants", [True, False])
def test_blood_thinners_add_a_falls_warning_to_the_sheet_and_the_page(app, app_config, db, clinic, make_patient,
                                                                      therapist_client, anticoagulants):
    patient = make_patient(clinic, anticoagulants=anticoagulants)
    start(db, patient, "knee_oa")
    text = sheet(therapist_client, patient)
    warning = "You take a blood thinner: a fall can cause bleeding inside you."
    assert (warning in text) is anticoagulants
    if anticoagulants:
        assert "Call the clinic after any fall, even if you feel fine. If you hit your head, call 911." in text
    assert (warning in phone_for(app, db, patient).get("/p/home").get_data(as_text=True)) is anticoagulants
