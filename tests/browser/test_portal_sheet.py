"""The patient's own sheet on a phone, made by a real render worker: the phone waits on "Your sheet is being
prepared…" in big words (saying plainly that printing is not running while no worker runs), then the sheet opens
by itself as a download and the page says it is ready. axe-core checks the waiting page; screenshots of it at
1280, 820 and 390 px go to test-artifacts/portal-sheet-waiting-*.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import ARTIFACTS, PHONE, serious_violations
from tests.test_print_jobs import PATIENCE_SECONDS, queued, sheet_text, start_worker  # noqa: F401 (fixtures)

pytestmark = pytest.mark.db


@pytest.fixture
def token(db, clinic, patient):  # type: ignore[no-untyped-def]
    from tests import factories

    clinic.phone = "(555) 010-2030"
    db.add(clinic)
    db.commit()
    return factories.portal_link(db, patient)


def test_the_patients_sheet_opens_by_itself_after_waiting_for_the_render_worker(
        browser, axe_script, live_server, queued, start_worker, token, patient):  # noqa: F811
    context = browser.new_context(**{**PHONE, "viewport": {"width": 390, "height": 844}}, bypass_csp=True,
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server}/p/{token}")
        page.get_by_role("button", name="Download my home sheet (PDF)").click()
        page.wait_for_url("**/p/sheet/*/waiting")
        heading = page.get_by_role("heading", name="Your sheet is being prepared…")
        assert heading.is_visible()
        assert float(heading.evaluate("(h) => parseFloat(getComputedStyle(h).fontSize)")) >= 30  # at arm's length
        stopped = page.get_by_text("Sheets cannot be made right now.")
        stopped.wait_for()  # no worker yet: said plainly, with the clinic's phone for a paper copy
        assert page.locator("#main").get_by_role("link", name="Call the clinic (555) 010-2030").is_visible()
        assert not page.get_by_role("heading", name="Your sheet is ready").is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        for width in (1280, 820, 390):
            page.set_viewport_size({"width": width, "height": 844})
            page.screenshot(path=str(ARTIFACTS / f"portal-sheet-waiting-{width}.png"), full_page=True)
            assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), width
        assert serious_violations(page) == []
        with page.expect_download(timeout=PATIENCE_SECONDS * 1000) as download:
            start_worker()  # printing starts: the page finds the sheet made and opens it
        saved = Path(download.value.path())
        assert download.value.suggested_filename.endswith(".pdf")
        assert patient.full_name in " ".join(sheet_text(saved.read_bytes()).split())
        ready = page.get_by_role("heading", name="Your sheet is ready")
        ready.wait_for()
        assert not heading.is_visible() and not stopped.is_visible()
        assert page.get_by_role("link", name="Open my sheet").is_visible()
        page.screenshot(path=str(ARTIFACTS / "portal-sheet-ready-390.png"), full_page=True)
        assert serious_violations(page) == []
    finally:
        context.close()


@pytest.mark.parametrize("text", ["normal", "large"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_the_waiting_words_fit_a_small_phone_in_both_languages_and_sizes(browser, live_server, queued, token,  # noqa: F811
                                                                         language, text):
    context = browser.new_context(**PHONE)  # 360 px wide
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server}/p/{token}")
        if language == "es":
            page.get_by_role("button", name="Español").click()
        if text == "large":
            page.get_by_role("button", name="Grande" if language == "es" else "Large").click()
        page.goto(f"{live_server}/p/home")
        page.locator("form[action='/p/sheet'] button").click()
        page.wait_for_url("**/p/sheet/*/waiting")
        page.locator("[data-print-stopped]").wait_for()
        card = page.locator(".p-wait").bounding_box()
        assert card is not None
        for block in page.locator(".p-wait h1:visible, .p-wait p:visible, .p-wait a:visible").all():
            # Every line inside the card: no word runs over its edge (a long Spanish word in Large print did).
            inside = block.evaluate("""(element) => { const range = document.createRange();
                range.selectNodeContents(element); const words = range.getBoundingClientRect();
                const card = element.closest('.p-wait').getBoundingClientRect();
                return words.left >= card.left && words.right <= card.right; }""")
            assert inside, block.inner_text()
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
