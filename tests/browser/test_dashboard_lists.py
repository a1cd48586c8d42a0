"""The dashboard's long lists in a real browser: "Under half this week" and "Quiet 14+ days" show their first
rows with the true count, and their "See all" links open the whole lists, which pass axe-core. With
REHAB_SHOTS_DIR set, each page is saved at 1280, 820 and 390 px."""

from __future__ import annotations

import pytest

from tests.browser.conftest import serious_violations, sign_in_page
from tests.browser.test_adherence import page, read_on_friday, shoot
from tests.conftest import PASSWORD
from tests.test_adherence_pages import on_plan

__all__ = ["page", "read_on_friday"]  # its fixtures: axe may run, and the pages are read on a Friday

pytestmark = pytest.mark.browser


def test_see_all_opens_the_whole_lists(page, live_server, db, clinic, therapist, make_patient):
    for index in range(30):  # none of their three sessions a week done, and none for three weeks: quiet too
        on_plan(db, make_patient(clinic, first_name="Ana", last_name=f"Behind{index:02}"))
    sign_in_page(page, live_server, therapist, PASSWORD)
    under_half = page.get_by_role("region", name="Under half this week 30", exact=True)
    assert under_half.get_by_role("listitem").count() == 25
    attention = page.get_by_role("region", name="Needs attention 30", exact=True)
    assert attention.get_by_role("listitem").count() == 25
    assert serious_violations(page) == []
    shoot(page, "dash-dashboard", "[aria-labelledby=under-half-title]")

    under_half.get_by_role("link", name="See all 30 patients under half this week").click()
    whole = page.get_by_role("region", name="30 patients under half this week", exact=True)
    assert whole.get_by_role("listitem").count() == 30
    assert serious_violations(page) == []
    shoot(page, "dash-under-half", "[aria-labelledby=under-half-title]")

    page.get_by_role("link", name="Back to the dashboard").click()
    page.get_by_role("region", name="Needs attention 30", exact=True).get_by_role(
        "link", name="See all 30 patients quiet 14+ days").click()
    quiet = page.get_by_role("region", name="30 patients quiet 14+ days", exact=True)
    assert quiet.get_by_role("listitem").count() == 30
    assert serious_violations(page) == []
    shoot(page, "dash-quiet", "[aria-labelledby=quiet-title]")
    quiet.get_by_role("button", name="Acknowledge that Ana Behind00 has been quiet").click()
    page.wait_for_url(f"{live_server}/dashboard")
    assert page.get_by_role("region", name="Needs attention 29", exact=True).is_visible()
