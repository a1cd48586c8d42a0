"""Change since baseline for the outcome measures: what is reported and when a change counts as important."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rehab.services.baseline_change import summarize_progress

NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)


def rows(key: str, *values: float | None) -> list[tuple[datetime, dict[str, float | None]]]:
    """One visit a week, oldest first, with one measure recorded (None: not measured that visit)."""
    return [(NOW - timedelta(weeks=len(values) - 1 - index), {key: value}) for index, value in enumerate(values)]


def only(key: str, *values: float | None):  # type: ignore[no-untyped-def]
    changes = summarize_progress(rows(key, *values))
    assert [change.spec.key for change in changes] == [key]
    return changes[0]


@pytest.mark.parametrize(("key", "baseline", "latest", "improved", "important"), [
    # TUG: 1.1 s, the minimal detectable change in knee OA.
    ("tug_s", 14.0, 12.9, True, True),  # exactly 1.1 s (14.0 - 12.9 is 1.0999... in floating point)
    ("tug_s", 14.0, 13.0, True, False),
    ("tug_s", 12.0, 13.2, False, True),  # slower by 1.2 s: important, and worse
    # Gait speed: 0.07 m/s, the low end of 0.07-0.12.
    ("gait_speed_ms", 0.80, 0.87, True, True),
    ("gait_speed_ms", 0.80, 0.86, True, False),
    ("gait_speed_ms", 1.00, 1.07, True, True),
    # 6-minute walk: 26 m.
    ("six_minute_walk_m", 300, 326, True, True),
    ("six_minute_walk_m", 300, 325, True, False),
    # NPRS: 2 points or 30 %.
    ("pain_worst", 6, 4, True, True),  # 2 points
    ("pain_worst", 3, 2, True, True),  # 1 point, but 33 %
    ("pain_worst", 7, 6, True, False),  # 1 point, 14 %
    ("pain_worst", 4, 6, False, True),  # worse by 2 points
    ("pain_worst", 0, 1, False, False),  # from no pain: 1 point, no percentage
    ("pain_before", 5, 3, True, True),
    ("pain_before", 5, 4, True, False),  # 20 %
    # 3-metre backward walk: no published threshold.
    ("backward_walk_3m_s", 5.0, 3.0, True, None),
    ("backward_walk_3m_s", 3.0, 3.5, False, None),
])
def test_change_and_important_change(key, baseline, latest, improved, important):
    change = only(key, baseline, latest)
    assert (change.baseline, change.latest) == (baseline, latest)
    assert change.improved is improved
    assert change.important is important


@pytest.mark.parametrize(("values", "reported"), [
    ((14.0,), False),
    ((14.0, None), False),
    ((None, 14.0, None), False),
    ((14.0, None, 12.0), True),
    ((), False),
])
def test_a_measure_recorded_once_is_not_reported(values, reported):
    assert bool(summarize_progress(rows("tug_s", *values))) is reported


def test_baseline_is_the_first_recorded_value_and_latest_the_last():
    change = only("tug_s", None, 14.0, 11.0, 13.5)
    assert (change.baseline, change.latest, change.important) == (14.0, 13.5, False)
    assert change.baseline_at == NOW - timedelta(weeks=2) and change.latest_at == NOW


def test_every_measure_recorded_twice_is_reported_in_a_fixed_order():
    visits = [
        (NOW - timedelta(weeks=6), {"six_minute_walk_m": 300, "tug_s": 14.0, "pain_worst": 6, "koos_pain": 50}),
        (NOW, {"six_minute_walk_m": 340, "tug_s": 12.0, "pain_worst": 3, "gait_speed_ms": 0.9}),
    ]
    assert [change.spec.key for change in summarize_progress(visits)] == ["pain_worst", "tug_s", "six_minute_walk_m"]


@pytest.mark.parametrize(("key", "values", "text"), [
    ("tug_s", (14.0, 12.9), "14 → 12.9 s (-1.1)"),
    ("gait_speed_ms", (0.8, 0.87), "0.8 → 0.87 m/s (+0.07)"),
    ("six_minute_walk_m", (300, 326), "300 → 326 m (+26)"),
    ("backward_walk_3m_s", (4.0, 4.0), "4 → 4 s (0)"),
])
def test_change_text(key, values, text):
    assert only(key, *values).text == text


def test_threshold_text_names_the_threshold():
    assert only("tug_s", 14.0, 12.9).threshold_text == "1.1 s, the minimal detectable change in knee OA"
    assert only("backward_walk_3m_s", 5.0, 3.0).threshold_text == "no published threshold for change"


def test_every_threshold_cites_a_source_that_exists():
    from rehab.services.baseline_change import MEASURES
    from rehab.services.catalogue import references

    assert {spec.source for spec in MEASURES} <= set(references())


def test_pain_text_has_no_stray_space():
    rows = [(datetime(2026, 10, 1, tzinfo=UTC), {"pain_before": 6}),
            (datetime(2026, 11, 1, tzinfo=UTC), {"pain_before": 4})]
    assert summarize_progress(rows)[0].text == "6 → 4/10 (-2)"
