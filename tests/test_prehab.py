"""A patient added before their knee surgery (prehabilitation): the planned date is accepted and shown as
planned wherever the surgery date shows, and nothing counts weeks after a surgery that has not happened."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from rehab.dates import day_text
from rehab.models import Patient
from rehab.services.surgery import surgery_text
from tests import factories
from tests.conftest import submit
from tests.test_patients import VALID

pytestmark = pytest.mark.db


def test_surgery_text_says_planned_before_and_the_week_after():
    today = date(2026, 12, 1)
    assert surgery_text(date(2027, 1, 12), today) == "12 Jan 2027, planned (in 6 weeks)"
    assert surgery_text(date(2026, 12, 6), today) == "6 Dec 2026, planned (in 5 days)"
    assert surgery_text(date(2026, 12, 2), today) == "2 Dec 2026, planned (tomorrow)"
    assert surgery_text(today, today) == "1 Dec 2026 (week 0 after surgery)"
    assert surgery_text(date(2026, 10, 1), today) == "1 Oct 2026 (week 8 after surgery)"


def test_a_prehab_patient_is_added_with_a_planned_surgery_and_shown_as_planned(therapist_client, db):
    planned = date.today() + timedelta(days=40)
    response = submit(therapist_client, "/patients/new",
                      {**VALID, "condition": "post_tka", "surgery_date": planned.isoformat()})
    assert response.status_code == 302, response.get_data(as_text=True)
    patient = db.exec(select(Patient)).one()
    assert patient.surgery_date == planned
    page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert f"{day_text(planned)}, planned (in 6 weeks)" in page


def test_the_builder_says_prehabilitation_and_no_week_after_surgery(therapist_client, db, clinic):
    planned = date.today() + timedelta(days=20)
    patient = factories.patient(db, clinic, condition="post_tka", surgery_date=planned)
    page = therapist_client.get(f"/patients/{patient.id}/protocols/new/build?source=builtin:post_tka",
                                follow_redirects=True).get_data(as_text=True)
    assert "this is prehabilitation" in page and "week -" not in page.lower()
    assert "less than 6 months ago" not in page  # a planned surgery is not a recent one


def test_the_physician_report_labels_the_surgery_planned(app_config, therapist_client, db, clinic, therapist):
    from tests.test_handouts import pdf_text, print_report

    planned = date.today() + timedelta(days=30)
    patient = factories.patient(db, clinic, surgery_date=planned)
    factories.protocol(db, patient, user_id=therapist.id)
    flat = " ".join(pdf_text(print_report(therapist_client, patient).data)[0].split())
    assert "planned surgery" in flat
    patient.surgery_date = date.today() - timedelta(days=30)
    db.add(patient)
    db.commit()
    flat = " ".join(pdf_text(print_report(therapist_client, patient).data)[0].split())
    assert "surgery" in flat and "planned surgery" not in flat
