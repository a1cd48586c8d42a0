"""The portal's layout on a phone, as a patient meets it: language and text size at the top, tabs that fit evenly,
the sessions table as stacked rows, the pain scale as one even grid, and axe-core on every portal page (walked
from the URL map) in English and Spanish, normal and Large."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import PHONE, serious_violations
from tests.test_portal_spanish import NOT_PAGES, PORTAL_GET_RULES, portal_url, seed_portal_records

WIDE = {**PHONE, "viewport": {"width": 390, "height": 844}}


@pytest.fixture
def world(db, clinic, therapist, patient) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return seed_portal_records(db, clinic, therapist, patient)


def open_phone(browser, live_server: str, token: str, *, width: int, language: str = "en", text: str = "normal",
               bypass_csp: bool = False):  # type: ignore[no-untyped-def]
    context = browser.new_context(**{**PHONE, "viewport": {"width": width, "height": 800}}, bypass_csp=bypass_csp)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server}/p/{token}")
    if language == "es":
        page.get_by_role("button", name="Español").click()
    if text == "large":
        page.get_by_role("button", name="Grande" if language == "es" else "Large").click()
    return context, page


def no_sideways_scroll(page) -> None:  # type: ignore[no-untyped-def]
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} scrolls sideways: {width[0]} px wide in a {width[1]} px window"


@pytest.mark.parametrize("text", ["normal", "large"])
@pytest.mark.parametrize("width", [360, 390])
def test_the_sessions_table_reads_as_stacked_rows_on_a_phone(browser, live_server, world, width, text):
    context, page = open_phone(browser, live_server, world["token"], width=width, text=text)
    try:
        page.goto(f"{live_server}/p/progress")
        no_sideways_scroll(page)
        table = page.get_by_role("table", name="Your sessions, newest first")
        rows = table.get_by_role("row")
        assert rows.count() == 4  # the header row (hidden on a phone) and three sessions
        first = page.locator(".p-table tbody tr").first
        labels = first.locator(".p-cell-label")
        assert [labels.nth(index).inner_text() for index in range(4)] == ["Date", "Where", "Worst pain", "Minutes"]
        assert all(labels.nth(index).is_visible() for index in range(4))
        box = first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        for cell in first.locator("td").all():  # every cell is inside its row, nothing cut off
            inner = cell.bounding_box()
            assert inner is not None and inner["x"] + inner["width"] <= box["x"] + box["width"] + 0.5
            assert cell.evaluate("(cell) => cell.scrollWidth <= cell.clientWidth")
    finally:
        context.close()


@pytest.mark.parametrize("text", ["normal", "large"])
@pytest.mark.parametrize("width", [360, 390])
def test_language_and_text_size_are_at_the_top_of_every_page(browser, live_server, world, width, text):
    context, page = open_phone(browser, live_server, world["token"], width=width, text=text)
    try:
        for path in ("/p/home", "/p/progress", "/p/questionnaires", "/p/reminders"):
            page.goto(live_server + path)
            spanish = page.get_by_role("button", name="Español")
            large = page.get_by_role("button", name="Large")
            heading = page.locator("main h1").bounding_box()
            assert heading is not None
            for control in (spanish, large):
                box = control.bounding_box()
                assert box is not None and box["y"] + box["height"] < heading["y"], path
                assert box["height"] >= 44  # a finger's target
            assert page.get_by_role("group", name="Language").is_visible()
            assert page.get_by_role("group", name="Text size").is_visible()
            # Compact: a line each (the same in both text settings), the page's own header under them.
            strip = page.locator(".p-prefs").bounding_box()
            assert strip is not None and strip["height"] <= 110, strip
            no_sideways_scroll(page)
        page.goto(f"{live_server}/p/progress")
        page.get_by_role("button", name="Español").click()
        page.wait_for_url(f"{live_server}/p/progress")  # back on the same page, now in Spanish
        assert page.locator("html").get_attribute("lang") == "es"
        assert page.get_by_role("button", name="Español").get_attribute("aria-pressed") == "true"
    finally:
        context.close()


@pytest.mark.parametrize("text", ["normal", "large"])
@pytest.mark.parametrize("width", [360, 390])
def test_the_pain_scale_is_one_even_grid_with_words_at_both_ends(browser, live_server, world, width, text):
    context, page = open_phone(browser, live_server, world["token"], width=width, text=text)
    try:
        page.goto(f"{live_server}/p/log")
        group = page.get_by_role("group", name="Your worst pain during the walk")
        radios = group.get_by_role("radio")
        assert radios.count() == 11
        # The end numbers carry the end words in their names ("0 : No pain", as Chromium joins the two parts).
        assert group.get_by_role("radio", name=re.compile(r"^0\W+No pain$")).count() == 1
        assert group.get_by_role("radio", name=re.compile(r"^10\W+Worst pain imaginable$")).count() == 1
        boxes = [label.bounding_box() for label in page.locator("#pain_worst .p-pick").all()]
        assert all(box is not None for box in boxes)
        rows = sorted({round(box["y"]) for box in boxes})  # type: ignore[index]
        assert len(rows) in (1, 2), rows
        widths = {round(box["width"]) for box in boxes}  # type: ignore[index]
        assert max(widths) - min(widths) <= 1, widths  # every number as wide as the others
        if len(rows) == 2:  # 0-5 above, 6-10 below, in the same columns
            top = [box for box in boxes if round(box["y"]) == rows[0]]  # type: ignore[index]
            assert len(top) == 6
            assert round(boxes[6]["x"]) == round(boxes[0]["x"])  # type: ignore[index]
        ends = page.locator("#pain_worst .p-scale-ends").inner_text()
        assert "0: No pain" in ends and "10: Worst pain imaginable" in ends
        group.get_by_text("7", exact=True).click()
        assert group.get_by_role("radio", name="7").is_checked()
        no_sideways_scroll(page)
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("text", ["normal", "large"])
def test_the_tabs_fit_evenly_on_a_390_px_phone(browser, live_server, world, text, language):
    context, page = open_phone(browser, live_server, world["token"], width=390, text=text, language=language)
    try:
        page.goto(f"{live_server}/p/home")
        tabs = page.get_by_role("navigation").get_by_role("link")
        assert tabs.count() == 4
        boxes = [tab.bounding_box() for tab in tabs.all()]
        widths = {round(box["width"]) for box in boxes}  # type: ignore[index]
        heights = {round(box["height"]) for box in boxes}  # type: ignore[index]
        assert max(widths) - min(widths) <= 1 and max(heights) - min(heights) <= 1, (widths, heights)
        assert len({round(box["y"]) for box in boxes}) == 2  # two by two  # type: ignore[index]
        for tab in tabs.all():  # no word cut off or pushed out of its tab
            assert tab.evaluate("(tab) => tab.scrollWidth <= tab.clientWidth && tab.scrollHeight <= tab.clientHeight")
            assert tab.evaluate("""(tab) => { const range = document.createRange(); range.selectNodeContents(tab);
                const text = range.getBoundingClientRect(), box = tab.getBoundingClientRect();
                return text.left >= box.left && text.right <= box.right; }""")
            # At most two lines: a long word ("questionnaires") is never broken into a third.
            assert tab.evaluate("""(tab) => { const range = document.createRange(); range.selectNodeContents(tab);
                return range.getBoundingClientRect().height <= 2.5 * parseFloat(getComputedStyle(tab).lineHeight); }""")
    finally:
        context.close()


def _portal_paths(live_server_app, world: dict[str, Any]) -> list[str]:
    return [portal_url(live_server_app, rule, world) for rule in PORTAL_GET_RULES
            if rule.endpoint not in NOT_PAGES | {"portal.check", "portal.closed", "portal.chart", "portal.manifest"}]


@pytest.mark.parametrize("text", ["normal", "large"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_every_portal_page_has_no_serious_accessibility_problem(app, browser, axe_script, live_server, world,
                                                                language, text):
    """axe-core on every portal page of the URL map (a page added later is checked too), at 390 px."""
    context, page = open_phone(browser, live_server, world["token"], width=390, language=language, text=text,
                               bypass_csp=True)
    try:
        page.goto(f"{live_server}/p/reminders")
        page.get_by_role("button", name="Guardar la hora" if language == "es" else "Save the time").click()
        problems: dict[str, list[str]] = {}
        paths = _portal_paths(app, world)
        assert len(paths) >= 8
        for path in paths:
            page.goto(live_server + path)
            found = serious_violations(page)
            width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            if width[0] > width[1]:
                found.append(f"scrolls sideways: {width[0]} px wide in a {width[1]} px window")
            if found:
                problems[path] = found
        assert not problems, problems
    finally:
        context.close()
