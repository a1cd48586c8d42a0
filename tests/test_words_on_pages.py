"""Every stored code reaches a reader in words, and every date in one format per language: the pages of a
patient with every kind of record (edits of the patient, a corrected visit, a corrected home session, a red
flag, a phase move), the patient's own portal pages, the home sheet and the physician report.

The check reads what a person sees: the text outside tags (attributes such as ``datetime="..."`` and form
values stay machine-readable on purpose)."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlmodel import select

from rehab.dates import day_text
from rehab.models import HomeLog, Visit, utcnow
from rehab.services import home_logs as home_log_service
from rehab.services import patients as patient_service
from rehab.services import visits as visit_service
from rehab.services.home_logs import HomeLogInput
from rehab.services.patients import PatientInput
from rehab.services.visits import VisitInput
from rehab.vocabulary import VOCABULARIES
from tests import factories
from tests.conftest import submit
from tests.pages import visible_text

pytestmark = pytest.mark.db

# A stored code in snake case (warmup_gone, pain_worst, post_tka, flag_calf), or one of the list codes turned
# into "words" by replacing the underscore (warmup gone, both rails).
SNAKE = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")
# (Codes that are plain English once spaced, such as "both rails" or "red flag", read fine in a sentence.)
PLAIN_ENGLISH = {"both rails", "one rail", "light touch", "home alone", "red flag", "clinic only",
                 "cognitive impairment", "peripheral neuropathy", "vestibular disorder"}
SPACED_CODES = sorted({value.replace("_", " ") for enum in VOCABULARIES for value in enum if "_" in value}
                      - PLAIN_ENGLISH)
ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_NOW = datetime.now(UTC).replace(second=0, microsecond=0)
TODAY_AT = max(_NOW.replace(hour=0, minute=0), _NOW - timedelta(minutes=1))  # today, and not in the future


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def codes_in(text: str) -> list[str]:
    found = SNAKE.findall(text) + [code for code in SPACED_CODES if re.search(rf"\b{code}\b", text)]
    return found + ISO_DAY.findall(text)


@pytest.fixture
def patient(clinic, make_patient, db):  # type: ignore[no-untyped-def]
    return make_patient(clinic, first_name="Dorothy", last_name="Whitfield", condition="post_tka",
                        surgery_date=date.today() - timedelta(days=300), chart_number="RW-1001",
                        uses_walker=False)


@pytest.fixture
def seeded(db, patient, therapist):  # type: ignore[no-untyped-def]
    """The patient with a record of every kind, each edited once, so each history has an entry."""
    protocol = factories.protocol(db, patient, days_ago=10, user_id=therapist.id, home=True)
    visit = factories.visit(db, patient, protocol, at=TODAY_AT, soreness="warmup_gone", effusion="trace")
    factories.visit(db, patient, protocol, at=TODAY_AT - timedelta(days=2), flag_calf=True, falls=1)
    log = factories.home_log(db, patient, protocol, day=date.today() - timedelta(days=1), soreness="late")
    # The three histories: the patient's details, a corrected visit, a corrected home session.
    patient_fields = PatientInput.model_validate({**patient.model_dump(), "condition": "post_aclr",
                                                  "affected_knee": "both", "uses_walker": True,
                                                  "surgery_date": date.today() - timedelta(days=200)})
    patient_service.update_patient(db, patient=patient, form=patient_fields, seen_version=patient.version,
                                   user_id=therapist.id, now=utcnow(), therapist_id=therapist.id)
    visit_fields = VisitInput.model_validate({**visit.model_dump(), "soreness": "late", "support": "one_rail",
                                              "effusion": "1+", "flag_chest": True})
    visit_service.update_visit(db, visit=visit, form=visit_fields, seen_version=visit.version,
                               user_id=therapist.id, now=utcnow())
    log_fields = HomeLogInput.model_validate({**log.model_dump(), "soreness": "warmup_stayed", "fell": True})
    home_log_service.correct_home_log(db, log=log, form=log_fields, seen_version=log.version, now=utcnow())
    db.commit()
    return protocol


def test_no_code_or_numeric_date_on_the_therapists_pages(therapist_client, patient, seeded, db):
    visit = db.exec(select(Visit).where(Visit.soreness == "late")).one()
    pages = {
        "patient page": f"/patients/{patient.id}",
        "visits page": f"/patients/{patient.id}/visits",
        "corrected visit": f"/patients/{patient.id}/visits/{visit.id}/edit",
        "protocol": f"/patients/{patient.id}/protocols/{seeded.id}",
        "protocol history": f"/patients/{patient.id}/protocols/{seeded.id}/history",
        "patient list": "/patients/",
        "dashboard": "/dashboard",
        "red flags": f"/patients/{patient.id}/red-flags",
    }
    found = {}
    for name, url in pages.items():
        response = therapist_client.get(url, follow_redirects=True)
        assert response.status_code == 200, (name, response.status_code)
        text = visible_text(response.get_data(as_text=True))
        if codes := codes_in(text):
            found[name] = codes
    assert found == {}
    page = visible_text(therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True))
    # The change history in words: the field's name on the form, each value by its label.
    assert "Condition: After total knee arthroplasty → After ACL reconstruction" in page
    assert "Uses a rollator or walker: No → Yes" in page
    assert "Therapist: Unassigned → Pat Therapist" in page  # kept by name, never as an account id
    visit_page = visible_text(therapist_client.get(pages["corrected visit"]).get_data(as_text=True))
    assert "Soreness: Sore during warm-up, went away → Sore more than an hour after, or the next day" in visit_page
    assert "Support: Both rails → One rail" in visit_page and "Chest pain or breathlessness: No → Yes" in visit_page
    assert "Soreness: Sore more than an hour after, or the next day → Sore during warm-up, stayed" in page


def test_no_code_or_numeric_date_on_the_patients_own_pages_in_either_language(patient_client, seeded, db):
    log = db.exec(select(HomeLog)).one()
    for language in ("en", "es"):
        submit(patient_client, "/p/language", {"language": language}, form_page="/p/home")
        for url in ("/p/home", "/p/progress", "/p/log", f"/p/log/{log.id}"):
            response = patient_client.get(url)
            if response.status_code == 200 or url != "/p/home":  # home shows "stop" after the red flag
                text = visible_text(response.get_data(as_text=True))
                assert codes_in(text) == [], (language, url)
        entry = visible_text(patient_client.get(f"/p/log/{log.id}").get_data(as_text=True))
        assert day_text(log.session_date, language) in entry


def test_the_same_day_reads_the_same_on_the_page_the_sheet_and_the_report(app_config, therapist_client, patient,
                                                                        seeded, db):
    """Today's visit, today's sheet and today's report: one date, one wording."""
    today = day_text(TODAY_AT, "en")
    page = visible_text(therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True))
    assert f"{today}, {TODAY_AT:%H:%M}" in page
    form = therapist_client.get(f"/patients/{patient.id}/red-flags").get_data(as_text=True)
    signature = re.search(r'name="signature" value="([^"]*)"', form).group(1)  # type: ignore[union-attr]
    cleared = submit(therapist_client, f"/patients/{patient.id}/red-flags", {
        "signature": signature, "action": "cleared", "note": "Seen today: calf soft, chest clear, walking again."})
    assert cleared.status_code == 302  # the sheet prints only once the red flags are cleared
    sheet = submit(therapist_client, f"/patients/{patient.id}/sheet",
                   {"paper": "letter", "language": "en", "include_next": "1"}, follow_redirects=True)
    assert sheet.mimetype == "application/pdf", visible_text(sheet.get_data(as_text=True))[:1500]
    sheet_text = pdf_text(sheet.data)
    assert f"Date: {today}" in sheet_text and codes_in(sheet_text) == []
    report = submit(therapist_client, f"/patients/{patient.id}/report",
                    {"paper": "letter", "language": "en", "assessment": "Walking better.", "plan": "Go on."},
                    follow_redirects=True)
    report_text = pdf_text(report.data)
    # The letter is dated today, and today's visit is in its clinic sessions, both in the same words.
    assert report_text.count(today) >= 2 and codes_in(report_text) == []
    spanish = submit(therapist_client, f"/patients/{patient.id}/sheet",
                     {"paper": "letter", "language": "es", "include_next": "1"}, follow_redirects=True)
    assert f"Fecha: {day_text(TODAY_AT, 'es')}" in pdf_text(spanish.data)
