"""The patient portal on a phone-sized screen, in a real browser: sharing, opening, logging, revoking, and an
automated accessibility check (axe-core) in English and Spanish, at normal, large and 200 % text."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rehab.models import utcnow
from rehab.services import home_logs, portal_links
from rehab.services.protocol_records import active_protocol
from tests.browser.conftest import ARTIFACTS, PHONE, serious_violations, sign_in_page
from tests.conftest import PASSWORD, SECRET


def test_share_open_log_see_revoke_on_a_phone(page, phone, live_server, therapist, patient):
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    page.get_by_role("button", name="Share with patient").click()
    link = page.get_by_label("Link").input_value()
    token = link.rsplit("/", 1)[1]
    assert page.get_by_alt_text("QR code of the patient's personal link").is_visible()

    phone.goto(link)
    phone.wait_for_url(f"{live_server}/p/home")
    assert token not in phone.url
    main = phone.locator("main")
    assert "Hello, Margaret" in main.inner_text()
    assert "Walk backward on the treadmill for 5 minutes, 3 times a week" in main.inner_text()
    assert "When to stop" in main.inner_text() and "555-0100" in phone.locator(".p-call").inner_text()

    phone.get_by_role("navigation").get_by_role("link", name="Log a session").click()
    phone.get_by_label("Minutes you walked backward").fill("10")
    phone.locator("#pain_worst").get_by_text("3", exact=True).click()
    phone.locator("#stumbled").get_by_text("No", exact=True).click()
    phone.locator("#fell").get_by_text("No", exact=True).click()
    phone.get_by_role("button", name="Save my session").click()
    assert "Thank you. Your session is saved." in phone.locator(".p-flash").inner_text()
    assert token not in phone.url and "Stop and call the clinic" not in main.inner_text()

    page.goto(f"{live_server}/patients/{patient.id}")
    home_sessions = page.locator("#home-sessions + .table-wrap tbody tr")
    assert home_sessions.count() == 1 and "3 / —" in home_sessions.first.inner_text()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Turn off the link").click()
    assert "The patient's link is turned off" in page.locator(".flash").inner_text()
    phone.reload()
    assert "This link is no longer valid" in main.inner_text() and "555-0100" in main.inner_text()
    phone.goto(link)
    assert "This link is no longer valid" in phone.locator("main").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "portal-revoked-phone.png"), full_page=True)


# --------------------------------------------------------------------------------------------- accessibility


@pytest.mark.parametrize("text", ["normal", "large", "200%"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_portal_pages_have_no_serious_accessibility_problem(browser, axe_script, live_server, db, patient, language,
                                                            text):
    """axe-core on every portal page a patient sees, at 360 px; the page never scrolls sideways."""
    token = _share_with_logs(db, patient)
    # Axe is injected as a script: this context lets it past the page's own CSP (the flow test keeps the CSP).
    context = browser.new_context(**PHONE, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/p/{token}")
        if language == "es":
            page.locator("button[value=es]").click()
        if text == "large":
            page.locator("button[value=large]").click()
        problems: dict[str, list[str]] = {}
        for path in ("/p/home", "/p/progress", "/p/log", "/p/log?invalid", "/p/" + "q" * 43):
            page.goto(live_server + path.replace("?invalid", ""))
            if path.endswith("?invalid"):  # the form with its error messages
                page.get_by_role("button", name="Save my session" if language == "en" else "Guardar mi sesión").click()
            if text == "200%":
                page.add_style_tag(content="html { font-size: 200% !important; }")
            found = serious_violations(page)
            width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            if width[0] > width[1]:
                found.append(f"scrolls sideways: {width[0]} px wide in a {width[1]} px window")
            if found:
                problems[path] = found
        assert not problems, problems
    finally:
        context.close()


def _share_with_logs(db, patient) -> str:  # type: ignore[no-untyped-def]
    """Two home sessions (so the progress page has its chart and table) and a link; returns the token."""
    active = active_protocol(db, patient_id=patient.id)
    for days, pain in ((3, 2), (1, 4)):
        shape, _ = home_logs.validate_home_log(home_logs.home_log_data({
            "session_date": (utcnow() - timedelta(days=days)).date().isoformat(), "minutes": "8",
            "pain_worst": str(pain), "soreness": "none", "stumbled": "no", "fell": "no"}), today=utcnow().date())
        home_logs.create_home_log(db, patient=patient, protocol=active, form=shape, link_id=None,
                                  now=utcnow() - timedelta(days=days))
    _, token = portal_links.issue_link(db, patient=patient, user_id=None, now=utcnow(), secret=SECRET)
    db.commit()
    return token
