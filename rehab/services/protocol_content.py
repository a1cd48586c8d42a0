"""Protocol content: typed shapes, building one from a template, and the summary of what a version changed.

A protocol's content (phases and their prescriptions) is stored whole in each immutable version as JSON,
validated by these shapes, so any version can be shown exactly as it was.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, Field, field_validator

from rehab.services.catalogue import Template, exercises, known_exercise
from rehab.vocabulary import BETWEEN_LABELS, SETTING_LABELS, SUPPORT_LABELS, Between, OneOf, Setting, Support

KMH_PER_MPH = 1.609344


class Prescription(BaseModel):
    """One exercise with its dose."""

    # Range messages name the limits, so a therapist sees at once what is allowed.
    RANGE_MESSAGES: ClassVar[dict[str, str]] = {
        "minutes": "Enter minutes between 0.5 and 120.",
        "minutes_goal": "Enter goal minutes between 0.5 and 120.",
        "segments": "Enter 1 to 30 backward parts.",
        "walk_minutes": "Enter a walk of 1 to 180 minutes.",
        "sets": "Enter 1 to 20 sets.",
        "reps": "Enter 1 to 100 steps a set.",
        "sessions_per_week": "Enter 1 to 14 sessions a week.",
        "speed_kmh": "Enter a speed between 0.1 and 8 km/h (0.1 to 5 mph), or leave it empty for a comfortable pace.",
        "speed_goal_kmh": "Enter a goal speed between 0.1 and 8 km/h (0.1 to 5 mph), or leave it empty.",
        "incline_goal_pct": "Enter a goal incline between 0 and 20 %, or leave it empty.",
        "incline_pct": "Enter an incline between 0 and 20 %.",
        "pain_ceiling": "Enter a pain ceiling from 0 to 10.",
        "interval_backward_minutes": "Enter backward minutes between 0.5 and 60, or leave the pattern empty.",
        "interval_every_minutes": "Enter a block of 1 to 60 minutes, or leave the pattern empty.",
        "warmup_minutes": "Enter a warm-up of 0.5 to 30 minutes, or leave it empty.",
        "cooldown_minutes": "Enter a cool-down of 0.5 to 30 minutes, or leave it empty.",
    }

    exercise: str
    setting: Annotated[str, OneOf(Setting)]
    minutes: float = Field(ge=0.5, le=120)
    minutes_goal: float | None = Field(default=None, ge=0.5, le=120)
    segments: int | None = Field(default=None, ge=1, le=30)
    walk_minutes: float | None = Field(default=None, ge=1, le=180)
    sets: int | None = Field(default=None, ge=1, le=20)
    reps: int | None = Field(default=None, ge=1, le=100)
    sessions_per_week: int = Field(ge=1, le=14)
    speed_kmh: float | None = Field(default=None, ge=0.1, le=8)
    speed_goal_kmh: float | None = Field(default=None, ge=0.1, le=8)
    incline_pct: float = Field(default=0, ge=0, le=20)
    incline_goal_pct: float | None = Field(default=None, ge=0, le=20)
    support: Annotated[str, OneOf(Support)]
    pain_ceiling: int = Field(ge=0, le=10)
    cues: str = Field(default="", max_length=500)
    # The interval pattern: "1 minute backward in every 2" (the source article's "one minute backward inside a
    # ten-minute walk"), with forward walking or rest between. ``minutes`` stays the backward minutes in all; the
    # walk is ``walk_minutes`` when given, else as long as the pattern needs. Checked after the fields above.
    interval_backward_minutes: float | None = Field(default=None, ge=0.5, le=60)
    interval_every_minutes: float | None = Field(default=None, ge=1, le=60, validate_default=True)
    interval_between: Annotated[str, OneOf(Between)] = Between.FORWARD
    warmup_minutes: float | None = Field(default=None, ge=0.5, le=30)
    cooldown_minutes: float | None = Field(default=None, ge=0.5, le=30)

    @field_validator("exercise")
    @classmethod
    def _known_exercise(cls, value: str) -> str:
        return known_exercise(value)

    @field_validator("minutes_goal", "speed_goal_kmh", "incline_goal_pct")
    @classmethod
    def _goal_not_below_start(cls, value: float | None, info: Any) -> float | None:
        """A phase builds up to its goals; the progression advice raises each variable toward its goal."""
        start = info.data.get({"minutes_goal": "minutes", "speed_goal_kmh": "speed_kmh",
                               "incline_goal_pct": "incline_pct"}[info.field_name])
        if value is not None and start is not None and value < start:
            raise ValueError("The goal cannot be less than the starting value.")
        if value is not None and info.field_name == "speed_goal_kmh" and start is None:
            raise ValueError("Set a starting speed before a goal speed.")
        return value

    @field_validator("interval_every_minutes")
    @classmethod
    def _pattern_fits(cls, every: float | None, info: Any) -> float | None:
        """The pattern must be whole, shorter backward than its block, and fit the walk and the minutes."""
        backward = info.data.get("interval_backward_minutes")
        if "interval_backward_minutes" not in info.data:
            return every  # the backward minutes already have their own message
        if every is None:
            if backward is not None:
                raise ValueError("Enter the block the backward minutes sit in (e.g. 1 minute in every 2).")
            return None
        if backward is None:
            raise ValueError("Enter the backward minutes of each block too, or leave the pattern empty.")
        if backward >= every:
            raise ValueError(f"The backward part ({number(backward)} min) must be shorter than the block it sits "
                             f"in ({number(every)} min); for continuous backward walking leave the pattern empty.")
        if info.data.get("segments") or info.data.get("sets") or info.data.get("reps"):
            raise ValueError("Use either the interval pattern or backward parts, sets and steps, not both.")
        walk = info.data.get("walk_minutes")
        if walk is not None:
            if every > walk:
                raise ValueError(f"The block ({number(every)} min) is longer than the walk ({number(walk)} min).")
            most = backward_capacity(walk, backward, every)
            for name in ("minutes", "minutes_goal"):
                wanted = info.data.get(name)
                if wanted is not None and wanted > most + 1e-9:
                    raise ValueError(
                        f"At {number(backward)} min in every {number(every)}, a {number(walk)}-minute walk holds "
                        f"{number(most)} min backward, less than the {number(wanted)} min "
                        f"{'prescribed' if name == 'minutes' else 'to build to'}: make the walk longer or the "
                        "minutes fewer.")
        return every

    @property
    def has_pattern(self) -> bool:
        return self.interval_backward_minutes is not None and self.interval_every_minutes is not None

    def pattern_walk_minutes(self) -> float | None:
        """How long the walk the pattern sits in is: as prescribed, else as long as the backward minutes need."""
        if not self.has_pattern:
            return None
        if self.walk_minutes is not None:
            return self.walk_minutes
        assert self.interval_backward_minutes is not None and self.interval_every_minutes is not None
        backward, every = self.interval_backward_minutes, self.interval_every_minutes
        blocks, rest = divmod(self.minutes, backward)
        rest = round(rest, 4)
        # A last, shorter backward part keeps the pattern's time in between after it.
        return round(blocks * every + (rest + every - backward if rest else 0), 2)


def backward_capacity(walk: float, backward: float, every: float) -> float:
    """The most backward minutes a walk holds at ``backward`` in every ``every`` minutes (a last, shorter block
    holds what fits)."""
    blocks, rest = divmod(walk, every)
    return round(blocks * backward + min(backward, rest), 4)


class Phase(BaseModel):
    RANGE_MESSAGES: ClassVar[dict[str, str]] = {
        "weeks": "Enter 1 to 52 planned weeks.",
        "advance_after_sessions": "Enter 1 to 20 sessions.",
        "from_week": "Enter a week from 0 to 104 after surgery, or leave it empty.",
    }

    key: str = Field(default="", max_length=40)  # the template phase it came from (for translated names)
    name: str = Field(min_length=1, max_length=80)
    weeks: int = Field(ge=1, le=52)
    goal: str = Field(default="", max_length=500)
    advance_text: str = Field(default="", max_length=500)
    advance_after_sessions: int = Field(default=2, ge=1, le=20)
    no_stumbles: bool = True
    retest: bool = False
    # The earliest week after surgery this phase may start (post-operative templates); None: not gated.
    from_week: int | None = Field(default=None, ge=0, le=104)
    prescriptions: list[Prescription] = Field(min_length=1, max_length=6)


class ProtocolContent(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    template_key: str = Field(default="", max_length=40)
    phases: list[Phase] = Field(min_length=1, max_length=12)


def visit_ceiling(phase: Phase, exercise: str) -> int:
    """The pain ceiling a clinic visit is held to: its exercise's in the phase, else the phase's first."""
    return next((rx.pain_ceiling for rx in phase.prescriptions if rx.exercise == exercise),
                phase.prescriptions[0].pain_ceiling)


def content_from_template(template: Template, *, language: str = "en") -> ProtocolContent:
    """A new protocol's content, copied from a template (the therapist then adjusts any dose)."""
    phases = []
    for raw in template.phases:
        text = raw.get(language) or raw["en"]
        english = raw["en"]
        phases.append(Phase(
            key=raw["key"], name=text.get("name", english["name"]), weeks=raw["weeks"],
            goal=text.get("goal", english.get("goal", "")),
            advance_text=text.get("advance_text", english.get("advance_text", "")),
            advance_after_sessions=raw["advance_after_sessions"], no_stumbles=raw["no_stumbles"],
            retest=raw["retest"], from_week=raw.get("from_week"),
            prescriptions=[Prescription.model_validate(rx) for rx in raw["prescriptions"]],
        ))
    return ProtocolContent(title=template.text("name", language), template_key=template.key, phases=phases)


def blank_prescription(exercise_key: str = "treadmill_rails") -> Prescription:
    exercise = exercises()[exercise_key]
    return Prescription(exercise=exercise_key, setting="clinic", minutes=5, sessions_per_week=3,
                        speed_kmh=1.0 if exercise.uses_speed else None, incline_pct=0,
                        support=exercise.default_support, pain_ceiling=5)


def blank_phase(number: int) -> Phase:
    return Phase(name=f"Phase {number}", weeks=2, prescriptions=[blank_prescription()])


# ---------------------------------------------------------------------------------------------- summaries


def number(value: float | int | None) -> str:
    """5.0 -> "5", 1.25 -> "1.25", None -> "none"."""
    if value is None:
        return "none"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def kmh_to_mph(kmh: float) -> float:
    return kmh / KMH_PER_MPH


def mph_to_kmh(mph: float) -> float:
    return mph * KMH_PER_MPH


def _speed(value: float | None, unit: str) -> str:
    if value is None:
        return "none"
    return f"{number(round(kmh_to_mph(value), 2))} mph" if unit == "mph" else f"{number(value)} km/h"


_DOSE_FIELDS: tuple[tuple[str, str], ...] = (
    ("setting", "setting"), ("minutes", "minutes"), ("minutes_goal", "goal minutes"), ("segments", "parts"),
    ("walk_minutes", "walk minutes"), ("sets", "sets"), ("reps", "steps a set"),
    ("sessions_per_week", "sessions per week"), ("speed_kmh", "speed"), ("speed_goal_kmh", "goal speed"),
    ("incline_pct", "incline"), ("incline_goal_pct", "goal incline"),
    ("support", "support"), ("pain_ceiling", "pain ceiling"), ("cues", "cues"),
    ("interval_backward_minutes", "backward minutes of the pattern"),
    ("interval_every_minutes", "pattern block"), ("interval_between", "between the backward parts"),
    ("warmup_minutes", "warm-up"), ("cooldown_minutes", "cool-down"),
)


def _dose_change(field: str, label: str, old: Any, new: Any, unit: str) -> str:
    if field in ("speed_kmh", "speed_goal_kmh"):
        return f"{label} {_speed(old, unit)} → {_speed(new, unit)}"
    if field in ("incline_pct", "incline_goal_pct"):
        return f"{label} {number(old)} → {number(new)} %"
    if field == "setting":
        return f"{label} {SETTING_LABELS[old].lower()} → {SETTING_LABELS[new].lower()}"
    if field == "support":
        return f"{label} {SUPPORT_LABELS[old].lower()} → {SUPPORT_LABELS[new].lower()}"
    if field == "cues":
        return f"{label} changed"
    if field == "interval_between":
        return f"{label}: {BETWEEN_LABELS[old].lower()} → {BETWEEN_LABELS[new].lower()}"
    return f"{label} {number(old)} → {number(new)}"


def summarize_changes(old: ProtocolContent, new: ProtocolContent, *, speed_unit: str = "kmh") -> list[str]:
    """What changed between two versions, one line per phase, in words a therapist reads at a glance:
    ``["Phase 2: minutes 10 → 12; incline 0 → 5 %"]``. Empty when nothing changed."""
    lines: list[str] = []
    if old.title != new.title:
        lines.append(f"Title: {old.title} → {new.title}")
    catalogue = exercises()
    for index in range(max(len(old.phases), len(new.phases))):
        label = f"Phase {index + 1}"
        if index >= len(old.phases):
            lines.append(f"{label}: added ({new.phases[index].name})")
            continue
        if index >= len(new.phases):
            lines.append(f"{label}: removed ({old.phases[index].name})")
            continue
        before, after = old.phases[index], new.phases[index]
        changes: list[str] = []
        if before.name != after.name:
            changes.append(f"name {before.name} → {after.name}")
        if before.weeks != after.weeks:
            changes.append(f"weeks {before.weeks} → {after.weeks}")
        if before.goal != after.goal:
            changes.append("goal changed")
        if (before.advance_text, before.advance_after_sessions, before.no_stumbles, before.retest,
                before.from_week) != (after.advance_text, after.advance_after_sessions, after.no_stumbles,
                                      after.retest, after.from_week):
            changes.append("criteria to advance changed")
        several = max(len(before.prescriptions), len(after.prescriptions)) > 1
        for rx_index in range(max(len(before.prescriptions), len(after.prescriptions))):
            if rx_index >= len(before.prescriptions):
                changes.append(f"added {catalogue[after.prescriptions[rx_index].exercise].text().name.lower()}")
                continue
            if rx_index >= len(after.prescriptions):
                changes.append(f"removed {catalogue[before.prescriptions[rx_index].exercise].text().name.lower()}")
                continue
            rx_old, rx_new = before.prescriptions[rx_index], after.prescriptions[rx_index]
            prefix = f"{catalogue[rx_new.exercise].text().name.lower()}: " if several else ""
            if rx_old.exercise != rx_new.exercise:
                changes.append(f"exercise {catalogue[rx_old.exercise].text().name.lower()} → "
                               f"{catalogue[rx_new.exercise].text().name.lower()}")
            for field, field_label in _DOSE_FIELDS:
                old_value, new_value = getattr(rx_old, field), getattr(rx_new, field)
                if old_value != new_value:
                    changes.append(prefix + _dose_change(field, field_label, old_value, new_value, speed_unit))
        if changes:
            lines.append(f"{label}: " + "; ".join(changes))
    return lines


def keep_unchanged_speeds(old: ProtocolContent, new: ProtocolContent, *, speed_unit: str) -> ProtocolContent:
    """Speeds typed in mph come back from km/h rounded; where the therapist left the shown value alone,
    keep the stored km/h exactly, so re-saving never records a change nobody made."""
    if speed_unit != "mph":
        return new
    for old_phase, new_phase in zip(old.phases, new.phases, strict=False):
        for old_rx, new_rx in zip(old_phase.prescriptions, new_phase.prescriptions, strict=False):
            for field in ("speed_kmh", "speed_goal_kmh"):
                before, after = getattr(old_rx, field), getattr(new_rx, field)
                if before is not None and after is not None and \
                        round(kmh_to_mph(before), 2) == round(kmh_to_mph(after), 2):
                    setattr(new_rx, field, before)
    return new
