"""What goes on a printed home-exercise sheet: a snapshot of plain values, and its options.

``build_sheet_snapshot`` collects everything the sheet shows as JSON-ready values; a print keeps that
snapshot, so reprinting shows the same sheet even after the protocol or the clinic's details changed. Plain
functions, no Flask (rehab.printing.sheets turns a snapshot into HTML and PDF).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from rehab.services.catalogue import exercises, illustration_svg
from rehab.services.dose import dose_sentence, speed_text
from rehab.services.home_plan import prescribed_for_home
from rehab.services.patient_text import phase_text
from rehab.services.protocol_content import ProtocolContent
from rehab.vocabulary import LANGUAGE_LABELS, PAPER_SIZE_LABELS, Language, PaperSize

# Bump when the sheet's layout changes, so cached PDFs of the old layout are not served again.
SHEET_LAYOUT_VERSION = "3"
# Sheets of earlier layouts told a backward walker to face the treadmill's console and put chest pain under
# "call the clinic": they are kept as the record of what was handed out, never handed out again.
OLDEST_REPRINTABLE_LAYOUT = 2


def reprintable(snapshot: dict[str, Any]) -> bool:
    layout = str(snapshot.get("layout", "1"))
    return layout.isdigit() and int(layout) >= OLDEST_REPRINTABLE_LAYOUT


LOG_ROWS_MIN, LOG_ROWS_MAX = 8, 14


@dataclass(frozen=True)
class SheetOptions:
    paper: str = PaperSize.LETTER  # vocabulary.PaperSize
    large_print: bool = False
    language: str = Language.EN  # vocabulary.Language
    include_next: bool = True

    @classmethod
    def parse(cls, values: dict[str, Any], *, default_paper: str, default_language: str) -> SheetOptions:
        paper = values.get("paper") if values.get("paper") in PAPER_SIZE_LABELS else default_paper
        language = values.get("language") if values.get("language") in LANGUAGE_LABELS else default_language
        return cls(paper=paper, language=language, large_print=bool(values.get("large_print")),  # type: ignore[arg-type]
                   include_next=bool(values.get("include_next")))


def build_sheet_snapshot(*, patient_name: str, clinic: dict[str, str], therapist_name: str, protocol_title: str,
                         version_number: int, content: ProtocolContent, phase_index: int, options: SheetOptions,
                         printed_on: date, speed_unit: str, anticoagulants: bool = False) -> dict[str, Any]:
    """Every value the sheet shows, JSON-ready. Exercise text and illustrations are copied in, so the sheet
    stays the same when the catalogue is edited later. ``home_prescribed`` is false when every exercise is
    clinic-only: the sheet then says "not on your own yet" and has no log. ``anticoagulants`` adds a falls
    warning (a fall can bleed)."""
    language = options.language
    phase = content.phases[phase_index]
    catalogue = exercises()
    items = []
    for rx in phase.prescriptions:
        exercise = catalogue[rx.exercise]
        text = exercise.text(language)
        items.append({
            "key": rx.exercise, "name": text.name,
            "sentence": dose_sentence(rx, language=language, speed_unit=speed_unit),
            "purpose": text.purpose, "steps": list(text.steps), "cues": list(text.cues), "safety": list(text.safety),
            "therapist_cues": rx.cues, "illustration": illustration_svg(rx.exercise), "pain_ceiling": rx.pain_ceiling,
            "at_home": rx.setting != "clinic", "setting": rx.setting,
        })
    next_phase = None
    if options.include_next and phase_index + 1 < len(content.phases):
        upcoming = content.phases[phase_index + 1]
        next_phase = {**phase_text(upcoming, template_key=content.template_key, language=language),
                      "sessions": phase.advance_after_sessions, "no_stumbles": phase.no_stumbles,
                      "sentences": [dose_sentence(rx, language=language, speed_unit=speed_unit)
                                    for rx in upcoming.prescriptions]}
    sessions_per_week = max(rx.sessions_per_week for rx in phase.prescriptions)
    return {
        "layout": SHEET_LAYOUT_VERSION, "options": asdict(options), "patient_name": patient_name, "clinic": clinic,
        "therapist_name": therapist_name, "protocol_title": protocol_title, "version_number": version_number,
        "phase_number": phase_index + 1, "phase_count": len(content.phases),
        "phase": phase_text(phase, template_key=content.template_key, language=language), "exercises": items,
        "next_phase": next_phase,
        "pain_ceiling": min(rx.pain_ceiling for rx in phase.prescriptions),
        "log_rows": max(LOG_ROWS_MIN, min(LOG_ROWS_MAX, sessions_per_week * 2)),
        "printed_on": printed_on.isoformat(), "speed_example": speed_text(1.2, speed_unit),
        "home_prescribed": prescribed_for_home(phase), "anticoagulants": anticoagulants,
    }


def snapshot_digest(snapshot: dict[str, Any]) -> str:
    """The cache key of a sheet: the same snapshot always renders the same PDF."""
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def sheet_filename(printed_on: date | datetime, kind: str = "home-exercises") -> str:
    """``home-exercises-2026-11-25.pdf``: a date, never the patient's name."""
    day = printed_on.date() if isinstance(printed_on, datetime) else printed_on
    return f"{kind}-{day.isoformat()}.pdf"
