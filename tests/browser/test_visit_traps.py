"""The traps of a therapist's day, in a real browser: Back then Save on a form, a pasted note over its limit,
long notes on the patient page. With REHAB_SHOTS set, each page is saved at 1280, 820 and 390 px."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import func, select

from rehab.dates import day_text
from rehab.models import AdviceDecision, Visit, utcnow
from tests import factories
from tests.browser.conftest import sign_in_page
from tests.browser.test_screening import shoot
from tests.browser.test_visits import record_visit
from tests.conftest import PASSWORD


def count(db, model) -> int:  # type: ignore[no-untyped-def]
    db.rollback()  # a fresh read of what the app committed
    return int(db.exec(select(func.count()).select_from(model)).one())


def test_back_then_save_on_a_form_of_the_patient_page_shows_it_saved(page, live_server, therapist, clinic,
                                                                    make_patient, db):
    """The patient page is fetched again on Back (no-store): after an override it shows the override, with no
    form to send again (a page kept in the browser's memory would send its form's id, "Already saved"). The
    visit form, saved again after Back, is "Already saved", not a second visit."""
    patient = make_patient(clinic)
    factories.protocol(db, patient, days_ago=14, user_id=therapist.id)
    sign_in_page(page, live_server, therapist, PASSWORD)
    record_visit(page, live_server, patient.id, worst=7)
    page.get_by_label("Or override, because").fill("Flare-up after gardening, not the walking")
    page.get_by_role("button", name="Override").click()
    assert "Advice overridden." in page.locator(".flash").inner_text()

    page.go_back()  # to the patient page the override was sent from
    card = page.locator("#advice")
    override = card.get_by_role("button", name="Override", exact=True)  # not "Undo my override"
    if override.count():  # a browser that shows the page from its memory still has the form
        override.click()
        assert page.get_by_role("heading", name="Already saved").is_visible()
        page.go_back()
    else:
        assert "Advice overridden" in card.inner_text()
    assert count(db, AdviceDecision) == 1

    for _ in range(3):  # and back to the visit form, to save the visit again
        if "/visits/new" in page.url:
            break
        page.go_back()
    save = page.get_by_role("button", name="Save visit")
    if save.count():  # a browser that shows the page from its memory still has the form
        save.click()
    assert page.get_by_role("heading", name="Already saved").is_visible()
    assert count(db, Visit) == 1


def test_a_pasted_note_over_the_limit_stays_whole_with_a_count_and_is_not_saved(page, live_server, therapist,
                                                                                clinic, make_patient, db):
    patient = make_patient(clinic)
    factories.protocol(db, patient, days_ago=14, user_id=therapist.id)
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    page.get_by_role("link", name="Record visit").click()
    for scale, value in (("pain_before", "1"), ("pain_worst", "2"), ("pain_after", "1")):
        page.locator(f"fieldset#{scale}").get_by_text(value, exact=True).click()
    note = page.get_by_label("Note")
    assert "Up to 2,000 characters." in page.locator("#note-count").inner_text()
    pasted = ("Walked the ramp backward with light touch on the rail, then the corridor. " * 50)[:3500]
    note.focus()
    page.keyboard.insert_text(pasted)  # as a paste arrives: all at once
    assert len(note.input_value()) == 3500  # nothing cut
    counter = page.locator("#note-count").inner_text()
    assert "3,500 of 2,000 characters." in counter and "1,500 characters too many" in counter
    shoot(page, "visit-note-over-limit")
    address = page.url
    page.get_by_role("button", name="Save visit").click()
    assert page.url == address and page.evaluate("document.activeElement.id") == "note"  # held back, at the note
    assert count(db, Visit) == 0

    note.press("End")
    for _ in range(3):  # shortened to fit: the count follows and the warning goes
        note.fill(note.input_value()[:2000])
    assert "2,000 of 2,000 characters." in page.locator("#note-count").inner_text()
    assert page.locator("#note-count [data-over]").inner_text() == ""
    page.get_by_role("button", name="Save visit").click()
    assert "Visit saved" in page.locator(".flash").inner_text()
    assert count(db, Visit) == 1


def test_long_notes_open_by_their_date_on_the_patient_page(page, live_server, therapist, clinic, make_patient, db):
    patient = make_patient(clinic, first_name="Rosa", last_name="Delgado")
    protocol = factories.protocol(db, patient, days_ago=14, user_id=therapist.id)
    now = utcnow()
    factories.visit(db, patient, protocol, at=now - timedelta(days=4), note="Steady on the treadmill; no swelling.")
    factories.visit(db, patient, protocol, at=now - timedelta(days=2), pain_worst=4,
                    note="Knee ached on the stairs at home. " * 20 + "Plan: keep 5 minutes, check on Friday.")
    factories.visit(db, patient, protocol, at=now - timedelta(hours=3), note="")
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}#visits")
    table = page.locator("#progress table").last
    assert "Steady on the treadmill; no swelling." in table.inner_text()
    assert "Plan: keep 5 minutes" not in table.inner_text()  # a long note shows its opening only
    shoot(page, "patient-page-notes")
    page.get_by_text("Whole note of the visit on").first.click()
    assert page.get_by_text("Plan: keep 5 minutes, check on Friday.").is_visible()
    page.goto(f"{live_server}/patients/{patient.id}/visits")
    page.get_by_text("Whole note of the visit on").first.click()
    assert page.get_by_text("Plan: keep 5 minutes, check on Friday.").is_visible()
    shoot(page, "visits-page-note-open")


def test_a_prehab_patient_is_added_with_a_planned_surgery_shown_as_planned(page, live_server, therapist, db):
    from datetime import date

    from rehab.models import Patient

    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/new")
    page.get_by_label("First name").fill("Ingrid")
    page.get_by_label("Last name").fill("Halvorsen")
    page.get_by_label("Date of birth").fill("1956-03-14")
    page.get_by_label("Right").check()
    page.get_by_label("Condition", exact=True).select_option("post_tka")
    planned = date.today() + timedelta(days=40)
    page.get_by_label("Surgery date").fill(planned.isoformat())
    shoot(page, "patient-form-planned-surgery")
    page.get_by_role("button", name="Add patient").click()
    assert "Ingrid Halvorsen was added." in page.locator(".flash").inner_text()
    assert f"{day_text(planned)}, planned (in 6 weeks)" in page.locator("main").inner_text()
    shoot(page, "patient-page-planned-surgery")
    assert count(db, Patient) == 1


def test_a_visit_before_the_protocol_started_is_refused_beside_the_date(page, live_server, therapist, clinic,
                                                                       make_patient, db):
    patient = make_patient(clinic)
    protocol = factories.protocol(db, patient, days_ago=3, user_id=therapist.id)
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    page.get_by_role("link", name="Record visit").click()
    page.get_by_label("Date and time").fill((protocol.created_at - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    for scale, value in (("pain_before", "1"), ("pain_worst", "2"), ("pain_after", "1")):
        page.locator(f"fieldset#{scale}").get_by_text(value, exact=True).click()
    page.get_by_role("button", name="Save visit").click()
    assert "dated before the protocol started" in page.locator("#occurred_at-error").inner_text()
    shoot(page, "visit-before-protocol-start")
    assert count(db, Visit) == 0
