"""The progression advice: advance, repeat, hold, regress, or stop and refer, with the rules that fired.

Pure functions over plain values (clinical reference, sections 2 and 3). The therapist decides; every piece
of advice carries the rules and sources that produced it and, where it changes the dose, the concrete next
dose. Rules are checked in order of severity and the first decisive one wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import mean
from typing import Literal

from rehab.services.protocols import Phase, Prescription, number

AdviceKind = Literal["advance", "repeat", "hold", "regress", "stop_refer"]
EFFUSION_GRADES = ("0", "trace", "1+", "2+", "3+")
SORENESS = {
    "none": "No soreness",
    "warmup_gone": "Sore during warm-up, went away",
    "warmup_stayed": "Sore during warm-up, stayed",
    "late": "Sore more than an hour after, or the next day",
}
RED_FLAGS = {
    "flag_calf": "calf pain or swelling",
    "flag_chest": "chest pain or breathlessness",
    "flag_infection": "spreading redness, heat, fever or wound drainage",
    "flag_locking": "knee locking or giving way",
}

# Steps for one level, expert opinion (the reference gives +0.2 km/h a step for speed).
MINUTES_STEP = 2.0
SPEED_STEP_KMH = 0.2
INCLINE_STEP_PCT = 2.5
HOLD_GAP = timedelta(hours=48)
AFTER_HOLD = timedelta(days=14)  # how long a 1+ still counts as "after a hold"
ONE_LEVEL_PER = timedelta(days=7)
PAIN_TREND_RISE = 1.0  # mean worst pain this week at least this much above last week's


@dataclass(frozen=True)
class SessionReport:
    """One backward-walking session, from a clinic visit or a home log."""

    at: datetime
    pain_worst: int
    source: Literal["visit", "home"] = "visit"
    pain_before: int | None = None
    pain_after: int | None = None
    pain_next_morning: int | None = None
    soreness: str = "none"
    effusion: str | None = None  # measured at visits only
    stumbles: int = 0
    falls: int = 0
    red_flags: tuple[str, ...] = ()
    minutes: float | None = None


@dataclass(frozen=True)
class Rule:
    code: str
    text: str
    source: str  # a key of references.toml


@dataclass(frozen=True)
class DoseChange:
    """The concrete next dose: one variable of one prescription, or a move to another phase."""

    text: str
    field: str | None = None  # minutes | speed_kmh | incline_pct
    old: float | None = None
    new: float | None = None
    to_phase: int | None = None


@dataclass(frozen=True)
class Advice:
    kind: AdviceKind
    rules: tuple[Rule, ...]
    change: DoseChange | None = None
    rest_days: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def headline(self) -> str:
        titles = {"advance": "Advance", "repeat": "Repeat this level", "hold": "Hold",
                  "regress": "Regress one level", "stop_refer": "Stop and refer"}
        title = titles[self.kind]
        return f"{title}: {self.change.text}" if self.change else title


def effusion_at_least(grade: str | None, threshold: str) -> bool:
    return grade in EFFUSION_GRADES and EFFUSION_GRADES.index(grade) >= EFFUSION_GRADES.index(threshold)


def is_hold_session(session: SessionReport, earlier: Sequence[SessionReport] = ()) -> bool:
    """A session whose findings call for a hold: effusion 2+ or more, or 1+ within 14 days after a 2+ (after a
    hold the level is held again until the swelling is trace or none). ``earlier`` are the sessions before it."""
    if effusion_at_least(session.effusion, "2+"):
        return True
    return effusion_at_least(session.effusion, "1+") and any(
        effusion_at_least(s.effusion, "2+") for s in earlier if s.at >= session.at - AFTER_HOLD)


def within_pain_rules(session: SessionReport, *, ceiling: int, no_stumbles: bool) -> bool:
    """Pain during at or below the ceiling, settled by next morning, no soreness, swelling at most 1+, no red
    flag, no fall, and (where the phase asks) no stumble."""
    settled = session.pain_next_morning is None or session.pain_before is None \
        or session.pain_next_morning <= session.pain_before
    return (session.pain_worst <= ceiling and settled and session.soreness == "none"
            and not effusion_at_least(session.effusion, "2+") and not session.red_flags
            and session.falls == 0 and not (no_stumbles and session.stumbles > 0))


def next_level(rx: Prescription, *, phase_index: int, phases: Sequence[Phase], speed_unit: str = "kmh"
               ) -> DoseChange | None:
    """One level up: the first variable below its goal, in the order minutes, speed, incline; when all are at
    their goals, the next phase. None at the end of the last phase."""
    if rx.minutes_goal is not None and rx.minutes < rx.minutes_goal:
        new = min(rx.minutes_goal, rx.minutes + MINUTES_STEP)
        return DoseChange(f"minutes {number(rx.minutes)} → {number(new)}", "minutes", rx.minutes, new)
    if rx.speed_kmh is not None and rx.speed_goal_kmh is not None and rx.speed_kmh < rx.speed_goal_kmh:
        new = round(min(rx.speed_goal_kmh, rx.speed_kmh + SPEED_STEP_KMH), 2)
        return DoseChange(f"speed {_speed(rx.speed_kmh, speed_unit)} → {_speed(new, speed_unit)}", "speed_kmh",
                          rx.speed_kmh, new)
    if rx.incline_goal_pct is not None and rx.incline_pct < rx.incline_goal_pct:
        new = min(rx.incline_goal_pct, rx.incline_pct + INCLINE_STEP_PCT)
        return DoseChange(f"incline {number(rx.incline_pct)} → {number(new)} %", "incline_pct", rx.incline_pct, new)
    if phase_index + 1 < len(phases):
        target = phases[phase_index + 1]
        return DoseChange(f"move to phase {phase_index + 2} ({target.name})", to_phase=phase_index + 1)
    return None


def previous_level(rx: Prescription, *, phase_index: int, phases: Sequence[Phase]) -> DoseChange | None:
    """One level down: fewer minutes, or the previous phase when the minutes are already at the floor."""
    if rx.minutes - MINUTES_STEP >= 1:
        new = rx.minutes - MINUTES_STEP
        return DoseChange(f"minutes {number(rx.minutes)} → {number(new)}", "minutes", rx.minutes, new)
    if phase_index > 0:
        return DoseChange(f"back to phase {phase_index} ({phases[phase_index - 1].name})", to_phase=phase_index - 1)
    return None


def _speed(kmh: float, unit: str) -> str:
    from rehab.services.dose import speed_text  # local import: dose imports this module's neighbours

    return speed_text(kmh, unit)


def advise(*, phases: Sequence[Phase], phase_index: int, prescription_index: int,
           sessions: Sequence[SessionReport], dose_since: datetime, last_advance_at: datetime | None,
           now: datetime, speed_unit: str = "kmh") -> Advice:
    """The advice after the latest session. ``sessions`` are in time order; ``dose_since`` is when the dose
    in force began (its version or phase move), ``last_advance_at`` the last accepted level up."""
    phase = phases[phase_index]
    rx = phase.prescriptions[min(prescription_index, len(phase.prescriptions) - 1)]
    ceiling = rx.pain_ceiling
    if not sessions:
        return Advice("repeat", (Rule("no_sessions", "No session recorded yet at this dose.", "silbernagel2007"),))
    latest = sessions[-1]
    earlier = sessions[:-1]

    if latest.red_flags:
        flags = ", ".join(RED_FLAGS.get(flag, flag) for flag in latest.red_flags)
        return Advice("stop_refer", (Rule("red_flag", f"Red flag reported ({flags}): stop backward walking and "
                                      "contact the physician.", "red_flags"),))
    if latest.falls:
        return Advice("stop_refer", (Rule("fall", f"{latest.falls} fall{'s' if latest.falls > 1 else ''} reported: "
                                      "stop and assess before any more backward walking.", "red_flags"),))
    if effusion_at_least(latest.effusion, "2+"):
        previous_visit = next((s for s in reversed(earlier) if s.effusion is not None), None)
        if previous_visit is not None and effusion_at_least(previous_visit.effusion, "2+"):
            return Advice("stop_refer", (Rule("effusion_persists", f"Effusion {latest.effusion} at two visits in a "
                                          "row: the swelling persists, refer.", "sturgill2009"),))
        return Advice("hold", (Rule("effusion", f"Effusion {latest.effusion}: hold the level and treat the "
                                "swelling.", "sturgill2009"),))
    if latest.soreness == "warmup_stayed":
        return Advice("regress", (Rule("soreness_stayed", "Sore during warm-up and it stayed: stop, 2 days off, "
                                   "drop one level.", "soreness_rules"),),
                      previous_level(rx, phase_index=phase_index, phases=phases), rest_days=2)
    if latest.pain_worst > ceiling:
        return Advice("regress", (Rule("pain_above_ceiling", f"Pain during {latest.pain_worst}/10 is above the "
                                   f"ceiling of {ceiling}/10: drop one level.", "silbernagel2007"),),
                      previous_level(rx, phase_index=phase_index, phases=phases))

    repeat_rules: list[Rule] = []
    rest_days = 0
    if latest.soreness == "late":
        repeat_rules.append(Rule("soreness_late", "Sore more than an hour after or the next day: 1 day off, "
                                 "repeat the same level.", "soreness_rules"))
        rest_days = 1
    if latest.pain_next_morning is not None and latest.pain_before is not None \
            and latest.pain_next_morning > latest.pain_before:
        repeat_rules.append(Rule("not_settled", f"Pain next morning {latest.pain_next_morning}/10 had not settled "
                                 f"to {latest.pain_before}/10: repeat the same level.", "silbernagel2007"))
    if latest.soreness == "warmup_gone":
        repeat_rules.append(Rule("soreness_gone", "Sore during warm-up that went away: repeat the same level.",
                                 "soreness_rules"))
    if is_hold_session(latest, earlier):
        return Advice("hold", (Rule("effusion_after_hold", f"Effusion {latest.effusion} after a hold: hold the "
                                "level again until it is trace or none.", "sturgill2009"),))
    if phase.no_stumbles and latest.stumbles:
        repeat_rules.append(Rule("stumble", "A stumble: repeat the level; progress only without stumbles.",
                                 "progression_expert"))
    trend = _weekly_pain_rise(sessions, now)
    if trend is not None:
        repeat_rules.append(Rule("pain_rising", f"Pain during is rising week to week ({trend}): do not progress.",
                                 "silbernagel2007"))
    if repeat_rules:
        return Advice("repeat", tuple(repeat_rules), rest_days=rest_days)

    # A session that called for a hold (a 1+ after a hold included) breaks the streak and starts the 48 hours.
    held = [is_hold_session(s, sessions[:index]) for index, s in enumerate(sessions)]
    streak = 0
    for session, hold in zip(reversed(sessions), reversed(held), strict=True):
        if session.at < dose_since or hold \
                or not within_pain_rules(session, ceiling=ceiling, no_stumbles=phase.no_stumbles):
            break
        streak += 1
    needed = phase.advance_after_sessions
    rules_text = f"within the pain rules at this dose (pain during at most {ceiling}/10, settled by next morning)"
    if streak < needed:
        text = f"{streak} of {needed} sessions {rules_text}."
    else:
        text = f"{streak} session{'s' if streak != 1 else ''} in a row {rules_text}; {needed} needed."
    within = Rule("within_rules", text, "silbernagel2007")
    if streak < needed:
        return Advice("repeat", (within,))
    if any(hold and now - s.at < HOLD_GAP for s, hold in zip(earlier, held[:-1], strict=True)):
        return Advice("repeat", (within, Rule("hold_gap", "A hold in the last 48 hours: no progression yet.",
                                              "progression_expert")))
    if last_advance_at is not None and now - last_advance_at < ONE_LEVEL_PER:
        return Advice("repeat", (within, Rule("one_level_a_week", "At most one level up a week: the last one was "
                                              f"{(now - last_advance_at).days} day(s) ago.", "progression_expert")))
    change = next_level(rx, phase_index=phase_index, phases=phases, speed_unit=speed_unit)
    if change is None:
        return Advice("repeat", (within, Rule("goals_reached", "Every goal of the last phase is reached: consider "
                                              "re-testing and discharge or a maintenance plan.", "progression_expert")))
    rules = [within, Rule("one_variable", "One variable at a time, in the order minutes, speed, incline.",
                          "progression_expert")]
    notes = ("Re-test the outcome measures before moving on.",) if change.to_phase is not None and phase.retest else ()
    return Advice("advance", tuple(rules), change, notes=notes)


def _weekly_pain_rise(sessions: Sequence[SessionReport], now: datetime) -> str | None:
    """Mean worst pain of the last 7 days against the 7 days before, when both weeks have sessions."""
    this_week = [s.pain_worst for s in sessions if now - s.at < timedelta(days=7)]
    last_week = [s.pain_worst for s in sessions if timedelta(days=7) <= now - s.at < timedelta(days=14)]
    if not this_week or not last_week:
        return None
    if mean(this_week) - mean(last_week) >= PAIN_TREND_RISE:
        return f"{number(round(mean(last_week), 1))} → {number(round(mean(this_week), 1))}/10"
    return None


def alerts_for(latest: SessionReport, previous: SessionReport | None, *, ceiling: int) -> list[tuple[str, str]]:
    """Dashboard alerts raised by a session: (kind, message)."""
    alerts: list[tuple[str, str]] = []
    if latest.red_flags:
        flags = ", ".join(RED_FLAGS.get(flag, flag) for flag in latest.red_flags)
        alerts.append(("red_flag", f"Red flag reported: {flags}."))
    if latest.falls:
        alerts.append(("fall", f"{latest.falls} fall{'s' if latest.falls > 1 else ''} reported."))
    if previous is not None and latest.pain_worst > ceiling and previous.pain_worst > ceiling:
        alerts.append(("pain_twice", f"Pain above the ceiling of {ceiling}/10 twice in a row "
                                     f"({previous.pain_worst} then {latest.pain_worst})."))
    return alerts
