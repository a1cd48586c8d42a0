"""Adherence: the sessions a patient's plan asked for each week against the sessions done, in the clinic and at
home. Plain values in, plain values out (no database, no Flask): ``adherence_records`` gathers the facts.

How it counts (docs/clinical.md, "Adherence"; expert opinion):

- Weeks run Monday to Sunday in the clinic's time zone, the week a therapist's calendar shows, the same for
  every patient (the dashboard's "this week" means one thing).
- Each local day takes the plan in force at its end: a phase move, a new version or the protocol's start that
  day counts for the whole day, and the day a protocol ends plans nothing. A day's share of the plan is the
  phase's sessions per week divided by 7; a week's plan is the sum of its days, rounded to whole sessions (half
  up), in the clinic and at home separately.
- A phase's clinic plan is its largest "sessions per week" among its clinic exercises (exercises of one setting
  are done in the same session); the home plan the same among its home exercises.
- Days under a safety stop (an uncleared red flag or fall, from the day it was reported to the day a therapist
  cleared it) plan nothing: the patient was told to stop, so they are not counted as missing sessions.
- Done: every clinic visit and every home log is one session, on its local day, whatever its minutes (a session
  stopped early is still a session; the dose is the advice's business). Several on one day count as several.
- The share counts each setting up to its own plan, so extra home walks do not hide missed clinic visits.
- This week is in progress: its plan is the whole week's, and "under half" compares what is done with what was
  due by the end of yesterday (never before a whole session was due), so nobody is flagged on a Monday.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class PlanChange:
    """From ``at`` on, the plan asks for these sessions a week (both 0: no plan, e.g. the protocol ended)."""

    at: datetime  # aware
    clinic_per_week: int
    home_per_week: int


@dataclass(frozen=True)
class SafetyStop:
    """A red flag or a fall that stopped the walking: from the session that reported it to the clearance that
    lifted it (None: still in force). A home session gives only its date."""

    start: datetime | date
    end: datetime | None


@dataclass(frozen=True)
class WeekAdherence:
    start: date  # the Monday
    planned_clinic: int
    planned_home: int
    clinic_done: int
    home_done: int
    plan_days: int  # days of the week under a plan and not stopped
    stopped_days: int  # days of the week under a plan but stopped for safety
    in_progress: bool  # this week: days remain
    due: Fraction  # sessions due by the end of yesterday (this week) or the week's plan (past weeks)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    @property
    def planned(self) -> int:
        return self.planned_clinic + self.planned_home

    @property
    def done(self) -> int:
        return self.clinic_done + self.home_done

    @property
    def counted(self) -> int:
        """Sessions done that count toward the plan: each setting up to its own plan."""
        return min(self.clinic_done, self.planned_clinic) + min(self.home_done, self.planned_home)

    @property
    def share(self) -> float | None:
        """Counted over planned, 0 to 1; None when the week planned nothing."""
        return self.counted / self.planned if self.planned else None

    @property
    def percent(self) -> int | None:
        share = self.share
        return None if share is None else round(share * 100)

    @property
    def partial(self) -> bool:
        """Not every day of the week was under a plan (the first or last week of a protocol)."""
        return self.plan_days + self.stopped_days < 7

    @property
    def under_half(self) -> bool:
        """Fewer than half the sessions due were done (this week: due by yesterday, once one whole was due)."""
        if self.in_progress:
            return self.due >= 1 and 2 * self.counted < self.due
        return self.planned > 0 and 2 * self.counted < self.planned


@dataclass(frozen=True)
class Adherence:
    weeks: tuple[WeekAdherence, ...]  # oldest first, up to this week (or the plan's last week)
    today: date  # the clinic's local date the weeks were counted on

    @property
    def this_week(self) -> WeekAdherence | None:
        """This week's row, when a plan covers it or a session was done in it."""
        last = self.weeks[-1] if self.weeks else None
        return last if last is not None and last.start == week_start(self.today) else None

    def newest(self, count: int) -> list[WeekAdherence]:
        """The newest ``count`` weeks, newest first (the patient page's table)."""
        return list(reversed(self.weeks[-count:]))


def week_start(day: date) -> date:
    """The Monday of a day's week."""
    return day - timedelta(days=day.weekday())


def local_day(moment: datetime | date, zone: ZoneInfo) -> date:
    """A stored instant as the clinic's local date; a date (a home session's) as it is."""
    return moment.astimezone(zone).date() if isinstance(moment, datetime) else moment


def _sessions_in_sevenths(sevenths: int) -> int:
    """A week's plan kept in sevenths of a session (a day's share of "n a week" is n sevenths), as whole
    sessions rounded half up."""
    return (2 * sevenths + 7) // 14


def _stopped_days(stops: Iterable[SafetyStop], zone: ZoneInfo, first_day: date, last_day: date) -> set[date]:
    """Every local day from ``first_day`` to ``last_day`` touched by a stop; a stop still in force runs to
    ``last_day``."""
    days: set[date] = set()
    for stop in stops:
        first = max(local_day(stop.start, zone), first_day)
        final = min(local_day(stop.end, zone) if stop.end is not None else last_day, last_day)
        days.update(first + timedelta(days=offset) for offset in range((final - first).days + 1))
    return days


def weekly_adherence(*, plan: Sequence[PlanChange], clinic_sessions: Iterable[datetime],
                     home_sessions: Iterable[date], stops: Iterable[SafetyStop] = (), zone: str | ZoneInfo,
                     now: datetime, first_week: date | None = None) -> Adherence:
    """Planned against done, per week in the clinic's zone, from the plan's first week (or ``first_week`` when
    later) to this week while a plan is in force, else to the plan's last week.

    ``plan`` lists every change in any order; ``clinic_sessions`` are visit times, ``home_sessions`` home log
    dates, both in any order. Sessions outside those weeks are left out."""
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    today = now.astimezone(tz).date()
    if not plan:
        return Adherence((), today)
    # The plan of each local day: the last change made on or before it (a later change the same day wins).
    changes = sorted(plan, key=lambda change: change.at)
    by_day: dict[date, PlanChange] = {}
    for change in changes:
        by_day[local_day(change.at, tz)] = change
    change_days = sorted(by_day)
    first_day = change_days[0]
    open_ended = changes[-1].clinic_per_week or changes[-1].home_per_week
    last_day = week_start(today) + timedelta(days=6) if open_ended else change_days[-1]
    first = max(week_start(first_day), week_start(first_week) if first_week else week_start(first_day))
    if last_day < first:
        return Adherence((), today)
    stopped = _stopped_days(stops, tz, first, last_day)
    clinic_done = Counter(week_start(local_day(at, tz)) for at in clinic_sessions)
    home_done = Counter(week_start(day) for day in home_sessions)

    weeks: list[WeekAdherence] = []
    index = 0
    current: PlanChange | None = None
    for monday in _mondays(first, last_day):
        clinic = home = due = 0  # in sevenths of a session
        plan_days = stopped_days = 0
        for offset in range(7):
            day = monday + timedelta(days=offset)
            while index < len(change_days) and change_days[index] <= day:
                current = by_day[change_days[index]]
                index += 1
            if current is None or not (current.clinic_per_week or current.home_per_week) or day > last_day:
                continue
            if day in stopped:
                stopped_days += 1
                continue
            plan_days += 1
            clinic += current.clinic_per_week
            home += current.home_per_week
            if day < today:
                due += current.clinic_per_week + current.home_per_week
        in_progress = monday <= today <= monday + timedelta(days=6)
        planned_clinic, planned_home = _sessions_in_sevenths(clinic), _sessions_in_sevenths(home)
        weeks.append(WeekAdherence(
            start=monday, planned_clinic=planned_clinic, planned_home=planned_home,
            clinic_done=clinic_done[monday], home_done=home_done[monday], plan_days=plan_days,
            stopped_days=stopped_days, in_progress=in_progress,
            due=Fraction(due, 7) if in_progress else Fraction(planned_clinic + planned_home)))
    # A week between two protocols with nothing planned and nothing done is no row.
    return Adherence(tuple(week for week in weeks if week.plan_days or week.stopped_days or week.done), today)


def _mondays(first: date, last_day: date) -> Iterable[date]:
    monday = week_start(first)
    while monday <= last_day:
        yield monday
        monday += WEEK
