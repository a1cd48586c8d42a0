"""The reminder calendar, written by hand (services/ics.py) and read back by an independent parser (icalendar):
the days a plan's sessions fall on, the clinic's time zone across a daylight-saving change, the next-morning
question, a stopped patient, an ended protocol, and the file's own rules (CRLF, folding, escaping)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from rehab.services import ics, reminders
from rehab.services.reminders import ReminderPlan

NEW_YORK = ZoneInfo("America/New_York")
MONDAY = date(2026, 11, 30)
# Wednesday 2 December 2026, 15:00 in New York.
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=NEW_YORK).astimezone(UTC)

PLAN = ReminderPlan(uid_base="0123456789abcdef0123", language="en", zone="America/New_York", at=time(18, 30),
                    home_per_week=3, phase_start=MONDAY, phase_weeks=4, ended=None, stopped=False,
                    clinic_name="Riverside PT", clinic_phone="555-0100", ceiling=3,
                    dose=("Walk backward on the treadmill for 5 minutes, 3 times a week, holding both rails.",))


def parsed(plan: ReminderPlan, now: datetime = NOW) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(reminders.reminder_calendar(plan, now=now))


def events(calendar: icalendar.Calendar, summary: str | None = None) -> list[icalendar.Event]:
    found = [event for event in calendar.walk("VEVENT")]
    return [event for event in found if summary is None or str(event["SUMMARY"]) == summary]


def local_starts(found: list[icalendar.Event], zone: ZoneInfo = NEW_YORK) -> list[datetime]:
    return [event.decoded("DTSTART").astimezone(zone) for event in found]


def test_sessions_are_spread_through_the_week_with_rest_days_between():
    assert reminders.session_weekdays(1) == (0,)
    assert reminders.session_weekdays(2) == (0, 3)  # Monday, Thursday
    assert reminders.session_weekdays(3) == (0, 2, 4)  # Monday, Wednesday, Friday
    assert reminders.session_weekdays(5) == (0, 1, 2, 4, 5)
    assert reminders.session_weekdays(7) == reminders.session_weekdays(14) == tuple(range(7))
    assert reminders.session_weekdays(0) == ()


def test_three_a_week_are_monday_wednesday_friday_at_the_chosen_time_to_the_end_of_the_phase():
    sessions = events(parsed(PLAN), "Backward walking: your session today")
    starts = local_starts(sessions)
    # From today (Wednesday 2 December) to the end of the phase's 4 weeks (Sunday 27 December).
    assert [start.date() for start in starts] == [
        date(2026, 12, 2), date(2026, 12, 4), date(2026, 12, 7), date(2026, 12, 9), date(2026, 12, 11),
        date(2026, 12, 14), date(2026, 12, 16), date(2026, 12, 18), date(2026, 12, 21), date(2026, 12, 23),
        date(2026, 12, 25)]
    assert {start.time() for start in starts} == {time(18, 30)}
    assert all(event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=30) for event in sessions)
    description = str(sessions[0]["DESCRIPTION"])
    assert description.startswith("Walk backward on the treadmill for 5 minutes, 3 times a week, holding both rails.\n")
    assert "above 3 out of 10" in description and "Clinic: 555-0100" in description
    assert all(event.walk("VALARM") for event in sessions)  # a reminder, where the calendar shows a feed's alarms


def test_times_are_utc_and_stay_at_the_local_time_across_a_daylight_saving_change():
    # New York leaves daylight time on 1 November 2026: 18:30 is 22:30 UTC before, 23:30 UTC after.
    plan = replace(PLAN, phase_start=date(2026, 10, 26), phase_weeks=2)
    now = datetime(2026, 10, 26, 12, 0, tzinfo=UTC)
    text = reminders.reminder_calendar(plan, now=now)
    sessions = events(icalendar.Calendar.from_ical(text), "Backward walking: your session today")
    utc = {event.decoded("DTSTART").date(): event.decoded("DTSTART") for event in sessions}
    assert utc[date(2026, 10, 30)] == datetime(2026, 10, 30, 22, 30, tzinfo=UTC)
    assert utc[date(2026, 11, 2)] == datetime(2026, 11, 2, 23, 30, tzinfo=UTC)
    assert {start.time() for start in local_starts(sessions)} == {time(18, 30)}
    assert "DTSTART:20261030T223000Z" in text  # UTC form, so no VTIMEZONE is needed
    assert "X-WR-TIMEZONE:America/New_York" in text


def test_each_session_has_a_question_about_the_knee_the_next_morning():
    calendar = parsed(PLAN)
    sessions = [start.date() for start in local_starts(events(calendar, "Backward walking: your session today"))]
    mornings = local_starts(events(calendar, "How is your knee?"))
    assert [start.date() for start in mornings] == [day + timedelta(days=1) for day in sessions]
    assert {start.time() for start in mornings} == {reminders.NEXT_MORNING}
    assert "should settle by this morning" in str(events(calendar, "How is your knee?")[0]["DESCRIPTION"])


def test_a_stopped_patient_gets_one_entry_to_call_their_therapist_and_no_session():
    found = events(parsed(replace(PLAN, stopped=True)))
    assert len(found) == 1
    assert str(found[0]["SUMMARY"]) == "Call your therapist before your next session"
    assert found[0].decoded("DTSTART") == date(2026, 12, 2)  # today, all day
    assert "Do not walk backward" in str(found[0]["DESCRIPTION"]) and "555-0100" in str(found[0]["DESCRIPTION"])


def test_nothing_on_or_after_the_day_the_protocol_ended():
    found = events(parsed(replace(PLAN, ended=date(2026, 12, 9))))
    days = [start.date() for start in local_starts(found)]
    assert days and max(days) < date(2026, 12, 9)
    assert date(2026, 12, 7) in days  # the last session before the end, and its morning the 8th
    assert date(2026, 12, 8) in days
    assert events(parsed(replace(PLAN, ended=date(2026, 12, 2)))) == []


def test_a_plan_past_its_planned_weeks_keeps_two_weeks_ahead_and_never_more_than_twelve():
    late = [start.date() for start in local_starts(events(
        parsed(replace(PLAN, phase_start=date(2026, 10, 1), phase_weeks=2)), "Backward walking: your session today"))]
    assert min(late) == date(2026, 12, 2) and max(late) == date(2026, 12, 16)
    long = [start.date() for start in local_starts(events(
        parsed(replace(PLAN, phase_weeks=52)), "Backward walking: your session today"))]
    assert max(long) <= date(2026, 12, 2) + timedelta(weeks=12)


def test_a_plan_with_nothing_at_home_has_no_events():
    assert events(parsed(replace(PLAN, home_per_week=0))) == []


def test_the_calendar_is_in_the_patients_language():
    calendar = parsed(replace(PLAN, language="es"))
    assert str(calendar["X-WR-CALNAME"]) == str(calendar["NAME"]) == "Caminar hacia atrás: Riverside PT"
    summaries = {str(event["SUMMARY"]) for event in events(calendar)}
    assert summaries == {"Caminar hacia atrás: su sesión de hoy", "¿Cómo está su rodilla?"}
    stopped = events(parsed(replace(PLAN, language="es", stopped=True)))
    assert str(stopped[0]["SUMMARY"]) == "Llame a su terapeuta antes de su próxima sesión"


def test_uids_are_unique_and_stable_across_fetches_so_a_refresh_replaces_rather_than_adds():
    first = [str(event["UID"]) for event in events(parsed(PLAN))]
    later = [str(event["UID"]) for event in events(parsed(replace(PLAN, at=time(8, 0)), NOW + timedelta(hours=3)))]
    assert len(set(first)) == len(first)
    assert first == later  # the same days, a new time: the same events moved


def test_the_file_keeps_rfc_5545s_rules():
    plan = replace(PLAN, language="es", clinic_name="Clínica; Norte, \\ Sur", clinic_phone="555-0100, ext. 2; Ana")
    text = reminders.reminder_calendar(plan, now=NOW)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert any(line.startswith(" ") for line in text.split("\r\n"))  # long lines are folded
    assert "Clínica\\; Norte\\, \\\\ Sur" in text.replace("\r\n ", "")
    calendar = icalendar.Calendar.from_ical(text)
    assert str(calendar["VERSION"]) == "2.0" and str(calendar["METHOD"]) == "PUBLISH"
    description = str(events(calendar)[0]["DESCRIPTION"])
    assert description.count("\n") == 3  # the dose, the page, the stop rule, the clinic: line breaks survive
    assert description.endswith("Clínica: 555-0100, ext. 2; Ana")


@pytest.mark.parametrize("line", ["x" * 200, "é" * 100, "a" + "€" * 60])
def test_folding_never_splits_a_character_and_unfolds_to_the_line(line):
    folded = ics.fold(line)
    pieces = folded.split("\r\n")
    assert all(len(piece.encode()) <= 75 for piece in pieces)
    assert "".join(piece[1:] if index else piece for index, piece in enumerate(pieces)) == line


def test_an_empty_calendar_is_a_valid_calendar_with_no_events():
    calendar = icalendar.Calendar.from_ical(
        reminders.empty_calendar(language="en", zone="UTC", clinic_name="Riverside PT", now=NOW))
    assert events(calendar) == [] and str(calendar["NAME"]) == "Backward walking: Riverside PT"


@pytest.mark.parametrize(("typed", "expected"), [
    ("18:30", time(18, 30)), ("7:05", time(7, 5)), ("18.30", time(18, 30)), ("18h30", time(18, 30)),
    ("6:30 pm", time(18, 30)), ("7 am", time(7, 0)), ("12 am", time(0, 0)), ("12:15 PM", time(12, 15)),
    ("9", time(9, 0)), ("24:00", None), ("18:60", None), ("13 pm", None), ("", None), ("evening", None),
])
def test_the_time_typed_is_read_as_people_write_it(typed, expected):
    assert reminders.parse_time(typed) == expected
