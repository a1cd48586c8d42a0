"""Deciding on the advice in a real browser, by its buttons: a decision on a page opened before a colleague
recorded a visit is refused and says what the advice says now; accepting the new advice applies its change."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from rehab.models import AdviceDecision, utcnow
from tests import factories
from tests.browser.conftest import sign_in_page
from tests.conftest import PASSWORD


def test_a_stale_page_is_refused_with_the_new_advice_and_accepting_that_applies_it(page, live_server, db, therapist,
                                                                                  patient, protocol):
    factories.visit(db, patient, protocol, at=utcnow() - timedelta(days=2))
    factories.visit(db, patient, protocol, at=utcnow() - timedelta(hours=3))
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    advice = page.locator("#advice")
    assert advice.get_by_role("button", name="Accept: minutes 5 → 7").is_visible()

    factories.visit(db, patient, protocol, at=utcnow() - timedelta(minutes=5), pain_worst=7)  # a colleague
    advice.get_by_label("Or override, because").fill("Travelling next week, keep the dose")
    advice.get_by_role("button", name="Override").click()
    assert ("The advice changed since you opened the page: it now says “Regress one level: minutes 5 → 3”. "
            "Review it again.") in page.locator("body").inner_text()

    page.locator("#advice").get_by_role("button", name="Accept: minutes 5 → 3").click()
    assert "Advice accepted. Applied: minutes 5 → 3." in page.locator("body").inner_text()
    assert "Knee osteoarthritis · version 2" in page.locator("body").inner_text()
    decision = db.exec(select(AdviceDecision)).one()  # the refused override left nothing
    assert (decision.advice, decision.decision) == ("regress", "accepted")
