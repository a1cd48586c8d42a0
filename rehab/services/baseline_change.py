"""Change since baseline for the outcome measures, labelled "important change" where the clinical reference
gives a threshold (section 4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rehab.services.protocol_content import number
from rehab.translation import N_


@dataclass(frozen=True)
class MeasureSpec:
    key: str
    label: str
    unit: str
    better: Literal["lower", "higher"]
    threshold: float | None  # absolute change that counts as important
    threshold_pct: float | None  # or a relative change (NPRS: 30 %)
    source: str


# Labels and thresholds in English; the printed report words them in its language (the catalogs).
MEASURES: tuple[MeasureSpec, ...] = (
    MeasureSpec("pain_before", N_("Pain at rest"), "/10", "lower", 2, 0.30, "farrar2001"),
    MeasureSpec("pain_worst", N_("Worst pain during backward walking"), "/10", "lower", 2, 0.30, "farrar2001"),
    MeasureSpec("backward_walk_3m_s", N_("3-metre backward walk"), "s", "lower", None, None, "carter2020"),
    MeasureSpec("tug_s", N_("Timed Up and Go"), "s", "lower", 1.1, None, "tug_mdc"),
    MeasureSpec("gait_speed_ms", N_("Gait speed (10-metre walk)"), "m/s", "higher", 0.07, None, "gait_speed_mcid"),
    MeasureSpec("six_minute_walk_m", N_("6-minute walk"), "m", "higher", 26, None, "six_minute_walk_tka"),
)
THRESHOLD_TEXT = {
    "pain_before": N_("2 points or 30 % (Farrar 2001)"),
    "pain_worst": N_("2 points or 30 % (Farrar 2001)"),
    "backward_walk_3m_s": N_("no published threshold for change"),
    "tug_s": N_("1.1 s, the minimal detectable change in knee OA"),
    "gait_speed_ms": N_("0.07 m/s, the low end of 0.07-0.12 m/s in knee OA"),
    "six_minute_walk_m": N_("26 m (after TKA, at 26 weeks)"),
}


@dataclass(frozen=True)
class MeasureChange:
    spec: MeasureSpec
    baseline: float
    baseline_at: datetime
    latest: float
    latest_at: datetime
    change: float  # latest - baseline
    improved: bool
    important: bool | None  # passes the threshold, better or worse; None where no threshold exists

    @property
    def text(self) -> str:
        sign = "+" if self.change > 0 else ""
        delta = number(round(self.change, 2))
        unit = self.spec.unit if self.spec.unit.startswith("/") else f" {self.spec.unit}"
        return f"{number(self.baseline)} → {number(self.latest)}{unit} ({sign}{delta})"

    @property
    def threshold_text(self) -> str:
        return THRESHOLD_TEXT[self.spec.key]


def is_important(change: float, baseline: float, points: float | None, share: float | None) -> bool | None:
    """Whether a change passes an important-change threshold, in points or as a share of the baseline.

    None where no threshold exists. The questionnaires use it too, so every score says the same."""
    if points is None:
        return None
    size = abs(change)
    return bool(size >= points - 1e-9 or (share is not None and baseline > 0 and size / baseline >= share - 1e-9))


def summarize_progress(rows: Sequence[tuple[datetime, dict[str, float | None]]]) -> list[MeasureChange]:
    """Baseline (first recorded) against latest for every measure recorded at least twice.

    ``rows`` are (time, {measure: value}) in time order, one per visit."""
    changes: list[MeasureChange] = []
    for spec in MEASURES:
        values = [(at, values[spec.key]) for at, values in rows if values.get(spec.key) is not None]
        if len(values) < 2:
            continue
        (first_at, first), (last_at, last) = values[0], values[-1]
        assert first is not None and last is not None
        change = last - first
        improved = change < 0 if spec.better == "lower" else change > 0
        important = is_important(change, first, spec.threshold, spec.threshold_pct)
        changes.append(MeasureChange(spec, first, first_at, last, last_at, change, improved, important))
    return changes
