"""The short code and "Remember this phone" in a real browser: typing the code on a 390 px phone, the share card's
Copy button and its mail and text links, axe-core on the new pages (English and Spanish, normal and Large), and
the screenshots of each page at 1280, 820 and 390 px."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from playwright.sync_api import expect
from sqlmodel import col, select

from rehab.models import PortalLink, utcnow
from rehab.services import portal_codes, portal_devices, portal_links
from tests.browser.conftest import ARTIFACTS, SERIOUS, sign_in_page
from tests.conftest import PASSWORD, SECRET

PHONE_390 = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
WIDTHS = (1280, 820, 390)


def _link(db, patient, *, require_birth_date: bool = False) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A new link for the patient: its token and its code as printed."""
    link, token = portal_links.issue_link(db, patient=patient, user_id=None, now=utcnow(), secret=SECRET,
                                          require_birth_date=require_birth_date)
    db.commit()
    code = portal_codes.code_of(SECRET, link)
    assert code is not None
    return token, portal_codes.grouped(code)


def _violations(page, selector: str = "document") -> list[str]:  # type: ignore[no-untyped-def]
    from tests.browser.conftest import AXE

    page.add_script_tag(path=str(AXE))
    context = "document" if selector == "document" else repr(selector)
    result = page.evaluate(f"async () => await axe.run({context}, {{resultTypes: ['violations']}})")
    return [f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']][:5]}"
            for violation in result["violations"] if violation["impact"] in SERIOUS]


def _shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """The page at each width, full length, in the test artifacts for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)


def test_a_patient_types_the_code_on_a_390_px_phone(browser, live_server, db, patient):  # type: ignore[no-untyped-def]
    _token, code = _link(db, patient)
    context = browser.new_context(**PHONE_390)
    phone = context.new_page()
    try:
        phone.goto(f"{live_server}/p/code")
        assert phone.get_by_role("heading", name="Type the code from your sheet").is_visible()
        phone.get_by_label("Your code").fill("zzzz-zzzz")
        phone.get_by_role("button", name="Open my exercises").click()
        error = phone.locator("#code-error")
        assert "That code does not match any page" in error.inner_text()
        assert phone.get_by_label("Your code").get_attribute("aria-invalid") == "true"
        width = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width
        phone.get_by_label("Your code").fill(code.lower().replace("-", " "))
        phone.get_by_role("button", name="Open my exercises").click()
        phone.wait_for_url(f"{live_server}/p/home")
        assert "Hello, Margaret" in phone.locator("main").inner_text()
        assert phone.get_by_label("Remember this phone").is_checked() is False
        _shoot(phone, "home-remember")
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.get_by_label("Remember this phone").check()
        phone.get_by_role("button", name="Save my choice for this phone").click()
        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        remembered = cookies["rehab_portal_phone"]
        assert remembered["httpOnly"] and remembered["sameSite"] == "Lax" and remembered["path"] == "/p/"
        assert "Remember this phone" not in phone.locator("main").inner_text()
    finally:
        context.close()


def test_the_share_card_copies_the_link_and_fills_in_mail_and_text(browser, live_server, db, patient, therapist):  # type: ignore[no-untyped-def]
    token, code = _link(db, patient)
    link = db.exec(select(PortalLink).where(col(PortalLink.revoked_at).is_(None))).one()
    for agent in ("Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile",
                  "Mozilla/5.0 (iPhone) Version/17.0 Safari/604.1"):
        portal_devices.remember(db, link=link, now=utcnow(), user_agent=agent)
    db.commit()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page = context.new_page()
    try:
        sign_in_page(page, live_server, therapist, PASSWORD)
        page.goto(f"{live_server}/patients/{patient.id}#share")
        card = page.locator("#share")
        assert code in card.inner_text() and "printed on every sheet printed from now on" in card.inner_text()
        page.get_by_role("button", name="Copy Margaret's link").click()
        expect(page.locator("#share-copy-status")).to_have_text("Copied")  # the clipboard answers when it can
        assert page.evaluate("() => navigator.clipboard.readText()") == f"{live_server}/p/{token}"
        mail = page.get_by_role("link", name="Email the link to Margaret").get_attribute("href")
        sms = page.get_by_role("link", name="Text the link to Margaret").get_attribute("href")
        assert mail is not None and sms is not None and mail.startswith("mailto:") and sms.startswith("sms:")
        body = parse_qs(urlsplit(mail).query)["body"][0]
        assert f"{live_server}/p/{token}" in body and code in body and f"{live_server}/p/code" in body
        assert parse_qs(urlsplit(mail).query)["subject"][0] == "Your exercises from Riverside PT"
        assert code in unquote(sms.split("?body=", 1)[1])
        assert page.get_by_label("Ask for the date of birth when the new link is opened").is_visible()
        forget = page.get_by_role("button", name="Forget this phone (iPhone, Safari, last used")
        assert forget.count() == 1 and page.get_by_role("button", name="Forget all of Margaret's phones").is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#share").screenshot(path=str(ARTIFACTS / "share-card-with-phones-1280.png"))
        forget.click()
        assert "Forgotten: iPhone, Safari" in page.locator(".flash").inner_text()
        assert page.get_by_role("button", name="Forget this phone (iPhone, Safari, last used").count() == 0
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_code_page_check_page_and_share_card_have_no_serious_accessibility_problem(
        browser, axe_script, live_server, db, patient, therapist, language):  # type: ignore[no-untyped-def]
    _token, code = _link(db, patient, require_birth_date=True)
    problems: dict[str, list[str]] = {}
    for size in ("normal", "large"):
        context = browser.new_context(**PHONE_390, bypass_csp=True)  # axe is injected as a script
        phone = context.new_page()
        try:
            phone.goto(f"{live_server}/p/code")
            phone.get_by_label("Your code").fill(code)  # the phone's language is chosen on the next page
            phone.locator("button[type=submit]").first.click()
            phone.wait_for_url(f"{live_server}/p/check")
            if language == "es":
                phone.locator("button[value=es]").click()
            if size == "large":
                phone.locator("button[value=large]").click()
            problems[f"check {size}"] = _violations(phone)
            if size == "normal" and language == "en":
                _shoot(phone, "check-remember")
            phone.goto(f"{live_server}/p/code")  # the phone's language and size carry over
            problems[f"code {size}"] = _violations(phone)
            phone.locator("button[type=submit]").first.click()  # empty: the message beside the field
            problems[f"code error {size}"] = _violations(phone)
            if size == "normal" and language == "en":
                _shoot(phone, "code-page-error")
            elif size == "large" and language == "es":
                _shoot(phone, "code-page-es-large")
        finally:
            context.close()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    try:
        sign_in_page(page, live_server, therapist, PASSWORD)
        page.goto(f"{live_server}/patients/{patient.id}")
        problems["share card"] = _violations(page, "#share")
        if language == "en":
            page.locator("#share").scroll_into_view_if_needed()
            _shoot(page, "patient-page-share-card")
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                page.locator("#share").screenshot(path=str(ARTIFACTS / f"share-card-{width}.png"))
    finally:
        context.close()
    assert not {name: found for name, found in problems.items() if found}, problems


def test_the_new_link_page_shows_the_code(page, live_server, db, patient, therapist):  # type: ignore[no-untyped-def]
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    page.get_by_role("button", name="Share with patient").click()
    link = db.exec(select(PortalLink).where(col(PortalLink.revoked_at).is_(None))).one()
    code = portal_codes.code_of(SECRET, link)
    assert code is not None and portal_codes.grouped(code) in page.locator("main").inner_text()
