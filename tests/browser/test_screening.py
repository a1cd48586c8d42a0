"""Screen before sending home, in a real browser: the baseline fall-risk screen on the patient page, the
builder's warnings, and a clinic-only plan on the patient's phone. With REHAB_SHOTS set to a folder, each page
is also saved there at 1280, 820 and 390 px wide (to look at what was built)."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

from tests import factories
from tests.browser.conftest import sign_in_page
from tests.conftest import PASSWORD

WIDTHS = (1280, 820, 390)


def shoot(page, name: str, *, full_page: bool = True) -> None:  # type: ignore[no-untyped-def]
    """``full_page=False`` for what sticks to the top of the screen (the idle warning): a picture of the screen."""
    folder = os.environ.get("REHAB_SHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(Path(folder) / f"{name}-{width}.png"), full_page=full_page)
    page.set_viewport_size(size)


def test_screen_first_then_the_builder_warns_and_keeps_the_reason(page, live_server, therapist, clinic, make_patient):
    patient = make_patient(clinic, first_name="Walter", last_name="Brennan", vestibular_disorder=True)
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    assert "Not screened." in page.locator("#screen").inner_text()
    page.get_by_role("link", name="Record fall-risk screen").click()
    page.get_by_role("button", name="Save fall-risk screen").click()
    assert "Enter at least one measure" in page.locator("#backward_walk_3m_s-error").inner_text()
    shoot(page, "screen-form-error")
    page.get_by_label("3-metre backward walk").fill("5.2")
    page.get_by_label("Timed Up and Go").fill("12.5")
    page.get_by_label("Gait speed (10-metre walk)").fill("0.9")
    page.get_by_role("button", name="Save fall-risk screen").click()
    screen = page.locator("#screen").inner_text()
    assert "High fall risk" in screen and "3-metre backward walk 5.2 s (4.5 s or more)" in screen
    shoot(page, "patient-page-screen")

    page.get_by_role("link", name="New protocol").click()
    page.locator(".template-card.suggested").get_by_role("link", name="Use this template").click()
    assert "High fall risk" in page.locator(".builder-facts").inner_text()
    page.get_by_role("button", name="Save protocol").click()
    warnings = page.locator(".safety-warnings").inner_text()
    assert "High fall-risk screen (3-metre backward walk 5.2 s (4.5 s or more); Timed Up and Go 12.5 s" in warnings
    assert "Vestibular disorder: backward walking supervised in the clinic or holding rails only" in warnings
    shoot(page, "builder-warnings")
    reasons = page.get_by_label("Reason to go ahead")
    for index in range(reasons.count()):
        reasons.nth(index).fill("Partner trained at the clinic; re-screen in 2 weeks")
    page.get_by_role("button", name="Save protocol").click()
    assert "Protocol saved" in page.locator(".flash").inner_text()

    # A dose change later: the same warnings on the same facts, so the reasons stand and it saves at once.
    page.get_by_role("link", name="Edit doses").click()
    page.locator("#phases-0-rx-0-minutes").fill("6")
    page.get_by_role("button", name="Save new version").click()
    assert "Saved as version 2" in page.locator(".flash").inner_text()


def test_thirteen_weeks_after_surgery_the_builder_starts_in_the_week_12_phase(page, live_server, therapist, clinic,
                                                                             make_patient):
    patient = make_patient(clinic, condition="post_tka", surgery_date=date.today() - timedelta(weeks=13))
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}/protocols/new/build?source=builtin:post_tka")
    start = page.get_by_label("Start in phase")
    assert start.locator("option:checked").inner_text().startswith("Phase 3: Endurance")
    shoot(page, "builder-start-phase")
    page.get_by_role("button", name="Save protocol").click()
    assert "Protocol saved" in page.locator(".flash").inner_text()
    assert page.locator(".phase-view.current").get_by_text("Phase 3: Endurance").is_visible()


def test_a_clinic_only_plan_on_the_phone_says_not_on_your_own_and_offers_no_log(browser, live_server, db, clinic,
                                                                               make_patient):
    patient = make_patient(clinic, first_name="Iris", uses_walker=True, anticoagulants=True)
    factories.protocol(db, patient, "post_tka", days_ago=7)
    token = factories.portal_link(db, patient)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone = context.new_page()
    try:
        phone.goto(f"{live_server}/p/{token}")
        heading = phone.get_by_role("heading", name="Do not practise backward walking on your own yet")
        assert heading.is_visible()
        assert phone.get_by_role("link", name="Log a session").count() == 0
        assert phone.get_by_role("link", name="Call 911").is_visible()
        assert phone.get_by_text("You take a blood thinner").is_visible()
        shoot(phone, "portal-clinic-only")
    finally:
        context.close()


def test_clinic_settings_need_a_phone_and_take_the_emergency_number(page, live_server, admin, clinic):
    sign_in_page(page, live_server, admin, PASSWORD)
    page.goto(f"{live_server}/admin/clinic")
    page.get_by_label("Phone", exact=False).first.fill("")
    page.get_by_label("Emergency number").fill("112")
    page.get_by_role("button", name="Save settings").click()
    assert "Enter the clinic's phone number" in page.locator("main").inner_text()
    shoot(page, "clinic-settings-error")
    page.get_by_label("Phone", exact=False).first.fill("(555) 010-2030")
    page.get_by_role("button", name="Save settings").click()
    assert "Clinic settings saved" in page.locator("main").inner_text()


def test_a_home_plan_on_the_phone_names_emergencies_first(browser, live_server, db, clinic, make_patient):
    patient = make_patient(clinic, first_name="Ada")
    factories.protocol(db, patient, days_ago=30, start_phase=2)  # walking at home, phase 3
    token = factories.portal_link(db, patient)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone = context.new_page()
    try:
        phone.goto(f"{live_server}/p/{token}")
        stop = phone.locator(".p-stop-rules").inner_text()
        assert stop.index("Call 911 now") < stop.index("calf") < stop.index("Stop and call the clinic if")
        assert phone.get_by_role("link", name="Log a session").count() == 2  # the menu and the button
        shoot(phone, "portal-home-plan")
    finally:
        context.close()
