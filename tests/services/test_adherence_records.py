"""Adherence read from the database: the plan rebuilt from versions and phase moves, stops from red flags."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from rehab.models import RedFlagClearance
from rehab.services.adherence_records import (
    adherence_by_patient,
    clinic_this_week,
    patient_adherence,
    phase_plan,
)
from rehab.services.protocol_records import end_protocol, move_phase
from tests import factories

ZONE = "America/Chicago"
MON = date(2026, 11, 2)  # a Monday


def local(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)


def on(offset: int, hour: int = 10) -> datetime:
    return local(MON + timedelta(days=offset), hour)


def setup(session: Session):  # type: ignore[no-untyped-def]
    clinic = factories.clinic(session, timezone=ZONE)
    patient = factories.patient(session, clinic)
    # knee OA: phases 1 and 2 in the clinic 3 times a week, phase 3 twice in the clinic and once at home.
    protocol = factories.protocol(session, patient, now=on(0, 9), days_ago=0)
    return clinic, patient, protocol


def test_phase_plan_takes_the_largest_sessions_per_week_of_each_setting():
    content = {"phases": [{"prescriptions": [
        {"setting": "clinic", "sessions_per_week": 2}, {"setting": "clinic", "sessions_per_week": 3},
        {"setting": "home_alone", "sessions_per_week": 4}, {"setting": "home_partner", "sessions_per_week": 1}]}]}
    assert phase_plan(content, 0) == (3, 4)
    assert phase_plan(content, 5) == (3, 4)  # a phase index past the end reads the last phase


def test_the_plan_follows_phase_moves_and_the_week_counts_visits_and_home_logs(session):
    _, patient, protocol = setup(session)
    move_phase(session, protocol=protocol, from_phase=0, to_phase=1, reason="ok", user_id=None,  # type: ignore[arg-type]
               now=on(10), phase_count=3)
    move_phase(session, protocol=protocol, from_phase=1, to_phase=2, reason="ok", user_id=None,  # type: ignore[arg-type]
               now=on(17), phase_count=3)  # Wednesday of week 3: two clinic and one home session a week
    session.commit()
    for offset in (0, 2, 4, 7, 15):
        factories.visit(session, patient, protocol, at=on(offset))
    factories.visit(session, patient, protocol, at=on(9), deleted_at=on(9, 12))  # removed: not a session
    factories.home_log(session, patient, protocol, day=MON + timedelta(days=19), recorded=on(19, 20))
    factories.home_log(session, patient, protocol, day=MON + timedelta(days=18), recorded=on(20))  # back-dated
    adherence = patient_adherence(session, patient_id=patient.id, zone=ZONE, now=on(22), weeks=None)
    assert [(week.start, week.planned_clinic, week.planned_home, week.clinic_done, week.home_done)
            for week in adherence.weeks] == [
        (MON, 3, 0, 3, 0),
        (MON + timedelta(days=7), 3, 0, 1, 0),
        # Mon-Tue at 3 a week, Wed-Sun at 2 (16/7: 2) and at home 1 a week for 5 days (5/7: 1).
        (MON + timedelta(days=14), 2, 1, 1, 2),
        (MON + timedelta(days=21), 2, 1, 0, 0),
    ]
    assert not session.dirty  # read only: nothing for the request's commit to write


def test_a_red_flag_stops_the_plan_until_it_is_cleared(session):
    clinic, patient, protocol = setup(session)
    factories.home_log(session, patient, protocol, day=MON + timedelta(days=9), recorded=on(9, 19), flag_calf=True)
    session.add(RedFlagClearance(patient_id=patient.id, clinic_id=clinic.id, action="cleared", note="Seen, fine.",
                                 covers="[]", at=on(11, 15)))
    session.add(RedFlagClearance(patient_id=patient.id, clinic_id=clinic.id, action="called", note="Left word.",
                                 covers="[]", at=on(10, 9)))  # a call does not lift the stop
    session.commit()
    adherence = patient_adherence(session, patient_id=patient.id, zone=ZONE, now=on(15), weeks=None)
    week = adherence.weeks[1]
    assert (week.stopped_days, week.plan_days, week.planned) == (3, 4, 2)  # Wed-Fri stopped; 12/7: 2
    assert week.home_done == 1


def test_an_uncleared_fall_at_a_visit_stops_the_rest_of_this_week(session):
    _, patient, protocol = setup(session)
    factories.visit(session, patient, protocol, at=on(8), falls=1)
    week = patient_adherence(session, patient_id=patient.id, zone=ZONE, now=on(10)).this_week
    # The fall came on Tuesday: Monday was planned (3/7, no whole session), Tuesday to Sunday stopped.
    assert week is not None and (week.plan_days, week.stopped_days, week.planned) == (1, 6, 0)
    assert week.clinic_done == 1 and not week.under_half


def test_an_ended_protocol_and_its_successor_both_count(session):
    _, patient, protocol = setup(session)
    end_protocol(session, protocol=protocol, reason="Replaced.", now=on(3))
    session.commit()
    factories.protocol(session, patient, "pfp", now=on(14), days_ago=0)
    adherence = patient_adherence(session, patient_id=patient.id, zone=ZONE, now=on(15), weeks=None)
    assert [(week.start, week.plan_days) for week in adherence.weeks] == [(MON, 3), (MON + timedelta(days=14), 7)]


def test_the_clinics_week_covers_each_patient_with_an_active_protocol_in_one_query(session, engine):
    from sqlalchemy import event

    clinic, first, protocol = setup(session)
    factories.visit(session, first, protocol, at=on(14))
    second = factories.patient(session, clinic, first_name="Ana")
    factories.protocol(session, second, now=on(0), days_ago=0)
    factories.patient(session, clinic, first_name="Nobody")  # no protocol: no row
    other = factories.clinic(session, name="Elsewhere", timezone=ZONE)
    stranger = factories.patient(session, other)
    factories.protocol(session, stranger, now=on(0), days_ago=0)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    weeks = clinic_this_week(session, clinic_id=clinic.id, zone=ZONE, now=on(18))  # Friday
    assert len(statements) == 1
    assert set(weeks) == {first.id, second.id}
    assert weeks[first.id].clinic_done == 1 and not weeks[first.id].under_half
    assert weeks[second.id].under_half  # none of the 1.7 sessions due by Thursday night


def test_a_patient_with_no_protocol_has_no_weeks(session):
    clinic = factories.clinic(session)
    patient = factories.patient(session, clinic)
    assert adherence_by_patient(session, patients=[patient.id], zone="UTC", now=on(0)) == {}
    assert patient_adherence(session, patient_id=patient.id, zone="UTC", now=on(0)).weeks == ()


def test_stops_before_the_weeks_shown_are_found_through_the_partial_indexes(session, engine):
    """A stop that began weeks ago is read through ix_visit_stop and ix_home_log_stop, not by reading every
    older session of every patient (the planner uses a partial index only when the query states its condition
    as the index does)."""
    from sqlalchemy import event

    clinic, patient, protocol = setup(session)
    factories.visit(session, patient, protocol, at=on(1), flag_chest=True)
    factories.home_log(session, patient, protocol, day=MON + timedelta(days=2), fell=True)
    statements: list[tuple[str, object]] = []

    def keep(_connection, _cursor, sql, params, *_):  # type: ignore[no-untyped-def]
        statements.append((sql, params))

    event.listen(engine, "before_cursor_execute", keep)
    week = clinic_this_week(session, clinic_id=clinic.id, zone=ZONE, now=on(30))
    event.remove(engine, "before_cursor_execute", keep)
    assert week[patient.id].stopped_days == 7  # both uncleared: this week is stopped
    [read] = [(sql, params) for sql, params in statements if "UNION ALL" in sql]
    with engine.connect() as connection:
        plan = " ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {read[0]}", read[1]))
    assert "USING INDEX ix_visit_stop" in plan
    assert "USING INDEX ix_home_log_stop" in plan
