"""Every PDF off the page workers: the patient's own sheet (their phone) and the physician's progress report wait
for a render worker on a waiting page, through the same queue and cache as the therapist's sheet
(tests/test_print_jobs.py), with real `flask render-worker` processes.

With no worker each page says so plainly instead of hanging; once one runs, the PDF is the one printed, and the
print is recorded once (by the page, never by the worker).
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from rehab.models import HandoutPrint, ReportPrint
from tests import factories
from tests.conftest import count_rows, csrf_from, submit
from tests.test_print_jobs import queued, sheet_text, start_worker, wait_for  # noqa: F401 (fixtures)
from tests.test_report import ASSESSMENT, PLAN

pytestmark = pytest.mark.db


@pytest.fixture
def protocol(db, patient, therapist):  # type: ignore[no-untyped-def]
    return factories.protocol(db, patient, days_ago=3, user_id=therapist.id, home=True)


@pytest.fixture
def patient(clinic, make_patient, db):  # type: ignore[no-untyped-def]
    clinic.address, clinic.phone = "210 River Road", "(555) 010-2030"
    db.add(clinic)
    db.commit()
    return make_patient(clinic, first_name="Dorothy", last_name="Whitfield")


def download_my_sheet(phone) -> str:  # type: ignore[no-untyped-def]
    """The patient taps "Download my home sheet": the print is recorded and the phone sent to its PDF."""
    response = phone.post("/p/sheet", data={"csrf_token": csrf_from(phone.get("/p/home").get_data(as_text=True))})
    assert response.status_code == 303
    return response.headers["Location"]


def test_the_patients_sheet_waits_saying_printing_is_not_running_then_opens_once_a_worker_runs(
        queued, patient_client, patient, protocol, db, start_worker):  # noqa: F811
    pdf_url = download_my_sheet(patient_client)
    first = patient_client.get(pdf_url)
    assert first.status_code == 303 and first.headers["Location"].endswith("/waiting")
    waiting_url = first.headers["Location"]
    page = patient_client.get(waiting_url).get_data(as_text=True)
    assert "Your sheet is being prepared…" in page and 'http-equiv="refresh"' in page
    assert "Sheets cannot be made right now" in page and "data-print-stopped hidden" not in page
    assert 'href="tel:(555)010-2030"' in page  # a paper copy is a call away
    assert "data-print-ready hidden" in page  # "Your sheet is ready" waits for the sheet
    state_url = waiting_url.replace("/waiting", "/state")
    assert patient_client.get(state_url).get_json() == {"state": "waiting", "worker_running": False,
                                                        "pdf_url": pdf_url}
    start_worker()  # the sheet was kept in the queue: it is made as soon as printing runs
    wait_for(lambda: patient_client.get(state_url).get_json()["state"] == "ready",
             "the patient's sheet to be made once a worker runs")
    # The page stays while the phone saves the sheet: it now says it is ready, with a button to open it.
    page = patient_client.get(waiting_url).get_data(as_text=True)
    assert "data-print-waiting hidden" in page and "data-print-ready hidden" not in page
    assert "Your sheet is ready" in page and f'href="{pdf_url}" data-print-open' in page
    sheet = patient_client.get(pdf_url)
    assert sheet.mimetype == "application/pdf" and "attachment" in sheet.headers["Content-Disposition"]
    text = " ".join(sheet_text(sheet.data).split())
    assert "Dorothy Whitfield" in text and "Your exercises online" in text  # the patient's link is on it
    record = db.exec(select(HandoutPrint)).one()  # recorded once, by the page
    assert (record.source, record.printed_by_id) == ("portal", None)
    # The same sheet asked for again is the one made: from the cache, no second print, no second render.
    assert download_my_sheet(patient_client) == pdf_url and patient_client.get(pdf_url).data == sheet.data
    assert count_rows(db, HandoutPrint) == 1


def test_another_patients_sheet_is_not_found_on_its_waiting_page(queued, patient_client, app, clinic,  # noqa: F811
                                                                  make_patient, therapist, db):
    stranger = make_patient(clinic, first_name="Walter", last_name="Osei")
    factories.protocol(db, stranger, user_id=therapist.id, home=True)
    phone = app.test_client()
    phone.get(f"/p/{factories.portal_link(db, stranger)}")
    download_my_sheet(phone)
    print_id = db.exec(select(HandoutPrint.id).where(HandoutPrint.patient_id == stranger.id)).one()
    for url in (f"/p/sheet/{print_id}/waiting", f"/p/sheet/{print_id}/state", f"/p/sheet/{print_id}.pdf"):
        assert patient_client.get(url).status_code == 404


def test_the_report_waits_saying_printing_is_not_running_then_opens_once_a_worker_runs(
        queued, therapist_client, patient, protocol, db, start_worker):  # noqa: F811
    response = submit(therapist_client, f"/patients/{patient.id}/report",
                      {"assessment": ASSESSMENT, "plan": PLAN, "paper": "letter", "language": "en"})
    pdf_url = response.headers["Location"]
    first = therapist_client.get(pdf_url)
    assert first.status_code == 303 and first.headers["Location"].endswith("/waiting")
    waiting_url = first.headers["Location"]
    page = therapist_client.get(waiting_url).get_data(as_text=True)
    assert "Making Dorothy Whitfield's progress report" in page
    assert "Printing is not running on this server: ask your IT person to start the render worker" in page
    state = therapist_client.get(waiting_url.replace("/waiting", "/state")).get_json()
    assert state == {"state": "waiting", "worker_running": False, "pdf_url": pdf_url}
    start_worker()
    wait_for(lambda: therapist_client.get(waiting_url).status_code == 303, "the report to be made once a worker runs")
    report = therapist_client.get(pdf_url)
    assert report.mimetype == "application/pdf"
    assert ASSESSMENT in " ".join(sheet_text(report.data).split())
    assert count_rows(db, ReportPrint) == 1  # the page recorded the print; the worker only rendered it
