"""Questionnaires in a real browser: the therapist sends one by its button, the patient answers on a phone by
the answers' labels, stops, comes back and finishes; the questionnaire page passes axe-core at 360 px."""

from __future__ import annotations

import os
from pathlib import Path

from tests.browser.conftest import PHONE, serious_violations, sign_in_page
from tests.conftest import PASSWORD

SHOTS = os.environ.get("REHAB_SHOTS_DIR")  # set to keep screenshots of each page at three widths


def shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    for width in (1280, 820, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)


def answer(phone, item: str, choice: str) -> None:  # type: ignore[no-untyped-def]
    phone.get_by_role("group", name=item).get_by_text(choice, exact=True).click()


def test_send_answer_half_stop_and_finish_on_a_phone(page, browser, live_server, therapist, patient):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    page.get_by_role("button", name="Send LEFS to the patient").click()
    assert "LEFS sent" in page.locator(".flash").inner_text()
    page.get_by_role("button", name="Share with patient").click()
    link = page.get_by_label("Link").input_value()

    context = browser.new_context(**PHONE)
    phone = context.new_page()
    try:
        phone.goto(link)
        phone.get_by_role("navigation").get_by_role("link", name="My questionnaires").click()
        shoot(phone, "portal-questionnaires")
        phone.get_by_role("link", name="Start LEFS").click()
        answer(phone, "1. Any of your usual work, housework or school activities.", "Quite a bit of difficulty")
        answer(phone, "2. Your usual hobbies, recreational or sporting activities.", "Moderate difficulty")
        for item in ("3. Getting into or out of the bath.", "4. Walking between rooms.",
                     "5. Putting on your shoes or socks."):
            answer(phone, item, "No difficulty")
        shoot(phone, "portal-lefs-page1")
        phone.get_by_role("button", name="Save and go on").click()
        answer(phone, "6. Squatting.", "A little bit of difficulty")
        phone.get_by_role("button", name="Save and stop for now").click()
        assert "Your answers are saved" in phone.locator(".p-flash").inner_text()
        assert "6 of 20 questions answered." in phone.locator("main").inner_text()

        phone.get_by_role("link", name="Go on with LEFS").click()
        assert "Page 2 of 4" in phone.locator("main").inner_text()
        assert phone.get_by_role("group", name="6. Squatting.").get_by_label("A little bit of difficulty").is_checked()
        phone.get_by_role("button", name="Save and go on").click()  # items 7-10 left empty
        assert "Please answer:" in phone.locator(".p-error-summary").inner_text()
        shoot(phone, "portal-lefs-missing")
        for number in range(7, 21):
            legend = phone.locator(f"#item-{number} legend")
            if legend.count() == 0:
                phone.get_by_role("button", name="Save and go on").or_(
                    phone.get_by_role("button", name="Save and finish")).click()
            phone.locator(f"#item-{number}").get_by_text("No difficulty", exact=True).click()
        phone.get_by_role("button", name="Save and finish").click()
        assert "Thank you" in phone.locator("h1").inner_text()

        page.goto(f"{live_server}/patients/{patient.id}")
        section = page.locator("#questionnaires")
        row = section.get_by_role("row", name="Lower Extremity Functional Scale")
        assert "74" in row.inner_text() and "9 points" in row.inner_text()  # 1+2+4+4+4+3 and fourteen 4s
        shoot(page, "patient-questionnaires")
    finally:
        context.close()


def test_the_questionnaire_page_has_no_serious_accessibility_problem(browser, axe_script, live_server, db,
                                                                     patient):
    from tests.browser.test_portal import _share_with_logs

    token = _share_with_logs(db, patient)
    context = browser.new_context(**PHONE, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/p/{token}")
        page.locator("button[value=es]").click()
        page.locator("button[value=large]").click()
        page.goto(f"{live_server}/p/questionnaires")
        page.get_by_role("link", name="Empezar LEFS").click()
        shoot(page, "portal-lefs-es-large")
        found = serious_violations(page)
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert not found and width[0] <= width[1], (found, width)
    finally:
        context.close()
