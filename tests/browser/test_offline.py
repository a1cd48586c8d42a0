"""The portal on a 390 px phone with no signal (Chromium's own service worker; 127.0.0.1 is a secure context): a
session logged offline waits on the phone and reaches the therapist exactly once, pages opened before work
offline, and after "Close my page" the phone shows nothing of the patient."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from rehab.models import HomeLog
from tests import factories
from tests.browser.conftest import serious_violations, sign_in_page
from tests.conftest import PASSWORD, count_rows

SHOTS = Path("/work/wt/notes/shots/p17offline")
PHONE_390 = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
             "device_scale_factor": 2}
WAITING = "Waiting to send: 1 session (saved on this phone)"


@pytest.fixture
def phone390(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(**PHONE_390)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def open_with_worker(page, live_server: str, token: str) -> None:  # type: ignore[no-untyped-def]
    """Open the link and wait until the service worker controls the page (it claims it when it starts)."""
    page.goto(f"{live_server}/p/{token}")
    page.wait_for_url(f"{live_server}/p/home")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.reload()  # this first page too, now through the worker


def logs_saved(db) -> int:  # type: ignore[no-untyped-def]
    return count_rows(db, HomeLog)


def wait_for_logs(db, expected: int, seconds: float = 10) -> int:  # type: ignore[no-untyped-def]
    """The database as the therapist's page reads it, once the phone has sent (the signal came back)."""
    deadline = time.monotonic() + seconds
    found = logs_saved(db)
    while found != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        found = logs_saved(db)
    return found


def fill_log(page, pain: str = "3") -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Minutes you walked backward").fill("10")
    page.locator("#pain_worst").get_by_text(pain, exact=True).click()
    page.locator("#stumbled").get_by_text("No", exact=True).click()
    page.locator("#fell").get_by_text("No", exact=True).click()


def shots(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """What the patient sees, at a phone, a tablet and a desktop width, kept to be looked at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (390, 820, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})


def test_a_session_logged_offline_waits_on_the_phone_and_reaches_the_therapist_once(
        phone390, page, live_server, db, patient, therapist):
    phone = phone390
    context = phone.context
    open_with_worker(phone, live_server, factories.portal_link(db, patient))
    phone.get_by_role("navigation").get_by_role("link", name="Log a session").click()
    phone.get_by_role("navigation").get_by_role("link", name="My progress").click()

    context.set_offline(True)
    phone.get_by_role("navigation").get_by_role("link", name="Log a session").click()  # kept: no signal needed
    fill_log(phone)
    phone.get_by_role("button", name="Save my session").click()
    saved = phone.get_by_role("heading", name="Saved on this phone")
    saved.wait_for()
    note = phone.locator("#offline-queue")
    expect(note).to_contain_text(WAITING)  # the note is written once the phone's queue is read
    assert logs_saved(db) == 0
    shots(phone, "waiting-note-log")

    phone.reload()  # with no signal: the kept page, and the note again on it
    assert "Log a session" in phone.locator("h1").inner_text()
    expect(note).to_contain_text(WAITING)
    phone.get_by_role("navigation").get_by_role("link", name="My exercises").click()
    assert "Hello, Margaret" in phone.locator("main").inner_text()
    expect(note).to_contain_text(WAITING)
    shots(phone, "waiting-note-home")

    context.set_offline(False)  # the "online" event sends it
    note.wait_for(state="hidden")
    assert wait_for_logs(db, 1) == 1
    phone.reload()
    phone.get_by_role("navigation").get_by_role("link", name="My progress").click()
    assert not note.is_visible() and wait_for_logs(db, 1, seconds=1) == 1  # sent once, never again

    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    assert page.locator("#home-sessions + .table-wrap tbody tr").count() == 1


def test_a_red_flag_logged_offline_says_stop_at_once_and_leads_to_the_stop_screen_when_sent(
        phone390, live_server, db, patient):
    phone = phone390
    open_with_worker(phone, live_server, factories.portal_link(db, patient))
    phone.get_by_role("navigation").get_by_role("link", name="Log a session").click()
    phone.context.set_offline(True)
    fill_log(phone, pain="4")
    phone.get_by_text("Pain, swelling or warmth in my calf").click()
    stop = phone.locator("[data-offline-stop]")
    assert stop.is_visible()
    assert "Stop: call the clinic before you walk backward again" in stop.inner_text()
    assert "Do not walk backward until your therapist has talked with you." in stop.inner_text()
    phone.get_by_role("button", name="Save my session").click()
    phone.get_by_role("heading", name="Saved on this phone").wait_for()
    phone.context.set_offline(False)
    phone.wait_for_url(f"{live_server}/p/home")
    phone.get_by_role("heading", name="Stop: call the clinic before you walk backward again").wait_for()
    assert wait_for_logs(db, 1) == 1


def test_after_leaving_the_phone_shows_nothing_of_the_patient_offline(phone390, live_server, db, patient):
    phone = phone390
    open_with_worker(phone, live_server, factories.portal_link(db, patient))
    phone.get_by_role("navigation").get_by_role("link", name="My progress").click()
    phone.context.set_offline(True)
    phone.reload()
    assert "My progress" in phone.locator("h1").inner_text()  # kept while the session is open
    phone.context.set_offline(False)
    phone.get_by_role("button", name="Close my page").click()
    phone.wait_for_url(f"{live_server}/p/closed")
    phone.context.set_offline(True)
    for path in ("/p/home", "/p/progress", "/p/log"):
        phone.goto(live_server + path)
        text = phone.locator("body").inner_text()
        assert "No signal" in text and "Margaret" not in text and "Okafor" not in text, path
    kept = phone.evaluate("""async () => {
        const urls = [];
        for (const name of await caches.keys()) {
            for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
        }
        return urls;
    }""")
    assert kept and not [url for url in kept if "/static/" not in url and "/p/offline?" not in url], kept
    shots(phone, "offline-page")


def test_a_log_kept_when_the_page_closed_is_sent_after_the_link_is_opened_again(phone390, app, live_server, db,
                                                                                patient):
    phone = phone390
    open_with_worker(phone, live_server, factories.portal_link(db, patient))
    phone.get_by_role("navigation").get_by_role("link", name="Log a session").click()
    phone.context.set_offline(True)
    fill_log(phone)
    phone.get_by_role("button", name="Save my session").click()
    phone.get_by_role("heading", name="Saved on this phone").wait_for()
    app.config["PORTAL_IDLE_MINUTES"] = 0.01  # the page closes while the phone has no signal
    time.sleep(1.2)
    phone.context.set_offline(False)  # sent, and refused: the session is closed
    note = phone.locator("#offline-queue")
    note.get_by_text("Open your link again to send it").wait_for()
    assert WAITING in note.inner_text() and logs_saved(db) == 0
    shots(phone, "waiting-note-closed")
    app.config["PORTAL_IDLE_MINUTES"] = 30
    phone.goto(f"{live_server}/p/{factories.portal_link(db, patient)}")  # the link again (the text message)
    phone.wait_for_url(f"{live_server}/p/home")
    assert wait_for_logs(db, 1) == 1
    note.wait_for(state="hidden")


def test_a_kept_log_refused_for_bad_input_says_why_and_is_fixed_on_the_form(phone390, live_server, db, patient):
    phone = phone390
    open_with_worker(phone, live_server, factories.portal_link(db, patient))
    phone.get_by_role("navigation").get_by_role("link", name="Log a session").click()
    phone.context.set_offline(True)
    fill_log(phone)
    phone.get_by_label("Minutes you walked backward").fill("500")  # a slip of the finger, kept as typed
    phone.get_by_role("button", name="Save my session").click()
    phone.get_by_role("heading", name="Saved on this phone").wait_for()
    phone.context.set_offline(False)
    note = phone.locator("#offline-queue")
    note.get_by_text("was not sent. Please check:").wait_for()
    assert "Enter the minutes you walked backward: a number from 0.5 to 180." in note.inner_text()
    assert logs_saved(db) == 0
    shots(phone, "waiting-note-refused")
    note.get_by_role("button", name="Check and send it").click()
    phone.get_by_text("Nothing was saved yet. Please check:").wait_for()
    assert phone.get_by_label("Minutes you walked backward").input_value() == "500"
    phone.get_by_label("Minutes you walked backward").fill("10")
    phone.get_by_role("button", name="Save my session").click()
    phone.get_by_text("Thank you. Your session is saved.").wait_for()
    assert wait_for_logs(db, 1) == 1 and not note.is_visible()


def test_the_latest_sheet_opened_downloads_again_with_no_signal(phone390, live_server, db, patient):
    phone = phone390
    open_with_worker(phone, live_server, factories.portal_link(db, patient))
    button = phone.get_by_role("button", name="Download my home sheet (PDF)")
    with phone.expect_download() as online:
        button.click()
    sheet = Path(online.value.path()).read_bytes()
    phone.context.set_offline(True)
    with phone.expect_download() as offline:
        button.click()
    assert sheet.startswith(b"%PDF") and Path(offline.value.path()).read_bytes() == sheet


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_offline_page_has_no_serious_accessibility_problem(browser, axe_script, live_server, language):
    context = browser.new_context(**PHONE_390, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/p/offline?lang={language}")
        assert page.locator("html").get_attribute("lang") == language
        assert ("No signal" if language == "en" else "Sin señal") in page.locator("h1").inner_text()
        shots(page, f"offline-page-{language}")
        assert serious_violations(page) == []
    finally:
        context.close()
