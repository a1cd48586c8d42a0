"""Reminders in the patient's calendar: choosing the time on the portal, the calendar address a phone subscribes
to (fetched without the portal's cookie), and that address living and dying with the personal link."""

from __future__ import annotations

import re
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlmodel import select

from rehab.models import AuditEvent, LoginAttempt, PortalCalendar, PortalLink, utcnow
from rehab.services import calendar_links, portal_links, protocol_records
from rehab.services.tokens import token_hash
from tests import factories
from tests.conftest import SECRET, count_rows, submit

pytestmark = pytest.mark.db

ADDRESS = re.compile(r'id="calendar-address" type="url" readonly value="([^"]+)"')
SESSION = "Backward walking: your session today"


@pytest.fixture
def protocol(db, patient, therapist):  # type: ignore[no-untyped-def]
    """Phase 1 on a treadmill at home, 3 times a week."""
    return factories.protocol(db, patient, user_id=therapist.id, home=True, days_ago=3)


def choose_time(phone, typed: str, **extra: str):  # type: ignore[no-untyped-def]
    return submit(phone, "/p/reminders", {"reminder_time": typed, **extra})


def calendar_address(phone) -> str:  # type: ignore[no-untyped-def]
    match = ADDRESS.search(phone.get("/p/reminders").get_data(as_text=True))
    assert match, "the page shows no calendar address"
    return match.group(1)


def fetch(app, address: str):  # type: ignore[no-untyped-def]
    """The calendar as a calendar app fetches it: a client of its own, with no cookie."""
    return app.test_client().get(address.removeprefix("http://localhost"))


def parsed_events(response) -> list[icalendar.Event]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    return list(icalendar.Calendar.from_ical(response.get_data(as_text=True)).walk("VEVENT"))


def test_the_patient_chooses_a_time_and_gets_a_calendar_of_their_sessions(app, db, patient_client, clinic):
    page = patient_client.get("/p/reminders").get_data(as_text=True)
    assert 'type="time"' in page and 'value="10:00"' in page and "calendar-address" not in page
    response = choose_time(patient_client, "18:30")
    assert response.status_code == 302 and response.headers["Location"].endswith("/p/reminders#calendar")
    page = patient_client.get("/p/reminders").get_data(as_text=True)
    assert "Your reminders are set for 18:30." in page and 'value="18:30"' in page
    assert "Monday, Wednesday, and Friday at 18:30" in page
    address = calendar_address(patient_client)
    assert re.fullmatch(r"http://localhost/p/calendar/[A-Za-z0-9_-]{43}\.ics", address)
    assert 'href="webcal://localhost/p/calendar/' in page
    found = parsed_events(fetch(app, address))
    sessions = [event for event in found if str(event["SUMMARY"]) == SESSION]
    zone = ZoneInfo(clinic.timezone or "UTC")
    assert sessions and {event.decoded("DTSTART").astimezone(zone).time() for event in sessions} == {time(18, 30)}
    assert {event.decoded("DTSTART").astimezone(zone).weekday() for event in sessions} <= {0, 2, 4}
    assert any(str(event["SUMMARY"]) == "How is your knee?" for event in found)


def test_the_calendar_has_its_own_token_stored_as_a_hash_and_never_the_link(app, db, patient_client, token):
    choose_time(patient_client, "07:15")
    address = calendar_address(patient_client)
    calendar_token = address.rsplit("/", 1)[1].removesuffix(".ics")
    stored = db.exec(select(PortalCalendar)).one()
    assert calendar_token != token and stored.token_hash == token_hash(calendar_token)
    assert calendar_token not in stored.model_dump_json()
    text = fetch(app, address).get_data(as_text=True)
    assert token not in text and "Okafor" not in text and "Margaret" not in text  # no link, no name in a cloud calendar
    # The calendar address opens no patient page, and the link's token opens no calendar.
    assert app.test_client().get(f"/p/{calendar_token}").status_code == 404
    assert app.test_client().get(f"/p/calendar/{token}.ics").status_code == 404


def test_a_time_that_is_not_a_time_is_explained_beside_the_field_and_nothing_is_saved(db, patient_client):
    response = choose_time(patient_client, "25:99")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    field = page[page.index('<label for="reminder_time"'):page.index('id="reminder_time"') + 200]
    assert "Enter a time like 18:30" in field and 'aria-invalid="true"' in field and 'value="25:99"' in field
    assert count_rows(db, PortalCalendar) == 0


def test_the_time_typed_as_people_write_it_is_saved(db, patient_client):
    choose_time(patient_client, "6:45 pm")
    assert db.exec(select(PortalCalendar)).one().reminder_time == time(18, 45)


def test_the_address_stays_the_same_and_follows_the_plan_when_it_changes(app, db, patient_client, patient, protocol,
                                                                         therapist):
    choose_time(patient_client, "18:30")
    address = calendar_address(patient_client)
    before = {event.decoded("DTSTART").weekday() for event in parsed_events(fetch(app, address))
              if str(event["SUMMARY"]) == SESSION}
    # The therapist raises the home sessions to 5 a week: the subscribed calendar follows at its next fetch.
    version = protocol_records.latest_version(db, protocol)
    content = protocol_records.load_content(version)
    content.phases[0].prescriptions[0].sessions_per_week = 5
    protocol_records.save_version(db, protocol=protocol, content=content, seen_version=protocol.latest_version,
                                  user_id=therapist.id, now=utcnow(), overrides=[])
    db.commit()
    choose_time(patient_client, "08:00")
    assert calendar_address(patient_client) == address
    after = parsed_events(fetch(app, address))
    days = {event.decoded("DTSTART").weekday() for event in after if str(event["SUMMARY"]) == SESSION}
    assert len(before) == 3 and len(days) == 5


def test_a_stopped_patient_is_told_to_call_and_never_reminded_to_walk(app, db, patient_client, patient, protocol):
    choose_time(patient_client, "18:30")
    address = calendar_address(patient_client)
    factories.home_log(db, patient, protocol, flag_calf=True)
    found = parsed_events(fetch(app, address))
    assert [str(event["SUMMARY"]) for event in found] == ["Call your therapist before your next session"]


def test_revoking_or_rotating_the_link_empties_its_calendar(app, db, patient_client, patient):
    choose_time(patient_client, "18:30")
    address = calendar_address(patient_client)
    assert parsed_events(fetch(app, address))
    link = db.exec(select(PortalLink)).one()
    portal_links.rotate(db, link=link, patient=patient, user_id=None, now=utcnow(), secret=SECRET)
    db.commit()
    assert parsed_events(fetch(app, address)) == []  # a phone that subscribed drops the old link's reminders
    new_link = portal_links.live_link(db, patient_id=patient.id)
    assert calendar_links.calendar_of(db, link_id=new_link.id) is None  # the new link makes its own address
    # Opening the new link offers the time chosen before.
    _, token = portal_links.issue_link(db, patient=patient, user_id=None, now=utcnow(), secret=SECRET)
    db.commit()
    phone = app.test_client()
    phone.get(f"/p/{token}")
    assert 'value="18:30"' in phone.get("/p/reminders").get_data(as_text=True)


def test_an_ended_protocol_leaves_an_empty_calendar(app, db, patient_client, protocol):
    choose_time(patient_client, "18:30")
    address = calendar_address(patient_client)
    protocol_records.end_protocol(db, protocol=protocol, reason="Discharged", now=utcnow())
    db.commit()
    assert parsed_events(fetch(app, address)) == []


def test_the_calendar_is_in_the_language_the_patient_chose(app, patient_client):
    submit(patient_client, "/p/language", {"language": "es", "back": "/p/reminders"}, form_page="/p/reminders")
    choose_time(patient_client, "18:30")
    page = patient_client.get("/p/reminders").get_data(as_text=True)
    assert "Sus recordatorios quedaron a las 18:30." in page and "Lunes, miércoles y viernes a las 18:30" in page
    summaries = {str(event["SUMMARY"]) for event in parsed_events(fetch(app, calendar_address(patient_client)))}
    assert summaries == {"Caminar hacia atrás: su sesión de hoy", "¿Cómo está su rodilla?"}


def test_an_unknown_calendar_is_refused_and_counted_like_a_wrong_link(app, db):
    phone = app.test_client()
    response = phone.get("/p/calendar/" + "x" * 43 + ".ics")
    assert response.status_code == 404 and "Set-Cookie" not in response.headers
    assert count_rows(db, LoginAttempt) == 1
    assert db.exec(select(AuditEvent.action)).all() == ["portal.calendar.unknown"]
    for _ in range(10):
        phone.get("/p/calendar/" + "y" * 43 + ".ics")
    assert phone.get("/p/calendar/" + "z" * 43 + ".ics").status_code == 429


def test_calendar_fetches_set_no_cookie_and_are_audited_once_an_hour(app, db, patient_client, patient):
    choose_time(patient_client, "18:30")
    address = calendar_address(patient_client)
    for _ in range(3):
        response = fetch(app, address)
        assert "Set-Cookie" not in response.headers
    reads = db.exec(select(AuditEvent).where(AuditEvent.action == "portal.calendar")).all()
    assert len(reads) == 1 and reads[0].patient_id == patient.id


def test_the_home_page_and_the_sheet_say_where_the_reminders_are(patient_client):
    from tests.test_handouts import pdf_text

    home = patient_client.get("/p/home").get_data(as_text=True)
    assert 'href="/p/reminders"' in home and "Set up my reminders" in home
    token = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)  # type: ignore[union-attr]
    sheet = patient_client.post("/p/sheet", data={"csrf_token": token}, follow_redirects=True)
    text = " ".join(pdf_text(sheet.data)[0].split())
    assert "Reminders in your phone’s calendar: open your page and tap “Reminders in my calendar”." in text


def test_the_calendar_address_is_kept_out_of_the_logs():
    from rehab.logredact import redact

    token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd"
    assert redact(f'"GET /p/calendar/{token}.ics HTTP/1.1" 200') == '"GET /p/calendar/<token>.ics HTTP/1.1" 200'


def test_the_calendar_follows_a_phase_move_from_the_day_it_was_made(app, db, patient_client, protocol, therapist):
    """The phase's weeks count from the move: phase 2's reminders run its planned weeks from today."""
    choose_time(patient_client, "18:30")
    address = calendar_address(patient_client)
    content = protocol_records.load_content(protocol_records.latest_version(db, protocol))
    for rx in content.phases[1].prescriptions:
        rx.setting = "home_alone"
    version = protocol_records.save_version(db, protocol=protocol, content=content,
                                            seen_version=protocol.latest_version, user_id=therapist.id,
                                            now=utcnow(), overrides=[])
    protocol_records.move_phase(db, protocol=protocol, from_phase=0, to_phase=1, reason="Pain settled",
                                user_id=therapist.id, now=utcnow(), phase_count=len(content.phases))
    db.commit()
    assert version is not None
    sessions = [event for event in parsed_events(fetch(app, address)) if str(event["SUMMARY"]) == SESSION]
    assert sessions
    last = max(event.decoded("DTSTART") for event in sessions)
    weeks = content.phases[1].weeks
    assert last <= utcnow() + timedelta(weeks=max(weeks, 2), days=1)
