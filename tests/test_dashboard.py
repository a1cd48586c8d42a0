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


def seen_today(db, clinic, make_patient, count: int, **fields):  # type: ignore[no-untyped-def]
    """``count`` patients with a visit each today, a second apart, the first earliest."""
    now = datetime.now(UTC).replace(microsecond=0)
    made = []
    for number in range(1, count + 1):
        who = make_patient(clinic, first_name=f"Pat{number:02d}", last_name="Visitor", **fields)
        factories.visit(db, who, factories.protocol(db, who), at=now - timedelta(seconds=count - number))
        made.append(who)
    return made


def today_card(html: str) -> str:
    return html.split('id="today-title"')[1].split('id="recent-title"')[0]


def test_todays_visits_shows_the_latest_and_the_way_to_the_whole_day_in_time_order(therapist_client, clinic,
                                                                                  make_patient, make_user, db):
    """A clinic's afternoon holds hundreds of visits: the card shows the latest 25 with how many there are, and
    "See all" opens the whole day in time order; the other therapist's patient only in "Whole clinic"."""
    seen_today(db, clinic, make_patient, 30)
    colleague = make_user(clinics=[clinic], name="Sam Colleague")
    theirs = make_patient(clinic, first_name="Theo", last_name="Theirs", therapist_id=colleague.id)
    factories.visit(db, theirs, factories.protocol(db, theirs), at=datetime.now(UTC) - timedelta(minutes=1))

    card = today_card(therapist_client.get("/dashboard").get_data(as_text=True))
    assert '<span class="count">30</span>' in card and "The latest 25 of 30." in card
    shown = [f"Visitor, Pat{number:02d}" for number in range(1, 31) if f"Visitor, Pat{number:02d}" in card]
    assert shown == [f"Visitor, Pat{number:02d}" for number in range(6, 31)]  # the latest, earliest of them first
    assert "Theirs" not in card and "See all 30 visits today" in card

    day_page = therapist_client.get("/dashboard/today").get_data(as_text=True)
    assert "30 visits today" in day_page and "Theirs" not in day_page
    positions = [day_page.index(f"Visitor, Pat{number:02d}") for number in range(1, 31)]
    assert positions == sorted(positions)  # the whole day, in time order

    clinic_card = today_card(therapist_client.get("/dashboard?scope=clinic").get_data(as_text=True))
    assert "The latest 25 of 31." in clinic_card and "See all 31 visits today" in clinic_card
    whole_day = therapist_client.get("/dashboard/today?scope=clinic").get_data(as_text=True)
    assert "31 visits today" in whole_day and "Theirs, Theo" in whole_day


def test_the_whole_days_list_pages_by_fifty_and_a_page_past_the_end_shows_the_first(therapist_client, clinic,
                                                                                    make_patient, db):
    seen_today(db, clinic, make_patient, 52)
    first = therapist_client.get("/dashboard/today").get_data(as_text=True)
    assert "52 visits today" in first and "Page 1 of 2" in first and "Visitor, Pat50" in first
    assert "Visitor, Pat51" not in first and "Next page<span class=\"visually-hidden\"> of today&#39;s visits" in first
    second = therapist_client.get("/dashboard/today?page=2").get_data(as_text=True)
    assert "Visitor, Pat51" in second and "Visitor, Pat52" in second and "Visitor, Pat01" not in second
    past = therapist_client.get("/dashboard/today?page=9").get_data(as_text=True)
    assert "Page 1 of 2" in past and "Visitor, Pat01" in past


def test_no_visit_today_says_so_on_the_whole_days_list(therapist_client, clinic, make_patient, db):
    patient = make_patient(clinic)
    factories.visit(db, patient, factories.protocol(db, patient), at=datetime.now(UTC) - timedelta(days=2))
    page = therapist_client.get("/dashboard/today").get_data(as_text=True)
    assert "0 visits today" in page and "No visits recorded yet today for your patients." in page
    assert "Okafor" not in page
