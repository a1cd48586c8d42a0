"""Questionnaires and licensed totals read from ``content/questionnaires.toml``, and their scoring.

Scoring is plain functions over ``{item number: option value}`` so the same answers score the same in every
language, and an unfinished questionnaire never gets a total: the LEFS form asks for an answer to every
activity and its source gives no rule for filling gaps, so a partial answer set is "not scored", never
guessed (safer than a prorated total that looks complete).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from rehab.services.baseline_change import is_important
from rehab.services.catalogue import LANGUAGES

Verdict = Literal["improved", "no change", "worse"]


@dataclass(frozen=True)
class InstrumentText:
    name: str
    short_name: str
    instructions: str = ""
    stem: str = ""
    options: tuple[str, ...] = ()
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Instrument:
    key: str
    kind: Literal["items", "licensed_total"]
    scoring: str
    minimum: float
    maximum: float
    better: Literal["lower", "higher"]
    important_change: float | None
    important_change_pct: float | None
    source: str
    licence: str
    option_values: tuple[int, ...]
    texts: dict[str, InstrumentText]

    def text(self, language: str = "en") -> InstrumentText:
        return self.texts.get(language) or self.texts["en"]

    @property
    def item_count(self) -> int:
        return len(self.texts["en"].items)

    @property
    def threshold_text(self) -> str:
        if self.important_change is None:
            return "no important-change threshold shipped"
        points = f"{self.important_change:g} points"
        if self.important_change_pct is not None:
            points += f" or {self.important_change_pct:.0%}".replace("%", " %")
        return points


@cache
def instruments() -> dict[str, Instrument]:
    data = tomllib.loads(resources.files("rehab.content").joinpath("questionnaires.toml").read_text("utf-8"))
    found: dict[str, Instrument] = {}
    for key, value in data.items():
        texts = {
            language: InstrumentText(
                name=value[language]["name"], short_name=value[language]["short_name"],
                instructions=value[language].get("instructions", ""), stem=value[language].get("stem", ""),
                options=tuple(value[language].get("options", ())), items=tuple(value[language].get("items", ())),
            )
            for language in LANGUAGES if language in value
        }
        found[key] = Instrument(
            key=key, kind=value["kind"], scoring=value.get("scoring", "total"), minimum=value["minimum"],
            maximum=value["maximum"], better=value["better"], important_change=value.get("important_change"),
            important_change_pct=value.get("important_change_pct"), source=value["source"],
            licence=value["licence"], option_values=tuple(value.get("option_values", ())), texts=texts,
        )
    return found


def answerable() -> list[Instrument]:
    """The instruments a patient can answer through the portal (those whose items ship)."""
    return [instrument for instrument in instruments().values() if instrument.kind == "items"]


def licensed_totals() -> list[Instrument]:
    return [instrument for instrument in instruments().values() if instrument.kind == "licensed_total"]


class AnswerError(ValueError):
    """An answer that is not one of the item's options: refused, never stored."""


def check_answer(instrument: Instrument, item: int, value: int) -> None:
    if not 1 <= item <= instrument.item_count:
        raise AnswerError(f"{instrument.key} has no item {item}.")
    if value not in instrument.option_values:
        raise AnswerError(f"{value} is not an answer to {instrument.key} item {item}.")


def score(instrument: Instrument, answers: Mapping[int, int]) -> float | None:
    """The total, or None while any item is unanswered (see the module docstring for why)."""
    for item, value in answers.items():
        check_answer(instrument, item, value)
    if len(answers) < instrument.item_count:
        return None
    if instrument.scoring in ("sum_all_items", "single_item"):
        return float(sum(answers.values()))
    raise ValueError(f"unknown scoring rule {instrument.scoring!r}")


def check_total(instrument: Instrument, total: float) -> None:
    """A licensed total typed by the clinic must lie on the instrument's scale."""
    if not instrument.minimum <= total <= instrument.maximum:
        raise AnswerError(f"{instrument.text().name} runs from {instrument.minimum:g} to {instrument.maximum:g}.")


def verdict(instrument: Instrument, baseline: float, latest: float) -> Verdict | None:
    """Improved / no change / worse against the instrument's important change; None without a threshold."""
    change = latest - baseline
    important = is_important(change, baseline, instrument.important_change, instrument.important_change_pct)
    if important is None:
        return None
    if not important:
        return "no change"
    better = change < 0 if instrument.better == "lower" else change > 0
    return "improved" if better else "worse"
