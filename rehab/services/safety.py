"""Safety checks while building a protocol (clinical reference, section 3).

Each check returns a warning with the rule, the reason and its source. The therapist may proceed with a
written reason; the warning and the reason are kept with the version.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from rehab.services.catalogue import exercises
from rehab.services.protocols import ProtocolContent

# Thresholds from the clinical reference, section 3.
HIGH_RISK_BACKWARD_WALK_S = 4.5  # 3-metre backward walk test, seconds (Carter 2019/2020)
HIGH_RISK_TUG_S = 12.0  # Timed Up and Go, seconds (CDC STEADI)
RECENT_REPLACEMENT_MONTHS = 6
HIGHEST_ADVISED_PAIN_CEILING = 5  # pain-monitoring model: above 5/10 is "too much"


@dataclass(frozen=True)
class PatientFacts:
    """What the checks need to know about the patient."""

    today: date
    uses_walker: bool = False
    condition: str = ""
    surgery_date: date | None = None
    backward_walk_3m_s: float | None = None
    tug_s: float | None = None


@dataclass(frozen=True)
class SafetyWarning:
    rule: str
    message: str
    source: str  # a key of references.toml
    where: str = ""


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day (31 Aug + 6 months = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def is_high_fall_risk(facts: PatientFacts) -> bool:
    """3MBWT of 4.5 s or more, or TUG of 12 s or more (both boundaries count as high risk)."""
    return bool(
        (facts.backward_walk_3m_s is not None and facts.backward_walk_3m_s >= HIGH_RISK_BACKWARD_WALK_S)
        or (facts.tug_s is not None and facts.tug_s >= HIGH_RISK_TUG_S)
    )


def is_recent_joint_replacement(facts: PatientFacts) -> bool:
    """A total knee arthroplasty less than 6 calendar months ago."""
    if facts.condition != "post_tka" or facts.surgery_date is None:
        return False
    return facts.today < add_months(facts.surgery_date, RECENT_REPLACEMENT_MONTHS)


def check_protocol(content: ProtocolContent, facts: PatientFacts) -> list[SafetyWarning]:
    """Every safety rule the protocol trips, at most one warning per rule and place."""
    catalogue = exercises()
    warnings: list[SafetyWarning] = []
    if facts.uses_walker:
        warnings.append(SafetyWarning(
            "walker",
            "This patient uses a rollator or walker. People fall backward during weight shift with a rollator: "
            "no backward walking with a rollator.",
            "rollator",
        ))
    high_risk, recent_replacement = is_high_fall_risk(facts), is_recent_joint_replacement(facts)
    for phase_index, phase in enumerate(content.phases, start=1):
        for rx in phase.prescriptions:
            exercise = catalogue[rx.exercise]
            where = f"Phase {phase_index}, {exercise.text().name.lower()}"
            if high_risk and exercise.overground and rx.setting == "home_alone":
                warnings.append(SafetyWarning(
                    "fall_risk",
                    "High fall-risk screen (3-metre backward walk 4.5 s or more, or TUG 12 s or more) and "
                    "unsupervised overground backward walking: supervised or treadmill-with-rails only.",
                    "carter2020", where,
                ))
            if recent_replacement and rx.setting != "clinic":
                warnings.append(SafetyWarning(
                    "recent_replacement",
                    "Joint replacement less than 6 months ago and unsupervised work: supervised only.",
                    "perturbation_trial", where,
                ))
            if rx.pain_ceiling > HIGHEST_ADVISED_PAIN_CEILING:
                warnings.append(SafetyWarning(
                    "pain_ceiling",
                    f"Pain ceiling {rx.pain_ceiling}/10 is above 5: the pain-monitoring model calls pain above "
                    "5/10 during exercise too much.",
                    "silbernagel2007", where,
                ))
    return warnings
