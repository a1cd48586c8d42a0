"""A form sent again, and a form from an out-of-date page, in a real browser: Back then Save on the fall-risk
screen shows "Already saved", and clinic settings saved in a second tab after the first are refused with the
saved values beside the typed ones. With REHAB_SHOTS set, each page is saved at 1280, 820 and 390 px."""

from __future__ import annotations

from sqlmodel import func, select

from rehab.models import Assessment, Clinic
from tests.browser.conftest import sign_in_page
from tests.browser.test_screening import shoot
from tests.conftest import PASSWORD


def test_back_then_save_on_the_fall_risk_screen_shows_it_saved(page, live_server, therapist, clinic, make_patient,
                                                              db):
    patient = make_patient(clinic, first_name="Walter", last_name="Brennan")
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    page.get_by_role("link", name="Record fall-risk screen").click()
    page.get_by_label("Timed Up and Go").fill("10.5")
    page.get_by_role("button", name="Save fall-risk screen").click()
    page.wait_for_url(f"{live_server}/patients/{patient.id}#screen")

    page.go_back()  # to the screen just saved, to save it "again"
    save = page.get_by_role("button", name="Save fall-risk screen")
    if save.count():  # a browser that shows the page from its memory still has the form
        save.click()
    assert page.get_by_role("heading", name="Already saved").is_visible()
    shoot(page, "screen-already-saved")
    page.get_by_role("link", name="See the patient's fall-risk screen").click()
    page.wait_for_url(f"{live_server}/patients/{patient.id}#screen")
    assert db.exec(select(func.count()).select_from(Assessment)).one() == 1
    db.rollback()


def test_clinic_settings_saved_in_another_tab_are_not_overwritten(page, live_server, admin, clinic, db):
    sign_in_page(page, live_server, admin, PASSWORD)
    page.goto(f"{live_server}/admin/clinic")
    other = page.context.new_page()  # a second tab, opened before the first one saves
    other.goto(f"{live_server}/admin/clinic")
    page.get_by_label("Phone", exact=False).first.fill("(555) 010-2030")
    page.get_by_role("button", name="Save settings").click()
    assert "Clinic settings saved" in page.locator("main").inner_text()

    other.get_by_label("Address", exact=False).fill("12 Mill Road, Springfield")
    other.get_by_role("button", name="Save settings").click()
    main = other.locator("main").inner_text()
    assert "Another admin saved the clinic settings while you were editing" in main
    assert other.get_by_label("Address", exact=False).input_value() == "12 Mill Road, Springfield"  # kept
    assert "(555) 010-2030" in other.locator(".stale-values").inner_text()  # what is saved now
    shoot(other, "clinic-settings-stale")
    db.expire_all()
    assert (db.get(Clinic, clinic.id).phone, db.get(Clinic, clinic.id).address) == ("(555) 010-2030", "")
    db.rollback()

    other.get_by_label("Phone", exact=False).first.fill("(555) 010-2030")  # keep theirs, then save again
    other.get_by_role("button", name="Save settings").click()
    assert "Clinic settings saved" in other.locator("main").inner_text()
    db.expire_all()
    assert db.get(Clinic, clinic.id).address == "12 Mill Road, Springfield"
    db.rollback()
