"""What the advice's rules read: the recent sessions in time order, each with its next-morning pain against its
baseline, the swelling hold, the red flags and falls not cleared, and for advancing the streak at this dose.

Plain values over ``SessionReport``; ``rules`` judges them, ``engine`` runs the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property

from rehab.services.advice.dose_steps import next_level
from rehab.services.advice.types import DoseChange, SessionReport
from rehab.services.protocol_content import Phase, Prescription
from rehab.vocabulary import EFFUSION_GRADES, effusion_at_least


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


def within_pain_rules(session: SessionReport, *, ceiling: int, no_stumbles: bool,
                      morning: Morning | None = None) -> bool:
    """A session to build on: pain during below the ceiling (or none), settled by next morning, no soreness,
    swelling at most 1+, no red flag, no fall, and (where the phase asks) no stumble."""
    below = session.pain_worst < ceiling or session.pain_worst == 0
    settled = morning is None or morning.settled is not False
    return (below and settled and session.soreness == "none" and not effusion_at_least(session.effusion, "2+")
            and not session.stops and not (no_stumbles and session.stumbles > 0))


@dataclass(frozen=True)
class Advancing:
    """What the advance gates read besides the situation: the streak at this dose and the next level up."""

    situation: Situation
    phases: Sequence[Phase]
    phase_index: int
    last_advance_at: datetime | None  # the last accepted level up
    speed_unit: str = "kmh"

    @cached_property
    def held(self) -> list[bool]:
        return held_flags(self.situation.sessions)

    @cached_property
    def streak(self) -> int:
        """Sessions in a row up to the latest, at this dose, outside a hold and within the pain rules."""
        s = self.situation
        count = 0
        for session, hold, morning in zip(reversed(s.sessions), reversed(self.held), reversed(s.mornings), strict=True):
            if session.at < s.dose_since or hold or not within_pain_rules(
                    session, ceiling=s.ceiling, no_stumbles=s.phase.no_stumbles, morning=morning):
                break
            count += 1
        return count

    @property
    def needed(self) -> int:
        return self.situation.phase.advance_after_sessions

    @cached_property
    def change(self) -> DoseChange | None:
        """The next level up, or None when every goal of the last phase is reached."""
        return next_level(self.situation.rx, phase_index=self.phase_index, phases=self.phases,
                          speed_unit=self.speed_unit)
