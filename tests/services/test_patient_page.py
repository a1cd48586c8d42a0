"""The patient page's overview reads in a few combined statements what the services read one by one: for a
varied patient it must give exactly what those services give (the screen, the change history, the home sessions
and their corrections, the share card, the visit count and the therapist's name)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session

from rehab.models import (
    AdviceDecision,
    Assessment,
    Clinic,
    EditRecord,
    Patient,
    PhaseChange,
    Protocol,
    RedFlagClearance,
    User,
)
from rehab.services import assessments, assignment, home_logs, portal_devices, portal_links, protocol_records, visits
from rehab.services.advice.inputs import advice_for, gather, protocol_moves, version_and_moves
from rehab.services.baseline_change import summarize_progress
from rehab.services.patient_page import (
    HISTORY_SHOWN,
    HOME_LOGS_SHOWN,
    LATEST_VISITS_SHOWN,
    measure_rows,
    patient_overview,
)
from rehab.services.patients import patient_history
from tests import factories

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
ZONE = "America/Chicago"


def at(days_ago: float) -> datetime:
    return NOW - timedelta(days=days_ago)


def overview(session: Session, patient: Patient, user: User | None = None):  # type: ignore[no-untyped-def]
    return patient_overview(session, patient=patient, now=NOW, speed_unit="kmh", user_id=user.id if user else 0,
                            zone=ZONE)


@pytest.fixture
def clinic(session: Session) -> Clinic:
    return factories.clinic(session, timezone=ZONE)


@pytest.fixture
def therapist(session: Session, clinic: Clinic) -> User:
    return factories.user(session, PasswordHasher(time_cost=1, memory_cost=64, parallelism=1), email="t@example.com",
                          clinics=[clinic], name="Dana Therapist")


@pytest.fixture
def patient(session: Session, clinic: Clinic, therapist: User) -> Patient:
    patient = factories.patient(session, clinic, therapist_id=therapist.id)
    protocol = factories.protocol(session, patient, days_ago=60, now=NOW)
    # Visits with measures recorded now and then, one removed, one on the same minute as a baseline.
    for index in range(14):
        factories.visit(session, patient, protocol, at=at(50 - 3 * index), pain_worst=2 + index % 3,
                        tug_s=14.0 - index / 2 if index % 4 == 0 else None,
                        gait_speed_ms=0.8 + index / 20 if index % 5 == 1 else None,
                        backward_walk_3m_s=9.0 if index == 13 else None, flag_calf=index == 1,
                        effusion="2+" if index == 2 else "0")  # a red flag and a hold before the advice's window
    factories.visit(session, patient, protocol, at=at(2), tug_s=30.0, deleted_at=at(1))
    session.add_all([
        Assessment(patient_id=patient.id, clinic_id=patient.clinic_id, occurred_at=at(70), tug_s=16.0,
                   gait_speed_ms=0.7, backward_walk_3m_s=12.0),
        Assessment(patient_id=patient.id, clinic_id=patient.clinic_id, occurred_at=at(50 - 3 * 13),
                   backward_walk_3m_s=10.5),  # ties with the last visit's backward walk: the baseline counts
        Assessment(patient_id=patient.id, clinic_id=patient.clinic_id, occurred_at=at(3), gait_speed_ms=1.1,
                   deleted_at=at(1)),
    ])
    # More edits of the record than the history shows, and corrections of home sessions.
    for index in range(HISTORY_SHOWN + 3):
        session.add(EditRecord(entity="patient", entity_id=patient.id, patient_id=patient.id, user_id=therapist.id,
                               at=at(40 - index), changes=json.dumps({"phone": [str(index), str(index + 1)]})))
    logs = [factories.home_log(session, patient, protocol, day=at(30 - 2 * index).date())
            for index in range(HOME_LOGS_SHOWN + 2)]
    for log in (logs[0], logs[-1], logs[-1]):
        session.add(EditRecord(entity="home_log", entity_id=log.id, patient_id=patient.id, user_id=None,
                               at=at(1), changes=json.dumps({"minutes": [5, 6]})))
    session.commit()
    link, _ = portal_links.issue_link(session, patient=patient, user_id=None, now=at(10), secret="s" * 40)
    for agent, used in (("Android", 3), ("iPhone", 1), ("Windows", 2)):
        device, _ = portal_devices.remember(session, link=link, now=at(9), user_agent=agent)
        device.last_used_at = at(used)
    portal_devices.forget(session, device_id=device.id, patient_id=patient.id, now=at(1))
    session.commit()
    return patient


def test_the_overview_reads_what_each_service_reads(session: Session, patient: Patient, therapist: User) -> None:
    page = overview(session, patient, therapist)
    assert page.screen == assessments.latest_screen(session, patient_id=patient.id)
    assert page.screen.backward_walk_3m_s is not None and page.screen.backward_walk_3m_s.source == "baseline"
    assert page.assessments == assessments.assessments_of(session, patient_id=patient.id)
    assert page.progress == summarize_progress(measure_rows(session, patient_id=patient.id))
    assert page.history == patient_history(session, patient_id=patient.id, limit=HISTORY_SHOWN)
    assert len(page.history) == HISTORY_SHOWN
    table = home_logs.home_log_table(session, patient_id=patient.id, limit=HOME_LOGS_SHOWN)
    assert page.home_logs == table and table.more
    assert [len(row.corrections) for row in table.rows if row.corrections] == [2]  # the oldest log is not shown
    link = portal_links.live_link(session, patient_id=patient.id)
    assert link is not None and page.share is not None
    assert (page.share.link, list(page.share.devices)) == (link, list(portal_devices.remembered(session,
                                                                                               link_id=link.id)))
    assert len(page.share.devices) == 2  # the forgotten phone is not listed
    latest = visits.latest_visits(session, patient_id=patient.id, limit=None)
    assert page.visit_count == len(latest) == 14
    assert page.latest_visits == latest[:LATEST_VISITS_SHOWN]
    assert page.therapist_name == assignment.name_of(
        assignment.therapists(session, clinic_id=patient.clinic_id), patient.therapist_id) == "Dana Therapist"


def test_the_advice_read_with_the_newest_sessions_is_the_advice_read_alone(session: Session, patient: Patient
                                                                          ) -> None:
    protocol = protocol_records.active_protocol(session, patient_id=patient.id)
    assert protocol is not None
    alone = gather(session, patient=patient, protocol=protocol, now=NOW)
    both = gather(session, patient=patient, protocol=protocol, now=NOW, newest_visits=LATEST_VISITS_SHOWN,
                  newest_logs=HOME_LOGS_SHOWN + 1)
    assert replace(both, newest_visits=(), newest_logs=()) == alone
    assert any(report.red_flags for report in alone.sessions)  # the stop before the window is read
    assert list(both.newest_visits) == visits.latest_visits(session, patient_id=patient.id, limit=LATEST_VISITS_SHOWN)
    assert list(both.newest_logs) == home_logs.home_logs_of(session, patient_id=patient.id, limit=HOME_LOGS_SHOWN + 1)
    assert advise_for_both(session, patient, protocol) == advise_for_both(session, patient, protocol, newest=3)


def test_the_version_read_with_the_moves_is_the_version_and_the_moves_read_apart(session: Session,
                                                                                patient: Patient) -> None:
    protocol = protocol_records.active_protocol(session, patient_id=patient.id)
    assert protocol is not None
    session.add_all([
        PhaseChange(protocol_id=protocol.id, from_phase=0, to_phase=1, version_number=1, reason="ok", at=at(20)),
        PhaseChange(protocol_id=protocol.id, from_phase=1, to_phase=0, version_number=1, reason="back", at=at(15)),
        PhaseChange(protocol_id=protocol.id, from_phase=0, to_phase=1, version_number=1, reason="undone",
                    at=at(5), undone_at=at(4)),
        AdviceDecision(patient_id=patient.id, protocol_id=protocol.id, protocol_version=1, phase_index=0,
                       advice="advance", rules="[]", decision="accepted", at=at(12),
                       change=json.dumps({"text": "Minutes 5 → 6", "field": "minutes", "old": 5, "new": 6})),
        RedFlagClearance(patient_id=patient.id, clinic_id=patient.clinic_id, action="cleared", note="checked",
                         covers="[]", at=at(8)),
    ])
    session.commit()
    version, moves = version_and_moves(session, protocol=protocol)
    assert version == protocol_records.get_version(session, protocol_id=protocol.id, number=protocol.latest_version)
    assert moves == protocol_moves(session, protocol_id=protocol.id, patient_id=patient.id)
    assert (moves.moved, moves.forward, moves.accepted_advance, moves.cleared) == (at(15), at(20), at(12), at(8))
    assert moves.accepted_change is not None and moves.accepted_change.field == "minutes"


def advise_for_both(session: Session, patient: Patient, protocol: Protocol, newest: int = 0):  # type: ignore[no-untyped-def]
    return advice_for(session, patient=patient, protocol=protocol, now=NOW, newest_visits=newest,
                      newest_logs=newest).advice


def test_a_therapist_who_left_reads_unassigned_and_a_patient_with_nothing_has_empty_sections(
        session: Session, patient: Patient, therapist: User) -> None:
    therapist.is_active = False
    session.add(therapist)
    session.commit()
    assert overview(session, patient).therapist_name == assignment.UNASSIGNED
    newcomer = factories.patient(session, factories.clinic(session, name="Elsewhere"), first_name="Ana")
    page = overview(session, newcomer)
    assert (page.visit_count, page.history, page.share, page.progress) == (0, [], None, [])
    assert page.screen == assessments.latest_screen(session, patient_id=newcomer.id) == assessments.FallScreen()
    assert page.home_logs == home_logs.home_log_table(session, patient_id=newcomer.id, limit=HOME_LOGS_SHOWN)
    assert page.therapist_name == assignment.UNASSIGNED
