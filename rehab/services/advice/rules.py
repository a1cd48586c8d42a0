"""The safety and tolerance rules of the advice, one small function each, in a table ordered by severity.

Every rule reads the whole ``Situation`` (all recent sessions, from visits and home logs, in time order) and
returns a ``Finding`` or None. The engine (``engine.advise``) runs every rule; the most severe finding
decides the advice and every finding is shown. Sources: clinical reference, sections 2 and 3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import mean

from rehab.services.advice.types import EFFUSION_GRADES, RED_FLAGS, Finding, Rule, SessionReport, effusion_at_least
from rehab.services.protocol_content import Phase, Prescription, number

PAIN_TREND_RISE = 1.0  # mean worst pain this week at least this much above last week's


@dataclass(frozen=True)
class Morning:
    """The next-morning pain reported for a session, against that session's baseline (rest pain)."""

    pain: int
    baseline: int | None

    @property
    def settled(self) -> bool | None:
        return None if self.baseline is None else self.pain <= self.baseline


@dataclass(frozen=True)
class Situation:
    sessions: tuple[SessionReport, ...]  # time order
    mornings: tuple[Morning | None, ...]  # one per session
    phase: Phase
    rx: Prescription
    dose_since: datetime
    now: datetime
    cleared_until: datetime | None  # the last "cleared to go on": covers sessions recorded before it
    surgery_date: date | None = None

    @property
    def latest(self) -> SessionReport:
        return self.sessions[-1]

    @property
    def ceiling(self) -> int:
        return self.rx.pain_ceiling


def mornings_of(sessions: Sequence[SessionReport]) -> tuple[Morning | None, ...]:
    """Attach each next-morning pain to the session it is about: a home log's to itself, a visit's to the
    session before the visit. The baseline is that session's pain before, or else the latest clinic pain
    before at or before it. When both report for one session, the worse counts."""
    reported: list[int | None] = [None] * len(sessions)
    for index, session in enumerate(sessions):
        if session.pain_next_morning is None:
            continue
        about = index if session.source == "home" else index - 1
        if about >= 0:
            reported[about] = max(reported[about] or 0, session.pain_next_morning)
    mornings: list[Morning | None] = []
    baseline: int | None = None
    for session, pain in zip(sessions, reported, strict=True):
        own = session.pain_before
        if own is not None and session.source == "visit":
            baseline = own
        mornings.append(None if pain is None else Morning(pain, own if own is not None else baseline))
    return tuple(mornings)


def uncleared_sessions(sessions: Sequence[SessionReport], cleared_until: datetime | None) -> list[SessionReport]:
    """Sessions with a red flag or a fall recorded after the last "cleared to go on", in any date order (a
    back-dated home log recorded after the clearing is not covered by it)."""
    return [s for s in sessions if s.stops and (cleared_until is None or s.entered > cleared_until)]


def uncleared(situation: Situation) -> list[SessionReport]:
    return uncleared_sessions(situation.sessions, situation.cleared_until)


def open_hold(sessions: Sequence[SessionReport]) -> tuple[int, int] | None:
    """(index of the 2+ visit that started the hold, index of the latest graded visit) while a hold stands:
    from an effusion of 2+ or more until a clinic visit grades trace or none. Home logs grade nothing."""
    start = None
    latest_graded = None
    for index, session in enumerate(sessions):
        if session.effusion not in EFFUSION_GRADES:
            continue
        latest_graded = index
        if effusion_at_least(session.effusion, "2+"):
            start = index if start is None else start
        elif not effusion_at_least(session.effusion, "1+"):
            start = None  # trace or none: the hold is lifted
    return (start, latest_graded) if start is not None and latest_graded is not None else None


def held_flags(sessions: Sequence[SessionReport]) -> list[bool]:
    """Which sessions fell inside a hold (they neither count toward advancing nor end the 48 hours)."""
    return [open_hold(sessions[: index + 1]) is not None for index in range(len(sessions))]


# ----------------------------------------------------------------------------------------------- the rules


def red_flag(situation: Situation) -> Finding | None:
    flagged = [s for s in uncleared(situation) if s.red_flags]
    if not flagged:
        return None
    what = "; ".join(f"{', '.join(RED_FLAGS.get(flag, flag) for flag in s.red_flags)} ({s.label})" for s in flagged)
    return Finding("stop_refer", Rule("red_flag", f"Red flag reported, not yet cleared: {what}. Stop backward "
                                      "walking and contact the physician; a therapist clears it with what was "
                                      "done.", "red_flags"))


def fall(situation: Situation) -> Finding | None:
    fallen = [s for s in uncleared(situation) if s.falls]
    if not fallen:
        return None
    count = sum(s.falls for s in fallen)
    where = ", ".join(s.label for s in fallen)
    return Finding("stop_refer", Rule("fall", f"{count} fall{'s' if count > 1 else ''} reported, not yet cleared "
                                      f"({where}): stop and assess before any more backward walking.",
                                      "red_flags"))


def effusion_persists(situation: Situation) -> Finding | None:
    graded = [s for s in situation.sessions if s.effusion in EFFUSION_GRADES]
    if len(graded) >= 2 and all(effusion_at_least(s.effusion, "2+") for s in graded[-2:]):
        return Finding("stop_refer", Rule("effusion_persists", f"Effusion {graded[-1].effusion} at two visits in a "
                                          "row: the swelling persists, refer.", "sturgill2009"))
    return None


def soreness_stayed(situation: Situation) -> Finding | None:
    if situation.latest.soreness != "warmup_stayed":
        return None
    return Finding("regress", Rule("soreness_stayed", "Sore during warm-up and it stayed: stop, 2 days off, drop "
                                   "one level.", "soreness_rules"), rest_days=2)


def pain_above_ceiling(situation: Situation) -> Finding | None:
    latest = situation.latest
    if latest.pain_worst <= situation.ceiling:
        return None
    return Finding("regress", Rule("pain_above_ceiling", f"Pain during {latest.pain_worst}/10 is above the ceiling "
                                   f"of {situation.ceiling}/10: drop one level.", "silbernagel2007"))


def effusion_hold(situation: Situation) -> Finding | None:
    hold = open_hold(situation.sessions)
    if hold is None:
        return None
    start, latest = (situation.sessions[i] for i in hold)
    unchecked = sum(1 for s in situation.sessions if s.at > latest.at)
    since = f" {unchecked} session{'s' if unchecked != 1 else ''} since, not re-checked." if unchecked else ""
    if latest is start or effusion_at_least(latest.effusion, "2+"):
        return Finding("hold", Rule("effusion", f"Effusion {latest.effusion} ({latest.label}): hold the level and "
                                    f"treat the swelling until a clinic visit grades it trace or none.{since}",
                                    "sturgill2009"))
    return Finding("hold", Rule("effusion_after_hold", f"Effusion {latest.effusion} after a hold ({start.label} was "
                                f"{start.effusion}): hold the level again until it is trace or none.{since}",
                                "sturgill2009"))


def soreness_late(situation: Situation) -> Finding | None:
    if situation.latest.soreness != "late":
        return None
    return Finding("repeat", Rule("soreness_late", "Sore more than an hour after or the next day: 1 day off, repeat "
                                  "the same level.", "soreness_rules"), rest_days=1)


def not_settled(situation: Situation) -> Finding | None:
    """The latest session at this dose whose next morning is known decides."""
    for session, morning in reversed(list(zip(situation.sessions, situation.mornings, strict=True))):
        if session.at < situation.dose_since:
            return None
        if morning is not None and morning.settled is not None:
            if morning.settled:
                return None
            return Finding("repeat", Rule("not_settled", f"Pain the morning after the {session.label} was "
                                          f"{morning.pain}/10, above its baseline of {morning.baseline}/10: repeat "
                                          "the same level.", "silbernagel2007"))
    return None


def soreness_gone(situation: Situation) -> Finding | None:
    if situation.latest.soreness != "warmup_gone":
        return None
    return Finding("repeat", Rule("soreness_gone", "Sore during warm-up that went away: repeat the same level.",
                                  "soreness_rules"))


def at_ceiling(situation: Situation) -> Finding | None:
    """Expert opinion: the ceiling is the most that is acceptable, so a session at it is repeated, not built on."""
    latest = situation.latest
    if latest.pain_worst != situation.ceiling or latest.pain_worst == 0:
        return None
    return Finding("repeat", Rule("at_ceiling", f"Pain during {latest.pain_worst}/10 is at the ceiling: acceptable "
                                  "to repeat, not to advance from.", "progression_expert"))


def stumble(situation: Situation) -> Finding | None:
    if not (situation.phase.no_stumbles and situation.latest.stumbles):
        return None
    return Finding("repeat", Rule("stumble", "A stumble: repeat the level; progress only without stumbles.",
                                  "progression_expert"))


def pain_rising(situation: Situation) -> Finding | None:
    """Mean worst pain of the last 7 days against the 7 days before, when both weeks have sessions."""
    now = situation.now
    this_week = [s.pain_worst for s in situation.sessions if now - s.at < timedelta(days=7)]
    last_week = [s.pain_worst for s in situation.sessions if timedelta(days=7) <= now - s.at < timedelta(days=14)]
    if not this_week or not last_week or mean(this_week) - mean(last_week) < PAIN_TREND_RISE:
        return None
    trend = f"{number(round(mean(last_week), 1))} → {number(round(mean(this_week), 1))}/10"
    return Finding("repeat", Rule("pain_rising", f"Pain during is rising week to week ({trend}): do not progress.",
                                  "silbernagel2007"))


# The table, most severe first. Each rule is independent; the engine keeps every finding.
RULES: tuple[Callable[[Situation], Finding | None], ...] = (
    red_flag, fall, effusion_persists,  # stop and refer
    soreness_stayed, pain_above_ceiling,  # regress
    effusion_hold,  # hold
    soreness_late, not_settled, soreness_gone, at_ceiling, stumble, pain_rising,  # repeat
)


def findings(situation: Situation) -> list[Finding]:
    return [finding for rule in RULES if (finding := rule(situation)) is not None]


def within_pain_rules(session: SessionReport, *, ceiling: int, no_stumbles: bool,
                      morning: Morning | None = None) -> bool:
    """A session to build on: pain during below the ceiling (or none), settled by next morning, no soreness,
    swelling at most 1+, no red flag, no fall, and (where the phase asks) no stumble."""
    below = session.pain_worst < ceiling or session.pain_worst == 0
    settled = morning is None or morning.settled is not False
    return (below and settled and session.soreness == "none" and not effusion_at_least(session.effusion, "2+")
            and not session.stops and not (no_stumbles and session.stumbles > 0))
