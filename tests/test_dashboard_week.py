"""The dashboard's "under half this week", counted by the database for the protocols whose week is steady, lists
exactly the patients the adherence rule itself lists (services.adherence through clinic_this_week), in the same
order with the same figures, whatever the protocols went through and wherever the clinic is."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import true
from sqlmodel import Session, col, select

from rehab.models import Clinic, Patient, Protocol, ProtocolVersion, RedFlagClearance
from rehab.services import clinic_week
from rehab.services.adherence import WeekAdherence
from rehab.services.adherence_records import clinic_this_week
from rehab.services.assignment import is_mine
from rehab.services.catalogue import templates
from rehab.services.dashboard import under_half_this_week
from rehab.services.protocol_content import content_from_template
from rehab.services.protocol_records import end_protocol, move_phase, save_version
from tests import factories

pytestmark = pytest.mark.db

MONDAY = date(2026, 10, 26)  # Chicago leaves summer time on this week's Sunday


def the_rule(db: Session, *, clinic_id: int, zone: str, now: datetime, mine: Any = None
             ) -> list[tuple[int, WeekAdherence]]:
    """The list as the dashboard made it before: the rule's week of every active protocol, under half, fewest
    done first, then by name (then as entered)."""
    weeks = clinic_this_week(db, clinic_id=clinic_id, zone=zone, now=now)
    shown = {patient.id: patient for patient in db.exec(select(Patient).where(true() if mine is None else mine))}
    rows = [(shown[patient_id], week) for patient_id, week in weeks.items()
            if week.under_half and patient_id in shown]
    rows.sort(key=lambda row: (row[1].counted / row[1].due, row[0].last_name, row[0].first_name, row[0].id))
    return [(patient.id, week) for patient, week in rows]


def protocols_that_went_through_everything(db: Session, clinic: Clinic, therapist_id: int,
                                           colleague_id: int) -> None:
    tz = ZoneInfo(clinic.timezone)

    def at(offset: float, clock: time = time(10)) -> datetime:
        """``offset`` days from this week's Monday, at ``clock`` in the clinic's zone."""
        day = MONDAY + timedelta(days=int(offset // 1))
        return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)

    monday_start, sunday_end = at(0, time(0, 0, 1)), at(6, time(23, 59, 59))
    names = iter(f"{last}{n}" for n in range(20) for last in ("Okafor", "Reyes", "Brooks"))

    def patient(template: str = "knee_oa", *, started: float = -30, phase: int = 0, **fields: Any
                ) -> tuple[Patient, Protocol]:
        person = factories.patient(db, clinic, last_name=next(names), first_name="Ana", **fields)
        now = at(started)
        protocol = factories.protocol(db, person, template, now=now, days_ago=0, start_phase=phase)
        return person, protocol

    # Steady weeks, each template and phase a different plan, sessions on and just off the week's edges.
    for template in ("knee_oa", "pfp", "post_tka", "post_aclr"):
        for phase in (0, 1, 2):
            person, protocol = patient(template, phase=phase)
            if phase == 1:
                factories.visit(db, person, protocol, at=monday_start)
                factories.visit(db, person, protocol, at=sunday_end)
                factories.visit(db, person, protocol, at=monday_start - timedelta(seconds=2))  # last week
                factories.visit(db, person, protocol, at=sunday_end + timedelta(seconds=2))  # next week
            if phase == 2:
                factories.home_log(db, person, protocol, day=MONDAY)
                factories.home_log(db, person, protocol, day=MONDAY + timedelta(days=6))
                factories.home_log(db, person, protocol, day=MONDAY - timedelta(days=1))
                factories.home_log(db, person, protocol, day=MONDAY + timedelta(days=7))
    person, protocol = patient("pfp")  # more sessions than planned: each setting counts up to its plan
    for offset in (0, 0, 1, 1, 1):
        factories.visit(db, person, protocol, at=at(offset))
        factories.home_log(db, person, protocol, day=MONDAY + timedelta(days=offset))
    person, protocol = patient()
    factories.visit(db, person, protocol, at=at(1), deleted_at=at(1, time(12)))  # removed: not a session
    factories.visit(db, person, protocol, at=at(2))

    # Weeks that change: a protocol begun this week, a version saved this week and one before it, phase moves
    # this week and before it, one undone, a protocol replaced this week, one that ended before it.
    patient(started=2)
    patient(started=-0.0001)  # Monday, just after midnight
    for offset in (3, -10):
        person, protocol = patient()
        content = content_from_template(templates()["knee_oa"])
        content.phases[0].prescriptions[0].sessions_per_week = 5
        save_version(db, protocol=protocol, content=content, seen_version=1, user_id=None,  # type: ignore[arg-type]
                     now=at(offset), overrides=[])
        db.commit()
        factories.visit(db, person, protocol, at=at(0))
    for offset in (4, -3, -20):  # from three clinic sessions a week to two and one at home
        _, protocol = patient(phase=1)
        move_phase(db, protocol=protocol, from_phase=1, to_phase=2, reason="Ready.", user_id=None,  # type: ignore[arg-type]
                   now=at(offset), phase_count=3)
        db.commit()
    _, protocol = patient(phase=1)
    change = move_phase(db, protocol=protocol, from_phase=1, to_phase=2, reason="Ready.", user_id=None,  # type: ignore[arg-type]
                        now=at(-5), phase_count=3)
    change.undone_at, protocol.current_phase = at(-5, time(11)), 1  # undone the same day, as advice undoes it
    db.add_all([change, protocol])
    db.commit()
    person, protocol = patient()
    end_protocol(db, protocol=protocol, reason="Replaced.", now=at(2))
    db.commit()
    factories.protocol(db, person, "pfp", now=at(2, time(11)), days_ago=0)
    person, protocol = patient()
    end_protocol(db, protocol=protocol, reason="Discharged.", now=at(-2))
    db.commit()
    person, protocol = patient()  # a version saved without its phases stored (as before they were)
    db.add(ProtocolVersion(protocol_id=protocol.id, number=2, created_at=at(-9), content=db.exec(
        select(ProtocolVersion.content).where(ProtocolVersion.protocol_id == protocol.id)).one()))
    protocol.latest_version = 2
    db.add(protocol)
    db.commit()

    # Rows the forms do not make, which the rule reads as they are: an earlier version stamped after the latest
    # (saved from a host whose clock ran behind), an active protocol with an end.
    person, protocol = patient()
    content = content_from_template(templates()["knee_oa"])
    content.phases[0].prescriptions[0].sessions_per_week = 1
    save_version(db, protocol=protocol, content=content, seen_version=1, user_id=None,  # type: ignore[arg-type]
                 now=at(-10), overrides=[])
    first = db.exec(select(ProtocolVersion).where(ProtocolVersion.protocol_id == protocol.id,
                                                  ProtocolVersion.number == 1)).one()
    first.created_at = at(-9)
    db.add(first)
    _, protocol = patient()
    protocol.ended_at = at(3)
    db.add(protocol)
    db.commit()

    # Red flags and falls: this week, before it and never cleared, cleared before it, cleared during it; a
    # "called" that lifts nothing.
    def cleared(person: Patient, when: datetime, action: str = "cleared") -> None:
        db.add(RedFlagClearance(patient_id=person.id, clinic_id=clinic.id, action=action, note="Seen.", covers="[]",
                                at=when))
        db.commit()

    person, protocol = patient()
    factories.visit(db, person, protocol, at=at(2), recorded=at(2), flag_chest=True)
    person, protocol = patient()
    factories.visit(db, person, protocol, at=at(-6), recorded=at(-6), falls=1)
    cleared(person, at(-5), "called")
    person, protocol = patient()
    factories.visit(db, person, protocol, at=at(-6), recorded=at(-6), flag_calf=True)
    cleared(person, at(-4))
    person, protocol = patient()
    factories.home_log(db, person, protocol, day=MONDAY - timedelta(days=3), recorded=at(-3), fell=True)
    cleared(person, at(3))
    person, protocol = patient("pfp")
    factories.home_log(db, person, protocol, day=MONDAY - timedelta(days=8), recorded=at(-8), flag_calf=True)
    person, protocol = patient()
    factories.visit(db, person, protocol, at=at(-6), recorded=at(-6), flag_infection=True)
    cleared(person, at(-6, time(9)))  # before the visit was recorded: it does not cover it

    # Whose patients: archived, assigned to the therapist, to a colleague, to nobody.
    patient(archived_at=at(-1))
    patient(therapist_id=therapist_id)
    patient(therapist_id=colleague_id)
    patient(therapist_id=colleague_id)
    factories.protocol(db, factories.patient(db, factories.clinic(db, name="Elsewhere", timezone=clinic.timezone)))


@pytest.mark.parametrize("zone", ["America/Chicago", "Pacific/Auckland", "UTC"])
def test_the_database_lists_who_the_rule_lists_on_every_day_of_the_week(db, make_user, make_clinic, zone,
                                                                        monkeypatch):
    clinic = make_clinic(timezone=zone)
    therapist, colleague = make_user(clinics=[clinic]), make_user(clinics=[clinic])
    protocols_that_went_through_everything(db, clinic, therapist.id, colleague.id)
    clinic_id = clinic.id
    counted_by_the_rule: set[int] = set()
    exact = clinic_week.adherence_by_patient

    def spy(*args: Any, **kwargs: Any) -> Any:
        counted_by_the_rule.update(kwargs["patients"])
        return exact(*args, **kwargs)

    monkeypatch.setattr(clinic_week, "adherence_by_patient", spy)
    tz = ZoneInfo(zone)
    listed_steady = 0
    for offset in range(9):
        for clock in (time(0, 0, 30), time(12), time(23, 59, 30)):
            now = datetime.combine(MONDAY + timedelta(days=offset), clock, tzinfo=tz).astimezone(UTC)
            for mine in (None, is_mine(therapist.id)):
                fast = under_half_this_week(db, clinic_id=clinic_id, zone=zone, now=now, mine=mine)
                expected = the_rule(db, clinic_id=clinic_id, zone=zone, now=now, mine=mine)
                assert [(patient.id, week) for patient, week in fast] == expected, (offset, clock, mine)
                # The dashboard's card: the first few of the same list, and how many it holds.
                first, total = clinic_week.clinic_most_behind(db, clinic_id=clinic_id, zone=zone, now=now,
                                                              limit=3,
                                                              therapist_id=None if mine is None else therapist.id)
                assert ([(patient.id, week) for patient, week in first], total) == (expected[:3], len(expected))
                listed_steady += sum(1 for patient, _ in fast if patient.id not in counted_by_the_rule)
    # Both ways were taken: weeks the database counted, and changed weeks the rule counted.
    assert listed_steady > 0
    assert len(counted_by_the_rule) >= 10


def test_a_steady_week_is_the_rules_week():
    """The arithmetic the database does, against services.adherence for one plan in force all week."""
    from fractions import Fraction

    from rehab.services.adherence import PlanChange, weekly_adherence

    for clinic_per_week, home_per_week in ((3, 0), (2, 1), (0, 5), (1, 1), (0, 0)):
        for days_over in range(7):
            now = datetime.combine(MONDAY + timedelta(days=days_over), time(15), tzinfo=UTC)
            bounds = clinic_week.week_bounds(now, "UTC")
            for done in ((0, 0), (1, 0), (0, 2), (4, 4)):
                week = weekly_adherence(plan=[PlanChange(datetime(2026, 9, 1, tzinfo=UTC), clinic_per_week,
                                                         home_per_week)],
                                        clinic_sessions=[now] * done[0], home_sessions=[now.date()] * done[1],
                                        zone="UTC", now=now, first_week=MONDAY).this_week
                steady = clinic_week.steady_week(bounds, clinic_per_week=clinic_per_week,
                                                 home_per_week=home_per_week, clinic_done=done[0],
                                                 home_done=done[1])
                if clinic_per_week or home_per_week:
                    assert week == steady
                    assert steady.due == Fraction(days_over * (clinic_per_week + home_per_week), 7)
                else:
                    assert week is None or not week.under_half
                    assert not steady.under_half


def test_a_saved_version_stores_its_phases_sessions_a_week(db, clinic, make_patient):
    from rehab.models import PhasePlan
    from rehab.services.adherence_records import phase_plans

    protocol = factories.protocol(db, make_patient(clinic), "knee_oa")
    content = content_from_template(templates()["knee_oa"])
    content.phases[2].prescriptions[0].sessions_per_week = 1
    save_version(db, protocol=protocol, content=content, seen_version=1, user_id=None,  # type: ignore[arg-type]
                 now=datetime.now(UTC), overrides=[])
    db.commit()
    stored = {(row.version_number, row.phase_index): (row.clinic_per_week, row.home_per_week)
              for row in db.exec(select(PhasePlan).where(col(PhasePlan.protocol_id) == protocol.id))}
    versions = db.exec(select(ProtocolVersion).where(col(ProtocolVersion.protocol_id) == protocol.id)).all()
    assert stored == {(version.number, index): plan for version in versions
                      for index, plan in enumerate(phase_plans(version.content))}
    assert stored[(1, 0)] == (3, 0) and stored[(2, 2)] != stored[(1, 2)]
