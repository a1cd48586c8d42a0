"""The guided session on a 390 px phone with a controlled clock: a whole session in seconds, the log form opened
with the minutes done, the spoken cues seen through a spy, pause and resume, "I had to stop" because the knee
gave way ending on the stop screen, and axe-core in English and Spanish, normal and Large text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rehab.models import utcnow
from rehab.services import portal_links
from tests import factories
from tests.browser.conftest import ARTIFACTS, serious_violations, sign_in_page
from tests.conftest import PASSWORD, SECRET
from tests.test_guided_session import interval_content

PHONE_390 = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
# Every utterance the page asks for, instead of speaking it (and no voices, so the page never falls back to a beep).
SPEECH_SPY = """
window.__spoken = [];
const speak = (utterance) => window.__spoken.push({text: utterance.text, lang: utterance.lang});
if (window.speechSynthesis) {
  window.speechSynthesis.speak = speak;
  window.speechSynthesis.cancel = () => {};
  window.speechSynthesis.getVoices = () => [];
}
"""


@pytest.fixture
def patient(db, clinic, therapist):  # type: ignore[no-untyped-def]
    """Margaret, whose home dose is 1 minute backward in every 2 of a 10-minute walk after a 2-minute warm-up."""
    made = factories.patient(db, clinic)
    factories.protocol(db, made, days_ago=14, user_id=therapist.id, content=interval_content())
    return made


@pytest.fixture
def token(db, patient) -> str:  # type: ignore[no-untyped-def]
    _, made = portal_links.issue_link(db, patient=patient, user_id=None, now=utcnow(), secret=SECRET)
    db.commit()
    return made


def _phone(browser, *, paused: bool = True, **options):  # type: ignore[no-untyped-def]
    context = browser.new_context(**PHONE_390, **options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.add_init_script(SPEECH_SPY)
    page.clock.install()
    # Time stands still but for run_for: a slow screenshot or a busy machine moves no countdown.
    # (axe-core waits on timers of its own, so the accessibility check lets time flow.)
    if paused:
        page.clock.pause_at(datetime.now(UTC) + timedelta(seconds=1))
    return context, page


def _open_player(page, live_server: str, token: str, *, language: str = "en", text: str = "normal") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/p/{token}")
    if language == "es":
        page.locator("button[value=es]").click()
    if text == "large":
        page.locator("button[value=large]").click()
    page.get_by_role("link", name="Start today’s session" if language == "en" else "Empezar la sesión de hoy").click()
    page.wait_for_url(f"{live_server}/p/session")


def _spoken(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [said["text"] for said in page.evaluate("() => window.__spoken")]


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """The page as the patient sees it on this phone, then on a tablet and a desktop (for looking at)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"player-{name}.png"), full_page=True)
    if name.endswith("-390"):
        for width in (820, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(ARTIFACTS / f"player-{name.removesuffix('-390')}-{width}.png"), full_page=True)
        page.set_viewport_size(PHONE_390["viewport"])


def test_a_whole_session_in_seconds_opens_the_log_with_the_minutes_done(browser, live_server, token):
    context, page = _phone(browser)
    try:
        _open_player(page, live_server, token)
        _shot(page, "ready-390")
        page.get_by_role("button", name="Start the session").click()
        clock = page.get_by_role("timer", name="Time left in this part")
        assert clock.inner_text() == "2:00"
        assert page.locator("[data-name]").inner_text() == "Warm up: walk forward, easy"
        assert page.locator("[data-next]").inner_text() == "Next: Walk backward"
        page.clock.run_for(30_000)
        assert clock.inner_text() == "1:30"
        _shot(page, "running-390")

        page.get_by_role("button", name="Pause").click()
        assert page.get_by_text("Paused", exact=True).is_visible()
        page.clock.run_for(60_000)  # a minute paused: the clock waits
        assert clock.inner_text() == "1:30"
        _shot(page, "paused-390")
        page.get_by_role("button", name="Resume").click()
        page.clock.run_for(91_000)  # 121 seconds run: a second into the first backward part
        assert page.locator("[data-name]").inner_text() == "Walk backward"
        assert page.locator("[data-part]").inner_text() == "Part 2 of 11"

        page.clock.run_for(10 * 60_000)  # the rest of the walk
        assert page.get_by_role("heading", name="Session finished. Well done!").is_visible()
        assert page.locator("[data-done-minutes]").inner_text() == "Minutes you walked backward: 5"
        _shot(page, "finished-390")
        spoken = _spoken(page)
        assert spoken[0] == "Warm up. Walk forward at an easy pace for 2 minutes."
        assert "Paused. Press Resume when you are ready." in spoken and "Go on." in spoken
        assert spoken.count("Walk backward now, for 1 minute. Look over your shoulder. Short steps.") == 5
        assert spoken.count("In 10 seconds: walk forward.") == 5
        assert spoken[-1] == "Well done. Your session is finished. Now tell your therapist how it went."

        page.get_by_role("link", name="Log this session").click()
        page.wait_for_url("**/p/log?*")
        assert page.get_by_label("Minutes you walked backward").input_value() == "5"
        assert page.get_by_label("Anything else for your therapist?").input_value() == "I did the guided session."
        page.locator("#pain_worst").get_by_text("2", exact=True).click()
        page.locator("#stumbled").get_by_text("No", exact=True).click()
        page.locator("#fell").get_by_text("No", exact=True).click()
        page.get_by_role("button", name="Save my session").click()
        assert "Thank you. Your session is saved." in page.locator(".p-flash").inner_text()
    finally:
        context.close()


def test_the_cues_are_spoken_in_spanish(browser, live_server, token):
    context, page = _phone(browser)
    try:
        _open_player(page, live_server, token, language="es")
        page.get_by_role("button", name="Empezar la sesión").click()
        page.clock.run_for(121_000)
        assert set(page.evaluate("() => window.__spoken.map(said => said.lang)")) == {"es"}
        assert _spoken(page) == [
            "Para calentar, camine hacia adelante a paso suave durante 2 minutos.",
            "En 10 segundos: camine hacia atrás.",
            "Ahora camine hacia atrás durante 1 minuto. Mire por encima del hombro. Pasos cortos."]
        assert page.locator("[data-name]").inner_text() == "Camine hacia atrás"
    finally:
        context.close()


def test_stopping_because_the_knee_gave_way_ends_on_the_stop_screen(browser, live_server, token):
    context, page = _phone(browser)
    try:
        _open_player(page, live_server, token)
        page.get_by_role("button", name="Start the session").click()
        page.clock.run_for(150_000)  # half a minute into the first backward part
        page.get_by_role("button", name="I had to stop").click()
        page.get_by_role("button", name="Stop the session").click()
        assert page.get_by_text("Choose one answer.").is_visible()  # a reason is asked for, not assumed
        page.get_by_label("My knee gave way, or I nearly fell").check()
        page.get_by_role("button", name="Stop the session").click()
        assert page.get_by_role("heading", name="Stop: call the clinic before you walk backward again").is_visible()
        assert not page.get_by_role("timer").is_visible()
        assert _spoken(page)[-1] == "Stop walking now. Call the clinic before you walk backward again."

        page.get_by_role("link", name="Tell your therapist now").click()
        page.wait_for_url("**/p/log?*")
        assert page.get_by_label("My knee locked or gave way").is_checked()
        assert page.get_by_label("Minutes you walked backward").input_value() == "0.5"
        page.locator("#pain_worst").get_by_text("5", exact=True).click()
        page.locator("#stumbled").get_by_text("Yes", exact=True).click()
        page.locator("#fell").get_by_text("No", exact=True).click()
        page.get_by_role("button", name="Save my session").click()
        assert "Stop and call the clinic" in page.locator("main").inner_text()
        page.goto(f"{live_server}/p/session")
        assert "Stop: call the clinic before you walk backward again" in page.locator("main").inner_text()
        assert page.locator("#player-data").count() == 0
    finally:
        context.close()


@pytest.mark.parametrize("text", ["normal", "large"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_the_player_has_no_serious_accessibility_problem_and_fits_the_phone(browser, axe_script, live_server, token,
                                                                            language, text):
    context, page = _phone(browser, paused=False, bypass_csp=True)  # axe is injected as a script
    try:
        _open_player(page, live_server, token, language=language, text=text)
        problems: dict[str, list[str]] = {"ready": serious_violations(page)}
        page.locator("[data-action=start]").click()
        page.clock.run_for(125_000)
        problems["running"] = serious_violations(page)
        page.locator("[data-action=ask]").click()
        problems["asking"] = serious_violations(page)
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"scrolls sideways: {width[0]} px wide in a {width[1]} px window"
        if text == "large":
            page.locator("[data-action=back]").click()
            _shot(page, f"running-390-large-{language}")
        assert not any(problems.values()), problems
    finally:
        context.close()


def test_the_builder_explains_a_pattern_that_does_not_fit_beside_its_field(page, live_server, therapist, clinic,
                                                                          make_patient):
    patient = make_patient(clinic)
    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}/protocols/new/build?source=builtin:pfp")
    # The home walk's exercise: 5 backward parts of 1 minute in a 10-minute walk.
    prefix = page.evaluate("() => [...document.querySelectorAll('input[id$=\"-segments\"]')]"
                           ".find(input => input.value === '5').id.replace(/segments$/, '')")
    # Open at once: its fields hold values (several of them once wrote "openopen", which is no open attribute).
    assert page.locator(f"details:has(#{prefix}segments)").get_attribute("open") == ""
    page.locator(f"#{prefix}segments").fill("")
    page.locator(f"#{prefix}walk_minutes").fill("8")
    page.locator(f"#{prefix}interval_backward_minutes").fill("1")
    page.locator(f"#{prefix}interval_every_minutes").fill("2")
    page.get_by_role("button", name="Save protocol").click()
    error = page.locator(f"#{prefix}interval_every_minutes-error")
    assert "a 8-minute walk holds 4 min backward, less than the 5 min prescribed" in error.inner_text()
    assert page.locator(f"#{prefix}interval_every_minutes").get_attribute("aria-invalid") == "true"
    for width in (1280, 820, 390):
        page.set_viewport_size({"width": width, "height": 900})
        error.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"builder-pattern-{width}.png"))
