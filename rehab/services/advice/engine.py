"""The progression advice: advance, repeat, hold, regress, or stop and refer, with every rule that fired.

Pure functions over plain values (clinical reference, sections 2 and 3). The therapist decides; every piece
of advice carries the rules and sources that produced it and, where it changes the dose, the concrete next
dose. Every rule of ``rules.RULES`` runs on all recent sessions; the most severe finding decides and
the rest days are the most any rule gives. Only when no rule objects does the streak decide on advancing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from rehab.services.advice.dose_steps import (
    INCLINE_STEP_PCT,
    MINUTES_STEP,
    SPEED_STEP_KMH,
    next_level,
    previous_level,
)
from rehab.services.advice.rules import (
    Morning,
    Situation,
    findings,
    held_flags,
    mornings_of,
    open_hold,
    uncleared,
    within_pain_rules,
)
from rehab.services.advice.types import (
    EFFUSION_GRADES,
    RED_FLAGS,
    SEVERITY,
    SORENESS,
    Advice,
    AdviceKind,
    DoseChange,
    Finding,
    Rule,
    SessionReport,
    effusion_at_least,
)
from rehab.services.protocol_content import Phase

__all__ = ["EFFUSION_GRADES", "INCLINE_STEP_PCT", "MINUTES_STEP", "RED_FLAGS", "SORENESS", "SPEED_STEP_KMH",
           "Advice", "AdviceKind", "DoseChange", "Morning", "Rule", "SessionReport", "advise", "alerts_for",
           "effusion_at_least", "next_level", "open_hold", "previous_level", "surgery_gate", "uncleared",
           "within_pain_rules"]

HOLD_GAP = timedelta(hours=48)
ONE_LEVEL_PER = timedelta(days=7)


def surgery_gate(phase: Phase, *, number: int, surgery_date: date | None, today: date) -> Rule | None:
    """A phase that starts a number of weeks after surgery is not entered earlier (or with no surgery date)."""
    if phase.from_week is None:
        return None
    if surgery_date is None:
        return Rule("surgery_date_missing", f"Phase {number} ({phase.name}) starts at week {phase.from_week} after "
                    "surgery and no surgery date is recorded: record it on the patient before moving on.",
                    "progression_expert")
    week = (today - surgery_date).days // 7
    if week >= phase.from_week:
        return None
    return Rule("surgery_weeks", f"Phase {number} ({phase.name}) starts at week {phase.from_week} after surgery; "
                f"the patient is in week {week} (surgery {surgery_date.isoformat()}): not yet.", "progression_expert")


def advise(*, phases: Sequence[Phase], phase_index: int, prescription_index: int,
           sessions: Sequence[SessionReport], dose_since: datetime, last_advance_at: datetime | None,
           now: datetime, speed_unit: str = "kmh", cleared_until: datetime | None = None,
           surgery_date: date | None = None, last_raise: DoseChange | None = None) -> Advice:
    """The advice now. ``sessions`` (any order) are the recent visits and home logs with any older red flag,
    fall or unresolved swelling; ``dose_since`` is when the dose in force began, ``last_advance_at`` the last
    accepted level up, ``cleared_until`` the last "cleared to go on", ``last_raise`` the last accepted raise."""
    phase = phases[phase_index]
    rx = phase.prescriptions[min(prescription_index, len(phase.prescriptions) - 1)]
    ordered = tuple(sorted(sessions, key=lambda s: s.at))
    if not ordered:
        return Advice("repeat", (Rule("no_sessions", "No session recorded yet at this dose.", "silbernagel2007"),))
    situation = Situation(ordered, mornings_of(ordered), phase, rx, dose_since, now, cleared_until, surgery_date)
    fired = findings(situation)
    if fired:
        return _decided(fired, rx=rx, phase_index=phase_index, phases=phases, last_raise=last_raise,
                        speed_unit=speed_unit)
    return _progress(situation, phases=phases, phase_index=phase_index, last_advance_at=last_advance_at,
                     speed_unit=speed_unit)


def _decided(fired: list[Finding], *, rx, phase_index: int, phases: Sequence[Phase],  # type: ignore[no-untyped-def]
             last_raise: DoseChange | None, speed_unit: str) -> Advice:
    """The most severe finding wins; every finding is shown, the winners first; rest days are the most given."""
    kind: AdviceKind = max((finding.kind for finding in fired), key=SEVERITY.__getitem__)
    ordered = sorted(fired, key=lambda finding: -SEVERITY[finding.kind])  # stable: the table's order within a kind
    rest_days = 0 if kind == "stop_refer" else max(finding.rest_days for finding in fired)
    change = None
    if kind == "regress":
        change = previous_level(rx, phase_index=phase_index, phases=phases, last_raise=last_raise,
                                speed_unit=speed_unit)
    return Advice(kind, tuple(finding.rule for finding in ordered), change, rest_days=rest_days)


def _progress(situation: Situation, *, phases: Sequence[Phase], phase_index: int, last_advance_at: datetime | None,
              speed_unit: str) -> Advice:
    """No rule objects: advance after the phase's number of sessions in a row within the pain rules at this
    dose, not within 48 hours of a hold, at most one level a week, and not into a phase too early after surgery."""
    sessions, phase, now = situation.sessions, situation.phase, situation.now
    held = held_flags(sessions)
    streak = 0
    for session, hold, morning in zip(reversed(sessions), reversed(held), reversed(situation.mornings), strict=True):
        if session.at < situation.dose_since or hold or not within_pain_rules(
                session, ceiling=situation.ceiling, no_stumbles=phase.no_stumbles, morning=morning):
            break
        streak += 1
    needed = phase.advance_after_sessions
    rules_text = (f"within the pain rules at this dose (pain during below {situation.ceiling}/10, settled by next "
                  "morning)")
    if streak < needed:
        text = f"{streak} of {needed} sessions {rules_text}."
    else:
        text = f"{streak} session{'s' if streak != 1 else ''} in a row {rules_text}; {needed} needed."
    within = Rule("within_rules", text, "silbernagel2007")
    if streak < needed:
        return Advice("repeat", (within,))
    last_hold = max((s.at for s, hold in zip(sessions, held, strict=True) if hold), default=None)
    if last_hold is not None and now - last_hold < HOLD_GAP:
        return Advice("repeat", (within, Rule("hold_gap", "A hold in the last 48 hours: no progression yet.",
                                              "progression_expert")))
    if last_advance_at is not None and now - last_advance_at < ONE_LEVEL_PER:
        return Advice("repeat", (within, Rule("one_level_a_week", "At most one level up a week: the last one was "
                                              f"{(now - last_advance_at).days} day(s) ago.", "progression_expert")))
    change = next_level(situation.rx, phase_index=phase_index, phases=phases, speed_unit=speed_unit)
    if change is None:
        return Advice("repeat", (within, Rule("goals_reached", "Every goal of the last phase is reached: consider "
                                              "re-testing and discharge or a maintenance plan.", "progression_expert")))
    if change.to_phase is not None:
        gate = surgery_gate(phases[change.to_phase], number=change.to_phase + 1,
                            surgery_date=situation.surgery_date, today=now.date())
        if gate is not None:
            return Advice("repeat", (within, gate))
    rules = [within, Rule("one_variable", "One variable at a time, in the order minutes, speed, incline; a phase "
                          "move changes one thing.", "progression_expert")]
    notes = ("Re-test the outcome measures before moving on.",) if change.to_phase is not None and phase.retest else ()
    return Advice("advance", tuple(rules), change, notes=notes)


def alerts_for(latest: SessionReport, previous: SessionReport | None, *, ceiling: int) -> list[tuple[str, str]]:
    """Dashboard alerts raised by a session: (kind, message). A home session above the ceiling alerts at once
    (nobody from the clinic saw it); at a visit the therapist was there, so only twice in a row alerts."""
    alerts: list[tuple[str, str]] = []
    if latest.red_flags:
        flags = ", ".join(RED_FLAGS.get(flag, flag) for flag in latest.red_flags)
        alerts.append(("red_flag", f"Red flag reported: {flags}."))
    if latest.falls:
        alerts.append(("fall", f"{latest.falls} fall{'s' if latest.falls > 1 else ''} reported."))
    twice = previous is not None and latest.pain_worst > ceiling and previous.pain_worst > ceiling
    if twice:
        alerts.append(("pain_twice", f"Pain above the ceiling of {ceiling}/10 twice in a row "
                                     f"({previous.pain_worst} then {latest.pain_worst})."))  # type: ignore[union-attr]
    elif latest.source == "home" and latest.pain_worst > ceiling:
        alerts.append(("pain_high", f"Pain {latest.pain_worst}/10 at home, above the ceiling of {ceiling}/10."))
    return alerts
