"""Pages issue a fixed number of SQL queries whatever the number of patients or visits (no N+1)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import before_render_template, g, template_rendered
from sqlalchemy import insert

from rehab.models import HomeLog, Patient, Visit, utcnow
from rehab.models.patients import patient_search_key
from rehab.services import portal_links
from tests import factories
from tests.conftest import SECRET, submit

pytestmark = pytest.mark.db


def queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, url
    return int(response.headers["X-Query-Count"])


def add_visits(db, patient, protocol, count: int, start_days_ago: int) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    rows = [dict(patient_id=patient.id, clinic_id=patient.clinic_id, protocol_id=protocol.id, protocol_version=1,
                 phase_index=0, occurred_at=now - timedelta(days=start_days_ago, hours=index), pain_before=1,
                 pain_worst=2 + index % 3, pain_after=1, exercise="treadmill_rails", minutes=5 + index % 5,
                 speed_kmh=1.2, incline_pct=0, support="both_rails", tug_s=12.0 if index % 20 == 0 else None)
            for index in range(count)]
    db.execute(insert(Visit), rows)
    db.commit()


def add_home_logs(db, patient, protocol, count: int, start_days_ago: int) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    rows = [dict(patient_id=patient.id, clinic_id=patient.clinic_id, protocol_id=protocol.id, protocol_version=1,
                 phase_index=0, session_date=(now - timedelta(days=start_days_ago + index % 20)).date(),
                 minutes=5 + index % 5, pain_worst=2 + index % 3, soreness="none", stumbled=index % 7 == 0, fell=False,
                 flag_calf=False, flag_chest=False, flag_infection=False, flag_locking=False, note=f"log {index}",
                 created_at=now - timedelta(days=start_days_ago, hours=index), updated_at=now, version=1)
            for index in range(count)]
    db.execute(insert(HomeLog), rows)
    db.commit()


def add_patients(db, clinic, count: int, first: int = 0) -> None:  # type: ignore[no-untyped-def]
    db.execute(insert(Patient), [dict(clinic_id=clinic.id, first_name=f"P{index}", last_name=f"Person{index:05d}",
                                      date_of_birth=date(1950, 1, 1), affected_knee="left", condition="knee_oa",
                                      chart_number=f"C{index:05d}",
                                      search_key=patient_search_key(f"P{index}", f"Person{index:05d}", f"C{index:05d}"))
                                 for index in range(first, first + count)])
    db.commit()


def test_patient_page_with_200_visits_uses_as_many_queries_as_with_2(therapist_client, clinic, make_patient, db):
    patient = make_patient(clinic)
    protocol = factories.protocol(db, patient, days_ago=400)
    add_visits(db, patient, protocol, 2, start_days_ago=1)
    add_home_logs(db, patient, protocol, 2, start_days_ago=1)
    pages = [f"/patients/{patient.id}", f"/patients/{patient.id}/visits", f"/patients/{patient.id}/chart.svg"]
    few = [queries(therapist_client, page) for page in pages]
    add_visits(db, patient, protocol, 198, start_days_ago=3)
    add_home_logs(db, patient, protocol, 100, start_days_ago=2)
    many = [queries(therapist_client, page) for page in pages]
    assert many == few


def test_search_and_dashboard_queries_do_not_grow_with_the_caseload(therapist_client, clinic, make_patient, db):
    add_patients(db, clinic, 5)
    search_small = queries(therapist_client, "/patients/?q=person")
    board_small = queries(therapist_client, "/dashboard")
    add_patients(db, clinic, 500, first=5)
    for patient in [make_patient(clinic, last_name=f"Active{index}") for index in range(5)]:
        protocol = factories.protocol(db, patient, "pfp", days_ago=30)
        add_visits(db, patient, protocol, 3, start_days_ago=0)
        add_home_logs(db, patient, protocol, 3, start_days_ago=1)
    assert queries(therapist_client, "/patients/?q=person") == search_small
    assert queries(therapist_client, "/dashboard") == board_small


def test_the_patient_pages_templates_run_no_sql(app, therapist_client, clinic, make_patient, db):
    """The share card, the home sessions and the questionnaires get plain values from the page's service: a
    template that looked rows up itself would hide its queries from the page's fixed count."""
    patient = make_patient(clinic)
    protocol = factories.protocol(db, patient, days_ago=30)
    portal_links.issue_link(db, patient=patient, user_id=None, now=utcnow(), secret=SECRET)
    db.commit()
    add_visits(db, patient, protocol, 2, start_days_ago=1)
    add_home_logs(db, patient, protocol, 12, start_days_ago=1)
    during: list[int] = []

    def started(_app, **_extra):  # type: ignore[no-untyped-def]
        during.append(g.get("query_count", 0))

    def finished(_app, **_extra):  # type: ignore[no-untyped-def]
        during[-1] = g.get("query_count", 0) - during[-1]

    with before_render_template.connected_to(started, app), template_rendered.connected_to(finished, app):
        patient_page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
        visits_page = therapist_client.get(f"/patients/{patient.id}/visits").get_data(as_text=True)
    assert during == [0, 0]
    # The values did reach the pages: the link's card, the newest ten home sessions here and all twelve there.
    assert "Link active" in patient_page and "All home sessions" in patient_page
    assert patient_page.count('<td class="note-cell"><span class="notes">log ') == 10
    assert visits_page.count('<td class="note-cell"><span class="notes">log ') == 12


def test_the_outcomes_page_export_and_chart_use_as_many_queries_for_30_patients_as_for_3(therapist_client, clinic,
                                                                                       make_patient, therapist, db):
    """Each patient brings visits and finished questionnaires at the start and at 6 weeks: the page still reads
    them in the same few queries (services/outcome_records.py)."""
    from rehab.models import QuestionnaireResponse
    from tests.test_outcomes import seed

    def with_scores(made, start_days_ago: int) -> None:  # type: ignore[no-untyped-def]
        start = utcnow() - timedelta(days=start_days_ago)
        db.execute(insert(QuestionnaireResponse), [
            dict(patient_id=patient.id, clinic_id=clinic.id, protocol_id=protocol.id, instrument=instrument,
                 occasion="scheduled", sent_at=start + timedelta(days=day), started_at=start + timedelta(days=day),
                 completed_at=start + timedelta(days=day), score=score, answers="{}", language="en", version=1)
            for patient, protocol in made for day, instrument, score in ((1, "lefs", 40), (42, "lefs", 52),
                                                                          (1, "nprs", 6), (42, "nprs", 3))])
        db.commit()

    pages = ["/outcomes/", "/outcomes/export.csv", "/outcomes/chart.svg?template=knee_oa&measure=lefs"]
    with_scores(seed(db, clinic, make_patient, therapist, [(6, 4)] * 3), 50)
    few = [queries(therapist_client, page) for page in pages]
    with_scores(seed(db, clinic, make_patient, therapist, [(6, 3)] * 27, days_ago=60), 60)
    many = [queries(therapist_client, page) for page in pages]
    assert many == few
    assert "30 protocols reached 6 weeks" in therapist_client.get("/outcomes/").get_data(as_text=True)


def test_recording_a_visit_writes_its_form_claim_once_and_reads_no_alerts_back(therapist_client, patient, protocol,
                                                                               db):
    """The form's claim is one INSERT that already says where the form leads (no SAVEPOINT around it, no
    UPDATE of it afterwards), and a visit just recorded has no alerts to read before raising its own. The same
    count on PostgreSQL: its audit append takes the chain's lock in the statement that reads the chain's head.
    The last statement moves the clinic's data generation (services/clinic_changes.py), once for the visit, its
    patient's last session and its alerts together."""
    response = submit(therapist_client, f"/patients/{patient.id}/visits/new", {
        "occurred_at": (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"), "pain_before": "1",
        "pain_worst": "2", "pain_after": "1", "soreness": "none", "effusion": "0", "exercise": "treadmill_rails",
        "minutes": "5", "speed": "1.2", "incline_pct": "0", "support": "both_rails", "stumbles": "0", "falls": "0"})
    assert response.status_code == 302
    assert int(response.headers["X-Query-Count"]) == 12


@pytest.mark.parametrize("with_protocol", [True, False])
def test_the_patient_page_reads_its_protocols_with_the_visit_count_and_the_therapist(therapist_client, clinic,
                                                                                   make_patient, db, with_protocol):
    """One statement for the protocols, the number of visits and the assigned therapist's name, also for a
    patient without a protocol (the page still says how many visits and who looks after them)."""
    patient = make_patient(clinic)
    if with_protocol:
        add_visits(db, patient, factories.protocol(db, patient, days_ago=40), 3, start_days_ago=1)
    response = therapist_client.get(f"/patients/{patient.id}")
    assert response.status_code == 200
    assert int(response.headers["X-Query-Count"]) == (17 if with_protocol else 15)
