"""The progression advice: advance, repeat, hold, regress, or stop and refer, with every rule that fired.

Pure functions over plain values (clinical reference, sections 2 and 3). The therapist decides; every piece
of advice carries the rules and sources that produced it and, where it changes the dose, the concrete next
dose. ``advise`` reads the rules in order (``rules.RULES``, most severe first: a red flag or a fall before
anything else); when several fire the safer advice wins and says which it was safer than. Only when none
fired does the streak decide on advancing, and then the first of ``rules.ADVANCE_GATES`` that objects holds
it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from rehab.services.advice.dose_steps import previous_level
from rehab.services.advice.rules import ADVANCE_GATES, NO_SESSIONS, ONE_VARIABLE, findings, within_rules
from rehab.services.advice.situation import Advancing, Situation, mornings_of
from rehab.services.advice.types import SEVERITY, Advice, AdviceKind, DoseChange, Finding, SessionReport
from rehab.services.protocol_content import Phase, Prescription


def advise(*, phases: Sequence[Phase], phase_index: int, prescription_index: int,
           sessions: Sequence[SessionReport], dose_since: datetime, last_advance_at: datetime | None,
           now: datetime, speed_unit: str = "kmh", cleared_until: datetime | None = None,
           surgery_date: date | None = None, last_raise: DoseChange | None = None) -> Advice:
    """The advice now. ``sessions`` (any order) are the recent visits and home logs with any older red flag,
    fall or unresolved swelling; ``dose_since`` is when the dose in force began, ``last_advance_at`` the last
    accepted level up, ``cleared_until`` the last "cleared to go on", ``last_raise`` the last accepted raise."""
    ordered = tuple(sorted(sessions, key=lambda s: s.at))
    if not ordered:  # nothing reported, so no red flag or fall either
        return Advice("repeat", (NO_SESSIONS,))
    phase = phases[phase_index]
    rx = phase.prescriptions[min(prescription_index, len(phase.prescriptions) - 1)]
    situation = Situation(ordered, mornings_of(ordered), phase, rx, dose_since, now, cleared_until, surgery_date)
    fired = findings(situation)
    if fired:
        return safest(fired, rx=rx, phase_index=phase_index, phases=phases, last_raise=last_raise,
                      speed_unit=speed_unit)
    return advance_unless_gated(Advancing(situation, phases, phase_index, last_advance_at, speed_unit))


def safest(fired: Sequence[Finding], *, rx: Prescription, phase_index: int, phases: Sequence[Phase],
           last_raise: DoseChange | None, speed_unit: str = "kmh") -> Advice:
    """The most severe finding wins and names the milder advice it set aside; every finding is shown, the
    winners first; the rest days are the most any rule gives (none with stop and refer: the stop is the rest)."""
    kind: AdviceKind = max((finding.kind for finding in fired), key=SEVERITY.__getitem__)
    ordered = sorted(fired, key=lambda finding: -SEVERITY[finding.kind])  # stable: the table's order within a kind
    set_aside = tuple(sorted({finding.kind for finding in fired} - {kind}, key=SEVERITY.__getitem__, reverse=True))
    rest_days = 0 if kind == "stop_refer" else max(finding.rest_days for finding in fired)
    change = None
    if kind == "regress":
        change = previous_level(rx, phase_index=phase_index, phases=phases, last_raise=last_raise,
                                speed_unit=speed_unit)
    return Advice(kind, tuple(finding.rule for finding in ordered), change, rest_days=rest_days,
                  set_aside=set_aside)


def advance_unless_gated(advancing: Advancing) -> Advice:
    """No rule objected: advance after the phase's number of sessions in a row within the pain rules at this
    dose, unless a gate holds it back (a recent hold, a level up this week, the last goal reached, the weeks
    after surgery)."""
    within = within_rules(advancing)
    if advancing.streak < advancing.needed:
        return Advice("repeat", (within,))
    for gate in ADVANCE_GATES:
        if (rule := gate(advancing)) is not None:
            return Advice("repeat", (within, rule))
    change = advancing.change
    assert change is not None  # goals_reached objects otherwise
    retest = change.to_phase is not None and advancing.situation.phase.retest
    notes = ("Re-test the outcome measures before moving on.",) if retest else ()
    return Advice("advance", (within, ONE_VARIABLE), change, notes=notes)
