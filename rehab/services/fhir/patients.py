"""The patient's record: Patient, the clinic as Organization, Condition, Procedure and precaution Flags."""

from __future__ import annotations

from datetime import date
from typing import Any

from fhir.resources.R4B.resource import Resource

from rehab.models import Clinic, Patient
from rehab.services.fhir import codes
from rehab.services.fhir.codes import FLAG_CATEGORY, LANGUAGE, SNOMED, coding, concept, local, local_concept
from rehab.services.fhir.common import Context, day, instant, ref, validated
from rehab.vocabulary import PRECAUTION_LABELS

CONDITION_SNOMED = {"knee_oa": codes.SNOMED_KNEE_OA}
PROCEDURE_FOR = {"post_tka": "tka", "post_aclr": "aclr"}


def organization_id(clinic_id: int) -> str:
    return f"clinic-{clinic_id}"


def organization(clinic: Clinic) -> Resource:
    data: dict[str, Any] = {"resourceType": "Organization", "id": organization_id(clinic.id),
                            "active": True, "name": clinic.name}
    if clinic.phone:
        data["telecom"] = [{"system": "phone", "value": clinic.phone, "use": "work"}]
    if clinic.address:
        data["address"] = [{"text": clinic.address}]
    return validated(data)


def patient_resource(context: Context, patient: Patient) -> Resource:
    data: dict[str, Any] = {
        "resourceType": "Patient", "id": str(patient.id), "active": patient.archived_at is None,
        "meta": {"lastUpdated": instant(patient.updated_at)},
        "name": [{"use": "official", "family": patient.last_name, "given": [patient.first_name]}],
        "birthDate": day(patient.date_of_birth),
        "communication": [{"language": concept(coding(LANGUAGE, patient.language)), "preferred": True}],
        "managingOrganization": ref("Organization", organization_id(patient.clinic_id)),
    }
    if patient.chart_number:
        data["identifier"] = [{"use": "usual", "system": context.identifier_system, "value": patient.chart_number,
                               "type": concept(coding("http://terminology.hl7.org/CodeSystem/v2-0203", "MR",
                                                      "Medical record number"))}]
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if telecom:
        data["telecom"] = telecom
    if patient.referring_physician:
        # A Reference holding only its display: the referring physician is a name on the record, not a
        # Practitioner this server keeps (the import does not read it back).
        data["generalPractitioner"] = [{"display": referring_display(patient)}]
    return validated(data)


def referring_display(patient: Patient) -> str:
    """The referring physician with their practice, as one line."""
    return ", ".join(part for part in (patient.referring_physician, patient.referring_practice) if part)


def condition_resource(patient: Patient) -> Resource:
    """The knee condition; the affected side as bodySite (a local code: our reference names no SNOMED CT
    body-site codes, and a wrong side code is worse than none)."""
    codings = [local(f"condition-{patient.condition}")]
    if patient.condition in CONDITION_SNOMED:
        codings.insert(0, coding(SNOMED, *CONDITION_SNOMED[patient.condition]))
    text = patient.condition_other if patient.condition == "other" and patient.condition_other else \
        codes.LOCAL_CONCEPTS[f"condition-{patient.condition}"]
    data: dict[str, Any] = {
        "resourceType": "Condition", "id": f"{patient.id}-knee", "subject": ref("Patient", patient.id),
        "clinicalStatus": concept(coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active")),
        "category": [concept(coding("http://terminology.hl7.org/CodeSystem/condition-category",
                                    "problem-list-item", "Problem List Item"))],
        "code": concept(*codings, text=text),
        "bodySite": [local_concept(f"knee-{patient.affected_knee}")],
        "recordedDate": instant(patient.created_at),
    }
    return validated(data)


def procedure_resource(patient: Patient) -> Resource | None:
    """The knee surgery, from the surgery date: TKA coded SNOMED CT 609588000; ACL reconstruction and other
    surgery with local codes (see codes.py). A planned surgery (a date still to come) is "preparation", not
    "completed", its date the one planned."""
    if patient.surgery_date is None:
        return None
    kind = PROCEDURE_FOR.get(patient.condition, "knee-surgery")
    codings = [local(f"procedure-{kind}")]
    if kind == "tka":
        codings.insert(0, coding(SNOMED, *codes.SNOMED_TKA))
    return validated({
        "resourceType": "Procedure", "id": f"{patient.id}-surgery",
        "status": "preparation" if patient.surgery_date > date.today() else "completed",
        "subject": ref("Patient", patient.id),
        "code": concept(*codings, text=codes.LOCAL_CONCEPTS[f"procedure-{kind}"]),
        "performedDateTime": day(patient.surgery_date),
        "bodySite": [local_concept(f"knee-{patient.affected_knee}")],
    })


def precaution_flags(patient: Patient) -> list[Resource]:
    """Each precaution as an active safety Flag."""
    items = [(name, label) for name, label in PRECAUTION_LABELS.items() if getattr(patient, name)]
    if patient.precaution_other:
        items.append(("other", patient.precaution_other))
    return [validated({
        "resourceType": "Flag", "id": f"{patient.id}-precaution-{name.replace('_', '-')}", "status": "active",
        "category": [concept(coding(FLAG_CATEGORY, "safety", "Safety"))],
        "code": local_concept(f"precaution-{name}", text=text), "subject": ref("Patient", patient.id),
    }) for name, text in items]


def record_resources(context: Context, patient: Patient, clinic: Clinic) -> list[Resource]:
    """The Patient and what the patient record holds: clinic, condition, surgery, precautions."""
    resources = [patient_resource(context, patient), organization(clinic), condition_resource(patient)]
    surgery = procedure_resource(patient)
    if surgery is not None:
        resources.append(surgery)
    return resources + precaution_flags(patient)
