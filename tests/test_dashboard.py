"""The dashboard's "quiet for 14 days" and "recently seen" follow the visits recorded, corrected and deleted
through the therapist's forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from rehab.dates import day_text
from rehab.models import Visit
from rehab.services.last_session import refresh_last_session
from tests import factories
from tests.conftest import submit
from tests.test_visits import visit_form

pytestmark = pytest.mark.db


def board(client) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The "Needs attention" card and the "Recently seen" card of the dashboard, as text."""
    html = client.get("/dashboard").get_data(as_text=True)
    attention = html.split('id="alerts-title"')[1].split('id="today-title"')[0]
    return attention, html.split('id="recent-title"')[1]


def form_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M")  # the test clinic's time zone is UTC


def day(at: datetime) -> str:
    return day_text(at)  # as every page writes a day


def test_visits_recorded_corrected_and_deleted_move_the_patient_between_quiet_and_recently_seen(
        therapist_client, clinic, make_patient, db):
    patient = make_patient(clinic)
    factories.protocol(db, patient, days_ago=40)
    make_patient(clinic, first_name="Ruth", last_name="Abernathy")  # no protocol, no visit: in neither list
    db.commit()
    quiet, recent = board(therapist_client)
    assert "Okafor, Margaret" in quiet and "No session since the protocol started" in quiet
    assert "No visits yet." in recent and "Abernathy" not in quiet + recent

    three_weeks_ago = datetime.now(UTC) - timedelta(days=21)
    submit(therapist_client, f"/patients/{patient.id}/visits/new", visit_form(occurred_at=form_time(three_weeks_ago)))
    quiet, recent = board(therapist_client)
    assert "Okafor, Margaret" in quiet and f"Last session {day(three_weeks_ago)}." in quiet
    assert "Okafor, Margaret" in recent and day(three_weeks_ago) in recent

    just_now = datetime.now(UTC) - timedelta(minutes=5)
    submit(therapist_client, f"/patients/{patient.id}/visits/new", visit_form(occurred_at=form_time(just_now)))
    quiet, recent = board(therapist_client)
    assert "Okafor" not in quiet and "Nothing needs attention." in quiet
    assert "Okafor, Margaret" in recent and day(just_now) in recent

    # Deleting today's visit (entered by mistake) makes the patient quiet again since the earlier one.
    latest = db.exec(select(Visit).order_by(Visit.occurred_at.desc())).first()  # type: ignore[attr-defined]
    url = f"/patients/{patient.id}/visits/{latest.id}"
    submit(therapist_client, f"{url}/delete", {"reason": "Entered twice"}, form_page=f"{url}/edit")
    quiet, recent = board(therapist_client)
    assert f"Last session {day(three_weeks_ago)}." in quiet

    # Correcting the earlier visit's date to three days ago: no longer quiet, seen three days ago.
    earlier = db.exec(select(Visit).where(Visit.deleted_at.is_(None))).one()  # type: ignore[union-attr]
    db.rollback()
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    submit(therapist_client, f"/patients/{patient.id}/visits/{earlier.id}/edit",
           visit_form(occurred_at=form_time(three_days_ago), version="1"))
    quiet, recent = board(therapist_client)
    assert "Okafor" not in quiet
    assert "Okafor, Margaret" in recent and day(three_days_ago) in recent and day(three_weeks_ago) not in recent


def test_recently_seen_lists_only_this_clinics_patients_newest_first(therapist_client, clinic, make_clinic,
                                                                    make_patient, db):
    elsewhere = make_patient(make_clinic("Elsewhere"), first_name="Bernadette", last_name="Stranger")
    patients = [make_patient(clinic, first_name=first, last_name=last)
                for first, last in (("Luis", "Hernandez"), ("Dorothy", "Whitfield"))]
    protocols = {person.id: factories.protocol(db, person, "pfp", days_ago=30)
                 for person in [*patients, elsewhere]}
    db.commit()
    for person, days_ago in ((patients[0], 2), (patients[1], 1)):
        submit(therapist_client, f"/patients/{person.id}/visits/new",
               visit_form(occurred_at=form_time(datetime.now(UTC) - timedelta(days=days_ago))))
    # The other clinic's patient has the newest session of all (recorded directly: the therapist cannot reach
    # them), and must still not show.
    factories.visit(db, elsewhere, protocols[elsewhere.id])
    refresh_last_session(db, patient_id=elsewhere.id)
    db.commit()
    _, recent = board(therapist_client)
    assert "Stranger" not in recent
    assert recent.index("Whitfield, Dorothy") < recent.index("Hernandez, Luis")
