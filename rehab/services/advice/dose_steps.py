"""One level up or down, one variable at a time, both ways (clinical reference, section 2; steps are expert
opinion).

Up: minutes, then speed, then incline toward the phase's goals; then the steps that bring the dose to the next
phase's start one variable at a time, and the phase move last. Down: undo the last variable raised; otherwise
fewer minutes, sets, steps or parts; at the floor the previous phase, or "stop and review" in the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from rehab.services.advice.types import DoseChange
from rehab.services.catalogue import exercises
from rehab.services.protocol_content import Phase, Prescription, ProtocolContent, backward_capacity, number
from rehab.services.safety import SafetyWarning
from rehab.vocabulary import SUPPORT_LABELS, Support

MINUTES_STEP = 2.0
SPEED_STEP_KMH = 0.2
INCLINE_STEP_PCT = 2.5
SETS_STEP = 1
REPS_STEP = 2
MINUTES_FLOOR = 1.0
# Most support first: less support is harder.
SUPPORT_ORDER: tuple[str, ...] = tuple(Support)
# How much one level may raise each variable (the builder warns beyond it).
ONE_LEVEL: dict[str, float] = {"minutes": MINUTES_STEP, "speed_kmh": SPEED_STEP_KMH, "incline_pct": INCLINE_STEP_PCT,
                               "sets": SETS_STEP, "reps": REPS_STEP, "segments": 1, "sessions_per_week": 1}
_LABELS = {"minutes": "minutes", "speed_kmh": "speed", "incline_pct": "incline", "support": "support",
           "sets": "sets", "reps": "steps a set", "segments": "backward parts", "sessions_per_week": "sessions a week"}


def _speed(kmh: float, unit: str) -> str:
    from rehab.services.dose import speed_text  # local import: dose is a presentation module

    return speed_text(kmh, unit)


def describe(field: str, old: Any, new: Any, speed_unit: str = "kmh") -> str:
    if field == "speed_kmh":
        return f"speed {_speed(old, speed_unit)} → {_speed(new, speed_unit)}"
    if field == "incline_pct":
        return f"incline {number(old)} → {number(new)} %"
    if field == "support":
        return f"support {SUPPORT_LABELS[old].lower()} → {SUPPORT_LABELS[new].lower()}"
    return f"{_LABELS.get(field, field)} {number(old)} → {number(new)}"


def _change(field: str, old: Any, new: Any, speed_unit: str, suffix: str = "") -> DoseChange:
    return DoseChange(describe(field, old, new, speed_unit) + suffix, field, old, new)


def raises(old: Prescription, new: Prescription) -> list[tuple[str, Any, Any]]:
    """The variables ``new`` makes harder than ``old``, in the order they are progressed."""
    found: list[tuple[str, Any, Any]] = []
    for field in ("minutes", "speed_kmh", "incline_pct", "sets", "reps", "segments", "sessions_per_week"):
        before, after = getattr(old, field), getattr(new, field)
        if after is not None and before is not None and after > before:
            found.append((field, before, after))
    if SUPPORT_ORDER.index(new.support) > SUPPORT_ORDER.index(old.support):
        found.append(("support", old.support, new.support))
    return found


def _matching(phase: Phase, rx: Prescription) -> Prescription:
    return next((other for other in phase.prescriptions if other.exercise == rx.exercise), phase.prescriptions[0])


def next_level(rx: Prescription, *, phase_index: int, phases: Sequence[Phase], speed_unit: str = "kmh"
               ) -> DoseChange | None:
    """One level up. None at the end of the last phase."""
    if rx.minutes_goal is not None and rx.minutes < rx.minutes_goal:
        return _change("minutes", rx.minutes, min(rx.minutes_goal, rx.minutes + MINUTES_STEP), speed_unit)
    if rx.speed_kmh is not None and rx.speed_goal_kmh is not None and rx.speed_kmh < rx.speed_goal_kmh:
        return _change("speed_kmh", rx.speed_kmh, round(min(rx.speed_goal_kmh, rx.speed_kmh + SPEED_STEP_KMH), 2),
                       speed_unit)
    if rx.incline_goal_pct is not None and rx.incline_pct < rx.incline_goal_pct:
        return _change("incline_pct", rx.incline_pct, min(rx.incline_goal_pct, rx.incline_pct + INCLINE_STEP_PCT),
                       speed_unit)
    if phase_index + 1 >= len(phases):
        return None
    return toward_next_phase(rx, phase_index=phase_index, phases=phases, speed_unit=speed_unit)


def toward_next_phase(rx: Prescription, *, phase_index: int, phases: Sequence[Phase], speed_unit: str = "kmh"
                      ) -> DoseChange:
    """The next step into the next phase so that each step changes one thing.

    Same exercise: while the next phase's start raises more than one variable, raise the first of them (one
    level) at this phase; the move itself then changes the last one. Another exercise: the move changes the
    exercise and nothing else: the new exercise starts at today's minutes, incline and support where they are
    easier than its planned start, and the planned values become its goals."""
    target_phase = phases[phase_index + 1]
    target = _matching(target_phase, rx)
    move = f"move to phase {phase_index + 2} ({target_phase.name})"
    if target.exercise == rx.exercise:
        pending = raises(rx, target)
        if len(pending) > 1:
            field, before, after = pending[0]
            if field in ONE_LEVEL and field != "sessions_per_week":
                after = min(after, before + ONE_LEVEL[field])
                after = round(after, 2) if isinstance(after, float) else after
            return _change(field, before, after, speed_unit, suffix=f", before the move to phase {phase_index + 2}")
        return DoseChange(move, to_phase=phase_index + 1)
    entry = eased_entry(rx, target)
    if entry is None:
        return DoseChange(move, to_phase=phase_index + 1)
    eased = Prescription.model_validate(entry)
    return DoseChange(f"{move}, starting {exercises()[target.exercise].text().name.lower()} at "
                      f"{_entry_text(eased, speed_unit)}", to_phase=phase_index + 1, entry=entry)


def eased_entry(current: Prescription, target: Prescription) -> dict[str, Any] | None:
    """The next phase's exercise at a start no harder than today's dose where both have the variable; None when
    the planned start already is."""
    start = target.model_dump()
    eased = False
    if target.minutes > current.minutes and not target.sets and not target.segments:
        start["minutes_goal"] = max(target.minutes_goal or target.minutes, target.minutes)
        start["minutes"] = max(current.minutes, MINUTES_FLOOR)
        eased = True
    if target.incline_pct > current.incline_pct:
        start["incline_goal_pct"] = max(target.incline_goal_pct or target.incline_pct, target.incline_pct)
        start["incline_pct"] = current.incline_pct
        eased = True
    if current.speed_kmh is not None and target.speed_kmh is not None and target.speed_kmh > current.speed_kmh:
        start["speed_goal_kmh"] = max(target.speed_goal_kmh or target.speed_kmh, target.speed_kmh)
        start["speed_kmh"] = current.speed_kmh
        eased = True
    default = exercises()[target.exercise].default_support
    if SUPPORT_ORDER.index(target.support) > SUPPORT_ORDER.index(current.support):
        # More support, as today's, where the new exercise has it; else the exercise's own default.
        start["support"] = current.support if current.support in _supports_for(target.exercise) else default
        eased = start["support"] != target.support or eased
    return start if eased else None


def _supports_for(exercise: str) -> tuple[str, ...]:
    equipment = exercises()[exercise].equipment
    if equipment in ("treadmill", "treadmill_off", "parallel_bars"):
        return (Support.BOTH_RAILS, Support.ONE_RAIL, Support.LIGHT_TOUCH, Support.NONE)
    return (Support.PARTNER, Support.NONE)


def _entry_text(rx: Prescription, speed_unit: str) -> str:
    parts = [f"{number(rx.minutes)} min"]
    if rx.speed_kmh is not None:
        parts.append(_speed(rx.speed_kmh, speed_unit))
    parts += [f"{number(rx.incline_pct)} %", SUPPORT_LABELS[rx.support].lower()]
    return ", ".join(parts)


def previous_level(rx: Prescription, *, phase_index: int, phases: Sequence[Phase],
                   last_raise: DoseChange | None = None, speed_unit: str = "kmh") -> DoseChange:
    """One level down: undo the last raise still in force; else fewer parts, sets, steps or minutes; at the floor
    the previous phase, or "stop and review" in the first phase."""
    if last_raise is not None and last_raise.field is not None and getattr(rx, last_raise.field, None) == \
            last_raise.new and last_raise.old is not None:
        return _change(last_raise.field, last_raise.new, last_raise.old, speed_unit, suffix=" (undoes the last raise)")
    if last_raise is not None and last_raise.to_phase == phase_index and phase_index > 0:
        return DoseChange(f"back to phase {phase_index} ({phases[phase_index - 1].name}) (undoes the last move)",
                          to_phase=phase_index - 1)
    if rx.segments and rx.segments > 1:
        return _change("segments", rx.segments, rx.segments - 1, speed_unit)
    if rx.sets and rx.sets > 1:
        return _change("sets", rx.sets, rx.sets - SETS_STEP, speed_unit)
    if rx.reps and rx.reps > REPS_STEP:
        return _change("reps", rx.reps, rx.reps - REPS_STEP, speed_unit)
    if not rx.sets and not rx.segments and rx.minutes - MINUTES_STEP >= MINUTES_FLOOR:
        return _change("minutes", rx.minutes, rx.minutes - MINUTES_STEP, speed_unit)
    if phase_index > 0:
        return DoseChange(f"back to phase {phase_index} ({phases[phase_index - 1].name})", to_phase=phase_index - 1)
    return DoseChange("stop and review the plan: this is the lowest dose of the first phase", review=True)


def apply_change(rx: Prescription, change: DoseChange) -> Prescription:
    """The prescription with one field changed, its goal kept at or above it and parts kept the same length."""
    assert change.field is not None
    values = rx.model_dump()
    values[change.field] = change.new
    goals = {"minutes": "minutes_goal", "speed_kmh": "speed_goal_kmh", "incline_pct": "incline_goal_pct"}
    goal = goals.get(change.field)
    if goal and values[goal] is not None and values[goal] < values[change.field]:
        values[goal] = values[change.field]
    if change.field == "segments" and rx.segments:
        values["minutes"] = rx.minutes / rx.segments * int(change.new)  # type: ignore[arg-type]
    if rx.has_pattern and rx.walk_minutes is not None and rx.interval_backward_minutes and rx.interval_every_minutes \
            and values["minutes"] > backward_capacity(rx.walk_minutes, rx.interval_backward_minutes,
                                                      rx.interval_every_minutes):
        values["walk_minutes"] = None  # more backward minutes than the walk holds: the walk grows with the pattern
    return Prescription.model_validate(values)


def dose_jumps(current: ProtocolContent, week_ago: ProtocolContent, new: ProtocolContent, *, phase_index: int,
               last_raise_at: datetime | None, now: datetime) -> list[SafetyWarning]:
    """Builder warnings for a current dose raised by hand beyond what the advice would do (expert opinion,
    clinical reference section 2): against the dose in force a week ago, more than one variable raised or more
    than one level; or a raise within a week of the last accepted one. ``week_ago`` is the content in force
    seven days ago (or the first version). Only an edit that raises something warns."""
    if not all(phase_index < len(content.phases) for content in (current, week_ago, new)):
        return []
    warnings: list[SafetyWarning] = []
    triples = zip(current.phases[phase_index].prescriptions, week_ago.phases[phase_index].prescriptions,
                  new.phases[phase_index].prescriptions, strict=False)
    for now_rx, then_rx, after in triples:
        if now_rx.exercise != after.exercise or not raises(now_rx, after):
            continue
        raised = raises(then_rx, after) if then_rx.exercise == after.exercise else raises(now_rx, after)
        problems = []
        if len(raised) > 1:
            names = ", ".join(_LABELS[field] for field, _, _ in raised)
            problems.append(f"{len(raised)} things raised within a week ({names})")
        too_far = [describe(f, a, b) for f, a, b in raised if f in ONE_LEVEL and b - a > ONE_LEVEL[f] + 1e-9]
        if too_far:
            problems.append(f"{'; '.join(too_far)} is more than one level")
        if last_raise_at is not None and now - last_raise_at < timedelta(days=7):
            problems.append(f"the advice raised it {(now - last_raise_at).days} day(s) ago")
        if problems:
            name = exercises()[after.exercise].text().name.lower()
            warnings.append(SafetyWarning(
                "dose_jump", "This raises the current dose faster than one level a week, one variable at a time: "
                f"{'; '.join(problems)}.", "progression_expert", f"Phase {phase_index + 1}, {name}"))
    return warnings
