"""The therapist's pages on a desktop (1280 px), a tablet (820 px) and a phone (390 px): the top bar is one line
from a tablet up, every choice of a list shows whole, and a chart number or a date is never broken."""

from __future__ import annotations

import pytest

from tests import factories
from tests.browser.conftest import sign_in_page
from tests.conftest import PASSWORD

# The widest option of each visible list, against the room its box gives text (its padding and the arrow out; a
# pixel for rounding): whichever option is chosen shows whole.
CUT_SELECTS = """() => {
  const context = document.createElement("canvas").getContext("2d");
  return [...document.querySelectorAll("select")].filter((select) => select.offsetParent !== null).flatMap((select) => {
    const style = getComputedStyle(select);
    context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20;
    const widest = Math.max(...[...select.options].map((option) => context.measureText(option.text).width));
    return widest > room + 1 ? [`${select.id}: ${Math.round(widest)} px of text in ${Math.round(room)} px`] : [];
  });
}"""
ONE_LINE = """() => {
  const bar = document.querySelector(".topbar-inner").getBoundingClientRect();
  const parts = [".brand", ".mainnav", ".account"]
    .map((selector) => document.querySelector(selector).getBoundingClientRect());
  return {bar: bar.height, tallest: Math.max(...parts.map((part) => part.height)),
          tops: parts.map((part) => Math.round(part.top))};
}"""

# How many lines a cell's text takes (one box per line).
LINES = """(element) => {
  const range = document.createRange();
  range.selectNodeContents(element);
  return new Set([...range.getClientRects()].map((box) => Math.round(box.top))).size;
}"""

# Each prescription's chosen exercise and its heading.
NAMED_IN_HEADINGS = """() => [...document.querySelectorAll("[data-rx]")].map((rx) => {
  const select = rx.querySelector("select[id$='-exercise']");
  return [select.options[select.selectedIndex].text, rx.querySelector(".rx-head h3").innerText];
})"""


@pytest.fixture
def protocol(db, clinic, admin):  # type: ignore[no-untyped-def]
    patient = factories.patient(db, clinic, chart_number="RV-100245", first_name="Dorothy", last_name="Whitfield")
    return factories.protocol(db, patient, "post_aclr", user_id=admin.id)


@pytest.mark.parametrize("width", [1280, 820])
def test_the_bar_is_one_line_and_every_builder_choice_shows_whole(page, live_server, admin, protocol, width):
    """An admin's bar has the most in it; the builder has the longest choices (exercise names, settings)."""
    page.set_viewport_size({"width": width, "height": 900})
    sign_in_page(page, live_server, admin, PASSWORD)
    for url in ("/dashboard", "/patients/", f"/patients/{protocol.patient_id}/protocols/{protocol.id}/edit",
                "/admin/audit"):
        page.goto(live_server + url)
        bar = page.evaluate(ONE_LINE)
        # One line: the bar is no taller than its tallest part (plus its padding), every part on the same row.
        assert bar["bar"] <= bar["tallest"] + 24 and max(bar["tops"]) - min(bar["tops"]) <= 12, (url, bar)
        assert page.evaluate(CUT_SELECTS) == [], url
    page.goto(f"{live_server}/patients/{protocol.patient_id}/protocols/{protocol.id}/edit")
    page.locator("#phases-0-rx-0-exercise").select_option(label="Backward walking uphill on a treadmill")
    assert page.evaluate(CUT_SELECTS) == []
    # The administration pages are one menu of the bar, opened by its name and closed by Escape.
    page.get_by_text("Clinic admin").click()
    assert page.get_by_role("link", name="Audit trail").is_visible()
    page.keyboard.press("Escape")
    assert not page.get_by_role("link", name="Audit trail").is_visible()


def test_on_a_tablet_and_a_phone_chart_numbers_and_dates_stay_whole(page, live_server, admin, protocol):
    sign_in_page(page, live_server, admin, PASSWORD)
    for width in (820, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server}/patients/")
        for cell in (page.locator(".chart-number", has_text="RV-100245"), page.locator(".born").first):
            lines = cell.evaluate(LINES)
            assert lines == 1, (width, cell.inner_text(), lines)
        page.goto(f"{live_server}/patients/{protocol.patient_id}/protocols/{protocol.id}/edit")
        if width == 820:
            assert page.evaluate(CUT_SELECTS) == []
        else:  # a phone: an exercise name can be wider than the screen, so each exercise's heading names it whole
            named = page.evaluate(NAMED_IN_HEADINGS)
            assert named and all(chosen in heading for chosen, heading in named), named
