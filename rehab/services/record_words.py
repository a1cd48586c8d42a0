"""A record's stored fields in words: what each field is called and how each stored value reads, for the change
history (of a patient, a visit, a home session) and a stale form's "saved values now".

The history keeps field names and stored values ({"soreness": ["warmup_gone", "late"]}), which stay the truth;
a reader sees "Soreness: Sore during warm-up, went away → Sore more than an hour after, or the next day".
Values of a closed list read through its labels in ``rehab/vocabulary.py``; every label goes through the gettext
catalog, so the same history reads in English or Spanish. A field with no label here is caught by
tests/services/test_record_words.py, which walks every field of the tables that keep a history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from rehab.dates import day_text, moment_text
from rehab.services.catalogue import exercises
from rehab.translation import N_, gettext
from rehab.vocabulary import (
    CONDITION_LABELS,
    EFFUSION_LABELS,
    KNEE_LABELS,
    LANGUAGE_LABELS,
    PRECAUTION_LABELS,
    RED_FLAG_LABELS,
    SORENESS_LABELS,
    SUPPORT_LABELS,
)

# The red flags' labels are lower case (they are read inside sentences); ``field_label`` capitalises them.
_RED_FLAGS = dict(RED_FLAG_LABELS)
_MEASURES = {
    "backward_walk_3m_s": N_("3-metre backward walk (s)"), "tug_s": N_("Timed Up and Go (s)"),
    "gait_speed_ms": N_("Gait speed (m/s)"), "six_minute_walk_m": N_("6-minute walk (m)"),
    "knee_flexion_deg": N_("Knee flexion (°)"), "knee_extension_deg": N_("Knee extension (°)"),
}
_REMOVAL = {"deleted": N_("Deleted, with the reason")}

FIELD_LABELS: dict[str, dict[str, str]] = {
    "patient": {
        "first_name": N_("First name"), "last_name": N_("Last name"), "date_of_birth": N_("Date of birth"),
        "chart_number": N_("Chart number"), "phone": N_("Phone"), "email": N_("Email"),
        "affected_knee": N_("Affected knee"), "condition": N_("Condition"), "condition_other": N_("Other condition"),
        "surgery_date": N_("Surgery date"), **PRECAUTION_LABELS, "precaution_other": N_("Other precaution"),
        "language": N_("Handout language"), "notes": N_("Notes"), "archived_at": N_("Archived"),
        "referring_physician": N_("Referring physician's name"), "referring_practice": N_("Practice or hospital"),
        "referring_address": N_("Practice's address"), "referring_fax": N_("Practice's fax"),
        "therapist": N_("Therapist"),  # kept by name (services/patients.py), not as the account's id
    },
    "visit": {
        "occurred_at": N_("Date and time"), "pain_before": N_("Pain before"),
        "pain_worst": N_("Worst pain during"), "pain_after": N_("Pain after"),
        "pain_next_morning": N_("Pain next morning"), "soreness": N_("Soreness"), "effusion": N_("Effusion"),
        "exercise": N_("Exercise"), "minutes": N_("Minutes"), "speed_kmh": N_("Speed (km/h)"),
        "incline_pct": N_("Incline (%)"), "support": N_("Support"), "stumbles": N_("Stumbles"),
        "falls": N_("Falls"), **_RED_FLAGS, **_MEASURES, "note": N_("Note"), **_REMOVAL,
    },
    "home_log": {
        "session_date": N_("Date"), "minutes": N_("Minutes"), "pain_worst": N_("Worst pain"),
        "pain_next_morning": N_("Pain next morning"), "soreness": N_("Soreness"), "stumbled": N_("Stumbled"),
        "fell": N_("Fell"), **_RED_FLAGS, "note": N_("Note"),
    },
}
# Fields whose stored value is one of a closed list: read through its labels.
VALUE_LABELS: dict[str, Mapping[str, str]] = {
    "affected_knee": KNEE_LABELS, "condition": CONDITION_LABELS, "language": LANGUAGE_LABELS,
    "soreness": SORENESS_LABELS, "effusion": EFFUSION_LABELS, "support": SUPPORT_LABELS,
}
DAY_FIELDS = frozenset({"date_of_birth", "surgery_date", "session_date"})
TIME_FIELDS = frozenset({"occurred_at", "archived_at"})
NOTHING = "—"
# What an empty value means where "—" would not say it.
NOTHING_WORDS = {"therapist": N_("Unassigned")}


@dataclass(frozen=True)
class ChangeInWords:
    label: str
    old: str
    new: str


def field_label(entity: str, name: str, language: str = "en") -> str:
    """The field's name as its form calls it; a field without one reads with spaces, never as a code."""
    label = FIELD_LABELS.get(entity, {}).get(name)
    text = gettext(language, label) if label else name.replace("_", " ")
    return text[:1].upper() + text[1:]


def value_text(name: str, value: Any, language: str = "en", zone: str | tzinfo | None = None) -> str:
    """A stored value in words: a list's label, Yes or No, a day or a time in words, a number without ".0"."""
    if value is None or value == "":
        return gettext(language, NOTHING_WORDS[name]) if name in NOTHING_WORDS else NOTHING
    if isinstance(value, bool):
        return gettext(language, N_("Yes") if value else N_("No"))
    labels = VALUE_LABELS.get(name)
    if labels is not None and str(value) in labels:
        return gettext(language, labels[str(value)])
    if name == "exercise":
        exercise = exercises().get(str(value))
        return exercise.texts.get(language, exercise.texts["en"]).name if exercise else str(value)
    if name in DAY_FIELDS and isinstance(value, str | date):
        return day_text(value, language)
    if name in TIME_FIELDS and isinstance(value, str | datetime):
        return moment_text(datetime.fromisoformat(value) if isinstance(value, str) else value, language, zone)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def changes_in_words(entity: str, changes: Mapping[str, list[Any]], language: str = "en",
                     zone: str | tzinfo | None = None) -> list[ChangeInWords]:
    """One edit's {field: [old, new]} as lines to read, in the order the fields were kept."""
    return [ChangeInWords(field_label(entity, name, language), value_text(name, old, language, zone),
                          value_text(name, new, language, zone))
            for name, (old, new) in changes.items()]
