"""Discharge in a real browser: the therapist ends the protocol with a discharge reason; on the phone whose link
was opened before, the patient finds a thank-you and the questionnaires only, answers the pain rating by its
label, and the therapist's progress section charts the scores. The discharged page passes axe-core at 390 px."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from rehab.models import Protocol, utcnow
from rehab.services import questionnaire_records
from tests import factories
from tests.browser.conftest import PHONE, serious_violations, sign_in_page
from tests.browser.test_questionnaires import shoot
from tests.conftest import PASSWORD
from tests.services.test_questionnaires import BMJ_CASE


def test_discharged_patient_answers_on_the_phone_and_the_scores_are_charted(page, browser, live_server, db, clinic,
                                                                           therapist, patient, axe_script):
    context = browser.new_context(**PHONE, bypass_csp=True)  # axe is injected
    phone = context.new_page()
    phone.set_default_timeout(10_000)
    try:
        _discharge_and_answer(page, phone, live_server, db, clinic, therapist, patient)
    finally:
        context.close()


def _discharge_and_answer(page, phone, live_server, db, clinic, therapist, patient):  # type: ignore[no-untyped-def]
    protocol = db.exec(select(Protocol).where(Protocol.patient_id == patient.id)).one()
    start = utcnow() - timedelta(days=14)
    first, _ = questionnaire_records.send(db, patient_id=patient.id, clinic_id=clinic.id, protocol_id=protocol.id,
                                          instrument="lefs", now=start, user_id=None)
    questionnaire_records.save_answers(db, response=first, new=dict(enumerate(BMJ_CASE["pre"], start=1)),
                                       language="en", now=start)
    pain, _ = questionnaire_records.send(db, patient_id=patient.id, clinic_id=clinic.id, protocol_id=protocol.id,
                                         instrument="nprs", now=start, user_id=None)
    questionnaire_records.save_answers(db, response=pain, new={1: 7}, language="en", now=start)
    db.commit()
    token = factories.portal_link(db, patient)
    phone.goto(f"{live_server}/p/{token}")
    assert phone.get_by_role("link", name="My exercises").is_visible()

    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}/protocols/{protocol.id}")
    page.get_by_label("Discharge").select_option(label="Discharged: goals met")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="End protocol").click()
    assert "Discharge questionnaires (LEFS and the pain rating) sent" in page.locator("main").inner_text()

    phone.goto(f"{live_server}/p/home")
    main = phone.locator("main").inner_text()
    assert "Thank you, Margaret" in main and "Your treatment has ended" in main
    assert phone.get_by_role("navigation").count() == 0  # no exercises, progress or session log to go to
    assert serious_violations(phone) == []
    shoot(phone, "portal-discharged")
    phone.get_by_role("link", name="Start pain rating").click()
    phone.get_by_role("group", name="1. How bad has your knee pain been in the last 24 hours, on average?") \
        .get_by_text("3", exact=True).click()
    shoot(phone, "portal-discharged-pain-rating")
    phone.get_by_role("button", name="Save and finish").click()
    assert "Thank you" in phone.locator("h1").inner_text()
    assert phone.get_by_role("link", name="My exercises").count() == 0
    phone.get_by_role("link", name="My questionnaires").click()
    assert "Start LEFS" in phone.locator("main").inner_text()
    assert "Start pain rating" not in phone.locator("main").inner_text()

    page.goto(f"{live_server}/patients/{patient.id}")
    chart = page.get_by_role("img", name="Pain rating (0-10) over time: 7 → 3 (-4): improved; important change "
                                          "2 points or 30 %", exact=False)
    chart.scroll_into_view_if_needed()
    assert chart.evaluate("image => image.complete && image.naturalWidth > 0")
    page.locator("#scores-title").scroll_into_view_if_needed()
    shoot(page, "patient-page-scores")
