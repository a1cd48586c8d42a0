"""The safety loop in real browsers: a patient logs calf pain on the phone, the therapist sees "stop and
refer", the phone shows "Stop: call the clinic", the therapist clears it with a note, the phone shows the
exercises again. Screenshots of the advice card, the clearing form and the portal's stop page at three widths."""

from __future__ import annotations

import pytest

from rehab.models import utcnow
from rehab.services import home_logs, portal_links
from rehab.services.protocol_records import active_protocol
from tests.browser.conftest import ARTIFACTS, PHONE, serious_violations, sign_in_page
from tests.conftest import PASSWORD, SECRET

STOP = "Stop: call the clinic before you walk backward again"
WIDTHS = (1280, 820, 390)


def shoot(page, name: str, locator=None) -> None:  # type: ignore[no-untyped-def]
    """The page (or one part of it) at each width; the viewport is put back afterwards."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        target = locator if locator is not None else page
        if locator is None:
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        else:
            target.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"))
    page.set_viewport_size(size)


def test_calf_pain_on_the_phone_stops_everything_until_cleared_with_a_note(page, phone, live_server, db, therapist,
                                                                           patient):
    _, token = portal_links.issue_link(db, patient=patient, user_id=None, now=utcnow(), secret=SECRET)
    db.commit()

    # The patient logs a session with calf pain.
    phone.goto(f"{live_server}/p/{token}")
    phone.wait_for_url(f"{live_server}/p/home")
    phone.get_by_role("navigation").get_by_role("link", name="Log a session").click()
    phone.get_by_label("Minutes you walked backward").fill("8")
    phone.locator("#pain_worst").get_by_text("3", exact=True).click()
    phone.locator("#stumbled").get_by_text("No", exact=True).click()
    phone.locator("#fell").get_by_text("No", exact=True).click()
    phone.get_by_label("Pain, swelling or warmth in my calf").check()
    phone.get_by_role("button", name="Save my session").click()
    assert "Stop and call the clinic" in phone.locator("main").inner_text()
    phone.get_by_role("link", name="Back to my exercises").click()
    stop = phone.locator("main")
    assert STOP in stop.inner_text() and "Pain, swelling or warmth in my calf" in stop.inner_text()
    assert "Walk backward on the treadmill" not in stop.inner_text()
    shoot(phone, "portal-stop")

    # The therapist sees "stop and refer" with nothing to accept, and records what was done.
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    advice = page.locator("#advice")
    assert "Stop and refer" in advice.inner_text() and "calf pain or swelling" in advice.inner_text()
    assert advice.get_by_role("button", name="Accept").count() == 0
    shoot(page, "advice-stop", advice)
    advice.get_by_role("link", name="Record what was done about the red flag").click()
    page.get_by_label("Cleared to go on with backward walking").check()
    shoot(page, "red-flag-clearing")
    page.get_by_role("button", name="Save what was done").click()
    assert "Write what was done and found" in page.locator("#note-error").inner_text()  # no note: nothing saved
    page.get_by_label("Cleared to go on with backward walking").check()
    page.get_by_label("Note: what you found and decided").fill(
        "Phoned her: calf soft, no swelling or warmth; GP saw her today and ruled out a DVT.")
    page.get_by_role("button", name="Save what was done").click()
    assert "Cleared to go on" in page.locator(".flash").inner_text()
    advice = page.locator("#advice")
    assert "Stop and refer" not in advice.inner_text()
    page.get_by_text("Red flags cleared before (1)").click()
    assert "ruled out a DVT" in advice.inner_text()
    shoot(page, "advice-after-clearing", advice)

    # The phone shows the exercises again.
    phone.reload()
    main = phone.locator("main")
    assert STOP not in main.inner_text()
    assert "Walk backward on the treadmill for 5 minutes, 3 times a week" in main.inner_text()


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_stop_page_has_no_serious_accessibility_problem(browser, axe_script, live_server, db, patient,
                                                            language):
    protocol = active_protocol(db, patient_id=patient.id)
    shape, _ = home_logs.validate_home_log(home_logs.home_log_data({
        "session_date": utcnow().date().isoformat(), "minutes": "8", "pain_worst": "3", "soreness": "none",
        "stumbled": "no", "fell": "yes", "flag_calf": "1"}), today=utcnow().date())
    home_logs.create_home_log(db, patient=patient, protocol=protocol, form=shape, link_id=None, now=utcnow())
    _, token = portal_links.issue_link(db, patient=patient, user_id=None, now=utcnow(), secret=SECRET)
    db.commit()
    context = browser.new_context(**PHONE, bypass_csp=True)  # axe is injected as a script
    screen = context.new_page()
    try:
        screen.goto(f"{live_server}/p/{token}")
        if language == "es":
            screen.locator("button[value=es]").click()
        heading = screen.get_by_role("heading", level=1).inner_text()
        assert heading == {"en": STOP, "es": "Pare: llame a la clínica antes de volver a caminar hacia atrás"}[language]
        assert serious_violations(screen) == []
        width = screen.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1]
    finally:
        context.close()
