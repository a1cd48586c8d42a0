"""The advice card after an override, in real browsers at a desktop's and a tablet's width: the message shows
inside the card the page scrolls to, the card says who overrode what and why, a colleague sees it with no
Accept and no undo, and the one who overrode undoes it and is asked again. Screenshots at three widths."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from rehab.models import utcnow
from rehab.services.protocol_records import active_protocol
from tests import factories
from tests.browser.conftest import ARTIFACTS, serious_violations, sign_in_page
from tests.conftest import PASSWORD

REASON = "Pain from a fall off a bike, not the walking"


@pytest.mark.parametrize("width", [1280, 820])
def test_an_override_shows_on_the_card_for_everyone_and_only_its_author_undoes_it(
        browser, live_server, db, therapist, make_user, clinic, patient, width):
    protocol = active_protocol(db, patient_id=patient.id)
    assert protocol is not None
    factories.visit(db, patient, protocol, at=utcnow() - timedelta(hours=3), pain_worst=7)
    colleague = make_user("sam.colleague@clinic.example", clinics=[clinic], name="Sam Colleague")
    mine = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)  # axe is injected
    page = mine.new_page()
    page.set_default_timeout(10_000)
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    card = page.locator("#advice")
    expect(card.get_by_role("button", name="Accept: minutes 5 → 3")).to_be_visible()

    card.get_by_label("Or override, because").fill(REASON)
    card.get_by_role("button", name="Override").click()
    page.wait_for_url(f"{live_server}/patients/{patient.id}#advice")
    card = page.locator("#advice")
    message = card.get_by_role("status")
    expect(message).to_have_text("Advice overridden.")
    expect(message).to_be_in_viewport()  # next to the card the page scrolled to, not above it
    expect(card.get_by_role("heading", name="Advice overridden by Pat Therapist")).to_be_visible()
    for text in ("Regress one level: minutes 5 → 3", REASON, "Nothing: the dose stays as it is"):
        expect(card.get_by_text(text)).to_be_visible()
    expect(card.get_by_role("button", name="Accept: minutes 5 → 3")).to_have_count(0)
    expect(card.get_by_role("button", name="Undo my override")).to_be_visible()
    assert serious_violations(page) == []
    if width == 1280:
        _shoot(page, "advice-overridden")

    other = browser.new_context(viewport={"width": width, "height": 900})
    colleague_page = other.new_page()
    colleague_page.set_default_timeout(10_000)
    sign_in_page(colleague_page, live_server, colleague, PASSWORD)
    colleague_page.goto(f"{live_server}/patients/{patient.id}")
    theirs = colleague_page.locator("#advice")
    expect(theirs.get_by_role("heading", name="Advice overridden by Pat Therapist")).to_be_visible()
    expect(theirs.get_by_text(REASON)).to_be_visible()
    expect(theirs.get_by_role("button")).to_have_count(0)  # neither Accept nor an undo
    expect(theirs.get_by_text("Only Pat Therapist, who made this decision, can undo it.")).to_be_visible()
    if width == 1280:
        _shoot(colleague_page, "advice-overridden-colleague")
    other.close()

    card.get_by_role("button", name="Undo my override").click()
    card = page.locator("#advice")
    expect(card.get_by_role("status")).to_have_text("Override undone. Decide on the advice again.")
    expect(card.get_by_role("status")).to_be_in_viewport()
    expect(card.get_by_role("button", name="Accept: minutes 5 → 3")).to_be_visible()
    card.get_by_text("Earlier decisions on the advice").click()
    expect(card.get_by_text("Undone by Pat Therapist")).to_be_visible()
    card.get_by_role("link", name="Every decision, with the visits").click()
    decisions = page.locator("section", has=page.get_by_role("heading", name="Decisions on the advice"))
    expect(decisions.get_by_text(REASON)).to_be_visible()
    expect(decisions.get_by_text("Undone by Pat Therapist")).to_be_visible()
    if width == 1280:
        for shown in (1280, 820, 390):
            page.set_viewport_size({"width": shown, "height": 900})
            decisions.screenshot(path=str(ARTIFACTS / f"visits-decisions-{shown}.png"))
    mine.close()


def _shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """The card at each width, and the whole page at the tablet's; the viewport is put back afterwards."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    for width in (1280, 820, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.locator("#advice").screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"))
        if width == 820:
            page.screenshot(path=str(ARTIFACTS / f"{name}-page-{width}.png"), full_page=True)
    page.set_viewport_size(size)
