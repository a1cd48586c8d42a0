"""A therapist's first minutes with the app, in a real browser."""

from __future__ import annotations

from datetime import date, timedelta

from rehab.models import Patient
from tests.browser.conftest import sign_in_page
from tests.conftest import PASSWORD, count_rows


def test_add_a_patient_fix_a_bad_birth_date_find_and_archive(page, live_server, therapist, db):
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_role("link", name="Add patient").click()

    page.get_by_label("First name").fill("Harold")
    page.get_by_label("Last name").fill("Kowalski")
    page.get_by_label("Date of birth").fill((date.today() + timedelta(days=30)).isoformat())
    page.get_by_label("Chart number").fill("RV-2041")
    page.get_by_label("Left").check()
    page.get_by_label("Condition", exact=True).select_option("knee_oa")
    page.get_by_label("Takes anticoagulants").check()
    page.get_by_role("button", name="Add patient").click()

    # A clear message beside the field, the summary focused, and nothing saved.
    error = page.locator("#date_of_birth-error")
    assert "cannot be in the future" in error.inner_text()
    assert page.locator(".error-summary").is_visible()
    assert count_rows(db, Patient) == 0
    assert page.get_by_label("Last name").input_value() == "Kowalski"  # typed input kept

    page.get_by_label("Date of birth").fill("1947-06-02")
    page.get_by_role("button", name="Add patient").click()
    assert "Harold Kowalski was added." in page.locator(".flash").inner_text()
    assert "Takes anticoagulants" in page.locator("main").inner_text()

    page.get_by_role("link", name="Patients", exact=True).first.click()
    page.get_by_label("Name or chart number").fill("kowal")
    page.get_by_role("button", name="Search").click()
    assert page.get_by_role("link", name="Kowalski, Harold").is_visible()
    page.get_by_label("Name or chart number").fill("RV-2041")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Kowalski, Harold").click()

    page.get_by_role("button", name="Archive").click()
    assert "was archived" in page.locator(".flash").inner_text()
    page.goto(f"{live_server}/patients/")
    assert page.get_by_role("link", name="Kowalski, Harold").count() == 0
    page.get_by_label("Show").select_option("archived")
    page.get_by_role("button", name="Search").click()
    assert page.get_by_role("link", name="Kowalski, Harold").is_visible()


def test_signing_out_returns_to_sign_in_and_pages_need_it_again(page, live_server, therapist):
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.get_by_role("button", name="Sign out").click()
    assert "You are signed out." in page.locator(".flash").inner_text()
    page.goto(f"{live_server}/patients/")
    assert page.url.startswith(f"{live_server}/login")
