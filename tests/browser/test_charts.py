"""Every chart the app serves on its own address renders in a real browser under its real Content-Security-Policy:
its pixels are checked, not only its markup (a style the policy refuses leaves a black box that markup tests
cannot see)."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image

from rehab.models import utcnow
from rehab.services import portal_links
from rehab.services.charts import LOOKS
from rehab.services.protocol_records import active_protocol
from tests import factories
from tests.browser.conftest import PHONE, sign_in_page
from tests.conftest import PASSWORD, SECRET

Pixels = list[tuple[int, tuple[int, int, int]]]  # (how many, colour) for each colour on the screen


def pixels(png: bytes) -> Pixels:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return image.getcolors(maxcolors=image.width * image.height)


def near(color: str, tolerance: int = 40):  # type: ignore[no-untyped-def]
    target = tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
    return lambda pixel: all(abs(a - b) <= tolerance for a, b in zip(pixel, target, strict=True))


def look_at(page, url: str) -> tuple[Pixels, list[str]]:  # type: ignore[no-untyped-def]
    """Open ``url`` on its own, as "See the chart bigger" does; its pixels and any policy complaint."""
    complaints: list[str] = []
    page.on("console", lambda message: complaints.append(message.text))
    response = page.goto(url)
    assert response is not None and response.headers["content-type"].startswith("image/svg+xml")
    assert "style-src 'sha256-" in response.headers["content-security-policy"]
    page.wait_for_timeout(200)
    return pixels(page.screenshot()), complaints


def assert_drawn(found: Pixels, complaints: list[str], colors: dict[str, str]) -> None:
    total = sum(count for count, _ in found)
    black = sum(count for count, pixel in found if max(pixel) < 40)
    white = sum(count for count, pixel in found if min(pixel) > 235)
    assert black < total * 0.02, f"{black} of {total} pixels black: the chart's style was refused"
    assert white > total * 0.5
    for name, color in colors.items():
        assert sum(count for count, pixel in found if near(color)(pixel)) > 150, f"no {name} marks drawn"
    assert not [text for text in complaints if "Content Security Policy" in text], complaints


def test_the_therapists_chart_opened_on_its_own_is_drawn_with_every_series(page, live_server, therapist, clinic,
                                                                          make_patient, db):
    """Worst pain 5 and 5 minutes (the same height on their two axes), two visits on one day: every series
    still shows its own colour, and the policy refuses nothing."""
    patient = make_patient(clinic)
    protocol = factories.protocol(db, patient, days_ago=14, user_id=therapist.id)
    now = utcnow()
    for days, hours, worst in ((10, 0, 5), (6, 0, 5), (3, 0, 4), (3, 6, 6), (0, 0, 5)):
        factories.visit(db, patient, protocol, at=now - timedelta(days=days, hours=hours), pain_before=3,
                        pain_worst=worst, pain_after=4, minutes=5)
    sign_in_page(page, live_server, therapist, PASSWORD)
    found, complaints = look_at(page, f"{live_server}/patients/{patient.id}/chart.svg")
    assert_drawn(found, complaints, {key: LOOKS[key].color for key in ("before", "worst", "after", "minutes")})


def test_the_outcomes_chart_opened_on_its_own_is_drawn(page, live_server, therapist):
    sign_in_page(page, live_server, therapist, PASSWORD)
    found, complaints = look_at(page, f"{live_server}/outcomes/chart.svg?template=knee_oa&measure=pain_before")
    assert_drawn(found, complaints, {})


def test_see_the_chart_bigger_on_the_phone_is_drawn_and_its_text_grows_with_large(browser, live_server, patient, db):
    active = active_protocol(db, patient_id=patient.id)
    for days, pain in ((4, 5), (2, 3)):
        factories.home_log(db, patient, active, day=(utcnow() - timedelta(days=days)).date(), pain_worst=pain,
                           minutes=5, recorded=utcnow() - timedelta(days=days))
    _, token = portal_links.issue_link(db, patient=patient, user_id=None, now=utcnow(), secret=SECRET)
    db.commit()
    context = browser.new_context(**PHONE)
    phone = context.new_page()
    try:
        phone.goto(f"{live_server}/p/{token}")
        phone.get_by_role("link", name="My progress").first.click()
        figure = phone.locator("figure.p-chart")
        assert "2 points above and below your first worst pain" in figure.inner_text()
        normal_height = figure.get_by_role("img").bounding_box()["height"]
        phone.get_by_role("link", name="See the chart bigger").click()
        phone.wait_for_url("**/p/chart.svg**")
        found, complaints = look_at(phone, phone.url)
        assert_drawn(found, complaints, {"worst pain": LOOKS["worst"].color, "minutes": LOOKS["minutes"].color})
        legend = phone.locator(".legends text").first
        normal_size = legend.evaluate("text => parseFloat(getComputedStyle(text).fontSize)")

        phone.go_back()
        phone.get_by_role("button", name="Large").click()
        large_height = phone.locator("figure.p-chart").get_by_role("img").bounding_box()["height"]
        assert large_height > normal_height  # taller, to hold the larger legend
        phone.get_by_role("link", name="See the chart bigger").click()
        phone.wait_for_url("**/p/chart.svg**")
        found, complaints = look_at(phone, phone.url)
        assert_drawn(found, complaints, {"worst pain": LOOKS["worst"].color})
        large_size = phone.locator(".legends text").first.evaluate(
            "text => parseFloat(getComputedStyle(text).fontSize)")
        assert large_size >= normal_size * 1.3
    finally:
        context.close()
