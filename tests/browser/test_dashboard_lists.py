"""The dashboard's long lists in a real browser: "Under half this week", "Quiet 14+ days" and "Today's visits"
show their first rows with the true count, and their "See all" links open the whole lists, which pass axe-core. With
REHAB_SHOTS_DIR set, each page is saved at 1280, 820 and 390 px."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import factories
from tests.browser.conftest import serious_violations, sign_in_page
from tests.browser.test_adherence import page, read_on_friday, shoot
from tests.conftest import PASSWORD
from tests.test_adherence_pages import NOW, on_plan

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


def test_todays_visits_shows_the_latest_and_see_all_opens_the_whole_day(page, live_server, db, clinic, therapist,
                                                                        make_patient):
    for index in range(30):  # the morning's visits, a minute apart, the first earliest
        patient = make_patient(clinic, first_name="Ben", last_name=f"Seen{index:02}")
        factories.visit(db, patient, on_plan(db, patient), at=NOW - timedelta(minutes=30 - index))
    sign_in_page(page, live_server, therapist, PASSWORD)
    today = page.get_by_role("region", name="Today's visits 30", exact=True)
    assert today.get_by_text("The latest 25 of 30.").is_visible()
    assert today.get_by_role("row").count() == 26  # the heading row and the latest 25
    assert today.get_by_role("link", name="Seen05, Ben").is_visible()
    assert today.get_by_role("link", name="Seen04, Ben").count() == 0
    assert today.get_by_role("button", name="Print today's home sheets").is_visible()
    assert serious_violations(page) == []
    shoot(page, "dash-today-card", "[aria-labelledby=today-title]")

    today.get_by_role("link", name="See all 30 visits today").click()
    whole = page.get_by_role("region", name="30 visits today", exact=True)
    assert whole.get_by_role("row").count() == 31
    names = whole.get_by_role("table").get_by_role("link").all_inner_texts()
    assert names == [f"Seen{index:02}, Ben" for index in range(30)]  # in time order
    assert whole.get_by_role("button", name="Print today's home sheets").is_visible()
    assert serious_violations(page) == []
    shoot(page, "dash-today", "[aria-labelledby=today-title]")
