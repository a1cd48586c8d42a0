"""The caseload as a therapist uses it: add, validate, edit with history, search, archive."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, select

from rehab.models import EditRecord, Patient
from tests.conftest import count_rows, submit

pytestmark = pytest.mark.db

VALID = {
    "first_name": "Dorothy", "last_name": "Whitfield", "date_of_birth": "1944-05-02", "chart_number": "RV-77",
    "affected_knee": "both", "condition": "knee_oa", "language": "en", "uses_walker": "1",
}


def patient_count(db: Session) -> int:
    return count_rows(db, Patient)


def test_add_patient_then_see_it_on_its_page(therapist_client, db):
    response = submit(therapist_client, "/patients/new", VALID, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Dorothy Whitfield was added." in html
    assert "Uses a rollator or walker" in html  # the precaution shows on the patient page
    patient = db.exec(select(Patient)).one()
    assert (patient.chart_number, patient.uses_walker, patient.affected_knee) == ("RV-77", True, "both")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("date_of_birth", (date.today() + timedelta(days=2)).isoformat(), "cannot be in the future"),
        ("date_of_birth", "1890-01-01", "more than 120 years ago"),
        ("date_of_birth", "14/03/1951", "Enter a date"),
        ("surgery_date", (date.today() + timedelta(days=800)).isoformat(), "at most two years ahead. Check the year"),
        ("surgery_date", "1940-01-01", "before the date of birth"),
        ("first_name", "x" * 100_000, "the limit is 100. Shorten it by 99,900 characters."),
        ("last_name", "", "This field is required"),
        ("first_name", "<script>alert(1)</script>", "no &lt; or &gt;"),
        ("condition", "knee_pain", "Choose one of the options"),
        ("email", "not-an-email", "Enter an email address"),
        ("notes", "n" * 5001, "This text is 5,001 characters; the limit is 5,000."),
    ],
)
def test_bad_input_is_explained_beside_the_field_and_nothing_is_saved(therapist_client, db, field, value, message):
    response = submit(therapist_client, "/patients/new", {**VALID, field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert f'id="{field}-error"' in html  # the message sits beside the field it is about
    assert patient_count(db) == 0


def test_other_condition_needs_a_description(therapist_client, db):
    response = submit(therapist_client, "/patients/new", {**VALID, "condition": "other"})
    assert "Describe the condition" in response.get_data(as_text=True)
    assert patient_count(db) == 0


def test_duplicate_chart_number_is_refused_within_the_clinic(therapist_client, db, clinic, make_patient):
    make_patient(clinic, chart_number="RV-77")
    response = submit(therapist_client, "/patients/new", VALID)
    assert "already has this chart number" in response.get_data(as_text=True)
    assert patient_count(db) == 1


def test_same_chart_number_is_allowed_in_another_clinic(therapist_client, db, make_clinic, make_patient):
    make_patient(make_clinic("Other clinic"), chart_number="RV-77")
    response = submit(therapist_client, "/patients/new", VALID)
    assert response.status_code == 302
    assert patient_count(db) == 2


def test_input_is_kept_after_an_error(therapist_client):
    response = submit(therapist_client, "/patients/new", {**VALID, "date_of_birth": "2999-01-01"})
    html = response.get_data(as_text=True)
    assert 'value="Whitfield"' in html and 'value="RV-77"' in html


def test_edit_records_history_with_old_and_new_values(therapist_client, therapist, clinic, make_patient, db):
    patient = make_patient(clinic, phone="555-1111")
    response = submit(therapist_client, f"/patients/{patient.id}/edit",
                      {**VALID, "first_name": "Margaret", "last_name": "Okafor", "chart_number": "",
                       "date_of_birth": "1951-03-14", "affected_knee": "left", "phone": "555-2222",
                       "version": "1"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "555-2222" in html
    assert "555-1111 → 555-2222" in html  # the history on the patient page
    record = db.exec(select(EditRecord)).one()
    assert record.user_id == therapist.id and '"phone": ["555-1111", "555-2222"]' in record.changes


def test_stale_edit_is_refused_and_keeps_what_was_typed(therapist_client, clinic, make_patient, db):
    patient = make_patient(clinic, phone="555-1111")
    form_page = therapist_client.get(f"/patients/{patient.id}/edit").get_data(as_text=True)
    assert 'name="version" value="1"' in form_page
    # Someone else saves in the meantime.
    patient.phone = "555-3333"
    patient.version = 2
    db.add(patient)
    db.commit()
    response = submit(therapist_client, f"/patients/{patient.id}/edit",
                      {**VALID, "first_name": "Margaret", "last_name": "Okafor", "chart_number": "",
                       "phone": "555-9999", "version": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else saved this patient" in html
    assert 'value="555-9999"' in html  # what the therapist typed is still there
    assert "555-3333" in html  # and the value saved meanwhile is shown
    db.expire_all()
    assert db.get(Patient, patient.id).phone == "555-3333"


@pytest.fixture
def caseload(clinic, make_patient):  # type: ignore[no-untyped-def]
    make_patient(clinic, first_name="Ruth", last_name="Abernathy", chart_number="RV-1009")
    make_patient(clinic, first_name="Samuel", last_name="Reyes", chart_number="RV-1004", condition="post_aclr")
    make_patient(clinic, first_name="Priya", last_name="Natarajan", chart_number="RV-1005", condition="pfp")


@pytest.mark.parametrize(("query", "expected"), [
    ("reyes", ["Reyes, Samuel"]), ("RV-1009", ["Abernathy, Ruth"]), ("priya nata", ["Natarajan, Priya"]),
    ("100", ["Abernathy, Ruth", "Natarajan, Priya", "Reyes, Samuel"]), ("%", []), ("zzz", []),
])
def test_search_by_name_or_chart_number(therapist_client, caseload, query, expected):
    html = therapist_client.get("/patients/", query_string={"q": query}).get_data(as_text=True)
    found = [name for name in ("Abernathy, Ruth", "Reyes, Samuel", "Natarajan, Priya") if name in html]
    assert sorted(found) == sorted(expected)


def test_search_ignores_accents_and_case_and_lists_by_last_name(therapist_client, clinic, make_patient, db):
    make_patient(clinic, first_name="José", last_name="Muñoz")
    make_patient(clinic, first_name="Ana", last_name="Munoz")
    make_patient(clinic, first_name="Zoe", last_name="Abbott")
    html = therapist_client.get("/patients/", query_string={"q": "MUNOZ"}).get_data(as_text=True)
    assert html.index("Munoz, Ana") < html.index("Muñoz, José")
    assert "Abbott" not in html
    html = therapist_client.get("/patients/", query_string={"q": "muñoz jos"}).get_data(as_text=True)
    assert "Muñoz, José" in html and "Munoz, Ana" not in html
    make_patient(clinic, first_name="Al", last_name="Van Der Berg")
    make_patient(clinic, first_name="Zed", last_name="Van")
    everyone = therapist_client.get("/patients/").get_data(as_text=True)
    assert everyone.index("Abbott, Zoe") < everyone.index("Munoz, Ana")
    assert everyone.index("Van, Zed") < everyone.index("Van Der Berg, Al")  # by last name, then first name
    # A renamed patient is found by the new name only.
    patient = db.exec(select(Patient).where(Patient.last_name == "Abbott")).one()
    patient.last_name = "Zielinski"
    db.add(patient)
    db.commit()
    assert "Zielinski, Zoe" in therapist_client.get("/patients/?q=zielinski").get_data(as_text=True)
    assert "Zielinski" not in therapist_client.get("/patients/?q=abbott").get_data(as_text=True)


def test_filter_by_condition(therapist_client, caseload):
    html = therapist_client.get("/patients/", query_string={"condition": "pfp"}).get_data(as_text=True)
    assert "Natarajan, Priya" in html and "Reyes, Samuel" not in html


def test_pagination_splits_a_large_caseload(app, therapist_client, clinic, make_patient):
    app.config["PATIENTS_PER_PAGE"] = 2
    for index in range(5):
        make_patient(clinic, last_name=f"Patient{index}")
    first = therapist_client.get("/patients/").get_data(as_text=True)
    third = therapist_client.get("/patients/?page=3").get_data(as_text=True)
    assert "Page 1 of 3" in first and "Patient0" in first and "Patient4" not in first
    assert "Patient4" in third and "Patient0" not in third
    beyond = therapist_client.get("/patients/?page=9").get_data(as_text=True)  # a stale link: the last page
    assert "Page 3 of 3" in beyond and "Patient4" in beyond and "5 patients" in beyond


def test_archive_hides_from_default_list_and_shows_under_archived(therapist_client, clinic, make_patient, db):
    patient = make_patient(clinic, last_name="Kowalski")
    row = "Kowalski, Margaret"  # as the list shows a patient
    submit(therapist_client, f"/patients/{patient.id}/archive", {}, form_page=f"/patients/{patient.id}")
    assert row not in therapist_client.get("/patients/").get_data(as_text=True)
    assert row in therapist_client.get("/patients/?status=archived").get_data(as_text=True)
    submit(therapist_client, f"/patients/{patient.id}/unarchive", {}, form_page=f"/patients/{patient.id}")
    assert row in therapist_client.get("/patients/").get_data(as_text=True)
    db.expire_all()
    assert patient_count(db) == 1  # never deleted


def test_another_clinics_patient_is_not_found(therapist_client, make_clinic, make_patient, db):
    stranger = make_patient(make_clinic("Other clinic"), last_name="Stranger")
    for url in (f"/patients/{stranger.id}", f"/patients/{stranger.id}/edit"):
        response = therapist_client.get(url)
        assert response.status_code == 404
        assert "Stranger" not in response.get_data(as_text=True)
    response = submit(therapist_client, f"/patients/{stranger.id}/archive", {}, form_page="/patients/")
    assert response.status_code == 404
    db.expire_all()
    assert db.get(Patient, stranger.id).archived_at is None
    assert "No patients found" in therapist_client.get("/patients/?q=Stranger").get_data(as_text=True)


def test_oversized_request_gets_a_clean_413_page(therapist_client, db):
    response = submit(therapist_client, "/patients/new", {**VALID, "notes": "x" * (5 * 1024 * 1024)})
    assert response.status_code == 413
    assert "too much to send at once" in response.get_data(as_text=True)
    assert patient_count(db) == 0


def test_the_referring_physician_is_typed_with_the_patient_and_shown_on_their_page(therapist_client, db):
    referral = {"referring_physician": "Dr. Ana Ruiz", "referring_practice": "Northside Orthopaedics",
                "referring_address": "12 Hill Road, Springfield", "referring_fax": "555-0199"}
    form = therapist_client.get("/patients/new", follow_redirects=True).get_data(as_text=True)
    assert "Referring physician&#39;s name" in form and "Practice or hospital" in form and "Practice&#39;s fax" in form
    response = submit(therapist_client, "/patients/new", {**VALID, **referral}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Dr. Ana Ruiz, Northside Orthopaedics" in html and "12 Hill Road, Springfield" in html
    assert "Fax 555-0199" in html
    patient = db.exec(select(Patient)).one()
    assert (patient.referring_physician, patient.referring_fax) == ("Dr. Ana Ruiz", "555-0199")


def test_a_referring_physician_with_angle_brackets_is_refused_beside_the_field(therapist_client, db):
    response = submit(therapist_client, "/patients/new", {**VALID, "referring_physician": "<b>Dr</b>"})
    assert response.status_code == 422 and 'id="referring_physician-error"' in response.get_data(as_text=True)
    assert patient_count(db) == 0


def test_the_fhir_patient_names_the_referring_physician(clinic, make_patient):
    from rehab.services.fhir.common import Context
    from rehab.services.fhir.patients import patient_resource

    patient = make_patient(clinic, referring_physician="Dr. Ana Ruiz", referring_practice="Northside Orthopaedics")
    context = Context(base_url="https://rehab.example/fhir", identifier_system="urn:rehab:chart")
    resource = patient_resource(context, patient).model_dump(mode="json")
    assert resource["generalPractitioner"] == [{"display": "Dr. Ana Ruiz, Northside Orthopaedics"}]
    assert "generalPractitioner" not in patient_resource(context, make_patient(clinic)).model_dump(mode="json")
