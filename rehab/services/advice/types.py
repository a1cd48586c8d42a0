"""The advice engine's vocabulary: what a session reported, a rule that fired, a dose change, the advice.

Plain values only, so the rules (``rules``), the dose steps (``dose_steps``) and the engine (``engine``)
share one home for their words and none of them imports another's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from rehab.dates import day_text
from rehab.translation import N_

AdviceKind = Literal["advance", "repeat", "hold", "regress", "stop_refer"]
# The most severe kind wins when several rules fire.
SEVERITY: dict[str, int] = {"advance": 0, "repeat": 1, "hold": 2, "regress": 3, "stop_refer": 4}


@dataclass(frozen=True)
class SessionReport:
    """One backward-walking session, from a clinic visit or a home log.

    ``pain_next_morning`` means what each source asks: a home log's is the morning after that same session; a
    visit's is the morning after the session before the visit. ``recorded_at`` is when the entry was last
    written (a back-dated home log is recorded after the visits dated later than it); a clearance covers the
    sessions recorded before it."""

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
    recorded_at: datetime | None = None
    day: date | None = None  # the day as the patient or the clinic knows it (shown in rule texts)

    @property
    def entered(self) -> datetime:
        return self.recorded_at or self.at

    @property
    def stops(self) -> bool:
        """A red flag or a fall: stop and refer until a therapist clears it."""
        return bool(self.red_flags) or self.falls > 0

    @property
    def label(self) -> str:
        day = self.day or self.at.date()
        return f"{'home session' if self.source == 'home' else 'visit'} of {day_text(day)}"


@dataclass(frozen=True)
class Rule:
    code: str
    text: str
    source: str  # a key of references.toml


@dataclass(frozen=True)
class DoseChange:
    """The concrete next dose: one variable of one prescription, a move to another phase, or a review.

    ``entry`` is the dose a phase move starts the new phase's first exercise at (when the exercise changes,
    so that the move changes one thing); ``review`` marks "stop and review" at the lowest dose."""

    text: str
    field: str | None = None  # minutes | speed_kmh | incline_pct | support | sets | reps | segments | ...
    old: float | str | None = None
    new: float | str | None = None
    to_phase: int | None = None
    entry: dict[str, Any] | None = None
    review: bool = False


@dataclass(frozen=True)
class Finding:
    """One rule that fired and the advice it asks for."""

    kind: AdviceKind
    rule: Rule
    rest_days: int = 0


ADVICE_TITLES: dict[str, str] = {"advance": N_("Advance"), "repeat": N_("Repeat this level"), "hold": N_("Hold"),
                                 "regress": N_("Regress one level"), "stop_refer": N_("Stop and refer")}


@dataclass(frozen=True)
class Advice:
    kind: AdviceKind
    rules: tuple[Rule, ...]
    change: DoseChange | None = None
    rest_days: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    set_aside: tuple[AdviceKind, ...] = ()  # milder advice other rules asked for, most severe first

    @property
    def headline(self) -> str:
        title = ADVICE_TITLES[self.kind]
        return f"{title}: {self.change.text}" if self.change else title

    @property
    def why(self) -> str:
        """When the rules disagree, which advice won and why ("" when they agree)."""
        if not self.set_aside:
            return ""
        named = [f"“{ADVICE_TITLES[kind].lower()}”" for kind in self.set_aside]
        milder = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
        return (f"Other rules below ask for {milder}; when rules disagree the safer advice wins: "
                f"“{ADVICE_TITLES[self.kind].lower()}”.")

