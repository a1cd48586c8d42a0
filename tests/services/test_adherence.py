"""Adherence counted without a database: planned sessions per week against clinic visits and home logs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from rehab.services.adherence import PlanChange, SafetyStop, weekly_adherence

CHICAGO = ZoneInfo("America/Chicago")
MON = date(2026, 11, 9)  # a Monday


def local(day: date, hour: int = 10, minute: int = 0, zone: ZoneInfo = CHICAGO) -> datetime:
    """A clinic-local moment, stored as UTC like every time in the database."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


def days(start: date, *offsets: int) -> list[date]:
    return [start + timedelta(days=offset) for offset in offsets]


def count(**kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("zone", CHICAGO)
    kwargs.setdefault("clinic_sessions", [])
    kwargs.setdefault("home_sessions", [])
    return weekly_adherence(**kwargs)


def test_each_week_counts_its_own_sessions_against_the_plan():
    plan = [PlanChange(local(MON, 9), clinic_per_week=3, home_per_week=0)]
    visits = ([local(day) for day in days(MON, 0, 2, 4)] + [local(MON + timedelta(days=8))]
              + [local(MON + timedelta(days=21))])
    result = count(plan=plan, clinic_sessions=visits, now=local(MON + timedelta(days=23), 12))  # Wed of week 4
    assert [(week.start, week.planned, week.done) for week in result.weeks] == [
        (MON, 3, 3), (MON + timedelta(days=7), 3, 1), (MON + timedelta(days=14), 3, 0),
        (MON + timedelta(days=21), 3, 1)]
    assert [week.under_half for week in result.weeks] == [False, True, True, False]
    assert [week.percent for week in result.weeks[:3]] == [100, 33, 0]
    this = result.this_week
    assert this is result.weeks[-1] and this.in_progress
    assert this.due == Fraction(6, 7)  # Monday and Tuesday are over: under one whole session was due


def test_the_first_week_is_prorated_from_the_start_day():
    thursday = MON + timedelta(days=3)
    result = count(plan=[PlanChange(local(thursday, 15), 3, 0)], now=local(MON + timedelta(days=10)))
    first = result.weeks[0]
    assert first.start == MON and first.plan_days == 4 and first.partial
    assert first.planned == 2  # 3 a week over 4 of 7 days is 1.7: two whole sessions


def test_a_phase_move_mid_week_changes_the_plan_from_that_day():
    thursday = MON + timedelta(days=3)
    plan = [PlanChange(local(MON - timedelta(days=7)), 3, 0),
            PlanChange(local(thursday, 10), 2, 2)]  # the next phase adds two home sessions a week
    result = count(plan=plan, now=local(MON + timedelta(days=14)))
    week = next(week for week in result.weeks if week.start == MON)
    # Clinic: 3/7 for Mon-Wed and 2/7 for Thu-Sun is 17/7 (2.4); home: 2/7 for Thu-Sun is 8/7 (1.1).
    assert (week.planned_clinic, week.planned_home) == (2, 1)
    after = next(week for week in result.weeks if week.start == MON + timedelta(days=7))
    assert (after.planned_clinic, after.planned_home) == (2, 2)


def test_plan_changes_in_any_order_give_the_same_weeks():
    plan = [PlanChange(local(MON + timedelta(days=3)), 2, 2), PlanChange(local(MON), 3, 0)]
    shuffled = count(plan=plan, now=local(MON + timedelta(days=14)))
    ordered = count(plan=list(reversed(plan)), now=local(MON + timedelta(days=14)))
    assert shuffled == ordered


def test_home_logs_in_any_date_order_land_in_their_weeks_and_several_a_day_count():
    plan = [PlanChange(local(MON), 0, 3)]
    logs = days(MON, 11, 1, 9, 1, 3)  # arrived out of order; two on Tuesday
    result = count(plan=plan, home_sessions=logs, now=local(MON + timedelta(days=14)))
    assert [(week.start, week.home_done) for week in result.weeks] == [
        (MON, 3), (MON + timedelta(days=7), 2), (MON + timedelta(days=14), 0)]
    assert result == count(plan=plan, home_sessions=sorted(logs), now=local(MON + timedelta(days=14)))


def test_a_visit_at_half_past_eleven_on_sunday_night_belongs_to_that_week_in_the_clinics_zone():
    sunday_night = local(MON + timedelta(days=6), 23, 30)  # 05:30 on Monday in UTC
    assert sunday_night.weekday() == 0
    plan = [PlanChange(local(MON, 8), 3, 0)]
    result = count(plan=plan, clinic_sessions=[sunday_night], now=local(MON + timedelta(days=9)))
    assert [(week.start, week.clinic_done) for week in result.weeks] == [(MON, 1), (MON + timedelta(days=7), 0)]
    # The same instant counted in UTC falls in the next week: the zone decides.
    in_utc = count(plan=plan, clinic_sessions=[sunday_night], zone=ZoneInfo("UTC"), now=local(MON + timedelta(days=9)))
    assert [(week.start, week.clinic_done) for week in in_utc.weeks] == [(MON, 0), (MON + timedelta(days=7), 1)]


def test_this_week_is_the_clinics_week_not_utcs():
    # Sunday 20:00 in Chicago is already Monday in UTC: "this week" is still the week that is ending.
    now = local(MON + timedelta(days=6), 20)
    result = count(plan=[PlanChange(local(MON - timedelta(days=7)), 3, 0)], now=now)
    assert result.today == MON + timedelta(days=6)
    assert result.this_week is not None and result.this_week.start == MON


def test_days_under_a_safety_stop_plan_nothing():
    plan = [PlanChange(local(MON - timedelta(days=7)), 3, 0)]
    wednesday, friday = MON + timedelta(days=2), MON + timedelta(days=4)
    stop = SafetyStop(start=local(wednesday, 11), end=local(friday, 16))  # a red flag, cleared on Friday
    result = count(plan=plan, stops=[stop], clinic_sessions=[local(MON), local(wednesday, 11)],
                   now=local(MON + timedelta(days=10)))
    week = next(week for week in result.weeks if week.start == MON)
    assert (week.stopped_days, week.plan_days, week.planned) == (3, 4, 2)
    assert week.done == 2 and not week.under_half  # two of the two asked for while walking was allowed


def test_a_stop_still_in_force_plans_nothing_to_the_end_of_this_week():
    plan = [PlanChange(local(MON - timedelta(days=7)), 3, 0)]
    home_fall = SafetyStop(start=MON + timedelta(days=1), end=None)  # a fall logged at home on Tuesday
    result = count(plan=plan, stops=[home_fall], now=local(MON + timedelta(days=5)))
    this = result.this_week
    assert this is not None and (this.plan_days, this.stopped_days, this.planned) == (1, 6, 0)
    assert not this.under_half and this.share is None


def test_the_share_counts_each_setting_up_to_its_own_plan():
    plan = [PlanChange(local(MON - timedelta(days=7)), 2, 1)]
    result = count(plan=plan, home_sessions=days(MON, 0, 1, 2), now=local(MON + timedelta(days=8)))
    week = next(week for week in result.weeks if week.start == MON)
    assert (week.done, week.counted, week.planned) == (3, 1, 3)  # three home walks do not replace two visits
    assert week.under_half and week.percent == 33


def test_this_week_is_under_half_only_against_what_was_due_by_yesterday():
    plan = [PlanChange(local(MON - timedelta(days=7)), 3, 0)]
    monday = count(plan=plan, now=local(MON, 18))
    assert monday.this_week is not None and monday.this_week.due == 0 and not monday.this_week.under_half
    saturday = MON + timedelta(days=5)  # Monday to Friday over: 15/7 (2.1) sessions due
    none_done = count(plan=plan, clinic_sessions=[local(MON)], now=local(saturday, 9))
    assert none_done.this_week is not None and none_done.this_week.under_half
    two_done = count(plan=plan, clinic_sessions=[local(MON), local(saturday, 8)], now=local(saturday, 9))
    assert two_done.this_week is not None and not two_done.this_week.under_half
    assert two_done.this_week.planned == 3  # the whole week's plan, shown as "2 of 3 so far"


def test_an_ended_protocol_plans_nothing_after_its_end():
    wednesday = MON + timedelta(days=2)
    plan = [PlanChange(local(MON - timedelta(days=7)), 3, 0), PlanChange(local(wednesday, 12), 0, 0)]
    result = count(plan=plan, now=local(MON + timedelta(days=20)))
    assert [week.start for week in result.weeks] == [MON - timedelta(days=7), MON]
    assert result.weeks[-1].plan_days == 2 and result.weeks[-1].planned == 1  # Mon and Tue: 6/7
    assert result.this_week is None


def test_a_week_between_two_protocols_with_nothing_planned_or_done_is_no_row():
    plan = [PlanChange(local(MON), 3, 0), PlanChange(local(MON + timedelta(days=6)), 0, 0),
            PlanChange(local(MON + timedelta(days=14)), 2, 0)]
    result = count(plan=plan, now=local(MON + timedelta(days=15)))
    assert [week.start for week in result.weeks] == [MON, MON + timedelta(days=14)]


def test_first_week_limits_the_rows_but_not_the_plan_in_force():
    plan = [PlanChange(local(MON - timedelta(days=28)), 3, 0)]
    result = count(plan=plan, now=local(MON + timedelta(days=8)), first_week=MON)
    assert [(week.start, week.planned) for week in result.weeks] == [(MON, 3), (MON + timedelta(days=7), 3)]
    assert result.newest(1)[0].start == MON + timedelta(days=7)


def test_no_plan_no_weeks():
    result = count(plan=[], clinic_sessions=[local(MON)], now=local(MON))
    assert result.weeks == () and result.this_week is None
