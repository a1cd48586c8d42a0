"""Creating a patient from FHIR: a Patient with its Condition (and optionally the surgery as a Procedure and
precautions as Flags) in a transaction Bundle.

Nothing is guessed and nothing is cut: a structural error (the R4B model refuses it) is a 400, and a
resource the app cannot hold as sent (a missing name, an unknown code, another clinic's patient, a resource
type this server does not create) is a 422; each names the field as a FHIRPath expression. The caller saves
only a complete ``PatientInput``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from rehab.services.fhir.codes import LANGUAGE, SNOMED, SNOMED_KNEE_OA, has_code, local_code_of
from rehab.services.fhir.common import Context, model
from rehab.services.fhir.patients import organization_id
from rehab.services.patients import PatientInput
from rehab.services.shapes import validate
from rehab.vocabulary import CONDITION_LABELS, PRECAUTION_LABELS

Issue = tuple[str, str, str | None]  # (OperationOutcome issue code, message, FHIRPath expression)
ACCEPTED_TYPES = ("Patient", "Condition", "Procedure", "Flag")
# PatientInput field -> where it came from in FHIR, to name the field in an error.
FIELD_PATHS = {
    "first_name": "Patient.name.given", "last_name": "Patient.name.family", "date_of_birth": "Patient.birthDate",
    "chart_number": "Patient.identifier.value", "phone": "Patient.telecom", "email": "Patient.telecom",
    "language": "Patient.communication.language", "condition": "Condition.code",
    "condition_other": "Condition.code.text",
    "affected_knee": "Condition.bodySite", "surgery_date": "Procedure.performedDateTime",
    "precaution_other": "Flag.code.text",
}


class ImportRefused(ValueError):
    """The request cannot create a patient. ``status`` is 400 (not valid FHIR) or 422 (valid, but not
    something this clinic can take as sent)."""

    def __init__(self, status: int, issues: list[Issue]) -> None:
        super().__init__("; ".join(message for _, message, _ in issues))
        self.status = status
        self.issues = issues


@dataclass
class _Parts:
    patient: Any = None
    patient_refs: set[str] = field(default_factory=set)
    conditions: list[Any] = field(default_factory=list)
    procedures: list[Any] = field(default_factory=list)
    flags: list[Any] = field(default_factory=list)


def _path(location: tuple[Any, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _parse(resource_type: str, data: dict[str, Any], where: str) -> Any:
    """Validate with the R4B model; a refusal names each field."""
    try:
        return model(resource_type).model_validate(data)
    except ValidationError as error:
        issues: list[Issue] = [("structure", f"{where}{_path(item['loc'])}: {item['msg']}",
                                f"{resource_type}{_path(item['loc'])}") for item in error.errors()]
        raise ImportRefused(400, issues) from None


def _split(body: Any) -> _Parts:
    if not isinstance(body, dict) or body.get("resourceType") not in ("Patient", "Bundle"):
        raise ImportRefused(400, [("structure", "Send a Patient, or a transaction Bundle with a Patient and its "
                                   "Condition.", "resourceType")])
    parts = _Parts()
    if body["resourceType"] == "Patient":
        parts.patient = _parse("Patient", body, "Patient")
        return parts
    bundle = _parse("Bundle", body, "Bundle")
    if bundle.type != "transaction":
        raise ImportRefused(422, [("not-supported", "Send the Bundle as a transaction.", "Bundle.type")])
    for index, item in enumerate(bundle.entry or []):
        resource = item.resource
        kind = resource.get_resource_type() if resource is not None else None
        where = f"Bundle.entry[{index}].resource"
        if kind not in ACCEPTED_TYPES:
            raise ImportRefused(422, [("not-supported", f"{where}: this server creates a patient from Patient, "
                                       f"Condition, Procedure and precaution Flag resources, not {kind}.",
                                       f"{where}.resourceType")])
        if kind == "Patient":
            if parts.patient is not None:
                raise ImportRefused(422, [("not-supported", "Send one Patient per request.", f"{where}")])
            parts.patient = resource
            parts.patient_refs = {ref for ref in (item.fullUrl, f"Patient/{resource.id}" if resource.id else None)
                                  if ref}
        else:
            {"Condition": parts.conditions, "Procedure": parts.procedures, "Flag": parts.flags}[kind].append(resource)
    if parts.patient is None:
        raise ImportRefused(422, [("required", "The Bundle has no Patient.", "Bundle.entry.resource")])
    return parts


def _subject_is_patient(parts: _Parts, resource: Any, kind: str) -> None:
    reference = resource.subject.reference if resource.subject else None
    if reference not in parts.patient_refs:
        raise ImportRefused(422, [("invalid", f"{kind}.subject must point to the Patient in this Bundle (its "
                                   "fullUrl).", f"{kind}.subject")])


def _patient_values(context: Context, patient: Any, clinic_id: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    names = patient.name or []
    name = next((item for item in names if item.use == "official"), names[0] if names else None)
    if name is None or not name.family or not name.given:
        raise ImportRefused(422, [("required", "The patient needs a family name and a given name.", "Patient.name")])
    values["last_name"], values["first_name"] = name.family, " ".join(name.given)
    if patient.birthDate is None:
        raise ImportRefused(422, [("required", "The patient needs a date of birth.", "Patient.birthDate")])
    values["date_of_birth"] = patient.birthDate
    for item in patient.identifier or []:
        if item.system == context.identifier_system and item.value:
            values["chart_number"] = item.value
    for item in patient.telecom or []:
        if item.system in ("phone", "email") and item.value and item.system not in values:
            values[item.system] = item.value
    for item in patient.communication or []:
        codes = [coding.code for coding in item.language.coding or [] if coding.system in (LANGUAGE, None)]
        known = [code.split("-")[0] for code in codes if code and code.split("-")[0] in ("en", "es")]
        if not known:
            raise ImportRefused(422, [("code-invalid", "Home sheets are printed in English (en) or Spanish (es); "
                                       f"the language {', '.join(filter(None, codes)) or '(none)'} is not one of them.",
                                       "Patient.communication.language")])
        if item.preferred or "language" not in values:
            values["language"] = known[0]
    organization = patient.managingOrganization.reference if patient.managingOrganization else None
    if organization and organization != f"Organization/{organization_id(clinic_id)}":
        raise ImportRefused(422, [("invalid", f"The patient is managed by {organization}, not by this client's clinic "
                                   f"(Organization/{organization_id(clinic_id)}). Leave managingOrganization out "
                                   "or point it to your clinic.", "Patient.managingOrganization")])
    return values


def _condition_values(parts: _Parts) -> dict[str, Any]:
    if len(parts.conditions) != 1:
        raise ImportRefused(422, [("required", "Send exactly one Condition with the patient: its code says which "
                                   "knee condition (and so which protocols) and its bodySite which knee.",
                                   "Condition")])
    condition = parts.conditions[0]
    _subject_is_patient(parts, condition, "Condition")
    kind = local_code_of(condition.code, "condition-")
    if kind is None and has_code(condition.code, SNOMED, SNOMED_KNEE_OA[0]):
        kind = "knee_oa"
    if kind not in CONDITION_LABELS:
        raise ImportRefused(422, [("code-invalid", "Unknown condition code: use SNOMED CT 239873007 (knee "
                                   "osteoarthritis) or a condition-* code of the local code system (see "
                                   "/fhir/CodeSystem/rehab).", "Condition.code")])
    values: dict[str, Any] = {"condition": kind}
    if kind == "other":
        values["condition_other"] = (condition.code.text or "").strip()
    knee = None
    for site in condition.bodySite or []:
        knee = local_code_of(site, "knee-") or knee
    if knee not in ("left", "right", "both"):
        raise ImportRefused(422, [("code-invalid", "Say which knee in Condition.bodySite with knee-left, knee-right "
                                   "or knee-both of the local code system.", "Condition.bodySite")])
    values["affected_knee"] = knee
    return values


def _procedure_values(parts: _Parts) -> dict[str, Any]:
    if not parts.procedures:
        return {}
    if len(parts.procedures) > 1:
        raise ImportRefused(422, [("not-supported", "Send at most one Procedure: the knee surgery.", "Procedure")])
    procedure = parts.procedures[0]
    _subject_is_patient(parts, procedure, "Procedure")
    performed = procedure.performedDateTime or (procedure.performedPeriod.start if procedure.performedPeriod else None)
    if performed is None:
        raise ImportRefused(422, [("required", "Give the surgery date.", "Procedure.performedDateTime")])
    return {"surgery_date": performed.date() if hasattr(performed, "date") else performed}


def _flag_values(parts: _Parts) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for flag in parts.flags:
        _subject_is_patient(parts, flag, "Flag")
        precaution = local_code_of(flag.code, "precaution-")
        if precaution == "other":
            values["precaution_other"] = (flag.code.text or "").strip()
        elif precaution in PRECAUTION_LABELS:
            values[precaution] = True
        else:
            raise ImportRefused(422, [("code-invalid", "Only precautions are created from a Flag: use a precaution-* "
                                       "code of the local code system.", "Flag.code")])
    return values


def patient_form(context: Context, body: Any, *, clinic_id: int) -> PatientInput:
    """The patient to create, or ImportRefused naming the field."""
    parts = _split(body)
    values = _patient_values(context, parts.patient, clinic_id)
    if not parts.conditions and body.get("resourceType") == "Patient":
        raise ImportRefused(422, [("required", "A patient is created with its knee condition: send a transaction "
                                   "Bundle with the Patient and a Condition (code and bodySite).", "Condition")])
    values.update(_condition_values(parts))
    values.update(_procedure_values(parts))
    values.update(_flag_values(parts))
    form, errors = validate(PatientInput, values)
    if form is None:
        raise ImportRefused(422, [("invalid", message, FIELD_PATHS.get(name, "Patient"))
                                  for name, message in errors.items()])
    return form
