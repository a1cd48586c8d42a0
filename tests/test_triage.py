"""Triage: patients have an assigned therapist; the dashboard shows "My patients" (with a switch to the whole
clinic) and its alerts most urgent first, pain above the ceiling in words; the patient form assigns, audited."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import select

from rehab.dates import moment_text
from rehab.models import Alert, AuditEvent, EditRecord, Patient, utcnow
from rehab.services.protocol_content import visit_ceiling
from rehab.services.protocol_records import latest_version, load_content
from tests import factories
from tests.conftest import sign_in, submit
from tests.test_patients import VALID

pytestmark = pytest.mark.db


@pytest.fixture
def colleague(make_user, clinic):  # type: ignore[no-untyped-def]
    return make_user("robin.colleague@clinic.example", clinics=[clinic], name="Robin Colleague")


def attention(client, url: str = "/dashboard") -> str:  # type: ignore[no-untyped-def]
    """The "Needs attention" card of the dashboard, as HTML."""
    html = client.get(url).get_data(as_text=True)
    return html.split('id="alerts-title"')[1].split('id="today-title"')[0]


def alert(db, patient, kind: str, message: str, minutes_ago: int = 0) -> Alert:  # type: ignore[no-untyped-def]
    row = Alert(clinic_id=patient.clinic_id, patient_id=patient.id, kind=kind, message=message,
                created_at=utcnow() - timedelta(minutes=minutes_ago))
    db.add(row)
    db.commit()
    return row


def test_my_patients_by_default_and_the_whole_clinic_one_click_away(therapist_client, therapist, colleague, clinic,
                                                                    make_user, make_patient, db):
    gone = make_user("gone@clinic.example", clinics=[clinic], name="Gone Therapist")
    gone.is_active = False
    db.add(gone)
    db.commit()
    patients = {name: make_patient(clinic, first_name=name, last_name="Case", therapist_id=owner)
                for name, owner in (("Mine", therapist.id), ("Robins", colleague.id), ("Nobodys", None),
                                    ("Leavers", gone.id))}
    for patient in patients.values():
        alert(db, patient, "clinic_only", f"{patient.first_name} walked at home.")
    page = therapist_client.get("/dashboard").get_data(as_text=True)
    assert '<a class="button small selected" href="/dashboard" aria-current="page">My patients</a>' in page
    assert 'href="/dashboard?scope=clinic">Whole clinic</a>' in page
    mine = attention(therapist_client)
    # Assigned to me, to nobody, or to someone who left (deactivated): mine, the last two said "Unassigned".
    assert "Case, Mine" in mine and "Case, Nobodys" in mine and "Case, Leavers" in mine
    assert "Case, Robins" not in mine
    assert mine.count("· Unassigned") == 2

    clinic_wide = attention(therapist_client, "/dashboard?scope=clinic")
    assert all(f"Case, {name}" in clinic_wide for name in patients)
    assert "· Robin Colleague" in clinic_wide and "· Pat Therapist" in clinic_wide
    assert "Gone Therapist" not in clinic_wide and clinic_wide.count("· Unassigned") == 2
    # Acknowledging from the whole-clinic view comes back to it.
    robins = db.exec(select(Alert).where(Alert.patient_id == patients["Robins"].id)).one()
    response = submit(therapist_client, f"/patients/{patients['Robins'].id}/alerts/{robins.id}/ack",
                      {"back": "dashboard-clinic"}, form_page="/dashboard?scope=clinic")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard?scope=clinic"


def test_a_therapist_removed_from_the_clinic_leaves_their_patients_unassigned(therapist_client, colleague, clinic,
                                                                              make_patient, db):
    from rehab.models import Membership

    patient = make_patient(clinic, first_name="Left", last_name="Behind", therapist_id=colleague.id)
    alert(db, patient, "fall", "1 fall reported.")
    assert "Case" not in attention(therapist_client) and "Behind, Left" not in attention(therapist_client)
    db.delete(db.get(Membership, (colleague.id, clinic.id)))
    db.commit()
    mine = attention(therapist_client)
    assert "Behind, Left" in mine and "· Unassigned" in mine
    assert "Therapist: Unassigned" in therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)


def test_alerts_come_most_urgent_first_and_pain_above_the_ceiling_says_so(therapist_client, clinic, make_patient,
                                                                         protocol, db):
    patient = make_patient(clinic, first_name="Ines", last_name="Alvarez")
    # Created in the order of least urgent first, each newer than the last: newest-first would be upside down.
    alert(db, patient, "dob_lockout", "The personal link is locked.", minutes_ago=50)
    alert(db, patient, "clinic_only", "Walked at home.", minutes_ago=40)
    alert(db, patient, "pain_high", "Pain 8/10 at home, above the ceiling of 4/10.", minutes_ago=30)
    alert(db, patient, "fall", "1 fall reported.", minutes_ago=60)
    board = attention(therapist_client)
    order = [board.index(text) for text in ("1 fall reported.", "Pain 8/10 at home", "Walked at home.",
                                            "The personal link is locked.")]
    assert order == sorted(order)
    pain_item = board.split("Pain 8/10 at home")[0].rsplit("<li", 1)[1]
    assert "urgency-pain" in pain_item and '<span class="badge pain">Pain above ceiling at home</span>' in pain_item
    # Each alert has its date and time, in the clinic's zone (UTC here), in one format.
    pain_at = moment_text(utcnow() - timedelta(minutes=30))
    assert f">{pain_at}</time>" in board


def test_pain_above_the_ceiling_at_a_visit_today_stands_out_beside_the_pain(therapist_client, patient, protocol, db):
    phase = load_content(latest_version(db, protocol)).phases[0]
    ceiling = visit_ceiling(phase, "treadmill_rails")  # the factory's exercise
    # Moments ago, so both are today even just after midnight.
    factories.visit(db, patient, protocol, at=utcnow() - timedelta(seconds=20), pain_worst=ceiling + 3)
    factories.visit(db, patient, protocol, at=utcnow() - timedelta(seconds=10), pain_worst=1)
    html = therapist_client.get("/dashboard").get_data(as_text=True)
    today = html.split('id="today-title"')[1].split('id="recent-title"')[0]
    rows = today.split("<tr")[2:]
    assert f"{ceiling + 3}/10 <span class=\"badge pain\">Above the ceiling of {ceiling}</span>" in rows[0]
    assert "1/10" in rows[1] and "Above the ceiling" not in rows[1]
    # The print button prints the sheets of everyone seen today in this view ("My patients"), worked out when it
    # is sent (tests/test_print_jobs.py), not a hidden field per patient listed.
    assert today.count('name="scope" value="mine"') == 1 and 'name="patient_id"' not in today


def test_the_patient_form_assigns_the_creator_by_default_and_a_change_is_kept_and_audited(
        therapist_client, therapist, colleague, clinic, make_user, make_clinic, db):
    form = therapist_client.get("/patients/new", follow_redirects=True).get_data(as_text=True)
    assert f'<option value="{therapist.id}" selected>Pat Therapist</option>' in form
    assert f'<option value="{colleague.id}" >Robin Colleague</option>' in form
    assert '<option value="">Unassigned</option>' in form
    submit(therapist_client, "/patients/new", {**VALID, "therapist_id": str(therapist.id)})
    patient = db.exec(select(Patient)).one()
    assert patient.therapist_id == therapist.id
    assert "Therapist: Pat Therapist" in therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)

    edit = {**VALID, "version": "1", "therapist_id": str(colleague.id)}
    page = submit(therapist_client, f"/patients/{patient.id}/edit", edit, follow_redirects=True)
    assert "Therapist: Robin Colleague" in page.get_data(as_text=True)
    assert "Pat Therapist → Robin Colleague" in page.get_data(as_text=True)  # the change history
    db.expire_all()
    assert db.get(Patient, patient.id).therapist_id == colleague.id
    record = db.exec(select(EditRecord).where(EditRecord.patient_id == patient.id)).one()
    assert json.loads(record.changes) == {"therapist": ["Pat Therapist", "Robin Colleague"]}
    events = db.exec(select(AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id)
                     .where(AuditEvent.patient_id == patient.id).order_by(AuditEvent.id)).all()
    assert [event for event in events if event[0] in ("patient.assign", "patient.unassign")] == [
        ("patient.assign", "user", therapist.id), ("patient.assign", "user", colleague.id)]

    # Only the clinic's active therapists can be chosen: another clinic's or a deactivated account is refused
    # beside the field, nothing saved.
    outsider = make_user("out@elsewhere.example", clinics=[make_clinic("Elsewhere")], name="Out Sider")
    for refused in (outsider.id, 99999, "abc"):
        response = submit(therapist_client, f"/patients/{patient.id}/edit",
                          {**VALID, "version": "2", "therapist_id": str(refused)})
        assert response.status_code == 422
        assert 'id="therapist_id-error"' in response.get_data(as_text=True)
        assert "Choose a therapist of this clinic, or Unassigned." in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Patient, patient.id).therapist_id == colleague.id

    # Unassigning is a change too.
    submit(therapist_client, f"/patients/{patient.id}/edit", {**VALID, "version": "2", "therapist_id": ""})
    db.expire_all()
    assert db.get(Patient, patient.id).therapist_id is None
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "patient.unassign")).one().patient_id == patient.id


def test_a_departed_therapist_shows_as_unassigned_on_the_form(client, therapist, colleague, clinic, make_patient,
                                                              db):
    patient = make_patient(clinic, therapist_id=colleague.id)
    colleague.is_active = False
    db.add(colleague)
    db.commit()
    sign_in(client, therapist.email)
    form = client.get(f"/patients/{patient.id}/edit").get_data(as_text=True)
    assert "Robin Colleague" not in form  # not offered: they left
    assert '<option value="">Unassigned</option>' in form and " selected>" not in form.split('id="therapist_id"')[1] \
        .split("</select>")[0]


def rows_of(client, url: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The patient list's body rows, as HTML."""
    html = client.get(url).get_data(as_text=True)
    return html.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]


def test_the_patient_list_shows_therapist_phase_last_session_and_open_alerts(therapist_client, therapist, colleague,
                                                                            clinic, make_patient, db):
    from rehab.services.last_session import refresh_last_session

    busy = make_patient(clinic, first_name="Ana", last_name="Busy", chart_number="RV-1001", therapist_id=therapist.id)
    make_patient(clinic, first_name="Ben", last_name="Quiet")  # no therapist, protocol, session or alert
    seen = make_patient(clinic, first_name="Cy", last_name="Seen", therapist_id=colleague.id)
    protocol = factories.protocol(db, busy, days_ago=30)
    protocol.current_phase = 1
    db.add(protocol)
    factories.visit(db, busy, protocol, at=utcnow() - timedelta(days=3))
    refresh_last_session(db, patient_id=busy.id)
    other = factories.protocol(db, seen, "pfp", days_ago=30)
    factories.visit(db, seen, other, at=utcnow() - timedelta(days=10))
    refresh_last_session(db, patient_id=seen.id)
    db.commit()
    alert(db, busy, "pain_high", "Pain 7/10 at home, above the ceiling of 4/10.")
    alert(db, busy, "red_flag", "Red flag reported: calf pain.")
    alert(db, busy, "clinic_only", "Walked at home.").acknowledged_at = utcnow()
    db.commit()
    phases = load_content(latest_version(db, protocol)).phases
    busy_row, quiet_row, seen_row = rows_of(therapist_client, "/patients/")  # by name
    assert "Busy, Ana" in busy_row and "Quiet, Ben" in quiet_row and "Seen, Cy" in seen_row
    assert '<td data-label="Therapist">Pat Therapist</td>' in busy_row
    assert '<td data-label="Therapist">Unassigned</td>' in quiet_row
    assert '<td data-label="Therapist">Robin Colleague</td>' in seen_row
    assert f"2 of {len(phases)}: {phases[1].name}" in busy_row and "No active protocol" in quiet_row
    assert (utcnow() - timedelta(days=3)).strftime("%Y-%m-%d") in busy_row and "(3 days ago)" in busy_row
    assert "None yet" in quiet_row and "(10 days ago)" in seen_row
    # Two open alerts (the acknowledged one does not count), named by the most urgent, in its colour.
    assert '<span class="badge danger">2 · Red flag and more</span>' in busy_row
    assert '<td data-label="Open alerts"><span class="muted">None</span></td>' in quiet_row
    assert '<span class="chart-number">RV-1001</span>' in busy_row

    by_alerts = rows_of(therapist_client, "/patients/?sort=alerts")
    assert "Busy, Ana" in by_alerts[0]
    by_last_session = rows_of(therapist_client, "/patients/?sort=last_session")
    assert ["Quiet" in by_last_session[0], "Seen" in by_last_session[1], "Busy" in by_last_session[2]] == [True] * 3
    # The order is kept across pages.
    page = therapist_client.get("/patients/?sort=alerts").get_data(as_text=True)
    assert '<option value="alerts" selected>Most urgent alerts first</option>' in page


def add_caseload(db, clinic, therapists, count: int, first: int) -> None:  # type: ignore[no-untyped-def]
    """``count`` patients, each with a protocol, a visit today and an open alert, shared among ``therapists``
    (and nobody)."""
    from rehab.services.last_session import refresh_last_session

    for index in range(first, first + count):
        owner = [*therapists, None][index % (len(therapists) + 1)]
        patient = factories.patient(db, clinic, first_name=f"P{index}", last_name=f"Person{index:03d}",
                                    therapist_id=owner.id if owner else None)
        protocol = factories.protocol(db, patient, days_ago=30)
        factories.visit(db, patient, protocol, at=utcnow() - timedelta(seconds=5), pain_worst=index % 10)
        refresh_last_session(db, patient_id=patient.id)
        alert(db, patient, ("red_flag", "pain_high", "clinic_only")[index % 3], "Something to look at.")
    db.commit()


def test_the_list_and_the_dashboard_use_as_many_queries_for_30_patients_as_for_3(therapist_client, therapist,
                                                                                colleague, clinic, db):
    pages = ["/patients/", "/patients/?sort=alerts", "/patients/?sort=last_session", "/dashboard",
             "/dashboard?scope=clinic"]

    def counts() -> list[int]:
        answers = [therapist_client.get(url) for url in pages]
        assert all(answer.status_code == 200 for answer in answers)
        return [int(answer.headers["X-Query-Count"]) for answer in answers]

    add_caseload(db, clinic, [therapist, colleague], 3, first=0)
    few = counts()
    add_caseload(db, clinic, [therapist, colleague], 27, first=3)
    assert counts() == few
    # The thirty are there: a full page of the list, and every alert on the whole clinic's dashboard.
    assert len(rows_of(therapist_client, "/patients/")) == 25
    assert attention(therapist_client, "/dashboard?scope=clinic").count('class="alert-item') == 30
