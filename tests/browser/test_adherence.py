"""Adherence in a real browser: the patient page's week and table, the dashboard's "under half this week" and the
patient's own page pass axe-core and read by their headings. With REHAB_SHOTS_DIR set, each is saved at 1280,
820 and 390 px."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from rehab.models import RedFlagClearance
from rehab.services.protocol_records import move_phase
from tests import factories
from tests.browser.conftest import PHONE, serious_violations, sign_in_page
from tests.conftest import PASSWORD
from tests.test_adherence_pages import MONDAY, NOW, local, on_plan

SHOTS = os.environ.get("REHAB_SHOTS_DIR")


@pytest.fixture(autouse=True)
def read_on_friday(monkeypatch):  # type: ignore[no-untyped-def]
    for module in ("rehab.views.patients", "rehab.views.dashboard", "rehab.views.portal.pages"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: NOW)


def shoot(page, name: str, selector: str) -> None:  # type: ignore[no-untyped-def]
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    for width in (1280, 820, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
        page.locator(selector).screenshot(path=f"{SHOTS}/{name}-{width}-card.png")


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # axe is injected
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_patient_page_and_dashboard_show_adherence(page, live_server, db, clinic, therapist, make_patient):
    behind = make_patient(clinic, first_name="Ruth", last_name="Abernathy")
    on_plan(db, behind)
    patient = make_patient(clinic, first_name="Margaret", last_name="Okafor")
    protocol = on_plan(db, patient, weeks_ago=4)
    zone = clinic.timezone
    for day in (-28, -26, -24, -21, -19, -14, -7, -5, 0, 1):
        factories.visit(db, patient, protocol, at=local(zone, day, 10))
    # A calf pain reported at home two weeks ago, cleared two days later.
    factories.home_log(db, patient, protocol, day=MONDAY - timedelta(days=12), flag_calf=True,
                       recorded=local(zone, -12, 19))
    db.add(RedFlagClearance(patient_id=patient.id, clinic_id=clinic.id, action="cleared", note="Seen: no clot.",
                            covers="[]", at=local(zone, -10, 15)))
    move_phase(db, protocol=protocol, from_phase=0, to_phase=2 - 1, reason="Steady", user_id=therapist.id,
               now=local(zone, -11, 9), phase_count=3)
    move_phase(db, protocol=protocol, from_phase=1, to_phase=2, reason="Ready for home", user_id=therapist.id,
               now=local(zone, -4, 9), phase_count=3)  # last Thursday: twice in the clinic, once at home
    db.commit()
    factories.home_log(db, patient, protocol, day=MONDAY - timedelta(days=2))

    sign_in_page(page, live_server, therapist, PASSWORD)
    page.goto(f"{live_server}/patients/{patient.id}")
    card = page.locator("#adherence")
    assert "This week so far: 2 of 3 sessions (clinic 2 of 2, home 0 of 1)" in card.inner_text()
    rows = card.get_by_role("table", name="Sessions planned and done each week, newest first").locator("tbody tr")
    assert rows.count() == 5
    assert "(3 days stopped for safety)" in rows.nth(2).inner_text()
    assert serious_violations(page) == []
    shoot(page, "patient-page", "#adherence")

    page.goto(f"{live_server}/dashboard")
    under_half = page.get_by_role("region", name="Under half this week")
    assert "Abernathy, Ruth 0 of 3 sessions done" in under_half.inner_text()
    assert "Okafor" not in under_half.inner_text()
    under_half.get_by_role("link", name="Abernathy, Ruth").click()
    page.wait_for_url(f"{live_server}/patients/{behind.id}#adherence")
    page.goto(f"{live_server}/dashboard")
    assert serious_violations(page) == []
    shoot(page, "dashboard", "[aria-labelledby=under-half-title]")


def test_the_patients_page_says_this_weeks_sessions(browser, live_server, db, clinic, make_patient):
    patient = make_patient(clinic)
    protocol = on_plan(db, patient, home=True)
    for day in (0, 2):
        factories.home_log(db, patient, protocol, day=MONDAY + timedelta(days=day))
    context = browser.new_context(**PHONE, bypass_csp=True)  # axe is injected
    phone = context.new_page()
    try:
        phone.goto(f"{live_server}/p/{factories.portal_link(db, patient)}")
        phone.wait_for_url(f"{live_server}/p/home")
        week = phone.get_by_role("region", name="This week: 2 of 3 sessions done")
        assert "The week runs from Monday to Sunday." in week.inner_text()
        assert serious_violations(phone) == []
        shoot(phone, "portal-home", ".p-week")
        phone.get_by_role("button", name="Español").click()
        assert phone.get_by_role("region", name="Esta semana: 2 de 3 sesiones hechas").is_visible()
        shoot(phone, "portal-home-es", ".p-week")
    finally:
        context.close()
