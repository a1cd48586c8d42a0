"""A clinic's own results at 6 weeks, per protocol template, beside the published trials.

Plain functions over plain rows so the figures can be checked by hand. Every protocol that reached 6 weeks
counts, whatever its patient's state (archived, discharged): a protocol without a baseline or a 6-week
value is counted as missing, never dropped. The 95 % confidence interval of the mean change is Student's t
interval (scipy.stats.t, n - 1 degrees of freedom).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from scipy import stats

from rehab.services.baseline_change import MEASURES, is_important
from rehab.services.questionnaires import instruments

# The measure is looked for in these windows from the protocol's start (expert opinion: a visit or a
# questionnaire every two weeks falls in each; Alghadir 2019 measured at the end of week 6).
BASELINE_DAYS = (0, 14)
SIX_WEEK_DAYS = (35, 49)
SIX_WEEKS = timedelta(days=42)
SMALL_NUMBER = 10  # below this many patients, the page warns that the figures can swing widely


@dataclass(frozen=True)
class OutcomeMeasure:
    key: str
    label: str
    better: Literal["lower", "higher"]
    points: float | None
    share: float | None
    threshold_text: str
    unit: str  # what a change is counted in, for the chart's axis


def _measures() -> tuple[OutcomeMeasure, ...]:
    visit = {spec.key: spec for spec in MEASURES}
    rows = [OutcomeMeasure("pain_before", "Pain at rest before the session (0-10)", "lower", 2, 0.30,
                           "2 points or 30 % (Farrar 2001)", "points")]
    for key in ("lefs", "nprs"):
        instrument = instruments()[key]
        rows.append(OutcomeMeasure(key, instrument.text().name, instrument.better, instrument.important_change,
                                   instrument.important_change_pct, instrument.threshold_text, "points"))
    for key, label, text in (("tug_s", "Timed Up and Go (s)", "1.1 s (minimal detectable change in knee OA)"),
                             ("backward_walk_3m_s", "3-metre backward walk (s)", "no published threshold"),
                             ("six_minute_walk_m", "6-minute walk (m)", "26 m (after TKA, at 26 weeks)")):
        spec = visit[key]
        rows.append(OutcomeMeasure(key, label, spec.better, spec.threshold, spec.threshold_pct, text, spec.unit))
    return tuple(rows)


OUTCOME_MEASURES = _measures()
MEASURE_BY_KEY = {measure.key: measure for measure in OUTCOME_MEASURES}
# The trials' figures, shown beside the clinic's pain at 6 weeks (clinical/REFERENCE.md section 1).
TRIAL_COMPARISON = (
    ("Alghadir 2019, backward walking (knee OA, 6 weeks)", "-1.8 points"),
    ("Alghadir 2019, usual care", "-1.0 points"),
    ("Lin 2025, 13 trials in knee OA, pooled", "Hedges' g -1.00 (a standardised effect, not points)"),
)


@dataclass(frozen=True)
class Episode:
    """One protocol: its template, who started it, the patient's condition, when, and how it ended."""

    protocol_id: int
    template: str
    therapist: str
    condition: str
    started_at: datetime
    status: str
    discharge_reason: str
    archived: bool


@dataclass(frozen=True)
class Observation:
    protocol_id: int
    measure: str
    at: datetime
    value: float


@dataclass(frozen=True)
class EpisodeChange:
    episode: Episode
    measure: str
    baseline: float | None
    six_weeks: float | None

    @property
    def change(self) -> float | None:
        return None if self.baseline is None or self.six_weeks is None else self.six_weeks - self.baseline


@dataclass(frozen=True)
class MeasureResult:
    measure: OutcomeMeasure
    reached: int  # protocols that reached 6 weeks
    changes: tuple[float, ...]  # one per protocol with both values
    important: int | None  # how many improved by the important change; None without a threshold
    rows: tuple[EpisodeChange, ...] = field(repr=False)

    @property
    def missing(self) -> int:
        return self.reached - len(self.changes)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.changes) if self.changes else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """Student's t 95 % interval of the mean change; None below 2 patients (no spread to estimate)."""
        if len(self.changes) < 2:
            return None
        spread = statistics.stdev(self.changes)
        if spread == 0:
            return (self.mean, self.mean)  # type: ignore[return-value]  # two or more changes have a mean
        low, high = stats.t.interval(0.95, len(self.changes) - 1, loc=self.mean,
                                     scale=spread / len(self.changes) ** 0.5)
        return float(low), float(high)

    @property
    def important_share(self) -> float | None:
        return None if self.important is None or not self.changes else self.important / len(self.changes)


@dataclass(frozen=True)
class TemplateResult:
    template: str
    reached: int
    discharged: dict[str, int]
    archived: int
    measures: tuple[MeasureResult, ...]

    @property
    def small(self) -> bool:
        return self.reached < SMALL_NUMBER


def _closest(values: Sequence[Observation], start: datetime, window: tuple[int, int], target: float) -> float | None:
    """The value recorded inside the window (days from the start) closest to the target day; ties: the first."""
    best: tuple[float, datetime, float] | None = None
    for item in values:
        day = (item.at - start).total_seconds() / 86400
        if window[0] <= day <= window[1]:
            candidate = (abs(day - target), item.at, item.value)
            if best is None or candidate[:2] < best[:2]:
                best = candidate
    return None if best is None else best[2]


def episode_changes(episode: Episode, observations: Iterable[Observation], measure: str) -> EpisodeChange:
    """One protocol's baseline and 6-week values of one measure, from observations of any measures."""
    own = [item for item in observations if item.measure == measure]
    return EpisodeChange(episode, measure,
                         _closest(own, episode.started_at, BASELINE_DAYS, BASELINE_DAYS[0]),
                         _closest(own, episode.started_at, SIX_WEEK_DAYS, SIX_WEEKS.days))


def summarize(episodes: Sequence[Episode], observations: Sequence[Observation], *, now: datetime
              ) -> list[TemplateResult]:
    """Per template (in name order), every measure's figures for the protocols that reached 6 weeks."""
    reached = [episode for episode in episodes if now - episode.started_at >= SIX_WEEKS]
    by_protocol: dict[tuple[int, str], list[Observation]] = {}  # each protocol's values of each measure
    for item in observations:
        by_protocol.setdefault((item.protocol_id, item.measure), []).append(item)
    results = []
    for template in sorted({episode.template for episode in reached}):
        own = [episode for episode in reached if episode.template == template]
        measures = []
        for measure in OUTCOME_MEASURES:
            rows = tuple(episode_changes(episode, by_protocol.get((episode.protocol_id, measure.key), ()),
                                         measure.key) for episode in own)
            changes = tuple(row.change for row in rows if row.change is not None)
            important: int | None = None
            if measure.points is not None:
                important = len([
                    row for row in rows if row.change is not None and row.baseline is not None  # a change has both
                    and is_important(row.change, row.baseline, measure.points, measure.share)
                    and (row.change < 0 if measure.better == "lower" else row.change > 0)])
            measures.append(MeasureResult(measure, len(own), changes, important, rows))
        discharged: dict[str, int] = {}
        for episode in own:
            if episode.discharge_reason:
                discharged[episode.discharge_reason] = discharged.get(episode.discharge_reason, 0) + 1
        results.append(TemplateResult(template, len(own), discharged, sum(episode.archived for episode in own),
                                      tuple(measures)))
    return results
