"""Clinic isolation (SECURITY.md 9-10): an admin of clinic A tries clinic B's ids on every route that takes
an id, with GET and with a valid CSRF token on POST, and reaches nothing and changes nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from werkzeug.routing import IntegerConverter

from rehab.models import Alert, ClinicTemplate, HandoutPrint, utcnow
from tests import factories
from tests.conftest import csrf_from, sign_in
from tests.test_access import RULES, build_url, snapshot

pytestmark = pytest.mark.db

# The patient's own pages are walked with patient sessions in tests/test_portal.py.
ID_RULES = [rule for rule in RULES if rule.endpoint != "static" and not rule.endpoint.startswith("portal.")
            and any(isinstance(rule._converters[name], IntegerConverter) for name in rule.arguments)]
BOOKKEEPING = {"user_session", "audit_event", "login_attempt"}


@pytest.fixture
def clinic_b_records(make_clinic, make_user, make_patient, db):  # type: ignore[no-untyped-def]
    """Clinic B owns row 1 of every table an id in a URL can point at."""
    clinic_b = make_clinic("Clinic B")
    user_b = make_user("bea@clinic-b.example", clinics=[clinic_b], is_admin=True, name="Bea B")
    patient = make_patient(clinic_b, first_name="Bernadette", last_name="Secret")
    protocol = factories.protocol(db, patient, days_ago=9, user_id=user_b.id)
    visit = factories.visit(db, patient, protocol, at=utcnow() - timedelta(days=1))
    factories.home_log(db, patient, protocol)
    db.add_all([
        Alert(clinic_id=clinic_b.id, patient_id=patient.id, kind="fall", message="Secret fall", visit_id=visit.id),
        HandoutPrint(patient_id=patient.id, clinic_id=clinic_b.id, protocol_id=protocol.id, protocol_version=1,
                     phase_index=0, options="{}", snapshot=json.dumps({"patient_name": "Bernadette Secret"}),
                     digest="0" * 64),
        ClinicTemplate(clinic_id=clinic_b.id, name="Secret template", content="{}"),
    ])
    db.commit()
    assert 1 == clinic_b.id == user_b.id == patient.id == protocol.id == visit.id


@pytest.fixture
def admin_a(clinic_b_records, make_clinic, make_user, client):  # type: ignore[no-untyped-def]
    clinic_a = make_clinic("Clinic A")
    admin = make_user("ada@clinic-a.example", clinics=[clinic_a], is_admin=True, name="Ada A")
    assert sign_in(client, admin.email).status_code == 302
    return client


@pytest.mark.parametrize("rule", ID_RULES, ids=lambda rule: f"{sorted(rule.methods - {'HEAD', 'OPTIONS'})} {rule.rule}")
def test_clinic_a_cannot_reach_or_change_clinic_bs_records(app, admin_a, db, rule):
    url = build_url(app, rule)
    before = snapshot(db)
    if "GET" in rule.methods:
        response = admin_a.get(url)
        assert response.status_code == 404, url
        assert "Secret" not in response.get_data(as_text=True), url
    if "POST" in rule.methods:
        token = csrf_from(admin_a.get("/dashboard").get_data(as_text=True))
        response = admin_a.post(url, data={"csrf_token": token, "reason": "take it", "name": "Changed",
                                           "action": "retire", "decision": "accept", "step": "1", "active": "0"})
        assert response.status_code == 404, url
    after = snapshot(db)
    assert {name: rows for name, rows in after.items() if name not in BOOKKEEPING} == \
        {name: rows for name, rows in before.items() if name not in BOOKKEEPING}


def test_every_route_with_an_id_is_walked():
    assert len(ID_RULES) >= 25  # patients, protocols, visits, sheets, alerts, sharing, admin users and templates
