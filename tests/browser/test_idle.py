"""The idle sign-out in a real browser, with an 18-second timeout: the warning with "Stay signed in" before it,
every tab agreeing, and a visit typed across it that comes back after signing in and is saved only by Save.
With REHAB_SHOTS set to a folder, the warning, the signed-out page and the restored form are saved there at
1280, 820 and 390 px wide."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from rehab.models import KeptForm, Visit
from tests import factories
from tests.browser.conftest import serious_violations, sign_in_page
from tests.browser.test_screening import shoot
from tests.conftest import PASSWORD, count_rows

IDLE_SECONDS = 18  # the warning then shows 9 seconds before the sign-out (half of a timeout under 4 minutes)
TYPED = "Stiff after the stairs; 5 minutes backward on the rails, no stumbles"


@pytest.fixture
def short_idle(app):  # type: ignore[no-untyped-def]
    app.config["IDLE_TIMEOUT_MINUTES"] = IDLE_SECONDS / 60
    return app


@pytest.mark.parametrize("width", [1280, 820])
def test_a_visit_typed_across_the_idle_sign_out_comes_back_after_signing_in_and_saves_on_save(
        page, live_server, short_idle, therapist, clinic, make_patient, db, width):
    patient = make_patient(clinic, first_name="Margaret", last_name="Okafor")
    factories.protocol(db, patient, days_ago=14, user_id=therapist.id)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    page.get_by_role("link", name="Record visit").click()
    page.locator("fieldset#pain_before").get_by_text("1", exact=True).click()
    page.locator("fieldset#pain_worst").get_by_text("3", exact=True).click()
    page.locator("fieldset#pain_after").get_by_text("2", exact=True).click()
    page.get_by_label("Note").fill(TYPED)

    warning = page.locator("#idle-warning")
    expect(warning).to_be_visible(timeout=(IDLE_SECONDS + 5) * 1000)
    expect(warning).to_contain_text("You will be signed out in 0:")
    expect(page.get_by_role("button", name="Stay signed in")).to_be_visible()
    if width == 1280:
        shoot(page, "idle-warning", full_page=False)
    expect(warning).to_contain_text("You were signed out", timeout=(IDLE_SECONDS + 10) * 1000)
    expect(warning).to_contain_text("press Save on your form")
    expect(page.get_by_role("button", name="Stay signed in")).to_be_hidden()
    if width == 1280:
        shoot(page, "idle-signed-out", full_page=False)

    page.get_by_role("button", name="Save visit").click()  # after the sign-out
    page.wait_for_url("**/login**")
    expect(page.locator(".flashes")).to_contain_text("What you typed was kept, not saved.")
    assert count_rows(db, Visit) == 0
    page.get_by_label("Email").fill(therapist.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url("**kept=**")
    note = page.locator("#kept-note")
    expect(note).to_contain_text("Your unsaved entries were kept — check and press Save.")
    expect(note).to_be_focused()
    assert page.get_by_label("Note").input_value() == TYPED
    assert page.locator("fieldset#pain_worst input:checked").get_attribute("value") == "3"
    assert page.locator("fieldset#pain_after input:checked").get_attribute("value") == "2"
    if width == 1280:
        shoot(page, "idle-kept-form")
    db.expire_all()
    assert count_rows(db, Visit) == 0  # back on the form: nothing saved yet

    page.get_by_role("button", name="Save visit").click()
    expect(page.locator(".flash").first).to_contain_text("Visit saved")
    db.expire_all()
    visit = db.exec(select(Visit)).one()
    assert (visit.note, visit.pain_worst, visit.pain_after) == (TYPED, 3, 2)
    assert count_rows(db, KeptForm) == 0


def test_stay_signed_in_in_one_tab_keeps_every_tab_signed_in(browser, live_server, short_idle, therapist,
                                                             axe_script):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # axe is injected
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in_page(page, live_server, therapist, PASSWORD)
    other = context.new_page()
    other.goto(f"{live_server}/patients/")
    page.goto(f"{live_server}/account")
    banners = [tab.locator("#idle-warning") for tab in (page, other)]
    for banner in banners:
        expect(banner).to_be_visible(timeout=(IDLE_SECONDS + 5) * 1000)
    # Read out once, in words; the countdown beside it is only shown.
    expect(banners[0].get_by_role("alert")).to_contain_text("You will be signed out in")
    assert banners[0].locator("[data-idle-title]").get_attribute("aria-hidden") == "true"
    assert serious_violations(page) == []
    page.get_by_role("button", name="Stay signed in").click()
    for banner in banners:
        expect(banner).to_be_hidden(timeout=5000)  # the other tab hears of it and asks the server
    left = page.request.get(f"{live_server}/session").json()["seconds_left"]
    assert left > IDLE_SECONDS - 5  # the server moved the sign-out: a fresh timeout from the press
    expect(banners[1]).to_be_visible(timeout=(IDLE_SECONDS + 5) * 1000)  # and warns again before the new one
    context.close()
