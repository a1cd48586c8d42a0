"""A phase's home dose as a timed plan for the guided session: warm-up, backward parts, forward walking or rest
between them as prescribed, cool-down when the dose has one, in whole seconds.

Pure: the portal's player page embeds the plan as JSON and runs it in the browser with no further request.
A dose counted in steps (sets of steps) has no clock and gets no plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rehab.services.protocol_content import Prescription
from rehab.vocabulary import Between

SegmentKind = Literal["warmup", "backward", "forward", "rest", "cooldown"]
# Between sets of a timed dose with no pattern: a minute's rest, as the band exercise's steps say (expert opinion).
REST_BETWEEN_SETS_SECONDS = 60


@dataclass(frozen=True)
class Segment:
    kind: SegmentKind
    seconds: int
    exercise: str  # the catalogue key of the prescription it belongs to


@dataclass(frozen=True)
class SessionPlan:
    segments: tuple[Segment, ...]

    @property
    def total_seconds(self) -> int:
        return sum(segment.seconds for segment in self.segments)

    @property
    def backward_seconds(self) -> int:
        return sum(segment.seconds for segment in self.segments if segment.kind == "backward")


def seconds(minutes: float) -> int:
    return round(minutes * 60)


def _merged(segments: list[Segment]) -> list[Segment]:
    """Two parts of one kind in a row are one part (the walk goes on forward after the last backward part)."""
    merged: list[Segment] = []
    for segment in segments:
        if segment.seconds <= 0:
            continue
        if merged and merged[-1].kind == segment.kind and merged[-1].exercise == segment.exercise:
            merged[-1] = Segment(segment.kind, merged[-1].seconds + segment.seconds, segment.exercise)
        else:
            merged.append(segment)
    return merged


def _intervals(*, exercise: str, walk: int, backward_total: int, backward_each: int, block: int,
               between: SegmentKind) -> list[Segment]:
    """Blocks of ``block`` seconds along the walk, each starting with up to ``backward_each`` seconds backward
    until ``backward_total`` is done; the rest of each block, and of the walk, is ``between``."""
    segments: list[Segment] = []
    elapsed, left = 0, backward_total
    while elapsed < walk:
        block_end = min(elapsed + block, walk)
        back = min(backward_each, left, block_end - elapsed)
        segments.append(Segment("backward", back, exercise))
        left -= back
        elapsed += back
        segments.append(Segment(between, block_end - elapsed, exercise))
        elapsed = block_end
    return segments


def prescription_plan(rx: Prescription) -> list[Segment] | None:
    """One prescription's timed parts, or None when its dose is counted in steps."""
    if rx.sets and rx.reps:
        return None
    key = rx.exercise
    parts: list[Segment] = []
    if rx.warmup_minutes:
        parts.append(Segment("warmup", seconds(rx.warmup_minutes), key))
    between: SegmentKind = "rest" if rx.interval_between == Between.REST else "forward"
    walk = rx.pattern_walk_minutes()
    if rx.has_pattern and walk is not None:
        assert rx.interval_backward_minutes is not None and rx.interval_every_minutes is not None
        parts += _intervals(exercise=key, walk=seconds(walk), backward_total=seconds(rx.minutes),
                            backward_each=seconds(rx.interval_backward_minutes),
                            block=seconds(rx.interval_every_minutes), between=between)
    elif rx.segments and rx.walk_minutes:
        # "During a 10-minute walk, walk backward 5 times": the parts spread evenly along the walk.
        parts += _intervals(exercise=key, walk=seconds(rx.walk_minutes), backward_total=seconds(rx.minutes),
                            backward_each=seconds(rx.minutes / rx.segments),
                            block=seconds(rx.walk_minutes / rx.segments), between="forward")
    elif rx.sets and rx.sets > 1:
        each = seconds(rx.minutes / rx.sets)
        for number in range(rx.sets):
            if number:
                parts.append(Segment("rest", REST_BETWEEN_SETS_SECONDS, key))
            parts.append(Segment("backward", each, key))
    else:
        parts.append(Segment("backward", seconds(rx.minutes), key))
    if rx.cooldown_minutes:
        parts.append(Segment("cooldown", seconds(rx.cooldown_minutes), key))
    return _merged(parts)


def session_plan(prescriptions: Sequence[Prescription]) -> SessionPlan:
    """Today's session: each timed prescription's parts one after the other (those counted in steps left out)."""
    segments: list[Segment] = []
    for rx in prescriptions:
        segments += prescription_plan(rx) or []
    return SessionPlan(tuple(_merged(segments)))


def minutes_done(backward_seconds: int) -> float:
    """The backward minutes a session did, to the half minute the log form takes (at least 0.5 once started)."""
    if backward_seconds <= 0:
        return 0.0
    return max(0.5, round(backward_seconds / 30) / 2)
