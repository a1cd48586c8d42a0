"""A prescription's dose in words: a compact line for therapists, one plain sentence for patients.

Patient sentences follow health-literacy guidance: "you" and verbs, numbers as digits, one sentence.
"""

from __future__ import annotations

from rehab.services.catalogue import exercises
from rehab.services.protocol_content import Prescription, kmh_to_mph, number
from rehab.translation import N_, gettext, ngettext
from rehab.vocabulary import BETWEEN_LABELS, SUPPORT_LABELS, SUPPORT_PATIENT, SUPPORT_PATIENT_IN_BARS, Between

# What the patient does, by the exercise's equipment (English msgids; the catalogs hold their Spanish).
_ACTIVITY = {
    "treadmill": N_("Walk backward on the treadmill"), "parallel_bars": N_("Walk backward in the parallel bars"),
    "floor": N_("Walk backward on flat ground"), "band": N_("Walk backward against the band"),
    "treadmill_off": N_("Walk backward pushing the belt with your legs, with the treadmill off,"),
}


def _minutes(value: float, language: str) -> str:
    # gettext's plural rules take whole numbers: 1 is one minute, anything else (0.5, 2.5, 10) is minutes.
    words = ngettext(language, "%(count)s minute", "%(count)s minutes", 1 if value == 1 else 2)
    return words % {"count": number(value)}


def _times_a_week(count: int, language: str) -> str:
    return ngettext(language, "once a week", "%(count)s times a week", count) % {"count": count}


def speed_text(speed_kmh: float | None, speed_unit: str = "kmh") -> str:
    """Both units, the clinic's first: "1.2 km/h (0.7 mph)"."""
    if speed_kmh is None:
        return ""
    kmh, mph = f"{number(round(speed_kmh, 1))} km/h", f"{number(round(kmh_to_mph(speed_kmh), 1))} mph"
    return f"{mph} ({kmh})" if speed_unit == "mph" else f"{kmh} ({mph})"


def dose_sentence(rx: Prescription, *, language: str = "en", speed_unit: str = "kmh") -> str:
    """"Walk backward on the treadmill for 10 minutes, 3 times a week, at 1.2 km/h (0.7 mph), holding both
    rails." — the line a patient reads on the home sheet and the portal."""
    def _(message: str) -> str:
        return gettext(language, message)

    exercise = exercises()[rx.exercise]
    parts: list[str] = []
    if rx.has_pattern:
        parts.append(pattern_words(rx, language))
    elif rx.segments and rx.walk_minutes:
        each = rx.minutes / rx.segments
        parts.append(_("During a %(walk)s-minute walk, walk backward %(segments)s times for %(each)s each time")
                     % {"walk": number(rx.walk_minutes), "segments": rx.segments, "each": _minutes(each, language)})
    else:
        activity = _(_ACTIVITY.get(exercise.equipment, _ACTIVITY["floor"]))
        if rx.sets and rx.reps:
            parts.append(_("%(activity)s: %(sets)s sets of %(reps)s steps")
                         % {"activity": activity, "sets": rx.sets, "reps": rx.reps})
        elif rx.sets:
            parts.append(_("%(activity)s %(sets)s times, %(minutes)s in all")
                         % {"activity": activity, "sets": rx.sets, "minutes": _minutes(rx.minutes, language)})
        else:
            parts.append(_("%(activity)s for %(minutes)s")
                         % {"activity": activity, "minutes": _minutes(rx.minutes, language)})
    if rx.warmup_minutes or rx.cooldown_minutes:
        parts.append(_warm_up_words(rx, language))
    parts.append(_times_a_week(rx.sessions_per_week, language))
    if rx.speed_kmh is not None and exercise.uses_speed:
        parts.append(_("at %(speed)s") % {"speed": speed_text(rx.speed_kmh, speed_unit)})
    if rx.incline_pct:
        parts.append(_("with the slope set to %(incline)s %%") % {"incline": number(rx.incline_pct)})
    in_bars = exercise.equipment == "parallel_bars"
    parts.append(_((SUPPORT_PATIENT_IN_BARS if in_bars else SUPPORT_PATIENT)[rx.support]))
    return ", ".join(parts) + "."


def pattern_words(rx: Prescription, language: str) -> str:
    """"Walk backward on flat ground for 1 minute in every 2 minutes, walking forward in between: 5 minutes
    backward in a 10-minute walk"."""
    def _(message: str) -> str:
        return gettext(language, message)

    assert rx.interval_backward_minutes is not None and rx.interval_every_minutes is not None
    activity = _(_ACTIVITY.get(exercises()[rx.exercise].equipment, _ACTIVITY["floor"]))
    between = _("walking forward in between") if rx.interval_between == Between.FORWARD else _("resting in between")
    return (_("%(activity)s for %(backward)s in every %(every)s, %(between)s: %(total)s backward in a "
              "%(walk)s-minute walk")
            % {"activity": activity.rstrip(","), "backward": _minutes(rx.interval_backward_minutes, language),
               "every": _minutes(rx.interval_every_minutes, language), "between": between,
               "total": _minutes(rx.minutes, language), "walk": number(rx.pattern_walk_minutes())})


def _warm_up_words(rx: Prescription, language: str) -> str:
    values = {"warmup": _minutes(rx.warmup_minutes or 0, language),
              "cooldown": _minutes(rx.cooldown_minutes or 0, language)}
    if rx.warmup_minutes and rx.cooldown_minutes:
        return gettext(language, "with %(warmup)s of easy walking first to warm up and %(cooldown)s after to "
                                 "cool down") % values
    if rx.warmup_minutes:
        return gettext(language, "with %(warmup)s of easy walking first to warm up") % values
    return gettext(language, "with %(cooldown)s of easy walking after to cool down") % values


def dose_summary(rx: Prescription, *, speed_unit: str = "kmh") -> str:
    """The therapist's compact line: "5 → 10 min · 3×/week · 1.2 km/h (0.7 mph) · 0 % · both rails · pain ≤ 5"."""
    if rx.has_pattern:
        amount = (f"{number(rx.interval_backward_minutes)} min backward in every {number(rx.interval_every_minutes)}"
                  f" ({BETWEEN_LABELS[rx.interval_between].lower()}) · {number(rx.minutes)} min"
                  + (f" → {number(rx.minutes_goal)} min" if rx.minutes_goal else "")
                  + f" in a {number(rx.pattern_walk_minutes())}-min walk")
    elif rx.segments:
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
    if rx.warmup_minutes:
        amount = f"{number(rx.warmup_minutes)} min warm-up · " + amount
    if rx.cooldown_minutes:
        amount += f" · {number(rx.cooldown_minutes)} min cool-down"
    return " · ".join([amount, f"{rx.sessions_per_week}×/week", speed, incline,
                       SUPPORT_LABELS[rx.support].lower(), f"pain ≤ {rx.pain_ceiling}/10"])
