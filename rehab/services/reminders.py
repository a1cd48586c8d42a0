"""Reminders without a server: the patient's planned home sessions as a calendar their phone subscribes to.

Plain values in, iCalendar text out (no database, no Flask): ``calendar_links`` gathers the facts. What the
calendar holds (docs/clinical.md, "Reminders"; expert opinion):

- The home sessions of the current phase, at the patient's chosen time in the clinic's time zone, on days
  spread through the week with rest days between (weeks run Monday to Sunday, as in ``adherence``): 1 a week on
  Monday; 2 on Monday and Thursday; 3 on Monday, Wednesday and Friday; 7 or more every day. The sessions a week
  are the phase's home plan as ``adherence`` reads it (the largest "sessions per week" of its home exercises).
- From today to the end of the phase's planned weeks; while the plan is in force past them (the therapist has not
  moved the phase yet) two weeks ahead; never more than twelve weeks ahead (the calendar refreshes itself),
  and nothing on or after the day the protocol ended.
- The morning after each session, "How is your knee?": pain that has not settled by the next morning is the
  pain-monitoring model's sign that the dose was too much (Silbernagel 2007, the advice's ``not_settled`` rule).
- While a red flag or a fall waits for a therapist (the safety stop), no session at all: one entry today, "Call
  your therapist before your next session". The safer advice wins: a stopped patient is never reminded to walk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rehab.services import ics
from rehab.translation import N_, gettext

NEXT_MORNING = time(9, 0)
SESSION_LENGTH = timedelta(minutes=30)
KNEE_QUESTION_LENGTH = timedelta(minutes=15)
AT_LEAST_AHEAD = timedelta(days=14)
AT_MOST_AHEAD = timedelta(weeks=12)
DEFAULT_TIME = time(10, 0)  # offered on the form until the patient chooses
PRODUCT = "-//rehab//Backward-walking reminders//EN"

CALENDAR_NAME = N_("Backward walking: %(clinic)s")
CALENDAR_DESCRIPTION = N_("Your backward-walking sessions at home, and a question about your knee the next "
                          "morning. This calendar updates itself when your therapist changes your plan.")
SESSION_SUMMARY = N_("Backward walking: your session today")
SESSION_PAGE = N_("Your exercises are on your page from the clinic. Afterwards, log your session there.")
SESSION_STOP = N_("Stop and call the clinic if your pain goes above %(ceiling)s out of 10, or if you fall.")
KNEE_SUMMARY = N_("How is your knee?")
KNEE_DESCRIPTION = N_("A little more pain after walking is normal, but it should settle by this morning. If your "
                      "knee hurts more than usual, or is red, hot or swollen, call the clinic before your next "
                      "session.")
STOP_SUMMARY = N_("Call your therapist before your next session")
STOP_DESCRIPTION = N_("You told us about a warning sign or a fall. Do not walk backward until your therapist has "
                      "talked with you.")
CLINIC_PHONE = N_("Clinic: %(phone)s")
TIME_ERROR = N_("Enter a time like 18:30: the hour from 0 to 23, then the minutes.")

_TIME = re.compile(r"^\s*(\d{1,2})(?:\s*[:.h]\s*(\d{2}))?\s*(?:(a|p)\.?\s*m\.?)?\s*$", re.IGNORECASE)


def parse_time(text: str) -> time | None:
    """The time the patient typed: "18:30" (what a time field sends), also "18.30", "18h30", "6:30 pm" or "7 am"
    where a browser shows a plain text box. None when it is not a time of day."""
    match = _TIME.match(text or "")
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if match.group(3):
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match.group(3).lower() == "p" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def session_weekdays(per_week: int) -> tuple[int, ...]:
    """The days of the week (0 is Monday) of ``per_week`` sessions, spread with rest days between."""
    count = min(max(per_week, 0), 7)
    return tuple(sorted({(index * 7) // count for index in range(count)})) if count else ()


@dataclass(frozen=True)
class ReminderPlan:
    """What a patient's calendar is made from, as plain values."""

    uid_base: str  # unique to this calendar and stable, so a re-fetched event replaces itself
    language: str
    zone: str  # the clinic's time zone
    at: time  # the patient's chosen time, in that zone
    home_per_week: int
    phase_start: date  # the clinic's local day the current phase began
    phase_weeks: int
    ended: date | None  # the day the protocol ended; None while it runs
    stopped: bool  # a red flag or a fall waits for a therapist
    clinic_name: str
    clinic_phone: str
    ceiling: int  # the pain ceiling at home
    dose: tuple[str, ...] = ()  # the home exercises' dose sentences, in the patient's language


def session_days(plan: ReminderPlan, *, today: date) -> list[date]:
    """The days a session is planned, from today to the end of the calendar's reach."""
    if plan.stopped or plan.home_per_week <= 0:
        return []
    last = max(plan.phase_start + timedelta(weeks=plan.phase_weeks) - timedelta(days=1), today + AT_LEAST_AHEAD)
    last = min(last, today + AT_MOST_AHEAD)
    if plan.ended is not None:
        last = min(last, plan.ended - timedelta(days=1))
    weekdays = set(session_weekdays(plan.home_per_week))
    first = max(today, plan.phase_start)
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)
            if (first + timedelta(days=offset)).weekday() in weekdays]


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone)


def reminder_events(plan: ReminderPlan, *, today: date) -> list[ics.Event]:
    """The sessions and their next-morning questions, or the one "call your therapist" entry while stopped."""
    def _(message: str) -> str:
        return gettext(plan.language, message)

    phone = [_(CLINIC_PHONE) % {"phone": plan.clinic_phone}] if plan.clinic_phone.strip() else []
    if plan.stopped:
        return [ics.Event(uid=f"stop-{plan.uid_base}", start=today, summary=_(STOP_SUMMARY),
                          description="\n".join([_(STOP_DESCRIPTION), *phone]))]
    zone = ZoneInfo(plan.zone)
    session_text = "\n".join([*plan.dose, _(SESSION_PAGE), _(SESSION_STOP) % {"ceiling": plan.ceiling}, *phone])
    knee_text = "\n".join([_(KNEE_DESCRIPTION), *phone])
    events: list[ics.Event] = []
    for day in session_days(plan, today=today):
        events.append(ics.Event(uid=f"session-{day:%Y%m%d}-{plan.uid_base}", start=_local(day, plan.at, zone),
                                summary=_(SESSION_SUMMARY), description=session_text, length=SESSION_LENGTH))
        morning = day + timedelta(days=1)
        if plan.ended is None or morning < plan.ended:
            events.append(ics.Event(uid=f"knee-{morning:%Y%m%d}-{plan.uid_base}",
                                    start=_local(morning, NEXT_MORNING, zone), summary=_(KNEE_SUMMARY),
                                    description=knee_text, length=KNEE_QUESTION_LENGTH))
    return events


def _calendar(language: str, zone: str, clinic_name: str, events: list[ics.Event]) -> ics.Calendar:
    return ics.Calendar(product=PRODUCT, name=gettext(language, CALENDAR_NAME) % {"clinic": clinic_name},
                        description=gettext(language, CALENDAR_DESCRIPTION), zone=zone, language=language,
                        events=events)


def reminder_calendar(plan: ReminderPlan, *, now: datetime) -> str:
    """The patient's calendar as iCalendar text, counted from today in the clinic's zone."""
    today = now.astimezone(ZoneInfo(plan.zone)).date()
    return ics.write(_calendar(plan.language, plan.zone, plan.clinic_name, reminder_events(plan, today=today)),
                     now=now)


def empty_calendar(*, language: str, zone: str, clinic_name: str, now: datetime) -> str:
    """A calendar with no events: what a revoked or rotated link's calendar answers, so a phone that subscribed
    drops its reminders at the next refresh (and learns nothing else)."""
    return ics.write(_calendar(language, zone, clinic_name, []), now=now)
