"""Building a protocol from a template and changing it, in a real browser."""

from __future__ import annotations

from tests.browser.conftest import sign_in_page
from tests.conftest import PASSWORD


def test_template_to_protocol_then_version_two_in_the_history(page, live_server, therapist, clinic, make_patient):
    patient = make_patient(clinic, first_name="Ruth", last_name="Abernathy")
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    # Screen before sending home: the template walks at home with a partner in phase 3.
    page.get_by_role("link", name="Record fall-risk screen").click()
    page.get_by_label("3-metre backward walk").fill("3.1")
    page.get_by_label("Timed Up and Go").fill("9")
    page.get_by_role("button", name="Save fall-risk screen").click()
    assert "Low fall risk" in page.locator("#screen").inner_text()

    # Click 1: new protocol; click 2: the matching template; click 3: save.
    page.get_by_role("link", name="New protocol").click()
    page.locator(".template-card.suggested").get_by_role("link", name="Use this template").click()
    assert page.locator("#phases-0-name").input_value() == "Learn"
    page.get_by_role("button", name="Save protocol").click()
    assert "Protocol saved" in page.locator(".flash").inner_text()
    assert page.locator(".phase-view.current").get_by_text("Phase 1: Learn").is_visible()

    page.get_by_role("link", name="Edit doses").click()
    minutes = page.locator("#phases-0-rx-0-minutes")
    assert minutes.input_value() == "5"
    minutes.fill("6")
    page.get_by_role("button", name="Save new version").click()
    assert "Saved as version 2" in page.locator(".flash").inner_text()

    page.get_by_role("link", name="History").click()
    latest = page.locator(".timeline > li").first
    assert "Version 2" in latest.inner_text()
    assert "Phase 1: minutes 5 → 6" in latest.inner_text()
    page.get_by_role("link", name="Version 1").click()
    assert "for 5 minutes" in page.locator("main").inner_text()


def test_add_a_phase_without_losing_what_was_typed(page, live_server, therapist, clinic, make_patient):
    patient = make_patient(clinic)
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}/protocols/new/build?source=builtin:pfp")
    page.locator("#phases-0-rx-0-minutes").fill("12")
    page.get_by_role("button", name="+ Add phase").click()
    assert page.locator("#phases-3-name").input_value() == "Phase 4"
    assert page.evaluate("document.activeElement.id") == "phases-3-name"
    assert page.locator("#phases-0-rx-0-minutes").input_value() == "12"
    page.get_by_role("button", name="Remove phase 4").click()
    page.locator("#phases-1-rx-0-minutes").fill("-5")
    page.get_by_role("button", name="Save protocol").click()
    assert "Enter minutes between 0.5 and 120." in page.locator("#phases-1-rx-0-minutes-error").inner_text()
    assert page.locator("#phases-0-rx-0-minutes").input_value() == "12"
