"""The emergency instruction on the sheet and the patient's pages, and the clinic phone they rely on."""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader

from rehab.models import HandoutPrint, PortalLink, utcnow
from rehab.services import portal_links
from tests import factories
from tests.conftest import SECRET, count_rows, submit

pytestmark = pytest.mark.db


def flat_pdf_text(data: bytes) -> str:
    return " ".join("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


@pytest.fixture
def patient(clinic, make_patient):  # type: ignore[no-untyped-def]
    return make_patient(clinic, first_name="Dorothy")


@pytest.fixture
def protocol(db, patient, therapist):  # type: ignore[no-untyped-def]
    return factories.protocol(db, patient, days_ago=3, user_id=therapist.id)


def set_clinic(db, clinic, **fields):  # type: ignore[no-untyped-def]
    for name, value in fields.items():
        setattr(clinic, name, value)
    db.add(clinic)
    db.commit()


def sheet_text(client, patient, language="en"):  # type: ignore[no-untyped-def]
    response = submit(client, f"/patients/{patient.id}/sheet", {"paper": "letter", "language": language},
                      follow_redirects=True)
    assert response.mimetype == "application/pdf"
    return flat_pdf_text(response.data)


@pytest.mark.parametrize(("number", "language", "emergency", "chest", "calf", "clinic_heading"), [
    ("911", "en", "Emergency: call 911", "Chest pain, or it is hard to breathe: stop and call 911 now.",
     "Pain or swelling in your calf", "Stop and call the clinic if:"),
    ("112", "en", "Emergency: call 112", "Chest pain, or it is hard to breathe: stop and call 112 now.",
     "Pain or swelling in your calf", "Stop and call the clinic if:"),
    ("112", "es", "Emergencia: llame al 112", "Dolor en el pecho, o le cuesta respirar: pare y llame al 112 ahora.",
     "Dolor o hinchazón en la pantorrilla", "Pare y llame a la clínica si:"),
])
def test_the_sheet_names_emergencies_first_with_the_clinics_number(app_config, therapist_client, db, clinic, patient,
                                                                  protocol, number, language, emergency, chest,
                                                                  calf, clinic_heading):
    """Chest pain or breathlessness (a possible clot in the lung) and a painful or swollen calf (a possible
    clot in the leg) come before everything that can wait for the clinic, with the number to call."""
    set_clinic(db, clinic, emergency_number=number)
    text = sheet_text(therapist_client, patient, language)
    assert text.index(emergency) < text.index(chest) < text.index(calf) < text.index(clinic_heading)
    after = text[text.index(clinic_heading):]
    assert "chest" not in after.lower() and "pecho" not in after.lower()  # no emergency left under "call the clinic"
    if number != "911":
        assert "911" not in text


def test_the_sheet_says_what_each_emergency_may_be(app_config, therapist_client, patient, protocol):
    text = sheet_text(therapist_client, patient)
    assert "This can be a blood clot in the lung." in text
    assert "This can be a blood clot in the leg. Call the clinic or your doctor. If you cannot reach them, call 911." \
        in text


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Chest pain, or hard to breathe? Call 112 now."),
    ("es", "¿Dolor en el pecho, o le cuesta respirar? Llame al 112 ahora."),
])
def test_the_patient_page_uses_the_clinics_emergency_number(app, db, clinic, patient, protocol, language, expected):
    set_clinic(db, clinic, emergency_number="112")
    patient.language = language
    db.add(patient)
    db.commit()
    _, token = portal_links.issue_link(db, patient=patient, user_id=None, now=utcnow(), secret=SECRET)
    db.commit()
    phone = app.test_client()
    phone.get(f"/p/{token}")
    page = phone.get("/p/home").get_data(as_text=True)
    assert expected in page and 'href="tel:112"' in page
    assert "911" not in page
    # After a red flag the stop box does the same.
    form = {"session_date": utcnow().date().isoformat(), "minutes": "5", "pain_worst": "2", "soreness": "none",
            "stumbled": "no", "fell": "no", "flag_chest": "1"}
    entry = submit(phone, "/p/log", form, follow_redirects=True).get_data(as_text=True)
    assert expected in entry and "911" not in entry


@pytest.mark.parametrize(("user", "where"), [("therapist_client", "Ask an admin of your clinic"),
                                             ("admin_client", "Set it under Clinic settings")])
def test_no_sheet_and_no_link_without_the_clinic_phone(request, app_config, db, clinic, patient, protocol, user,
                                                       where):
    """"Stop and call the clinic" is no instruction without a number: printing and sharing wait for one, and
    the message says where to set it."""
    set_clinic(db, clinic, phone="")
    client = request.getfixturevalue(user)
    response = client.get(f"/patients/{patient.id}/sheet", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html" and "Add the clinic&#39;s phone number first" in page and where in page
    shared = submit(client, f"/patients/{patient.id}/portal/share", {}, form_page=f"/patients/{patient.id}",
                    follow_redirects=True).get_data(as_text=True)
    assert "Add the clinic&#39;s phone number first" in shared
    batch = submit(client, "/dashboard/sheets", {"patient_id": str(patient.id)}, form_page="/dashboard",
                   follow_redirects=True)
    assert batch.mimetype == "text/html"
    assert count_rows(db, HandoutPrint) == 0 and count_rows(db, PortalLink) == 0
    set_clinic(db, clinic, phone="(555) 010-2030")
    assert "(555) 010-2030" in sheet_text(client, patient)


def test_clinic_settings_require_a_phone_and_a_real_emergency_number(admin_client, db, clinic):
    form = {"name": "Riverside PT", "address": "", "phone": "", "emergency_number": "call me", "paper_size": "letter",
            "speed_unit": "kmh", "timezone": "UTC", "version": "1"}
    response = submit(admin_client, "/admin/clinic", form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter the clinic&#39;s phone number: sheets and the patient&#39;s page tell patients to call it." in page
    assert "Enter the emergency number patients call, in digits, for example 911, 112 or 999." in page
    db.refresh(clinic)
    assert (clinic.phone, clinic.emergency_number) == ("555-0100", "911")  # nothing saved
    response = submit(admin_client, "/admin/clinic", {**form, "phone": "(555) 010-2030", "emergency_number": "112"})
    assert response.status_code == 302
    db.refresh(clinic)
    assert (clinic.phone, clinic.emergency_number) == ("(555) 010-2030", "112")


def test_a_sheet_printed_before_the_corrections_is_not_handed_out_again(app_config, therapist_client, db, patient,
                                                                       protocol):
    """Sheets of the first layout told a backward walker to face the console and put chest pain under "call the
    clinic": the record keeps them, a reprint refuses and asks for a new sheet."""
    earlier = HandoutPrint(patient_id=patient.id, clinic_id=patient.clinic_id, protocol_id=protocol.id,
                           protocol_version=1, phase_index=0, options="{}", snapshot=json.dumps({"layout": "1"}),
                           digest="0" * 64)
    db.add(earlier)
    db.commit()
    response = submit(therapist_client, f"/patients/{patient.id}/sheets/{earlier.id}", {},
                      form_page=f"/patients/{patient.id}/sheet", follow_redirects=True)
    assert "printed before its treadmill instructions and emergency box were corrected" in \
        response.get_data(as_text=True)
    assert count_rows(db, HandoutPrint) == 1
