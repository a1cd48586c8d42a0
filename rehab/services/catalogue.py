"""The exercise catalogue, its sources and the built-in protocol templates, read from ``rehab/content``.

Content is data (TOML), not code, so clinicians and translators can edit it. Text comes per language with
English as the fallback for anything not yet translated.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from rehab.translation import N_, gettext
from rehab.vocabulary import Language

LANGUAGES: tuple[str, ...] = tuple(Language)  # the languages content is written in
# What each source level may be called: never more than the source is (a trial protocol without results is
# not trial evidence; a trial in another condition is extrapolated).
EVIDENCE_LABELS = {
    "rct": N_("Randomised trials"), "extrapolated": N_("Trial in another condition (extrapolated)"),
    "protocol": N_("Trial protocol, no results yet"), "lab": N_("Laboratory studies"),
    "guidance": N_("Clinical guidance"), "expert": N_("Expert opinion"),
}


@dataclass(frozen=True)
class Reference:
    key: str
    level: str
    citation: str
    link: str


@dataclass(frozen=True)
class ExerciseText:
    name: str
    clinician_note: str
    purpose: str
    steps: tuple[str, ...]
    cues: tuple[str, ...]
    safety: tuple[str, ...]


@dataclass(frozen=True)
class Exercise:
    key: str
    equipment: str
    default_support: str
    uses_speed: bool
    overground: bool
    evidence: str
    references: tuple[str, ...]
    illustration: str
    texts: dict[str, ExerciseText]

    def text(self, language: str = "en") -> ExerciseText:
        return self.texts.get(language) or self.texts["en"]


@dataclass(frozen=True)
class Template:
    key: str
    condition: str
    evidence: str
    sources: tuple[str, ...]
    texts: dict[str, dict[str, str]]
    phases: tuple[dict[str, Any], ...]

    def text(self, field: str, language: str = "en") -> str:
        return self.texts.get(language, {}).get(field) or self.texts["en"].get(field, "")


def _load(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("rehab.content").joinpath(name).read_text("utf-8"))


@cache
def references() -> dict[str, Reference]:
    return {key: Reference(key, value["level"], value["citation"], value.get("link", ""))
            for key, value in _load("references.toml").items()}


def known_exercise(key: str) -> str:
    """``key`` when it names an exercise of the catalogue, else the message a form shows beside the field (for
    every shape with an exercise field: a prescription, a visit)."""
    if key not in exercises():
        raise ValueError("Choose an exercise from the list.")
    return key


@cache
def exercises() -> dict[str, Exercise]:
    catalogue: dict[str, Exercise] = {}
    for key, value in _load("exercises.toml").items():
        texts = {
            language: ExerciseText(
                name=value[language]["name"], clinician_note=value[language].get("clinician_note", ""),
                purpose=value[language]["purpose"], steps=tuple(value[language]["steps"]),
                cues=tuple(value[language]["cues"]), safety=tuple(value[language]["safety"]),
            )
            for language in LANGUAGES if language in value
        }
        catalogue[key] = Exercise(
            key=key, equipment=value["equipment"], default_support=value["default_support"],
            uses_speed=value["uses_speed"], overground=value["overground"], evidence=value["evidence"],
            references=tuple(value["references"]), illustration=value["illustration"], texts=texts,
        )
    return catalogue


@cache
def templates() -> dict[str, Template]:
    return {
        key: Template(
            key=key, condition=value["condition"], evidence=value["evidence"], sources=tuple(value["sources"]),
            texts={language: value.get(language, {}) for language in LANGUAGES},
            phases=tuple(value["phases"]),
        )
        for key, value in _load("templates.toml").items()
    }


def illustration_svg(exercise_key: str) -> str:
    """The exercise's line drawing as SVG text (our own files, safe to inline)."""
    exercise = exercises()[exercise_key]
    folder = resources.files("rehab.content").joinpath("illustrations")
    return folder.joinpath(exercise.illustration).read_text("utf-8")


def evidence_label(level: str, language: str = "en") -> str:
    return gettext(language, EVIDENCE_LABELS[level]) if level in EVIDENCE_LABELS else level
