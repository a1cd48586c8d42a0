"""The admin page for API clients, the patient page's FHIR download and the bulk export command."""

from __future__ import annotations

import json
import re

import pytest
from sqlmodel import select

from rehab.models import ApiClient, AuditEvent
from rehab.services.fhir.common import model
from tests.conftest import submit

pytestmark = pytest.mark.db


def test_an_admin_creates_a_client_sees_the_token_once_and_revokes_it(admin_client, db, make_patient, clinic):
    make_patient(clinic, chart_number="RV-9")
    page = submit(admin_client, "/admin/api-clients", {"name": "Hospital records", "scope": "read"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "shown only once" in html
    token = re.search(r'id="new-token" type="text" value="(rhb_[^"]+)"', html).group(1)
    row = db.exec(select(ApiClient)).one()
    assert row.token_hash != token and token not in json.dumps(row.model_dump(mode="json"))
    assert token not in admin_client.get("/admin/api-clients").get_data(as_text=True)  # never shown again
    headers = {"Authorization": f"Bearer {token}"}
    assert admin_client.get("/fhir/Patient?identifier=RV-9", headers=headers).get_json()["total"] == 1
    listed = admin_client.get("/admin/api-clients").get_data(as_text=True)
    assert "Hospital records" in listed and "(1 requests)" in listed
    revoked = submit(admin_client, f"/admin/api-clients/{row.id}/revoke", {}, form_page="/admin/api-clients",
                     follow_redirects=True)
    assert "stopped working at once" in revoked.get_data(as_text=True)
    assert admin_client.get("/fhir/Patient", headers=headers).status_code == 401
    actions = db.exec(select(AuditEvent.action).where(AuditEvent.action.startswith("api_client."))).all()
    assert list(actions) == ["api_client.create", "api_client.revoke"]


def test_a_client_needs_a_name_and_a_scope(admin_client, db):
    page = submit(admin_client, "/admin/api-clients", {"name": "", "scope": "everything"})
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "Give the client a name" in html and "Choose what the client may do." in html
    assert db.exec(select(ApiClient)).first() is None


def test_therapists_cannot_manage_api_clients(therapist_client):
    assert therapist_client.get("/admin/api-clients").status_code == 403


def test_the_patient_page_downloads_a_valid_fhir_bundle(therapist_client, clinic, make_patient):
    patient = make_patient(clinic, chart_number="RV-7")
    page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Download FHIR bundle" in page
    response = therapist_client.get(f"/patients/{patient.id}/fhir-bundle.json")
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    assert "attachment" in response.headers["Content-Disposition"]
    bundle = model("Bundle").model_validate(response.get_json())
    assert bundle.type == "collection"
    assert bundle.entry[0].resource.identifier[0].value == "RV-7"


def test_fhir_export_writes_ndjson_per_resource_type(runner, app, clinic, make_patient, make_clinic, tmp_path):
    make_patient(clinic, chart_number="RV-1")
    make_patient(make_clinic("Hillside PT"), first_name="Bruno", chart_number="HS-1")
    result = runner.invoke(args=["fhir-export", str(tmp_path / "out"), "--no-pdfs"])
    assert result.exit_code == 0, result.output
    first = tmp_path / "out" / f"clinic-{clinic.id}"
    lines = (first / "Patient.ndjson").read_text().splitlines()
    assert [json.loads(line)["identifier"][0]["value"] for line in lines] == ["RV-1"]  # each clinic apart
    for path in first.glob("*.ndjson"):
        for line in path.read_text().splitlines():
            item = json.loads(line)
            assert model(item["resourceType"]).model_validate(item).id == item["id"]
            assert path.stem == item["resourceType"]
    assert "1 Patient" in result.output
