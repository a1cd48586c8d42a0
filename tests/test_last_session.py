"""Each patient's last session (``Patient.last_session_at``), as the visit and home-log services keep it and as
the bulk refresh recomputes it. The dashboard's "quiet for 14 days" and "recently seen" read only this."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, update
from sqlmodel import select

from rehab.models import HomeLog, Patient, Visit, utcnow
from rehab.services import home_logs
from rehab.services import visits as visit_service
from rehab.services.last_session import refresh_all_last_sessions, refresh_last_session
from rehab.services.visits import VisitInput
from tests import factories

pytestmark = pytest.mark.db

# Minutes, as the visit form gives them, and an hour ago so that no visit is in the future.
NOW = utcnow().replace(second=0, microsecond=0) - timedelta(hours=1)


@pytest.fixture
def protocol(db, patient):  # type: ignore[no-untyped-def]
    return factories.protocol(db, patient, days_ago=60, now=NOW)


def visit_form(at: datetime) -> VisitInput:
    return VisitInput(occurred_at=at, pain_before=1, pain_worst=2, pain_after=1, exercise="treadmill_rails",
                     minutes=5, support="both_rails")


def add_visit(db, patient, protocol, at: datetime) -> Visit:  # type: ignore[no-untyped-def]
    visit = visit_service.create_visit(db, patient=patient, protocol=protocol, form=visit_form(at), user_id=None,
                                       now=NOW)
    db.commit()
    return visit


def add_home_log(db, patient, protocol, logged_at: datetime) -> HomeLog:  # type: ignore[no-untyped-def]
    data = {"session_date": (logged_at - timedelta(days=2)).date().isoformat(), "minutes": "10", "pain_worst": "3",
            "soreness": "none", "stumbled": "no", "fell": "no", "note": ""}
    shape, errors = home_logs.validate_home_log(home_logs.home_log_data(data), today=logged_at.date())
    assert shape is not None, errors
    log = home_logs.create_home_log(db, patient=patient, protocol=protocol, form=shape, link_id=None, now=logged_at)
    db.commit()
    return log


def stored(db, patient) -> datetime | None:  # type: ignore[no-untyped-def]
    """The value as committed, not as the test's session remembers it."""
    db.expire_all()
    try:
        return db.exec(select(Patient.last_session_at).where(Patient.id == patient.id)).one()
    finally:
        db.rollback()


def test_a_patient_with_no_session_has_none(db, patient, protocol):
    refresh_last_session(db, patient_id=patient.id)
    db.commit()
    assert stored(db, patient) is None


def test_a_recorded_visit_is_the_last_session_and_an_older_one_does_not_replace_it(db, patient, protocol):
    add_visit(db, patient, protocol, NOW - timedelta(days=2))
    assert stored(db, patient) == NOW - timedelta(days=2)
    add_visit(db, patient, protocol, NOW - timedelta(days=9))  # entered late, for an earlier day
    assert stored(db, patient) == NOW - timedelta(days=2)


def test_a_deleted_visit_no_longer_counts(db, patient, protocol):
    earlier = add_visit(db, patient, protocol, NOW - timedelta(days=5))
    latest = add_visit(db, patient, protocol, NOW - timedelta(days=1))
    visit_service.delete_visit(db, visit=latest, reason="Wrong patient", user_id=None, now=NOW)  # type: ignore[arg-type]
    db.commit()
    assert stored(db, patient) == NOW - timedelta(days=5)
    visit_service.delete_visit(db, visit=earlier, reason="Wrong patient", user_id=None, now=NOW)  # type: ignore[arg-type]
    db.commit()
    assert stored(db, patient) is None


def test_an_edited_visit_date_moves_the_last_session(db, patient, protocol):
    add_visit(db, patient, protocol, NOW - timedelta(days=6))
    visit = add_visit(db, patient, protocol, NOW - timedelta(days=1))
    visit_service.update_visit(db, visit=visit, form=visit_form(NOW - timedelta(days=20)), seen_version=1,
                               user_id=None, now=NOW)  # type: ignore[arg-type]
    db.commit()
    assert stored(db, patient) == NOW - timedelta(days=6)  # the other visit is now the latest
    visit_service.update_visit(db, visit=visit, form=visit_form(NOW - timedelta(hours=3)), seen_version=2,
                               user_id=None, now=NOW)  # type: ignore[arg-type]
    db.commit()
    assert stored(db, patient) == NOW - timedelta(hours=3)


def test_a_home_log_counts_from_when_the_patient_logged_it(db, patient, protocol):
    add_visit(db, patient, protocol, NOW - timedelta(days=4))
    log = add_home_log(db, patient, protocol, logged_at=NOW - timedelta(days=1))
    assert log.session_date < (NOW - timedelta(days=1)).date()  # the day walked is not what counts
    assert stored(db, patient) == NOW - timedelta(days=1)
    add_visit(db, patient, protocol, NOW)
    assert stored(db, patient) == NOW


def test_correcting_a_home_log_keeps_it_counted(db, patient, protocol):
    log = add_home_log(db, patient, protocol, logged_at=NOW - timedelta(hours=2))
    data = {"session_date": log.session_date.isoformat(), "minutes": "12", "pain_worst": "2", "soreness": "none",
            "stumbled": "no", "fell": "no", "note": "longer"}
    shape, errors = home_logs.validate_home_log(home_logs.home_log_data(data), today=NOW.date())
    assert shape is not None, errors
    assert home_logs.correct_home_log(db, log=log, form=shape, seen_version=1, now=NOW)
    db.commit()
    assert stored(db, patient) == NOW - timedelta(hours=2)


def test_the_bulk_refresh_gives_each_patient_their_own_latest_session(db, clinic, make_patient, patient, protocol):
    """What a bulk load (bench seed, demo) relies on: rows inserted with Core, then one refresh for all."""
    visits_only = patient
    deleted_only = make_patient(clinic, first_name="Harold", last_name="Kowalski")
    nothing = make_patient(clinic, first_name="Ruth", last_name="Abernathy")
    row = dict(clinic_id=clinic.id, protocol_id=protocol.id, protocol_version=1, phase_index=0, pain_before=1,
               pain_worst=2, pain_after=1, exercise="treadmill_rails", minutes=5, support="both_rails")
    db.execute(insert(Visit), [
        {**row, "patient_id": visits_only.id, "occurred_at": NOW - timedelta(days=3)},
        {**row, "patient_id": visits_only.id, "occurred_at": NOW - timedelta(days=8)},
        {**row, "patient_id": deleted_only.id, "occurred_at": NOW - timedelta(days=1), "deleted_at": NOW},
    ])
    db.execute(insert(HomeLog), [
        {"patient_id": deleted_only.id, "clinic_id": clinic.id, "protocol_id": protocol.id, "protocol_version": 1,
         "phase_index": 0, "session_date": (NOW - timedelta(days=12)).date(), "minutes": 10, "pain_worst": 2,
         "created_at": NOW - timedelta(days=10)},
    ])
    # A value left over from before must not survive a refresh that finds no session.
    db.execute(update(Patient).where(Patient.id == nothing.id).values(last_session_at=NOW))
    db.commit()
    refresh_all_last_sessions(db)
    db.commit()
    assert stored(db, visits_only) == NOW - timedelta(days=3)
    assert stored(db, deleted_only) == NOW - timedelta(days=10)
    assert stored(db, nothing) is None
