"""Visits and home sessions: Encounter and Observations; red flags and falls as Flags; the advice as a
GuidanceResponse and the therapist's decision on it as a Provenance."""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B.resource import Resource

from rehab.models import AdviceDecision, HomeLog, Visit
from rehab.services.fhir import codes
from rehab.services.fhir.codes import (
    ACT_CODE,
    FLAG_CATEGORY,
    LOINC,
    OBSERVATION_CATEGORY,
    coding,
    concept,
    local,
    local_concept,
    quantity,
)
from rehab.services.fhir.common import instant, ref, validated

RED_FLAG_FIELDS = {"flag_calf": "calf", "flag_chest": "chest", "flag_infection": "infection",
                   "flag_sudden_pain": "sudden-pain", "flag_locking": "locking"}
# Measures recorded at a visit: field -> (code, unit text, UCUM unit).
MEASURES: dict[str, tuple[dict[str, Any], str, str]] = {
    "tug_s": (coding(LOINC, *codes.TUG), "s", "s"),
    "six_minute_walk_m": (coding(LOINC, *codes.SIX_MINUTE_WALK), "m", "m"),
    "backward_walk_3m_s": (local("3mbwt"), "s", "s"),
    "gait_speed_ms": (local("gait-speed-10m"), "m/s", "m/s"),
    "knee_flexion_deg": (local("knee-flexion"), "degrees", "deg"),
    "knee_extension_deg": (local("knee-extension"), "degrees", "deg"),
}


def _category(code: str) -> list[dict[str, Any]]:
    return [concept(coding(OBSERVATION_CATEGORY, code))]


def _observation(resource_id: str, patient_id: int, when: str, code: dict[str, Any], category: str,
                 *, encounter: str | None = None, performer: dict[str, Any] | None = None,
                 **value: Any) -> Resource:
    data: dict[str, Any] = {"resourceType": "Observation", "id": resource_id, "status": "final",
                            "category": _category(category), "code": code, "subject": ref("Patient", patient_id),
                            "effectiveDateTime": when, **value}
    if encounter:
        data["encounter"] = ref("Encounter", encounter)
    if performer:
        data["performer"] = [performer]
    return validated(data)


def _pain_component(code: str, value: int | None) -> list[dict[str, Any]]:
    return [] if value is None else [{"code": local_concept(code), "valueInteger": value}]


def _duration(resource_id: str, patient_id: int, when: str, minutes: float, *, encounter: str | None = None,
              performer: dict[str, Any] | None = None, components: list[dict[str, Any]] | None = None) -> Resource:
    return _observation(resource_id, patient_id, when,
                        concept(coding(LOINC, *codes.EXERCISE_DURATION), local("backward-walking"),
                                text="Backward-walking minutes"), "activity", encounter=encounter,
                        performer=performer, valueQuantity=quantity(minutes, "min", "min"),
                        **({"component": components} if components else {}))


def _flag(resource_id: str, patient_id: int, code: str, when: str, *, active: bool, category: str,
          encounter: str | None = None) -> Resource:
    data: dict[str, Any] = {"resourceType": "Flag", "id": resource_id, "status": "active" if active else "inactive",
                            "category": [concept(coding(FLAG_CATEGORY, category))], "code": local_concept(code),
                            "subject": ref("Patient", patient_id), "period": {"start": when}}
    if encounter:
        data["encounter"] = ref("Encounter", encounter)
    return validated(data)


def visit_resources(visit: Visit, *, open_alert_visits: set[int]) -> list[Resource]:
    """A clinic visit: the Encounter, its pain, minutes (with speed, incline, support), soreness, effusion,
    measures, stumbles and falls, and a Flag per red flag or fall (active while its alert is open)."""
    encounter_id = f"v{visit.id}"
    when = instant(visit.occurred_at)
    patient_id = visit.patient_id
    resources: list[Resource] = [validated({
        "resourceType": "Encounter", "id": encounter_id, "status": "finished",
        "class": coding(ACT_CODE, "AMB", "ambulatory"), "type": [local_concept("visit")],
        "subject": ref("Patient", patient_id), "period": {"start": when},
    })]
    pain = (_pain_component("pain-before", visit.pain_before) + _pain_component("pain-during", visit.pain_worst)
            + _pain_component("pain-after", visit.pain_after)
            + _pain_component("pain-next-morning", visit.pain_next_morning))
    resources.append(_observation(f"{encounter_id}-pain", patient_id, when,
                                  concept(coding(LOINC, *codes.PAIN_NRS), text="Pain 0-10"), "survey",
                                  encounter=encounter_id, component=pain))
    dose = [{"code": local_concept("incline"), "valueQuantity": quantity(visit.incline_pct, "%", "%")},
            {"code": local_concept("support"), "valueCodeableConcept": local_concept(f"support-{visit.support}")}]
    if visit.speed_kmh is not None:
        dose.insert(0, {"code": local_concept("speed"), "valueQuantity": quantity(visit.speed_kmh, "km/h", "km/h")})
    if f"exercise-{visit.exercise}" in codes.all_concepts():
        dose.append({"code": local_concept("backward-walking"),
                     "valueCodeableConcept": local_concept(f"exercise-{visit.exercise}")})
    resources.append(_duration(f"{encounter_id}-minutes", patient_id, when, visit.minutes, encounter=encounter_id,
                               components=dose))
    resources.append(_observation(f"{encounter_id}-soreness", patient_id, when, local_concept("soreness"), "survey",
                                  encounter=encounter_id,
                                  valueCodeableConcept=local_concept(f"soreness-{visit.soreness}")))
    resources.append(_observation(f"{encounter_id}-effusion", patient_id, when, local_concept("effusion-grade"),
                                  "exam", encounter=encounter_id,
                                  valueCodeableConcept=local_concept(f"effusion-{visit.effusion}")))
    for field, (code, unit, ucum) in MEASURES.items():
        value = getattr(visit, field)
        if value is not None:
            resources.append(_observation(f"{encounter_id}-{field.split('_')[0]}-{field.split('_')[1]}", patient_id,
                                          when, concept(code), "exam", encounter=encounter_id,
                                          valueQuantity=quantity(value, unit, ucum)))
    for field in ("stumbles", "falls"):
        resources.append(_observation(f"{encounter_id}-{field}", patient_id, when, local_concept(field), "activity",
                                      encounter=encounter_id, valueInteger=getattr(visit, field)))
    active = visit.id in open_alert_visits
    for field, name in RED_FLAG_FIELDS.items():
        if getattr(visit, field):
            resources.append(_flag(f"{encounter_id}-red-flag-{name}", patient_id, f"red-flag-{name}", when,
                                   active=active, category="clinical", encounter=encounter_id))
    if visit.falls:
        resources.append(_flag(f"{encounter_id}-fall", patient_id, "fall", when, active=active, category="safety",
                               encounter=encounter_id))
    return resources


def home_log_resources(log: HomeLog, *, open_alert_logs: set[int]) -> list[Resource]:
    """A home session the patient logged: Observations with the patient as performer, and Flags."""
    resource_id = f"h{log.id}"
    when = log.session_date.isoformat()
    patient = ref("Patient", log.patient_id)
    pain = _pain_component("pain-during", log.pain_worst) + _pain_component("pain-next-morning",
                                                                            log.pain_next_morning)
    resources = [
        _duration(f"{resource_id}-minutes", log.patient_id, when, log.minutes, performer=patient,
                  components=[{"code": local_concept("setting"),
                               "valueCodeableConcept": local_concept("home-session")}]),
        _observation(f"{resource_id}-pain", log.patient_id, when, concept(coding(LOINC, *codes.PAIN_NRS),
                                                                          text="Pain 0-10"),
                     "survey", performer=patient, component=pain),
        _observation(f"{resource_id}-soreness", log.patient_id, when, local_concept("soreness"), "survey",
                     performer=patient, valueCodeableConcept=local_concept(f"soreness-{log.soreness}")),
        _observation(f"{resource_id}-stumbles", log.patient_id, when, local_concept("stumbles"), "activity",
                     performer=patient, valueBoolean=log.stumbled),
        _observation(f"{resource_id}-falls", log.patient_id, when, local_concept("falls"), "activity",
                     performer=patient, valueBoolean=log.fell),
    ]
    active = log.id in open_alert_logs
    for field, name in RED_FLAG_FIELDS.items():
        if getattr(log, field):
            resources.append(_flag(f"{resource_id}-red-flag-{name}", log.patient_id, f"red-flag-{name}", when,
                                   active=active, category="clinical"))
    if log.fell:
        resources.append(_flag(f"{resource_id}-fall", log.patient_id, "fall", when, active=active, category="safety"))
    return resources


def decision_resources(decision: AdviceDecision, *, therapist_name: str | None, module_url: str) -> list[Resource]:
    """The advice shown (GuidanceResponse, with the rules that fired) and what the therapist did with it
    (Provenance: accepted or overridden, with the reason)."""
    rules = json.loads(decision.rules or "[]")
    rule_texts = [f"{rule['text']} (rule {rule['code']}, source: {rule['source']})" for rule in rules]
    guidance_id = f"advice-{decision.id}"
    guidance: dict[str, Any] = {
        "resourceType": "GuidanceResponse", "id": guidance_id, "moduleUri": module_url, "status": "success",
        "subject": ref("Patient", decision.patient_id), "occurrenceDateTime": instant(decision.at),
        "reasonCode": [local_concept(f"advice-{decision.advice}")],
        "note": [{"text": text} for text in rule_texts] or None,
    }
    if decision.visit_id:
        guidance["encounter"] = ref("Encounter", f"v{decision.visit_id}")
    provenance: dict[str, Any] = {
        "resourceType": "Provenance", "id": f"decision-{decision.id}",
        "target": [ref("GuidanceResponse", guidance_id)], "recorded": instant(decision.at),
        "activity": local_concept(f"decision-{decision.decision}"),
        "agent": [{"who": {"display": therapist_name or "Therapist"}}],
    }
    if decision.reason:
        provenance["reason"] = [{"text": decision.reason}]
    return [validated({key: value for key, value in guidance.items() if value is not None}), validated(provenance)]
