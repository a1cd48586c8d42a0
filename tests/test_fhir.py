"""The FHIR API: tokens, clinic isolation, every resource valid, the round trip, refusals that save nothing."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlmodel import select

from rehab.models import AdviceDecision, Alert, ApiClient, AuditEvent, HandoutPrint, HomeLog, Patient, Visit, utcnow
from rehab.printing import snapshot as sheets
from rehab.services import api_clients
from rehab.services.catalogue import templates
from rehab.services.fhir.common import model
from rehab.services.protocol_content import content_from_template
from rehab.services.protocol_records import create_protocol, save_version
from tests.conftest import count_rows

pytestmark = pytest.mark.db
EVERY_TYPE = {"Patient", "Organization", "Condition", "Procedure", "Flag", "CarePlan", "ServiceRequest",
              "PlanDefinition", "ActivityDefinition", "Encounter", "Observation", "GuidanceResponse", "Provenance",
              "DocumentReference"}


def token_for(db, clinic, scope="read-write", name="Hospital records"):  # type: ignore[no-untyped-def]
    _, token = api_clients.create_client(db, clinic_id=clinic.id, name=name, scope=scope, user_id=None, now=utcnow())
    db.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def record(db, clinic, make_patient, therapist, app, tmp_path):  # type: ignore[no-untyped-def]
    """A patient with everything the export maps: precautions, surgery, two protocol versions, a visit with
    measures and a red flag, a home session with a fall, an advice decision, an open alert and a printed sheet."""
    app.config["SHEET_CACHE_DIR"] = str(tmp_path / "sheets")
    patient = make_patient(clinic, chart_number="RV-1001", condition="post_tka", surgery_date=date(2026, 6, 2),
                           uses_walker=True, precaution_other="Hearing aid", phone="555-0101",
                           email="margaret@example.com", language="es")
    now = utcnow()
    content = content_from_template(templates()["post_tka"])
    protocol = create_protocol(db, patient=patient, content=content, user_id=therapist.id,
                               now=now - timedelta(days=10), overrides=[])
    changed = content.model_copy(deep=True)
    changed.phases[0].prescriptions[0].minutes += 1
    save_version(db, protocol=protocol, content=changed, seen_version=1, user_id=therapist.id,
                 now=now - timedelta(days=5), overrides=[])
    visit = Visit(patient_id=patient.id, clinic_id=clinic.id, protocol_id=protocol.id, protocol_version=2,
                  phase_index=0, occurred_at=now - timedelta(days=2), pain_before=2, pain_worst=4, pain_after=3,
                  effusion="trace", exercise="parallel_bars", minutes=4, support="both_rails", tug_s=11.5,
                  six_minute_walk_m=310, backward_walk_3m_s=5.2, falls=1, flag_calf=True)
    db.add(visit)
    db.flush()
    log = HomeLog(patient_id=patient.id, clinic_id=clinic.id, protocol_id=protocol.id, protocol_version=2,
                  phase_index=0, session_date=(now - timedelta(days=1)).date(), minutes=5, pain_worst=3, fell=True)
    db.add(log)
    db.flush()
    db.add(Alert(clinic_id=clinic.id, patient_id=patient.id, kind="red_flag", message="Calf pain", visit_id=visit.id))
    db.add(AdviceDecision(patient_id=patient.id, protocol_id=protocol.id, visit_id=visit.id, protocol_version=2,
                          phase_index=0, advice="stop_refer", decision="accepted", user_id=therapist.id, at=now,
                          rules=json.dumps([{"code": "red_flag", "text": "Calf pain: check for a DVT.",
                                             "source": "expert"}])))
    snapshot = sheets.build_sheet_snapshot(
        patient_name=patient.full_name, clinic={"name": clinic.name, "address": "", "phone": clinic.phone},
        therapist_name=therapist.name, protocol_title=protocol.title, version_number=2, content=changed,
        phase_index=0, options=sheets.SheetOptions(), printed_on=now.date(), speed_unit="kmh")
    db.add(HandoutPrint(patient_id=patient.id, clinic_id=clinic.id, protocol_id=protocol.id, protocol_version=2,
                        phase_index=0, options="{}", snapshot=json.dumps(snapshot),
                        digest=sheets.snapshot_digest(snapshot), printed_by_id=therapist.id))
    db.commit()
    return patient


def everything(client, patient_id, headers):  # type: ignore[no-untyped-def]
    response = client.get(f"/fhir/Patient/{patient_id}/$everything?_count=200", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    return [item["resource"] for item in response.get_json()["entry"]]


def test_every_exported_resource_parses_and_validates_with_the_r4b_models(client, db, clinic, record):
    resources = everything(client, record.id, token_for(db, clinic, scope="read"))
    assert {item["resourceType"] for item in resources} == EVERY_TYPE
    for item in resources:
        parsed = model(item["resourceType"]).model_validate(item)  # raises on anything invalid
        assert parsed.id == item["id"]
    by_id = {(item["resourceType"], item["id"]): item for item in resources}
    # Version 2 replaces version 1; pain is LOINC 72514-3 with before/during/after told apart.
    plans = [item for item in resources if item["resourceType"] == "CarePlan"]
    assert [(plan["status"], plan.get("replaces")) for plan in plans] == [
        ("revoked", None), ("active", [{"reference": f"CarePlan/{plans[0]['id']}"}])]
    assert by_id[("PlanDefinition", "post-tka")]["title"] == "After total knee arthroplasty"
    pain = next(item for item in resources if item["resourceType"] == "Observation" and item["id"].endswith("-pain")
                and item["id"].startswith("v"))
    assert pain["code"]["coding"][0]["code"] == "72514-3"
    assert {c["code"]["coding"][0]["code"]: c["valueInteger"] for c in pain["component"]} == \
        {"pain-before": 2, "pain-during": 4, "pain-after": 3}
    tka = next(item for item in resources if item["resourceType"] == "Procedure")
    assert tka["code"]["coding"][0] == {"system": "http://snomed.info/sct", "code": "609588000",
                                        "display": "Total knee replacement"}
    sheet = next(item for item in resources if item["resourceType"] == "DocumentReference"
                 and item["id"].startswith("sheet-"))
    attachment = sheet["content"][0]["attachment"]
    import base64
    assert attachment["contentType"] == "application/pdf" and base64.b64decode(attachment["data"]).startswith(b"%PDF")
    home_pain = next(item for item in resources if item["id"].startswith("h") and item["id"].endswith("-pain"))
    assert home_pain["performer"] == [{"reference": f"Patient/{record.id}"}]
    calf = next(item for item in resources if item["resourceType"] == "Flag" and "red-flag-calf" in item["id"])
    assert calf["status"] == "active"  # its alert is still open


def bundle_for_import(resources: list[dict]) -> dict:  # type: ignore[type-arg]
    """What a records system would send: the patient's record resources, re-pointed to a new fullUrl."""
    patient = next(item for item in resources if item["resourceType"] == "Patient")
    old = f"Patient/{patient['id']}"
    entries = []
    for item in resources:
        if item["resourceType"] == "Patient":
            item = {key: value for key, value in item.items() if key not in ("id", "managingOrganization", "meta")}
            entries.append({"fullUrl": "urn:uuid:5b1f6c2a-0000-4000-8000-000000000001", "resource": item,
                            "request": {"method": "POST", "url": "Patient"}})
        elif item["resourceType"] in ("Condition", "Procedure") or (
                item["resourceType"] == "Flag" and "precaution" in item["id"]):
            assert item["subject"]["reference"] == old
            item = {**{key: value for key, value in item.items() if key != "id"},
                    "subject": {"reference": "urn:uuid:5b1f6c2a-0000-4000-8000-000000000001"}}
            entries.append({"resource": item, "request": {"method": "POST", "url": item["resourceType"]}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def test_a_round_trip_into_an_empty_clinic_keeps_demographics_and_identifiers(client, db, clinic, make_clinic,
                                                                              record):
    first = everything(client, record.id, token_for(db, clinic, scope="read"))
    other = make_clinic("Hillside PT")
    other_token = token_for(db, other)
    created = client.post("/fhir/Patient", json=bundle_for_import(first), headers=other_token,
                          content_type="application/fhir+json")
    assert created.status_code == 201, created.get_data(as_text=True)
    new_id = created.get_json()["id"]
    assert created.headers["Location"].endswith(f"/fhir/Patient/{new_id}")
    second = everything(client, new_id, other_token)

    def person(resources):  # type: ignore[no-untyped-def]
        patient = next(item for item in resources if item["resourceType"] == "Patient")
        condition = next(item for item in resources if item["resourceType"] == "Condition")
        surgery = next(item for item in resources if item["resourceType"] == "Procedure")
        flags = sorted(item["code"]["text"] for item in resources
                       if item["resourceType"] == "Flag" and "precaution" in item["id"])
        return (patient["name"], patient["birthDate"], patient["identifier"], patient["telecom"],
                patient["communication"], condition["code"], condition["bodySite"], surgery["performedDateTime"],
                flags)

    assert person(second) == person(first)
    saved = db.get(Patient, int(new_id))
    assert (saved.clinic_id, saved.chart_number, saved.uses_walker, saved.precaution_other) == \
        (other.id, "RV-1001", True, "Hearing aid")


def test_a_token_of_clinic_a_gets_404_for_clinic_b_patients(client, db, clinic, make_clinic, make_patient, record):
    other = make_clinic("Hillside PT")
    theirs = make_patient(other, first_name="Bruno", chart_number="HS-1")
    headers = token_for(db, clinic, scope="read")
    for url in (f"/fhir/Patient/{theirs.id}", f"/fhir/Patient/{theirs.id}/$everything",
                f"/fhir/Observation?patient={theirs.id}"):
        response = client.get(url, headers=headers)
        assert response.status_code == 404, url
        assert response.get_json()["resourceType"] == "OperationOutcome"
        assert "Bruno" not in response.get_data(as_text=True)
    found = client.get("/fhir/Patient?identifier=HS-1", headers=headers).get_json()
    assert found["total"] == 0 and "entry" not in found


def test_a_revoked_token_is_refused_at_once(client, db, clinic, record):
    headers = token_for(db, clinic)
    assert client.get(f"/fhir/Patient/{record.id}", headers=headers).status_code == 200
    row = db.exec(select(ApiClient)).one()
    api_clients.revoke(db, client=row, user_id=None, now=utcnow())
    db.commit()
    refused = client.get(f"/fhir/Patient/{record.id}", headers=headers)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.get_json()["issue"][0]["code"] == "login"
    assert "Margaret" not in refused.get_data(as_text=True)
    denied = db.exec(select(AuditEvent).where(AuditEvent.action == "fhir.denied")).all()
    assert [(event.object_id, event.clinic_id) for event in denied] == [(row.id, clinic.id)]


def test_no_token_or_a_wrong_one_gets_401_and_metadata_needs_none(client, db, clinic, record):
    assert client.get(f"/fhir/Patient/{record.id}").status_code == 401
    assert client.get(f"/fhir/Patient/{record.id}", headers={"Authorization": "Bearer rhb_nope"}).status_code == 401
    metadata = client.get("/fhir/metadata")
    assert metadata.status_code == 200 and metadata.mimetype == "application/fhir+json"
    statement = metadata.get_json()
    assert statement["resourceType"] == "CapabilityStatement" and statement["fhirVersion"] == "4.0.1"
    assert "Margaret" not in metadata.get_data(as_text=True)


def test_read_scope_cannot_post(client, db, clinic):
    headers = token_for(db, clinic, scope="read")
    response = client.post("/fhir/Patient", json=new_patient_bundle(), headers=headers)
    assert response.status_code == 403
    assert response.get_json()["issue"][0]["code"] == "forbidden"
    assert count_rows(db, Patient) == 0


def new_patient_bundle(**changes) -> dict:  # type: ignore[no-untyped-def,type-arg]
    patient = {"resourceType": "Patient", "name": [{"family": "Nakamura", "given": ["Kenji"]}],
               "birthDate": "1958-04-09", "identifier": [{"system": "urn:rehab:chart-number", "value": "EHR-77"}]}
    condition = {"resourceType": "Condition", "subject": {"reference": "urn:uuid:1"},
                 "code": {"coding": [{"system": "http://snomed.info/sct", "code": "239873007"}]},
                 "bodySite": [{"coding": [{"system": "urn:rehab:fhir:CodeSystem:rehab", "code": "knee-right"}]}]}
    for path, value in changes.items():
        target = patient if path.startswith("patient_") else condition
        key = path.split("_", 1)[1]
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"fullUrl": "urn:uuid:1", "resource": patient}, {"resource": condition}]}


def test_a_new_patient_from_a_transaction_bundle(client, db, clinic):
    response = client.post("/fhir/Patient", json=new_patient_bundle(), headers=token_for(db, clinic))
    assert response.status_code == 201, response.get_data(as_text=True)
    saved = db.exec(select(Patient)).one()
    assert (saved.first_name, saved.last_name, saved.chart_number, saved.condition, saved.affected_knee) == \
        ("Kenji", "Nakamura", "EHR-77", "knee_oa", "right")
    created = db.exec(select(AuditEvent).where(AuditEvent.action == "fhir.create")).one()
    assert created.patient_id == saved.id and created.object_type == "api_client"


@pytest.mark.parametrize(("changes", "status", "expression"), [
    ({"patient_name": None}, 422, "Patient.name"),
    ({"patient_birthDate": "1958-13-40"}, 400, "Bundle.entry[0].resource.birthDate"),
    ({"condition_code": {"coding": [{"system": "http://snomed.info/sct", "code": "000000"}]}}, 422, "Condition.code"),
    ({"condition_bodySite": None}, 422, "Condition.bodySite"),
    ({"patient_managingOrganization": {"reference": "Organization/clinic-999"}}, 422,
     "Patient.managingOrganization"),
    ({"condition_subject": {"reference": "Patient/elsewhere"}}, 422, "Condition.subject"),
    ({"patient_communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "fr"}]}}]}, 422,
     "Patient.communication.language"),
], ids=["missing name", "bad date", "unknown code", "no knee", "wrong clinic", "other subject", "language"])
def test_a_bad_resource_gets_an_operation_outcome_naming_the_field_and_saves_nothing(client, db, clinic, changes,
                                                                                      status, expression):
    response = client.post("/fhir/Patient", json=new_patient_bundle(**changes), headers=token_for(db, clinic))
    assert response.status_code == status, response.get_data(as_text=True)
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [expression]
    assert count_rows(db, Patient) == 0


def test_a_duplicate_chart_number_is_refused(client, db, clinic, make_patient):
    make_patient(clinic, chart_number="EHR-77")
    response = client.post("/fhir/Patient", json=new_patient_bundle(), headers=token_for(db, clinic))
    assert response.status_code == 422 and response.get_json()["issue"][0]["expression"] == ["Patient.identifier"]
    assert count_rows(db, Patient) == 1


def test_searches_page_with_count_and_links(client, db, clinic, make_patient, record):
    for number in range(3):
        make_patient(clinic, first_name=f"Extra{number}", chart_number=f"X-{number}")
    headers = token_for(db, clinic, scope="read")
    page = client.get("/fhir/Patient?_count=2", headers=headers).get_json()
    assert page["total"] == 4 and len(page["entry"]) == 2
    links = {link["relation"]: link["url"] for link in page["link"]}
    assert "_offset=2" in links["next"] and "previous" not in links
    last = client.get(links["next"].split("localhost", 1)[1], headers=headers).get_json()
    assert len(last["entry"]) == 2 and "next" not in {link["relation"] for link in last["link"]}
    by_chart = client.get("/fhir/Patient?identifier=urn:rehab:chart-number|RV-1001", headers=headers).get_json()
    assert [item["resource"]["id"] for item in by_chart["entry"]] == [str(record.id)]
    tug = client.get(f"/fhir/Observation?patient=Patient/{record.id}&code=http://loinc.org|89423-8",
                     headers=headers).get_json()
    assert [item["resource"]["valueQuantity"]["value"] for item in tug["entry"]] == [11.5]
    today = utcnow().date().isoformat()
    assert client.get(f"/fhir/Observation?patient={record.id}&code=89423-8&date=ge{today}",
                      headers=headers).get_json()["total"] == 0
    bad = client.get(f"/fhir/Observation?patient={record.id}&date=yesterday", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["issue"][0]["expression"] == ["date"]


def test_every_use_of_a_token_is_audited(client, db, clinic, record):
    headers = token_for(db, clinic, scope="read")
    client.get(f"/fhir/Patient/{record.id}", headers=headers)
    client.get("/fhir/Patient?identifier=RV-1001", headers=headers)
    events = db.exec(select(AuditEvent.action, AuditEvent.patient_id).where(
        AuditEvent.object_type == "api_client")).all()
    assert list(events) == [("fhir.read", record.id), ("fhir.search", None)]


def test_wrong_tokens_are_throttled_per_address(app, client, db, clinic, record):
    app.config["FHIR_MAX_BAD_TOKENS_PER_ADDRESS"] = 3
    good = token_for(db, clinic, scope="read")
    for attempt in range(3):
        assert client.get("/fhir/Patient", headers={"Authorization": f"Bearer rhb_guess{attempt}"}).status_code == 401
    refused = client.get(f"/fhir/Patient/{record.id}", headers=good)  # even a good token, for the window
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.get_json()["issue"][0]["code"] == "throttled"
    other = client.get(f"/fhir/Patient/{record.id}", headers=good, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200
