"""Triage: patients have an assigned therapist; the dashboard shows "My patients" (with a switch to the whole
clinic) and its alerts most urgent first, pain above the ceiling in words; the patient form assigns, audited."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import select

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
    pain_at = (utcnow() - timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M")
    assert f">{pain_at}</time>" in board


def test_pain_above_the_ceiling_at_a_visit_today_stands_out_beside_the_pain(therapist_client, patient, protocol, db):
    phase = load_content(latest_version(db, protocol)).phases[0]
    ceiling = visit_ceiling(phase, "treadmill_rails")  # the factory's exercise
    factories.visit(db, patient, protocol, at=utcnow() - timedelta(minutes=30), pain_worst=ceiling + 3)
    factories.visit(db, patient, protocol, at=utcnow() - timedelta(minutes=20), pain_worst=1)
    html = therapist_client.get("/dashboard").get_data(as_text=True)
    today = html.split('id="today-title"')[1].split('id="recent-title"')[0]
    rows = today.split("<tr")[2:]
    assert f"{ceiling + 3}/10 <span class=\"badge pain\">Above the ceiling of {ceiling}</span>" in rows[0]
    assert "1/10" in rows[1] and "Above the ceiling" not in rows[1]
    # The print button prints the sheets of the patients listed.
    assert today.count(f'name="patient_id" value="{patient.id}"') == 1


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
