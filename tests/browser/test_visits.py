"""Recording visits on a tablet-sized screen and reading the advice, in a real browser."""

from __future__ import annotations

from tests import factories
from tests.browser.conftest import sign_in_page
from tests.conftest import PASSWORD


def record_visit(page, base: str, patient_id: int, *, worst: int) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/patients/{patient_id}")
    page.get_by_role("link", name="Record visit").click()
    page.locator("fieldset#pain_before").get_by_text("1", exact=True).click()
    page.locator("fieldset#pain_worst").get_by_text(str(worst), exact=True).click()
    page.locator("fieldset#pain_after").get_by_text("1", exact=True).click()
    page.get_by_role("button", name="Save visit").click()
    assert "Visit saved" in page.locator(".flash").inner_text()


def test_three_visits_pain_2_2_7_advance_then_regress(page, live_server, therapist, clinic, make_patient, db):
    patient = make_patient(clinic, first_name="Margaret", last_name="Okafor")
    factories.protocol(db, patient, days_ago=14, user_id=therapist.id)
    page.set_viewport_size({"width": 1024, "height": 768})  # a tablet in landscape
    sign_in_page(page, live_server, therapist, PASSWORD)

    record_visit(page, live_server, patient.id, worst=2)
    advice = page.locator("#advice")
    assert "Repeat" in advice.inner_text() and "1 of 2 sessions within the pain rules" in advice.inner_text()

    record_visit(page, live_server, patient.id, worst=2)
    assert "Advance" in advice.inner_text() and "minutes 5 → 7" in advice.inner_text()
    assert "One variable at a time" in advice.inner_text()

    record_visit(page, live_server, patient.id, worst=7)
    text = advice.inner_text()
    assert "Regress" in text and "minutes 5 → 3" in text
    assert "Pain during 7/10 is above the ceiling of 5/10" in text

    page.get_by_label("Or override, because").fill("Flare-up after gardening, not the walking")
    page.get_by_role("button", name="Override").click()
    assert "Advice overridden." in page.locator(".flash").inner_text()
    # The chart's data is on the visits page: a table of all three visits, with their phase.
    page.get_by_role("link", name="Chart data as a table").click()
    assert page.get_by_role("heading", name="Visits and home sessions").is_visible()
    rows = page.locator("section[aria-labelledby=visits] tbody tr")
    assert rows.count() == 3 and "1 / 7 / 1" in rows.first.inner_text()  # newest first


def test_back_then_save_shows_the_saved_visit_instead_of_saving_it_again(page, live_server, therapist, clinic,
                                                                         make_patient, db):
    from sqlmodel import func, select

    from rehab.models import Visit

    patient = make_patient(clinic)
    factories.protocol(db, patient, days_ago=14, user_id=therapist.id)
    sign_in_page(page, live_server, therapist, PASSWORD)
    record_visit(page, live_server, patient.id, worst=2)

    page.go_back()  # to the visit form just saved, as a hurried therapist would, to save it "again"
    save = page.get_by_role("button", name="Save visit")
    if save.count():  # a browser that shows the page from its memory still has the form: Save it again
        save.click()
    # Either way the form is recognised: its one-time id is in the page's address and was used.
    assert page.get_by_role("heading", name="Already saved").is_visible()
    page.get_by_role("link", name="See the saved visit and its advice").click()
    page.wait_for_url(f"{live_server}/patients/{patient.id}#advice")
    assert db.exec(select(func.count()).select_from(Visit)).one() == 1
    db.rollback()
