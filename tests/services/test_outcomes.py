"""A clinic's figures at 6 weeks, computed by hand here from a small seeded set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rehab.services.outcomes import Episode, Observation, summarize

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
START = NOW - timedelta(days=50)


def episode(protocol_id: int, *, days_ago: int = 50, archived: bool = False, discharge: str = "",
            template: str = "knee_oa") -> Episode:
    return Episode(protocol_id, template, "Pat", "knee_oa", NOW - timedelta(days=days_ago),
                   "ended" if discharge else "active", discharge, archived)


def pain(protocol_id: int, day: float, value: float, *, days_ago: int = 50) -> Observation:
    return Observation(protocol_id, "pain_before", NOW - timedelta(days=days_ago) + timedelta(days=day), value)


@pytest.fixture
def result():  # type: ignore[no-untyped-def]
    episodes = [episode(1), episode(2, archived=True), episode(3, discharge="goals_met"), episode(4),
                episode(5, days_ago=20)]
    observations = [
        pain(1, 0, 6), pain(1, 42, 4), pain(1, 30, 1),        # 6 -> 4 (day 30 is outside the 6-week window)
        pain(2, 1, 5), pain(2, 40, 5), pain(2, 43, 4),        # 5 -> 4 (day 43 is closer to 42 than day 40)
        pain(3, 0, 7), pain(3, 48, 3),                        # 7 -> 3
        pain(4, 0, 6),                                        # no 6-week value: missing, not dropped
        pain(5, 0, 8, days_ago=20),                           # 20 days in: has not reached 6 weeks
    ]
    [knee] = summarize(episodes, observations, now=NOW)
    return knee


def test_reached_missing_and_who_counts(result) -> None:  # type: ignore[no-untyped-def]
    assert result.reached == 4  # protocols 1-4; the archived patient and the discharged one count
    assert result.archived == 1 and result.discharged == {"goals_met": 1}
    assert result.small  # fewer than 10
    pain_result = result.measures[0]
    assert pain_result.measure.key == "pain_before"
    assert sorted(pain_result.changes) == [-4, -2, -1] and pain_result.missing == 1


def test_mean_interval_and_share_by_hand(result) -> None:  # type: ignore[no-untyped-def]
    pain_result = result.measures[0]
    # Mean (-2 - 1 - 4) / 3; sample SD sqrt(((1/3)² + (4/3)² + (5/3)²) / 2) = sqrt(7/3); t(0.975, 2) = 4.3027
    # from the t table; half-width 4.3027 * sqrt(7/3) / sqrt(3).
    mean = -7 / 3
    half = 4.302653 * (7 / 3) ** 0.5 / 3 ** 0.5
    assert pain_result.mean == pytest.approx(mean)
    low, high = pain_result.interval
    assert low == pytest.approx(mean - half, abs=1e-4) and high == pytest.approx(mean + half, abs=1e-4)
    # Important change (2 points or 30 %): -2 from 6 yes, -1 from 5 (20 %) no, -4 from 7 yes.
    assert pain_result.important == 2 and pain_result.important_share == pytest.approx(2 / 3)


def test_measures_without_values_are_all_missing(result) -> None:  # type: ignore[no-untyped-def]
    tug = next(measure for measure in result.measures if measure.measure.key == "tug_s")
    assert tug.changes == () and tug.missing == 4 and tug.mean is None and tug.interval is None


def test_no_interval_from_one_patient() -> None:
    [only] = summarize([episode(1)], [pain(1, 0, 6), pain(1, 42, 2)], now=NOW)
    assert only.measures[0].mean == -4 and only.measures[0].interval is None


def test_questionnaire_scores_count_by_their_own_direction() -> None:
    observations = [Observation(1, "lefs", START, 40), Observation(1, "lefs", START + timedelta(days=41), 50),
                    Observation(2, "lefs", START, 40), Observation(2, "lefs", START + timedelta(days=42), 45)]
    [knee] = summarize([episode(1), episode(2)], observations, now=NOW)
    lefs = next(measure for measure in knee.measures if measure.measure.key == "lefs")
    assert lefs.mean == 7.5 and lefs.important == 1  # +10 passes 9 points, +5 does not
