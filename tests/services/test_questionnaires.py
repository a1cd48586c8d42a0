"""Questionnaire content and scoring against published worked values."""

from __future__ import annotations

import pytest

from rehab.services.catalogue import references
from rehab.services.questionnaires import (
    AnswerError,
    answerable,
    check_total,
    instruments,
    licensed_totals,
    score,
    verdict,
)

# A published worked example: BMJ Case Reports, LEFS item by item before and after a class, and at 6 and 12
# months (Table 1, "Lower Extremity Functional Scale"), totals 50, 58, 54 and 58 as printed there.
BMJ_CASE = {
    "pre": [1, 2, 4, 4, 4, 1, 2, 3, 1, 4, 4, 1, 4, 3, 3, 3, 0, 3, 1, 2],
    "post": [3, 3, 4, 4, 4, 4, 1, 4, 1, 4, 4, 3, 4, 3, 4, 1, 0, 0, 4, 3],
    "6 months": [2, 3, 4, 4, 4, 3, 2, 4, 1, 4, 4, 4, 4, 3, 4, 0, 0, 0, 1, 3],
    "12 months": [2, 3, 4, 4, 4, 4, 2, 3, 2, 4, 4, 2, 3, 2, 4, 2, 2, 2, 2, 3],
}


def answers(values: list[int]) -> dict[int, int]:
    return {number: value for number, value in enumerate(values, start=1)}


@pytest.mark.parametrize(("when", "total"), [("pre", 50), ("post", 58), ("6 months", 54), ("12 months", 58)])
def test_lefs_totals_match_the_published_case(when: str, total: int) -> None:
    assert score(instruments()["lefs"], answers(BMJ_CASE[when])) == total


def test_lefs_range_is_0_to_80() -> None:
    lefs = instruments()["lefs"]
    assert score(lefs, answers([0] * 20)) == 0
    assert score(lefs, answers([4] * 20)) == 80


def test_lefs_change_of_8_is_no_change_and_9_is_improved() -> None:
    """Binkley 1999: 9 points. The published case gained 8 (50 to 58): below the threshold."""
    lefs = instruments()["lefs"]
    assert verdict(lefs, 50, 58) == "no change"
    assert verdict(lefs, 50, 59) == "improved"
    assert verdict(lefs, 59, 50) == "worse"


def test_a_half_answered_lefs_has_no_total() -> None:
    lefs = instruments()["lefs"]
    half = {number: 4 for number in range(1, 11)}
    assert score(lefs, half) is None
    assert score(lefs, {**half, **{number: 0 for number in range(11, 21)}}) == 40


@pytest.mark.parametrize(("item", "value"), [(21, 3), (0, 3), (1, 5), (1, -1)])
def test_answers_outside_the_form_are_refused(item: int, value: int) -> None:
    with pytest.raises(AnswerError):
        score(instruments()["lefs"], {item: value})


@pytest.mark.parametrize(("baseline", "latest", "expected"), [
    (8, 6, "improved"),   # 2 points (Farrar 2001)
    (8, 7, "no change"),  # 1 point, 12.5 %
    (3, 2, "improved"),   # 1 point but 33 %: the relative threshold
    (5, 4, "no change"),  # 1 point, 20 %
    (10, 7, "improved"),  # 3 points, 30 %
    (4, 6, "worse"),
])
def test_pain_rating_uses_2_points_or_30_percent(baseline: int, latest: int, expected: str) -> None:
    nprs = instruments()["nprs"]
    assert score(nprs, {1: latest}) == latest
    assert verdict(nprs, baseline, latest) == expected


def test_spanish_and_english_forms_have_the_same_items_and_options() -> None:
    """Answers are stored as option values, so the same choices score the same in either language."""
    for instrument in answerable():
        english, spanish = instrument.text("en"), instrument.text("es")
        assert len(english.items) == len(spanish.items) == instrument.item_count
        assert len(english.options) == len(spanish.options) == len(instrument.option_values)
        assert spanish.items != english.items


def test_only_free_instruments_ship_items() -> None:
    shipped = {instrument.key for instrument in answerable()}
    assert shipped == {"lefs", "nprs"}
    for instrument in licensed_totals():
        assert instrument.item_count == 0
        assert "licence" in instrument.licence.lower() or "licensed" in instrument.licence.lower()


def test_every_instrument_cites_a_known_source_and_a_licence_note() -> None:
    for instrument in instruments().values():
        assert instrument.source in references()
        assert instrument.licence


@pytest.mark.parametrize(("key", "total", "ok"), [
    ("womac", 0, True), ("womac", 96, True), ("womac", 97, False),
    ("oxford_knee", 48, True), ("oxford_knee", -1, False),
])
def test_licensed_totals_stay_on_their_scale(key: str, total: float, ok: bool) -> None:
    instrument = instruments()[key]
    if ok:
        check_total(instrument, total)
    else:
        with pytest.raises(AnswerError, match="runs from"):
            check_total(instrument, total)


def test_licensed_totals_have_no_verdict_without_a_threshold() -> None:
    assert verdict(instruments()["womac"], 40, 20) is None
