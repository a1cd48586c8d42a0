"""What the patient reads about their protocol, in their language: a phase's name and goal, the exercises.

The therapist's own words are kept as typed. (The patient's words for soreness and red flags are in
``rehab.vocabulary``, with the other lists.)
"""

from __future__ import annotations

from typing import Any

from rehab.services.catalogue import exercises, illustration_svg, templates
from rehab.services.dose import dose_sentence
from rehab.services.protocol_content import Phase


def phase_text(phase: Phase, *, template_key: str, language: str) -> dict[str, str]:
    """A phase's name and goal in the patient's language: the template's translation when the therapist kept
    the template's wording, the therapist's own words otherwise."""
    template = templates().get(template_key)
    if template is not None and phase.key:
        for raw in template.phases:
            english = raw["en"]
            if raw["key"] == phase.key and english.get("name") == phase.name:
                text = raw.get(language) or english
                kept_goal = phase.goal == english.get("goal", "")
                return {"name": text.get("name", phase.name),
                        "goal": text.get("goal", english.get("goal", "")) if kept_goal else phase.goal}
    return {"name": phase.name, "goal": phase.goal}


def exercise_items(phase: Phase, *, language: str, speed_unit: str) -> list[dict[str, Any]]:
    """The current phase's exercises as plain values for the "my exercises" page. ``illustration`` is our own
    SVG file (safe to inline); ``therapist_cues`` is the therapist's free text (escaped like any input)."""
    items = []
    for rx in phase.prescriptions:
        exercise = exercises()[rx.exercise]
        text = exercise.text(language)
        items.append({
            "key": rx.exercise, "name": text.name, "purpose": text.purpose, "steps": text.steps, "cues": text.cues,
            "safety": text.safety, "therapist_cues": rx.cues, "setting": rx.setting, "pain_ceiling": rx.pain_ceiling,
            "sentence": dose_sentence(rx, language=language, speed_unit=speed_unit),
            "illustration": illustration_svg(rx.exercise),
        })
    return items
