"""A therapist changes their own password in a real browser at 1280 px, found from the header by its name.
With REHAB_SHOTS set, the page and its error state are saved at 1280, 820 and 390 px."""

from __future__ import annotations

from tests.browser.conftest import serious_violations, sign_in_page
from tests.browser.test_screening import shoot
from tests.conftest import PASSWORD

NEW = "a walk by the river at dawn"


def test_a_therapist_changes_their_own_password_from_the_header(browser, live_server, therapist, axe_script):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # axe is injected
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.get_by_role("link", name="Pat Therapist").click()
    page.wait_for_url(f"{live_server}/account")
    main = page.locator("main")
    assert "pat.therapist@clinic.example" in main.inner_text() and "Riverside PT" in main.inner_text()
    assert serious_violations(page) == []
    shoot(page, "account")

    page.get_by_label("Current password").fill("not my password at all")
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password again").fill(NEW + " and more")
    page.get_by_role("button", name="Change my password").click()
    current = page.get_by_label("Current password")
    assert current.get_attribute("aria-invalid") == "true"
    assert "This is not your current password" in page.locator("#current_password-error").inner_text()
    assert "not the same" in page.locator("#password_repeat-error").inner_text()
    assert "Nothing was saved" in main.inner_text()
    assert serious_violations(page) == []
    shoot(page, "account-errors")

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password again").fill(NEW)
    page.get_by_role("button", name="Change my password").click()
    assert "Your password was changed. You stay signed in here" in main.inner_text()
    shoot(page, "account-changed")

    page.get_by_role("button", name="Sign out").click()
    sign_in_page(page, live_server, therapist, NEW)
    context.close()
