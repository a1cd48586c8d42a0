"""The FHIR mapping without an app: built resources validate, the import refuses what it cannot hold."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from rehab.models import Clinic, Patient, Visit
from rehab.services.catalogue import exercises, templates
from rehab.services.fhir import care, common, importing, patients, visits
from rehab.services.fhir.codes import LOCAL
from rehab.services.fhir.everything import SearchError, filter_observations

CONTEXT = common.Context("https://ehr.example/fhir")
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def a_patient(**fields) -> Patient:  # type: ignore[no-untyped-def]
    values = {"id": 7, "clinic_id": 3, "first_name": "Ana", "last_name": "Muñoz", "date_of_birth": date(1960, 2, 1),
              "affected_knee": "both", "condition": "post_aclr", "surgery_date": date(2026, 9, 1),
              "created_at": NOW, "updated_at": NOW, "search_key": "", **fields}
    return Patient(**values)


def test_the_local_code_system_lists_every_code_the_mapping_uses():
    system = common.code_system()
    codes = {concept.code for concept in system.concept}
    assert system.url == LOCAL
    assert {"backward-walking", "speed", "incline", "support", "3mbwt", "effusion-grade", "pain-before"} <= codes
    assert {f"exercise-{key}" for key in exercises()} <= codes


def test_aclr_is_not_claimed_as_a_hamstring_graft():
    """SNOMED CT 391101007 says "with hamstring graft", which the app does not record."""
    surgery = common.as_json(patients.procedure_resource(a_patient()))
    assert [coding["system"] for coding in surgery["code"]["coding"]] == [LOCAL]
    assert surgery["performedDateTime"] == "2026-09-01"


def test_every_template_and_exercise_is_a_valid_definition():
    for key in templates():
        plan = common.as_json(care.plan_definition(CONTEXT, key))
        for phase in plan["action"]:
            for step in phase["action"]:
                assert step["definitionCanonical"].startswith("https://ehr.example/fhir/ActivityDefinition/")
    assert all(care.activity_definition(CONTEXT, key).status == "active" for key in exercises())


def test_a_visit_without_speed_has_no_speed_component():
    visit = Visit(id=5, patient_id=7, clinic_id=3, protocol_id=1, protocol_version=1, phase_index=0, occurred_at=NOW,
                  pain_before=1, pain_worst=2, pain_after=1, exercise="parallel_bars", minutes=3, support="both_rails")
    minutes = next(item for item in visits.visit_resources(visit, open_alert_visits=set()) if item.id == "v5-minutes")
    assert [component.code.coding[0].code for component in minutes.component] == \
        ["incline", "support", "backward-walking"]
    found = filter_observations(visits.visit_resources(visit, open_alert_visits=set()),
                                codes=["55411-3"], dates=["ge2026-11-25", "lt2026-11-26"])
    assert [item.id for item in found] == ["v5-minutes"]
    with pytest.raises(SearchError) as error:
        filter_observations([], codes=[], dates=["2026-25-11"])
    assert error.value.parameter == "date"


def test_an_import_refusal_names_the_field():
    patient = common.as_json(patients.patient_resource(CONTEXT, a_patient()))
    with pytest.raises(importing.ImportRefused) as refused:
        importing.patient_form(CONTEXT, patient, clinic_id=3)
    assert refused.value.status == 422 and refused.value.issues[0][2] == "Condition"
    too_long = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:a", "resource": {**patient, "name": [{"family": "x" * 101, "given": ["Ana"]}]}},
        {"resource": {**common.as_json(patients.condition_resource(a_patient())),
                      "subject": {"reference": "urn:uuid:a"}}},
    ]}
    with pytest.raises(importing.ImportRefused) as refused:
        importing.patient_form(CONTEXT, too_long, clinic_id=3)
    assert refused.value.issues == [("invalid", "This text is 101 characters; the limit is 100. Shorten it by 1 "
                                                "character.", "Patient.name.family")]


def test_an_exported_record_imports_back_into_its_own_clinic():
    source = a_patient(chart_number="RV-5", uses_walker=True)
    record = patients.record_resources(CONTEXT, source, Clinic(id=3, name="Riverside PT"))
    entries = [{"fullUrl": f"{CONTEXT.base_url}/{item.get_resource_type()}/{item.id}",
                "resource": common.as_json(item)} for item in record if item.get_resource_type() != "Organization"]
    form = importing.patient_form(CONTEXT, {"resourceType": "Bundle", "type": "transaction", "entry": entries},
                                  clinic_id=3)
    assert (form.last_name, form.chart_number, form.condition, form.affected_knee, form.surgery_date,
            form.uses_walker) == ("Muñoz", "RV-5", "post_aclr", "both", date(2026, 9, 1), True)
