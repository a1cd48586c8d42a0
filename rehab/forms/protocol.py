"""The protocol builder's form: a draft of raw typed values that survives add, remove and reorder round
trips without losing input, and its validation into ``ProtocolContent``.

Field names are ``phases-<i>-<field>`` and ``phases-<i>-rx-<j>-<field>``. Buttons named ``action`` carry
what to do: ``save``, ``add_phase``, ``remove_phase-<i>``, ``up_phase-<i>``, ``down_phase-<i>``,
``add_rx-<i>``, ``remove_rx-<i>-<j>``. Plain forms work; the builder's script only adds comfort.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rehab.forms import parse_form
from rehab.services.protocol_content import (
    Phase,
    Prescription,
    ProtocolContent,
    blank_phase,
    blank_prescription,
    kmh_to_mph,
    mph_to_kmh,
    number,
)
from rehab.services.safety import SafetyWarning
from rehab.services.shapes import too_long_message

Draft = dict[str, Any]

PHASE_FIELDS = ("key", "name", "weeks", "goal", "advance_text", "advance_after_sessions", "from_week")
PHASE_CHECKBOXES = ("no_stumbles", "retest")
RX_FIELDS = ("exercise", "setting", "minutes", "minutes_goal", "segments", "walk_minutes", "sets", "reps",
             "sessions_per_week", "speed", "speed_goal", "incline_pct", "incline_goal_pct", "support",
             "pain_ceiling", "cues", "interval_backward_minutes", "interval_every_minutes", "interval_between",
             "warmup_minutes", "cooldown_minutes")
# Speeds are typed in the clinic's unit under these names and stored in km/h under the shape's names.
SPEED_FIELDS = {"speed": "speed_kmh", "speed_goal": "speed_goal_kmh"}
# Indexes of at most three digits: a longer one is no field of this form (and int() of 5,000 digits fails).
_FIELD_KEY = re.compile(r"phases-(\d{1,3})-(?:rx-(\d{1,3})-)?")
_ACTION = re.compile(r"([a-z_]+)(?:-(\d{1,3}))?(?:-(\d{1,3}))?")
MIN_OVERRIDE_REASON = 5
MAX_OVERRIDE_REASON = 500  # as long as a phase move's or an advice override's reason
# As ProtocolContent and Phase allow: the builder offers no more, and a form claiming more is refused.
def _max_length(field: Any) -> int:
    length: int = next(rule.max_length for rule in field.metadata if getattr(rule, "max_length", None) is not None)
    return length


MAX_PHASES = _max_length(ProtocolContent.model_fields["phases"])
MAX_EXERCISES = _max_length(Phase.model_fields["prescriptions"])


class TooLarge(ValueError):
    """The form has more phases or exercises than a protocol may: not something the builder sends."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return number(value)
    return str(value)


def draft_from_content(content: ProtocolContent, *, speed_unit: str) -> Draft:
    """The builder's starting values for existing content (speeds shown in the clinic's unit)."""
    phases = []
    for phase in content.phases:
        values: dict[str, Any] = {name: _text(getattr(phase, name)) for name in PHASE_FIELDS}
        values.update(no_stumbles=phase.no_stumbles, retest=phase.retest, rx=[])
        for rx in phase.prescriptions:
            rx_values = {name: _text(getattr(rx, name)) for name in RX_FIELDS if name not in SPEED_FIELDS}
            for typed, stored in SPEED_FIELDS.items():
                speed = getattr(rx, stored)
                if speed is not None and speed_unit == "mph":
                    speed = round(kmh_to_mph(speed), 2)
                rx_values[typed] = _text(speed)
            values["rx"].append(rx_values)
        phases.append(values)
    return {"title": content.title, "template_key": content.template_key, "phases": phases}


def draft_from_form(form: Mapping[str, Any]) -> Draft:
    """Everything the therapist typed, as typed, in phase and exercise order.

    One pass over the field names finds the phases and exercises (a form of 100,000 fields once took a
    minute here, asked once per phase); more than a protocol may hold raises TooLarge."""
    exercises_of: dict[int, set[int]] = {}
    for key in form:
        match = _FIELD_KEY.match(key)
        if match is None:
            continue
        rx_indexes = exercises_of.setdefault(int(match.group(1)), set())
        if match.group(2) is not None:
            rx_indexes.add(int(match.group(2)))
        if len(exercises_of) > MAX_PHASES or len(rx_indexes) > MAX_EXERCISES:
            raise TooLarge(f"A protocol has at most {MAX_PHASES} phases of {MAX_EXERCISES} exercises.")
    phases = []
    for i in sorted(exercises_of):
        values: dict[str, Any] = {name: str(form.get(f"phases-{i}-{name}", ""))[:2000] for name in PHASE_FIELDS}
        for name in PHASE_CHECKBOXES:
            values[name] = bool(form.get(f"phases-{i}-{name}"))
        values["rx"] = [{name: str(form.get(f"phases-{i}-rx-{j}-{name}", ""))[:2000] for name in RX_FIELDS}
                        for j in sorted(exercises_of[i])]
        phases.append(values)
    return {"title": str(form.get("title", ""))[:2000], "template_key": str(form.get("template_key", ""))[:40],
            "phases": phases, "start_phase": str(form.get("start_phase", "0"))[:3]}


def start_phase_of(draft: Draft) -> int:
    """The phase a new protocol starts in, as chosen in the builder (phase 1 when unreadable or gone)."""
    value = str(draft.get("start_phase", "0"))
    index = int(value) if value.isdigit() else 0
    return index if index < len(draft["phases"]) else 0


def apply_action(draft: Draft, action: str, *, speed_unit: str) -> tuple[Draft, str]:
    """Add, remove or move a phase or an exercise. Returns the draft and the id of the element to focus."""
    phases: list[dict[str, Any]] = draft["phases"]
    parsed = _ACTION.fullmatch(action)
    if parsed is None:
        return draft, ""
    name = parsed.group(1)
    indexes = [int(part) for part in parsed.groups()[1:] if part is not None]
    if name == "add_phase":
        if len(phases) >= MAX_PHASES:
            return draft, ""  # the builder hides the button then
        phases.append(draft_from_content(
            ProtocolContent(title="x", phases=[blank_phase(len(phases) + 1)]), speed_unit=speed_unit
        )["phases"][0])
        return draft, f"phases-{len(phases) - 1}-name"
    if not indexes or not 0 <= indexes[0] < len(phases):
        return draft, ""
    i = indexes[0]
    if name == "remove_phase":
        phases.pop(i)
        return draft, "add-phase"
    if name in ("up_phase", "down_phase"):
        j = i - 1 if name == "up_phase" else i + 1
        if 0 <= j < len(phases):
            phases[i], phases[j] = phases[j], phases[i]
            return draft, f"phases-{j}-name"
        return draft, ""
    if name == "add_rx":
        if len(phases[i]["rx"]) >= MAX_EXERCISES:
            return draft, ""
        blank = draft_from_content(ProtocolContent(title="x", phases=[
            Phase(name="x", weeks=1, prescriptions=[blank_prescription()])]), speed_unit=speed_unit)
        phases[i]["rx"].append(blank["phases"][0]["rx"][0])
        return draft, f"phases-{i}-rx-{len(phases[i]['rx']) - 1}-exercise"
    if name == "remove_rx" and len(indexes) == 2 and 0 <= indexes[1] < len(phases[i]["rx"]):
        phases[i]["rx"].pop(indexes[1])
        return draft, f"phases-{i}-add-rx"
    return draft, ""


def content_from_draft(draft: Draft, *, speed_unit: str) -> tuple[ProtocolContent | None, dict[str, str]]:
    """Validate the draft. Errors are keyed by the form field they belong to."""
    errors: dict[str, str] = {}
    phases: list[Phase] = []
    if not draft["phases"]:
        errors["phases"] = "Add at least one phase."
    for i, phase_values in enumerate(draft["phases"]):
        prescriptions: list[Prescription] = []
        if not phase_values["rx"]:
            errors[f"phases-{i}-rx"] = "This phase has no exercise. Add one, or remove the phase."
        for j, rx_values in enumerate(phase_values["rx"]):
            rx_data = dict(rx_values)
            for typed, stored in SPEED_FIELDS.items():
                rx_data[stored] = _speed_kmh(rx_data.pop(typed, ""), speed_unit)
            rx, rx_errors = parse_form(Prescription, rx_data)
            typed_name = {stored: typed for typed, stored in SPEED_FIELDS.items()}
            for field, message in rx_errors.items():
                errors[f"phases-{i}-rx-{j}-{typed_name.get(field, field)}"] = message
            if rx is not None:
                prescriptions.append(rx)
        phase, phase_errors = parse_form(
            Phase, phase_values, checkboxes=PHASE_CHECKBOXES,
            extra={"prescriptions": prescriptions or [blank_prescription()]},
        )
        for field, message in phase_errors.items():
            errors[f"phases-{i}-{field}"] = message
        if phase is not None and len(prescriptions) == len(phase_values["rx"]):
            phases.append(phase)
    if errors:
        title_errors = parse_form(ProtocolContent, draft, extra={"phases": [blank_phase(1)]})[1]
        errors.update({name: message for name, message in title_errors.items() if name == "title"})
        return None, errors
    content, content_errors = parse_form(ProtocolContent, draft, extra={"phases": phases})
    return content, content_errors


def _speed_kmh(typed: str, speed_unit: str) -> str:
    """Speeds are typed in the clinic's unit and stored in km/h."""
    typed = typed.strip().replace(",", ".")
    if not typed or speed_unit != "mph":
        return typed
    try:
        return number(round(mph_to_kmh(float(typed)), 2))
    except ValueError:
        return typed  # left for validation to explain


def warning_fingerprint(warning: SafetyWarning) -> str:
    return warning.fingerprint


def override_reasons(form: Mapping[str, Any], warnings: list[SafetyWarning],
                     standing: Mapping[str, tuple[str, int]] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """The therapist's reason for each warning shown, and an error for each warning still without one.

    Reasons are matched to warnings by rule, place and the facts the warning rests on, so a reason never
    carries over to a different warning after the protocol or the patient changed. ``standing``: reasons
    given for an earlier version, which stand while the same warning rests on the same facts."""
    reasons: dict[str, str] = {}
    errors: dict[str, str] = {}
    for n, warning in enumerate(warnings):
        fingerprint = warning_fingerprint(warning)
        if standing and fingerprint in standing:
            reasons[fingerprint] = standing[fingerprint][0]
            continue
        reason = ""
        if form.get(f"override-{n}-rule") == fingerprint:
            reason = str(form.get(f"override-{n}-reason", "")).strip()
        if len(reason) > MAX_OVERRIDE_REASON:  # refused whole, never cut to fit
            errors[f"override-{n}-reason"] = too_long_message(len(reason), MAX_OVERRIDE_REASON)
        elif len(reason) < MIN_OVERRIDE_REASON:
            errors[f"override-{n}-reason"] = "Give a reason to go ahead despite this warning, or change the protocol."
        else:
            reasons[fingerprint] = reason
    return reasons, errors
