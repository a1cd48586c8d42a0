"""The clinic outcomes page in a real browser: reached from the main navigation, filtered by its labels."""

from __future__ import annotations

from tests.browser.conftest import sign_in_page
from tests.browser.test_questionnaires import shoot
from tests.conftest import PASSWORD
from tests.test_outcomes import seed


def test_outcomes_page_filters_by_labels(page, live_server, db, clinic, make_patient, therapist):
    seed(db, clinic, make_patient, therapist, [(6, 4), (5, 4), (7, 3), (6, None), (4, 1), (8, 5)])
    seed(db, clinic, make_patient, therapist, [(6, 5)], template="post_tka", condition="post_tka")
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Outcomes").click()
    assert page.get_by_role("heading", name="Knee osteoarthritis").is_visible()
    assert page.get_by_role("img", name="Each patient's change in pain at rest").first.is_visible()
    shoot(page, "outcomes")
    page.get_by_label("Condition").select_option(label="Knee osteoarthritis")
    page.get_by_role("button", name="Show outcomes").click()
    assert page.get_by_role("heading", name="After total knee arthroplasty").count() == 0
    assert "Small numbers" in page.locator("main").inner_text()
