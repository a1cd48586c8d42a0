"""Today's visits of the dashboard: the latest of the clinic's local day in time order with how many in all,
and every patient seen today for "Print today's home sheets"; a deleted visit, another day's or another
clinic's counts for neither."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import true
from sqlmodel import Session

from rehab.models import Clinic, Patient, Visit
from rehab.services.dashboard import todays_patients, todays_visits
from tests import factories

# 15:00 in Chicago (UTC-6 in December): the clinic's day began at 06:00 UTC.
NOW = datetime(2026, 12, 3, 21, 0, tzinfo=UTC)
ZONE = "America/Chicago"


def seen(session: Session, clinic: Clinic, name: str, *hours_ago: float) -> tuple[Patient, list[Visit]]:
    patient = factories.patient(session, clinic, first_name=name, last_name="Visitor")
    protocol = factories.protocol(session, patient, now=NOW)
    return patient, [factories.visit(session, patient, protocol, at=NOW - timedelta(hours=hours))
                     for hours in hours_ago]


def test_the_latest_of_the_clinics_day_in_time_order_and_everyone_seen_that_day(session: Session) -> None:
    clinic = factories.clinic(session, timezone=ZONE)
    early, _ = seen(session, clinic, "Early", 14.5, 20)  # 00:30 there today; 19:00 there the evening before
    middle, _ = seen(session, clinic, "Middle", 5, 3)
    late, _ = seen(session, clinic, "Late", 1)
    corrected, (kept, mistaken) = seen(session, clinic, "Corrected", 2.5, 2)
    gone, (only,) = seen(session, clinic, "Gone", 4)
    seen(session, factories.clinic(session, name="Elsewhere PT", timezone=ZONE), "Elsewhere", 1)
    for deleted in (mistaken, only):
        deleted.deleted_at = NOW
        session.add(deleted)
    session.commit()
    scope = {"clinic_id": clinic.id or 0, "zone": ZONE, "now": NOW, "mine": true()}

    latest, total = todays_visits(session, **scope, limit=3, latest=True)
    assert total == 5
    assert [(row.first_name, row.occurred_at.strftime("%H:%M")) for row in latest] == [
        ("Middle", "18:00"), ("Corrected", "18:30"), ("Late", "20:00")]
    day, total = todays_visits(session, **scope, limit=50)
    assert [row.first_name for row in day] == ["Early", "Middle", "Middle", "Corrected", "Late"] and total == 5
    second_page, total = todays_visits(session, **scope, limit=2, offset=2)
    assert [row.first_name for row in second_page] == ["Middle", "Corrected"] and total == 5
    assert todays_visits(session, **scope, limit=2, offset=5) == ([], 0)
    assert todays_patients(session, **scope) == {early.id, middle.id, late.id, corrected.id}
    assert gone.id not in todays_patients(session, **scope)
