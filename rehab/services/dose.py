"""A prescription's dose in words: a compact line for therapists, one plain sentence for patients.

Patient sentences follow health-literacy guidance: "you" and verbs, numbers as digits, one sentence.
"""

from __future__ import annotations

from rehab.services.catalogue import exercises
from rehab.services.protocol_content import Prescription, kmh_to_mph, number
from rehab.vocabulary import SUPPORT_LABELS

_ACTIVITY = {
    "en": {
        "treadmill": "Walk backward on the treadmill", "parallel_bars": "Walk backward in the parallel bars",
        "floor": "Walk backward on flat ground", "band": "Walk backward against the band",
        "treadmill_off": "Walk backward pushing the belt with your legs, with the treadmill off,",
    },
    "es": {
        "treadmill": "Camine hacia atrás en la caminadora",
        "parallel_bars": "Camine hacia atrás en las barras paralelas",
        "floor": "Camine hacia atrás en suelo plano", "band": "Camine hacia atrás contra la banda",
        "treadmill_off": "Camine hacia atrás empujando la banda con las piernas, con la caminadora apagada,",
    },
}
_SUPPORT = {
    "en": {"both_rails": "holding both rails", "one_rail": "holding one rail",
           "light_touch": "with a light touch on the rails", "partner": "with a partner beside you",
           "none": "without holding on"},
    "es": {"both_rails": "sujetando las dos barras", "one_rail": "sujetando una barra",
           "light_touch": "tocando apenas las barras", "partner": "con un acompañante a su lado",
           "none": "sin sujetarse"},
}


def _minutes(value: float, language: str) -> str:
    word = ("minuto" if value == 1 else "minutos") if language == "es" else ("minute" if value == 1 else "minutes")
    return f"{number(value)} {word}"


def _times_a_week(count: int, language: str) -> str:
    if language == "es":
        return "1 vez por semana" if count == 1 else f"{count} veces por semana"
    return "once a week" if count == 1 else f"{count} times a week"


def speed_text(speed_kmh: float | None, speed_unit: str = "kmh") -> str:
    """Both units, the clinic's first: "1.2 km/h (0.7 mph)"."""
    if speed_kmh is None:
        return ""
    kmh, mph = f"{number(round(speed_kmh, 1))} km/h", f"{number(round(kmh_to_mph(speed_kmh), 1))} mph"
    return f"{mph} ({kmh})" if speed_unit == "mph" else f"{kmh} ({mph})"


def dose_sentence(rx: Prescription, *, language: str = "en", speed_unit: str = "kmh") -> str:
    """"Walk backward on the treadmill for 10 minutes, 3 times a week, at 1.2 km/h (0.7 mph), holding both
    rails." — the line a patient reads on the home sheet and the portal."""
    language = language if language in _ACTIVITY else "en"
    spanish = language == "es"
    exercise = exercises()[rx.exercise]
    parts: list[str] = []
    if rx.segments and rx.walk_minutes:
        each = rx.minutes / rx.segments
        parts.append(
            (f"Durante una caminata de {_minutes(rx.walk_minutes, language)}, camine hacia atrás "
             f"{rx.segments} veces, {_minutes(each, language)} cada vez")
            if spanish else
            (f"During a {number(rx.walk_minutes)}-minute walk, walk backward {rx.segments} times "
             f"for {_minutes(each, language)} each time")
        )
    else:
        activity = _ACTIVITY[language].get(exercise.equipment, _ACTIVITY[language]["floor"])
        if rx.sets and rx.reps:
            amount = f"{rx.sets} series de {rx.reps} pasos" if spanish else f"{rx.sets} sets of {rx.reps} steps"
            parts.append(f"{activity}: {amount}")
        elif rx.sets:
            amount = (f"{rx.sets} veces, {_minutes(rx.minutes, language)} en total" if spanish
                      else f"{rx.sets} times, {_minutes(rx.minutes, language)} in all")
            parts.append(f"{activity} {amount}")
        else:
            parts.append(f"{activity} {'durante' if spanish else 'for'} {_minutes(rx.minutes, language)}")
    parts.append(_times_a_week(rx.sessions_per_week, language))
    if rx.speed_kmh is not None and exercise.uses_speed:
        parts.append(f"{'a' if spanish else 'at'} {speed_text(rx.speed_kmh, speed_unit)}")
    if rx.incline_pct:
        parts.append(f"con la inclinación en {number(rx.incline_pct)} %" if spanish
                     else f"with the slope set to {number(rx.incline_pct)} %")
    support = _SUPPORT[language][rx.support]
    if exercise.equipment == "parallel_bars":
        support = support.replace("barras", "barras paralelas") if spanish else support.replace("rails", "bars")
    parts.append(support)
    return ", ".join(parts) + "."


def dose_summary(rx: Prescription, *, speed_unit: str = "kmh") -> str:
    """The therapist's compact line: "5 → 10 min · 3×/week · 1.2 km/h (0.7 mph) · 0 % · both rails · pain ≤ 5"."""
    if rx.segments:
        amount = f"{rx.segments} × {number(rx.minutes / rx.segments)} min backward"
        if rx.walk_minutes:
            amount += f" in a {number(rx.walk_minutes)}-min walk"
    elif rx.sets:
        amount = f"{rx.sets} × {rx.reps} steps" if rx.reps else f"{rx.sets} sets, {number(rx.minutes)} min"
    else:
        amount = f"{number(rx.minutes)} min" + (f" → {number(rx.minutes_goal)} min" if rx.minutes_goal else "")
    speed = speed_text(rx.speed_kmh, speed_unit) or "comfortable pace"
    if rx.speed_goal_kmh is not None:
        speed += f" → {speed_text(rx.speed_goal_kmh, speed_unit)}"
    incline = f"{number(rx.incline_pct)} % incline"
    if rx.incline_goal_pct is not None:
        incline = f"{number(rx.incline_pct)} → {number(rx.incline_goal_pct)} % incline"
    return " · ".join([amount, f"{rx.sessions_per_week}×/week", speed, incline,
                       SUPPORT_LABELS[rx.support].lower(), f"pain ≤ {rx.pain_ceiling}/10"])
