"""The progress report's page in a real browser: from the patient page, the letter's addressee shown, the
assessment and plan typed with their counters (a pasted text over the limit stays whole and holds Print back),
then the PDF. With REHAB_SHOTS set, the page is saved at 1280, 820 and 390 px."""

from __future__ import annotations

from sqlmodel import func, select

from rehab.models import ReportPrint
from tests import factories
from tests.browser.conftest import serious_violations, sign_in_page
from tests.browser.test_screening import shoot
from tests.conftest import PASSWORD


def count_reports(db) -> int:  # type: ignore[no-untyped-def]
    db.rollback()  # a fresh read of what the app committed
    return int(db.exec(select(func.count()).select_from(ReportPrint)).one())


def test_the_report_page_counts_the_typed_text_and_prints_the_letter(browser, live_server, therapist, clinic,
                                                                     make_patient, db, axe_script):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # axe is injected
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    patient = make_patient(clinic, first_name="Rosa", last_name="Delgado", referring_physician="Dr. Ana Ruiz",
                           referring_practice="Northside Orthopaedics", referring_fax="555-0199")
    protocol = factories.protocol(db, patient, days_ago=14, user_id=therapist.id)
    factories.visit(db, patient, protocol, note="Steady on the treadmill; no swelling.")
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    page.get_by_role("link", name="Progress report").click()
    assert page.get_by_role("heading", name="Progress report for the referring physician").is_visible()
    assert "Dr. Ana Ruiz, Northside Orthopaedics" in page.locator(".addressee").inner_text()
    assert serious_violations(page) == []

    assessment = page.get_by_label("Assessment")
    assessment.focus()
    page.keyboard.insert_text("Pain settled from 6 to 3. " * 140)  # 3,640 characters, pasted at once
    counter = page.locator("#assessment-count").inner_text()
    assert "3,640 of 3,000 characters." in counter and "640 characters too many" in counter
    page.get_by_label("Plan").fill("Continue phase 1 for two weeks, then review.")
    shoot(page, "report-options-over-limit")
    address = page.url
    page.get_by_role("button", name="Print progress report").click()
    assert page.url == address and page.evaluate("document.activeElement.id") == "assessment"  # held back
    assert count_reports(db) == 0

    assessment.fill("Pain settled from 6 to 3 at worst; walks 12 minutes backward without rails.")
    shoot(page, "report-options")
    with page.expect_response(lambda response: response.url.endswith(".pdf")) as answer:
        page.get_by_role("button", name="Print progress report").click()
    assert answer.value.status == 200 and answer.value.headers["content-type"] == "application/pdf"
    assert count_reports(db) == 1
    page.goto(f"{live_server}/patients/{patient.id}/report")
    assert page.get_by_role("button", name="Print again as printed").count() == 1
    shoot(page, "report-options-printed-before")
    assert errors == []  # every script of the pages ran (a stray data-limit once stopped every counter)
    context.close()
