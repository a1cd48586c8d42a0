"""Adherence where people read it: the patient page's week and table, the dashboard's "under half this week",
the patient's own page in English and Spanish (counting rules: tests/services/test_adherence.py)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from rehab.models import Clinic, Patient
from tests import factories
from tests.conftest import submit

pytestmark = pytest.mark.db


def last_friday_noon() -> datetime:
    """The most recent Friday noon (UTC) before now: the pages are read on a Friday, whatever today is, so what
    was due by yesterday (Monday to Thursday) is known."""
    now = datetime.now(UTC)
    friday = now.date() - timedelta(days=(now.weekday() - 4) % 7)
    noon = datetime.combine(friday, time(12), tzinfo=UTC)
    return noon if noon <= now else noon - timedelta(days=7)


NOW = last_friday_noon()
MONDAY = NOW.date() - timedelta(days=4)


@pytest.fixture(autouse=True)
def read_on_friday(monkeypatch):  # type: ignore[no-untyped-def]
    for module in ("rehab.views.patients", "rehab.views.dashboard", "rehab.views.portal.pages"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: NOW)


def text_of(html: str, start: str, end: str) -> str:
    """The visible words between two markers, tags dropped and spaces folded."""
    part = html.split(start, 1)[1].split(">", 1)[1].split(end, 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", part).split())


def short(day: date) -> str:
    return f"{day.day} {day.strftime('%b')}"


def local(zone: str, day_offset: int, hour: int, minute: int = 0) -> datetime:
    """A clinic-local time ``day_offset`` days from this week's Monday, as stored (UTC)."""
    day = MONDAY + timedelta(days=day_offset)
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def on_plan(db: Session, patient: Patient, *, home: bool = False, weeks_ago: int = 3):  # type: ignore[no-untyped-def]
    """Knee OA phase 1: three sessions a week, in the clinic (or at home), started on a Wednesday."""
    return factories.protocol(db, patient, home=home, now=NOW, days_ago=7 * weeks_ago + 2)


def test_the_patient_page_shows_this_week_and_each_week_in_the_clinics_zone(therapist_client, db, clinic: Clinic,
                                                                             patient):
    clinic.timezone = "America/Chicago"
    db.add(clinic)
    db.commit()
    protocol = on_plan(db, patient, weeks_ago=2)  # started on the Wednesday two weeks before this one
    zone = clinic.timezone
    for day, hour, minute in ((-7, 10, 0), (-5, 10, 0), (-1, 23, 30)):  # last week: Mon, Wed, and Sunday 23:30
        factories.visit(db, patient, protocol, at=local(zone, day, hour, minute))
    factories.visit(db, patient, protocol, at=local(zone, 1, 9))  # this Tuesday
    factories.home_log(db, patient, protocol, day=MONDAY - timedelta(days=10))  # walked at home, not planned
    html = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    section = text_of(html, 'id="adherence-title"', "</section>")
    # Monday to Thursday due: 12/7 of a session, about 2; one done is not under half of that.
    assert "This week so far: 1 of 3 sessions (in the clinic)" in section
    assert "About 2 sessions were due by yesterday." in section
    rows = section.split("Share")[1]
    last_week, first_week = (short(MONDAY - timedelta(days=days)) for days in (7, 14))
    # The Sunday 23:30 visit (Monday in UTC) counts in last week.
    last = re.search(rf"(?<!\d){last_week} – \S+ \S+ 3 3 of 3 — 100 %", rows)
    assert last, rows
    # The first week started on Wednesday: 5 of 7 days at 3 a week is 2.1, two sessions, none done.
    first = re.search(rf"(?<!\d){first_week} – \S+ \S+ \(5 days under the plan\) 2 0 of 2 1 \(none planned\) 0 % "
                      "Under half", rows)
    assert first, rows
    assert last.start() < first.start()  # newest first


def test_a_patient_page_under_a_safety_stop_plans_nothing_on_the_stopped_days(therapist_client, db, patient):
    protocol = on_plan(db, patient)
    factories.visit(db, patient, protocol, at=local("UTC", 1, 10), flag_calf=True)  # Tuesday: calf pain
    html = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    section = text_of(html, 'id="adherence-title"', "</section>")
    assert "This week so far: 0 of 0 sessions" in section and "Under half" not in section.split("Week")[0]
    assert "Walking stopped for safety on 6 days this week" in section


def test_the_dashboard_lists_the_patients_under_half_this_week(therapist_client, db, clinic, make_patient):
    behind = make_patient(clinic, first_name="Ruth", last_name="Abernathy")
    on_track = make_patient(clinic, first_name="Tomás", last_name="Ibáñez")
    archived = make_patient(clinic, first_name="Old", last_name="Archived", archived_at=NOW - timedelta(days=1))
    plans = {patient.id: on_plan(db, patient) for patient in (behind, on_track, archived)}
    factories.visit(db, on_track, plans[on_track.id], at=local("UTC", 0, 10))  # one of about 2 due: not under half
    html = therapist_client.get("/dashboard").get_data(as_text=True)
    card = text_of(html, 'id="under-half-title"', "</section>")
    assert card.startswith("Under half this week 1")
    assert "Abernathy, Ruth 0 of 3 sessions done (in the clinic); about 2 due by yesterday" in card
    assert "Ibáñez" not in card and "Archived" not in card


def test_the_patients_own_page_says_this_weeks_sessions_in_their_language(app, db, patient):
    protocol = on_plan(db, patient, home=True)
    for day in (3, 0):  # Thursday's log sent before Monday's
        factories.home_log(db, patient, protocol, day=MONDAY + timedelta(days=day))
    factories.home_log(db, patient, protocol, day=MONDAY - timedelta(days=1))  # last Sunday: last week
    phone = app.test_client()
    assert phone.get(f"/p/{factories.portal_link(db, patient)}").status_code == 302
    html = phone.get("/p/home").get_data(as_text=True)
    assert text_of(html, 'id="week-title"', "</section>").startswith("This week: 2 of 3 sessions done")
    submit(phone, "/p/language", {"language": "es", "back": "/p/home"}, form_page="/p/home")
    html = phone.get("/p/home").get_data(as_text=True)
    week = text_of(html, 'id="week-title"', "</section>")
    assert week.startswith("Esta semana: 2 de 3 sesiones hechas") and "La semana va de lunes a domingo." in week
