"""The vocabulary of the FHIR mapping: standard codes (LOINC, SNOMED CT, UCUM) and our local code system.

Standard codes come from shared/clinical/REFERENCE.md section 5 and the issue's mapping; where no standard
code fits what we record (backward walking, the 3-metre backward walk test, our precautions) the concept is
in the local code system below, which the API serves as a CodeSystem resource. Codes we would only be
guessing at are not used: ACL reconstruction is not coded as SNOMED CT 391101007 (that code says "with
hamstring graft", which we do not record), and the knee side stays a local code.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from rehab.services.catalogue import exercises

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
# One local code system for everything no standard code covers. A URN: it names the concepts and needs no
# web server; the same on every install, so one clinic's export imports into another's.
LOCAL = "urn:rehab:fhir:CodeSystem:rehab"
EXTENSION_BASE = "urn:rehab:fhir:StructureDefinition:"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LANGUAGE = "urn:ietf:bcp:47"

# LOINC (REFERENCE.md section 5 and the issue).
PAIN_NRS = ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported")
EXERCISE_DURATION = ("55411-3", "Exercise duration")
TUG = ("89423-8", "Timed up and go [Time]")
SIX_MINUTE_WALK = ("64098-7", "Six minute walk test distance")

# SNOMED CT.
SNOMED_KNEE_OA = ("239873007", "Osteoarthritis of knee")
SNOMED_TKA = ("609588000", "Total knee replacement")
SNOMED_EXERCISE_THERAPY = ("229065009", "Exercise therapy")

# The local code system: code -> display. Grouped by prefix; docs/fhir.md lists them.
LOCAL_CONCEPTS: dict[str, str] = {
    # What the patient does.
    "backward-walking": "Backward (retro) walking",
    "speed": "Treadmill speed",
    "incline": "Treadmill incline",
    "support": "Support while walking backward",
    "setting": "Where the exercise is done",
    "support-both_rails": "Holding both rails", "support-one_rail": "Holding one rail",
    "support-light_touch": "Light touch on the rails", "support-partner": "Partner spotting",
    "support-none": "No support",
    "setting-clinic": "In the clinic (supervised)", "setting-home_partner": "At home with a partner",
    "setting-home_alone": "At home alone",
    # Pain, told apart by when it was felt (components of LOINC 72514-3).
    "pain-before": "Pain before exercise", "pain-during": "Worst pain during exercise",
    "pain-after": "Pain after exercise", "pain-next-morning": "Pain the next morning",
    # Measures without a LOINC code in our reference.
    "3mbwt": "3-metre backward walk test time", "gait-speed-10m": "Gait speed, 10-metre walk",
    "knee-flexion": "Knee flexion range", "knee-extension": "Knee extension range",
    "effusion-grade": "Knee effusion grade (stroke test)",
    "effusion-0": "Effusion grade 0", "effusion-trace": "Effusion trace", "effusion-1+": "Effusion grade 1+",
    "effusion-2+": "Effusion grade 2+", "effusion-3+": "Effusion grade 3+",
    "soreness": "Soreness after exercise",
    "soreness-none": "No soreness", "soreness-warmup_gone": "Soreness during warm-up that went away",
    "soreness-warmup_stayed": "Soreness during warm-up that stayed", "soreness-late": "Soreness the day after",
    "stumbles": "Stumbles during exercise", "falls": "Falls",
    # Conditions and surgery (a SNOMED CT coding is added where REFERENCE.md gives one).
    "condition-knee_oa": "Knee osteoarthritis", "condition-post_tka": "After total knee arthroplasty",
    "condition-post_aclr": "After ACL reconstruction", "condition-pfp": "Patellofemoral pain",
    "condition-other": "Other knee condition",
    "procedure-tka": "Total knee arthroplasty", "procedure-aclr": "ACL reconstruction",
    "procedure-knee-surgery": "Knee surgery",
    "knee-left": "Left knee", "knee-right": "Right knee", "knee-both": "Both knees",
    # Precautions (safety flags) and red flags.
    "precaution-uses_walker": "Uses a rollator or walker", "precaution-vestibular_disorder": "Vestibular disorder",
    "precaution-peripheral_neuropathy": "Peripheral neuropathy", "precaution-anticoagulants": "Takes anticoagulants",
    "precaution-cognitive_impairment": "Cognitive impairment", "precaution-other": "Other precaution",
    "red-flag-calf": "Calf pain or swelling", "red-flag-chest": "Chest pain or breathlessness",
    "red-flag-infection": "Spreading redness, heat, fever or wound drainage",
    "red-flag-sudden-pain": "Sudden sharp rise in pain",
    "red-flag-locking": "Knee locking or giving way", "fall": "Fall",
    # Advice and decisions.
    "advice-advance": "Advice: advance", "advice-repeat": "Advice: repeat this level", "advice-hold": "Advice: hold",
    "advice-regress": "Advice: regress", "advice-stop_refer": "Advice: stop and refer",
    "decision-accepted": "Therapist accepted the advice", "decision-overridden": "Therapist overrode the advice",
    # Documents.
    "home-sheet": "Home-exercise sheet", "progress-report": "Progress report for the referring physician",
    "visit": "Backward-walking therapy visit", "home-session": "Home session logged by the patient",
}

EXTENSION_SPEED = EXTENSION_BASE + "speed"
EXTENSION_INCLINE = EXTENSION_BASE + "incline"


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    item = {"system": system, "code": code}
    if display:
        item["display"] = display
    return item


@cache
def all_concepts() -> dict[str, str]:
    """The local concepts and one per catalogue exercise ("exercise-treadmill_rails")."""
    return {**LOCAL_CONCEPTS, **{f"exercise-{key}": exercise.text("en").name for key, exercise in exercises().items()}}


def local(code: str) -> dict[str, Any]:
    """A coding of the local system; an unknown code is a bug here, not data."""
    return coding(LOCAL, code, all_concepts()[code])


def concept(*codings: dict[str, Any], text: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"coding": list(codings)}
    if text:
        value["text"] = text
    return value


def local_concept(code: str, text: str | None = None) -> dict[str, Any]:
    return concept(local(code), text=text or all_concepts()[code])


def local_code_of(codeable: Any, prefix: str) -> str | None:
    """The local code with this prefix in a (validated) CodeableConcept, without the prefix, or None."""
    for item in getattr(codeable, "coding", None) or []:
        if item.system == LOCAL and item.code and item.code.startswith(prefix):
            code: str = item.code.removeprefix(prefix)
            return code
    return None


def has_code(codeable: Any, system: str, code: str) -> bool:
    return any(item.system == system and item.code == code for item in getattr(codeable, "coding", None) or [])


def quantity(value: float, unit: str, ucum: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": ucum}
