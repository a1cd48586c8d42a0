"""The dashboard alerts a session raises: a red flag or a fall at once, pain above the ceiling at home at once,
and at visits twice in a row (docs/clinical.md, "Alerts")."""

from __future__ import annotations

from rehab.services.advice.types import SessionReport
from rehab.vocabulary import RED_FLAG_LABELS, AlertKind


def alerts_for(latest: SessionReport, previous: SessionReport | None, *, ceiling: int) -> list[tuple[str, str]]:
    """Dashboard alerts raised by a session: (kind, message). A home session above the ceiling alerts at once
    (nobody from the clinic saw it); at a visit the therapist was there, so only twice in a row alerts."""
    alerts: list[tuple[str, str]] = []  # kinds are vocabulary.AlertKind
    if latest.red_flags:
        flags = ", ".join(RED_FLAG_LABELS.get(flag, flag) for flag in latest.red_flags)
        alerts.append((AlertKind.RED_FLAG, f"Red flag reported: {flags}."))
    if latest.falls:
        alerts.append((AlertKind.FALL, f"{latest.falls} fall{'s' if latest.falls > 1 else ''} reported."))
    twice = previous is not None and latest.pain_worst > ceiling and previous.pain_worst > ceiling
    if twice:
        alerts.append((AlertKind.PAIN_TWICE, f"Pain above the ceiling of {ceiling}/10 twice in a row "
                                     f"({previous.pain_worst} then {latest.pain_worst})."))  # type: ignore[union-attr]
    elif latest.source == "home" and latest.pain_worst > ceiling:
        alerts.append((AlertKind.PAIN_HIGH, f"Pain {latest.pain_worst}/10 at home, above the ceiling of {ceiling}/10."))
    return alerts
