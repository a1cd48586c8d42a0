"""The protocol: templates as PlanDefinition and ActivityDefinition, each saved version as a CarePlan that
``replaces`` the one before, and each prescription as a ServiceRequest with its timing and patient sentence."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.resource import Resource

from rehab.models import Protocol, ProtocolVersion
from rehab.services.catalogue import exercises, templates
from rehab.services.dose import dose_sentence
from rehab.services.fhir import codes
from rehab.services.fhir.codes import SNOMED, coding, concept, local, local_concept, quantity
from rehab.services.fhir.common import Context, instant, ref, validated
from rehab.services.protocol_content import Phase, Prescription, ProtocolContent


def fhir_id(key: str) -> str:
    """Catalogue keys use "_", which FHIR ids do not allow."""
    return key.replace("_", "-")


def _exercise_code(exercise_key: str) -> dict[str, Any]:
    return concept(coding(SNOMED, *codes.SNOMED_EXERCISE_THERAPY), local("backward-walking"),
                   local(f"exercise-{exercise_key}"), text=exercises()[exercise_key].text("en").name)


def activity_definition(context: Context, exercise_key: str) -> Resource:
    exercise = exercises()[exercise_key]
    text = exercise.text("en")
    return validated({
        "resourceType": "ActivityDefinition", "id": fhir_id(exercise_key),
        "url": context.url("ActivityDefinition", fhir_id(exercise_key)), "name": fhir_id(exercise_key).replace("-", ""),
        "title": text.name, "status": "active", "kind": "ServiceRequest", "code": _exercise_code(exercise_key),
        "description": text.clinician_note or text.purpose, "purpose": text.purpose,
    })


def plan_definition(context: Context, template_key: str) -> Resource:
    """A built-in template: one action per phase, one sub-action per exercise (by its ActivityDefinition)."""
    template = templates()[template_key]
    actions = []
    for raw in template.phases:
        english = raw["en"]
        actions.append({
            "title": english["name"], "description": english.get("goal", ""),
            "timingDuration": {"value": raw["weeks"], "unit": "wk", "system": codes.UCUM, "code": "wk"},
            "action": [{"title": exercises()[rx["exercise"]].text("en").name,
                        "definitionCanonical": context.url("ActivityDefinition", fhir_id(rx["exercise"]))}
                       for rx in raw["prescriptions"]],
        })
    return validated({
        "resourceType": "PlanDefinition", "id": fhir_id(template_key),
        "url": context.url("PlanDefinition", fhir_id(template_key)), "name": fhir_id(template_key).replace("-", ""),
        "title": template.text("name"), "status": "active", "description": template.text("summary"),
        "type": concept(coding("http://terminology.hl7.org/CodeSystem/plan-definition-type", "protocol",
                               "Protocol")),
        "action": actions,
    })


def careplan_id(protocol: Protocol, number: int) -> str:
    return f"{protocol.id}-v{number}"


def _status(protocol: Protocol, number: int) -> str:
    if number < protocol.latest_version:
        return "revoked"  # replaced by a later version (which ``replaces`` it)
    return "active" if protocol.status == "active" else "completed"


def _request_status(protocol: Protocol, number: int, phase_index: int) -> str:
    plan = _status(protocol, number)
    if plan != "active":
        return plan
    if phase_index < protocol.current_phase:
        return "completed"
    return "active" if phase_index == protocol.current_phase else "draft"  # a later phase: planned, not started


def service_request(context: Context, protocol: Protocol, version: ProtocolVersion, phase_index: int,
                    rx_index: int, phase: Phase, rx: Prescription, *, speed_unit: str) -> Resource:
    extensions: list[dict[str, Any]] = [
        {"url": codes.EXTENSION_INCLINE, "valueQuantity": quantity(rx.incline_pct, "%", "%")}]
    if rx.speed_kmh is not None:
        extensions.insert(0, {"url": codes.EXTENSION_SPEED, "valueQuantity": quantity(rx.speed_kmh, "km/h", "km/h")})
    repeat: dict[str, Any] = {"frequency": rx.sessions_per_week, "period": 1, "periodUnit": "wk",
                              "duration": rx.minutes, "durationUnit": "min"}
    data: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": f"{careplan_id(protocol, version.number)}-{phase_index + 1}-{rx_index + 1}",
        "status": _request_status(protocol, version.number, phase_index), "intent": "plan",
        "category": [concept(coding(SNOMED, *codes.SNOMED_EXERCISE_THERAPY))],
        "code": _exercise_code(rx.exercise), "subject": ref("Patient", protocol.patient_id),
        "basedOn": [ref("CarePlan", careplan_id(protocol, version.number))],
        "instantiatesCanonical": [context.url("ActivityDefinition", fhir_id(rx.exercise))],
        "occurrenceTiming": {"repeat": repeat},
        "orderDetail": [local_concept(f"support-{rx.support}"), local_concept(f"setting-{rx.setting}")],
        "patientInstruction": dose_sentence(rx, speed_unit=speed_unit),
        "authoredOn": instant(version.created_at), "extension": extensions,
        "note": [{"text": f"Phase {phase_index + 1}: {phase.name}. Pain ceiling {rx.pain_ceiling}/10."}],
    }
    return validated(data)


def care_plan(context: Context, protocol: Protocol, version: ProtocolVersion, content: ProtocolContent,
              request_ids: list[str]) -> Resource:
    data: dict[str, Any] = {
        "resourceType": "CarePlan", "id": careplan_id(protocol, version.number),
        "status": _status(protocol, version.number), "intent": "plan", "title": content.title,
        "description": f"Version {version.number} of the backward-walking protocol, {len(content.phases)} phases; "
                       f"current phase {protocol.current_phase + 1}.",
        "subject": ref("Patient", protocol.patient_id), "created": instant(version.created_at),
        "period": {"start": instant(version.created_at)},
        "category": [local_concept("backward-walking")],
        "activity": [{"reference": ref("ServiceRequest", request_id)} for request_id in request_ids],
    }
    if protocol.template_key in templates():
        data["instantiatesCanonical"] = [context.url("PlanDefinition", fhir_id(protocol.template_key))]
    if version.number > 1:
        data["replaces"] = [ref("CarePlan", careplan_id(protocol, version.number - 1))]
    if protocol.status != "active" and protocol.ended_at and version.number == protocol.latest_version:
        data["period"]["end"] = instant(protocol.ended_at)
    return validated(data)


def protocol_resources(context: Context, protocol: Protocol, versions: list[tuple[ProtocolVersion, ProtocolContent]],
                       *, speed_unit: str) -> list[Resource]:
    """Every version of a protocol as a CarePlan with its ServiceRequests."""
    resources: list[Resource] = []
    for version, content in versions:
        requests = [service_request(context, protocol, version, phase_index, rx_index, phase, rx,
                                    speed_unit=speed_unit)
                    for phase_index, phase in enumerate(content.phases)
                    for rx_index, rx in enumerate(phase.prescriptions)]
        resources.append(care_plan(context, protocol, version, content, [item.id for item in requests]))  # type: ignore[misc]  # built with ids
        resources.extend(requests)
    return resources


def definitions(context: Context, contents: list[ProtocolContent]) -> list[Resource]:
    """The PlanDefinitions and ActivityDefinitions the care plans point to (each once)."""
    template_keys = sorted({content.template_key for content in contents if content.template_key in templates()})
    exercise_keys = sorted({rx.exercise for content in contents for phase in content.phases
                            for rx in phase.prescriptions}
                           | {rx["exercise"] for key in template_keys for raw in templates()[key].phases
                              for rx in raw["prescriptions"]})
    return ([plan_definition(context, key) for key in template_keys]
            + [activity_definition(context, key) for key in exercise_keys])
