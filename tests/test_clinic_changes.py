"""Each clinic's data generation moves with every write to its records, whatever the path, and the dashboard's
kept "under half this week" is read again only while nothing was written and the day is the same."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import Session, col

from rehab.models import Patient, Protocol, UserSession
from rehab.services import clinic_week, dashboard
from rehab.services.audit import record_event
from rehab.services.clinic_changes import generation
from rehab.services.dashboard import build_dashboard
from rehab.services.kept_results import KeptResults
from rehab.services.protocol_records import move_phase
from tests import factories
from tests.conftest import submit

pytestmark = pytest.mark.db

MONDAY = date(2026, 10, 26)
THURSDAY = datetime.combine(MONDAY + timedelta(days=3), time(15), tzinfo=UTC)


def test_a_written_record_moves_its_clinics_generation_once_per_transaction(db, make_clinic, make_patient):
    riverside, hillside = make_clinic(), make_clinic(name="Hillside PT")
    person = make_patient(riverside)
    before = generation(db, riverside.id), generation(db, hillside.id)
    person.first_name = "Ana"
    db.add(person)
    db.flush()
    db.add(Patient(clinic_id=riverside.id, first_name="Bo", last_name="Reyes", date_of_birth=date(1950, 1, 1),
                   affected_knee="left", condition="knee_oa"))
    db.flush()  # a second flush in the same transaction
    db.commit()
    assert (generation(db, riverside.id), generation(db, hillside.id)) == (before[0] + 1, before[1])
    person.first_name = "Ana"  # set to what it is: nothing written
    db.add(person)
    db.commit()
    assert generation(db, riverside.id) == before[0] + 1


def test_a_row_that_does_not_name_its_clinic_and_a_bulk_statement_move_every_clinic(db, make_clinic, clinic):
    other = make_clinic(name="Hillside PT")
    person = factories.patient(db, clinic)
    protocol = factories.protocol(db, person)
    start = generation(db, clinic.id), generation(db, other.id)
    move_phase(db, protocol=protocol, from_phase=0, to_phase=1, reason="Ready.", user_id=None,  # type: ignore[arg-type]
               now=datetime.now(UTC), phase_count=3)  # a phase move: no clinic of its own
    db.commit()
    moved = generation(db, clinic.id), generation(db, other.id)
    assert moved == (start[0] + 1, start[1] + 1)
    db.execute(update(Patient).where(col(Patient.id) == person.id).values(first_name="Bea"))
    db.commit()
    assert (generation(db, clinic.id), generation(db, other.id)) == (moved[0] + 1, moved[1] + 1)


def test_bookkeeping_and_rolled_back_writes_leave_the_generation(db, clinic, therapist):
    before = generation(db, clinic.id)
    record_event(db, key=b"k" * 32, action="patient.viewed", user_id=therapist.id, clinic_id=clinic.id)
    db.execute(update(UserSession).values(last_seen_at=datetime.now(UTC)))  # a page's session activity
    db.commit()
    assert generation(db, clinic.id) == before
    db.add(Patient(clinic_id=clinic.id, first_name="Cy", last_name="Reyes", date_of_birth=date(1950, 1, 1),
                   affected_knee="left", condition="knee_oa"))
    db.flush()
    db.rollback()
    assert generation(db, clinic.id) == before


def test_a_savepoint_rolled_back_keeps_what_the_transaction_wrote_before_it(db, clinic, make_patient):
    person = make_patient(clinic)
    before = generation(db, clinic.id)
    person.first_name = "Dee"
    db.add(person)
    db.flush()
    with db.begin_nested() as savepoint:
        db.add(Patient(clinic_id=clinic.id, first_name="Ed", last_name="Brooks", date_of_birth=date(1950, 1, 1),
                       affected_knee="left", condition="knee_oa"))
        db.flush()
        savepoint.rollback()
    db.commit()
    assert generation(db, clinic.id) == before + 1


def under_half_at_thursday(db: Session, clinic, kept: KeptResults, now: datetime = THURSDAY) -> list[int]:
    board = build_dashboard(db, clinic_id=clinic.id, zone=clinic.timezone, now=now, kept=kept)
    return [patient.id for patient, _ in board.under_half]


@pytest.fixture
def behind(db, clinic) -> tuple[Patient, Protocol]:
    """A patient begun a month before the week, nothing done by Thursday: under half."""
    person = factories.patient(db, clinic, last_name="Okafor")
    start = datetime.combine(MONDAY - timedelta(days=30), time(10), tzinfo=ZoneInfo(clinic.timezone))
    return person, factories.protocol(db, person, now=start.astimezone(UTC), days_ago=0)


def test_the_dashboard_keeps_under_half_until_a_record_or_the_day_changes(db, clinic, behind, monkeypatch):
    person, protocol = behind
    ranked: list[datetime] = []
    real = clinic_week.clinic_most_behind

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        ranked.append(kwargs["now"])
        return real(*args, **kwargs)

    monkeypatch.setattr(dashboard, "clinic_most_behind", counting)
    kept = KeptResults()
    assert under_half_at_thursday(db, clinic, kept) == [person.id]
    assert under_half_at_thursday(db, clinic, kept) == [person.id]
    assert len(ranked) == 1  # the second view read what the first kept

    for offset in range(3):  # a visit each day from Monday to Wednesday: no longer under half
        factories.visit(db, person, protocol, at=datetime.combine(MONDAY + timedelta(days=offset), time(10),
                                                                  tzinfo=UTC))
    assert under_half_at_thursday(db, clinic, kept) == []
    assert len(ranked) == 2

    person.last_name = "Okafor-Reyes"  # a name changed: the kept list shows the name as it is now
    db.add(person)
    db.commit()
    later = THURSDAY + timedelta(days=2)  # Saturday: more is due, the same records
    assert under_half_at_thursday(db, clinic, kept, now=later) == []
    assert len(ranked) == 3


def test_a_kept_list_shows_the_patients_as_they_are_now(db, clinic, behind):
    person, _ = behind
    kept = KeptResults()
    under_half_at_thursday(db, clinic, kept)
    db.execute(update(Patient).where(col(Patient.id) == person.id).values(last_name="Brooks"))
    db.commit()
    db.expire_all()
    board = build_dashboard(db, clinic_id=clinic.id, zone=clinic.timezone, now=THURSDAY, kept=kept)
    assert [patient.last_name for patient, _ in board.under_half] == ["Brooks"]


def test_the_dashboard_page_reads_the_kept_list_on_a_second_view(therapist_client, patient, protocol,
                                                                 patient_client):
    """Reading pages writes only bookkeeping (audit rows, the session's activity): the second view of the
    dashboard reads the kept list instead of ranking the clinic again, in fewer statements, and so does one
    after a patient's page and the patient's own portal were read; a visit recorded in between makes it rank
    again."""
    first = therapist_client.get("/dashboard?scope=clinic")
    second = therapist_client.get("/dashboard?scope=clinic")
    assert first.status_code == second.status_code == 200
    assert int(second.headers["X-Query-Count"]) < int(first.headers["X-Query-Count"])
    assert therapist_client.get(f"/patients/{patient.id}").status_code == 200
    assert patient_client.get("/p/home").status_code == 200
    third = therapist_client.get("/dashboard?scope=clinic")
    assert int(third.headers["X-Query-Count"]) == int(second.headers["X-Query-Count"])
    recorded = submit(therapist_client, f"/patients/{patient.id}/visits/new", {
        "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"), "pain_before": "1",
        "pain_worst": "2", "pain_after": "1", "soreness": "none", "effusion": "0", "exercise": "treadmill_rails",
        "minutes": "5", "speed": "1.2", "incline_pct": "0", "support": "both_rails", "stumbles": "0", "falls": "0"})
    assert recorded.status_code == 302
    after_the_visit = therapist_client.get("/dashboard?scope=clinic")
    assert int(after_the_visit.headers["X-Query-Count"]) == int(first.headers["X-Query-Count"])
