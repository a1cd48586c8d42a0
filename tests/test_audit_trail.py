"""The audit trail as an admin reads it: sentences, filtered by patient name, date range and action, a page at a
time, and exported as CSV (formulas kept as text, the export itself audited, for admins only)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from rehab.models import AuditEvent
from rehab.services import audit
from rehab.services.audit import first_broken_event
from tests.factories import SECRET
from tests.pages import visible_text

pytestmark = pytest.mark.db

KEY = audit.chain_key(audit_key="", secret_key=SECRET)


@pytest.fixture
def trail(db, clinic, therapist, make_patient):  # type: ignore[no-untyped-def]
    """Events of three days: a visit for John Smith, a record read of María Muñoz, a refused link, a sign-in."""
    smith = make_patient(clinic, first_name="John", last_name="Smith", chart_number="RW-7")
    munoz = make_patient(clinic, first_name="María", last_name="Muñoz")
    days = [datetime(2026, 6, day, 15, 42, tzinfo=UTC) for day in (1, 2, 3)]  # summer: Chicago is UTC-5
    for action, patient, at, user, outcome in [
        ("patient.view", munoz, days[0], therapist.id, "ok"), ("visit.create", smith, days[1], therapist.id, "ok"),
        ("portal.open.expired", smith, days[2], None, "denied"), ("login", None, days[2], therapist.id, "ok"),
    ]:
        audit.record_event(db, key=KEY, action=action, user_id=user, clinic_id=clinic.id, outcome=outcome,
                           patient_id=patient.id if patient else None, at=at)
    db.commit()
    return smith, munoz


def rows_of(admin_client, **query):  # type: ignore[no-untyped-def]
    return visible_text(admin_client.get("/admin/audit", query_string=query).get_data(as_text=True))


def test_events_read_as_sentences_in_the_clinics_time(admin_client, trail, clinic, db):
    clinic.timezone = "America/Chicago"  # 15:42 UTC is 10:42 in Chicago in June
    db.add(clinic)
    db.commit()
    page = rows_of(admin_client)
    assert "Pat Therapist recorded a visit for John Smith on 2 Jun 2026 at 10:42" in page
    assert "Pat Therapist opened the record of María Muñoz on 1 Jun 2026 at 10:42" in page
    assert "John Smith opened their personal link: refused, the link has expired on 3 Jun 2026 at 10:42" in page
    assert "Refused" in page and "visit.create" not in page


def test_filters_by_patient_name_date_range_and_action(admin_client, trail):
    by_name = rows_of(admin_client, patient="munoz")  # accents and case ignored, as the caseload's search
    assert "opened the record of María Muñoz" in by_name and "John Smith" not in by_name
    assert "1 event" in by_name
    by_chart = rows_of(admin_client, patient="RW-7")
    assert "recorded a visit for John Smith" in by_chart and "María" not in by_chart
    in_range = rows_of(admin_client, since="2026-06-02", until="2026-06-02")
    assert "recorded a visit for John Smith" in in_range and "opened the record" not in in_range
    assert "1 event, 2 Jun 2026 to 2 Jun 2026" in in_range
    by_action = rows_of(admin_client, action="portal.open")  # the action with its refusals
    assert "opened their personal link: refused" in by_action and "recorded a visit" not in by_action
    backwards = rows_of(admin_client, since="2026-06-03", until="2026-06-01")
    assert "The last day comes before the first day" in backwards


def test_the_trail_is_paginated_with_its_filters_kept(admin_client, clinic, therapist, db, trail):
    smith, _ = trail
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for minute in range(60):
        audit.record_event(db, key=KEY, action="patient.view", user_id=therapist.id, clinic_id=clinic.id,
                           patient_id=smith.id, at=start + timedelta(minutes=minute))
    db.commit()
    html = admin_client.get("/admin/audit", query_string={"patient": "smith"}).get_data(as_text=True)
    assert "Page 1 of 2" in html and "patient=smith" in html.split("Older events")[0].rsplit("href=", 1)[-1]
    second = rows_of(admin_client, patient="smith", page=2)
    assert "Page 2 of 2" in second and second.count("opened the record of John Smith") == 10
    assert "recorded a visit for John Smith" in second  # 62 events: the oldest 12 on the second page


def test_the_csv_export_has_the_filtered_rows_safe_for_a_spreadsheet(admin_client, trail, db, make_user, clinic):
    mallory = make_user("mallory@clinic.example", clinics=[clinic], name='=HYPERLINK("http://evil.example")')
    audit.record_event(db, key=KEY, action="visit.update", user_id=mallory.id, clinic_id=clinic.id,
                       patient_id=trail[0].id, at=datetime(2026, 6, 2, 17, tzinfo=UTC))
    db.commit()
    response = admin_client.get("/admin/audit.csv", query_string={"patient": "smith"})
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["Event", "When", "Who", "Action", "Patient", "What happened", "Outcome"]
    # Newest first, in the order the events were appended to the chain.
    assert [row[3] for row in rows[1:]] == ["Corrected a visit", "Patient opened their link: refused",
                                            "Recorded a visit"]
    assert rows[1][2] == "'=HYPERLINK(\"http://evil.example\")" and rows[1][5].startswith("'=HYPERLINK")
    assert rows[3][1] == "2026-06-02T15:42:00+00:00" and rows[3][4] == "John Smith"
    exported = db.exec(select(AuditEvent).where(AuditEvent.action == "audit.export")).all()
    assert len(exported) == 1 and exported[0].user_id is not None  # who exported is in the trail
    assert first_broken_event(db, key=KEY) is None  # the export appends to the chain like any event


def test_only_admins_open_or_export_the_trail(therapist_client, app):
    assert therapist_client.get("/admin/audit").status_code == 403
    assert therapist_client.get("/admin/audit.csv").status_code == 403
    assert app.test_client().get("/admin/audit.csv").status_code == 302  # to the sign-in
