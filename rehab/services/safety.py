"""Safety checks while building a protocol (clinical reference, section 3).

Each check returns a warning with the rule, the reason, its source and the facts it rests on. The therapist
may proceed with a written reason; the warning and the reason are kept with the version, and the reason stands
for later versions until those facts change (``fingerprint``).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from rehab.dates import day_text
from rehab.services.catalogue import Exercise, exercises
from rehab.services.protocol_content import Phase, Prescription, ProtocolContent
from rehab.services.surgery import before_surgery_note, is_planned
from rehab.vocabulary import SETTING_LABELS, SUPPORT_LABELS, Support

# Thresholds from the clinical reference, section 3.
HIGH_RISK_BACKWARD_WALK_S = 4.5  # 3-metre backward walk test, seconds (Carter 2019/2020)
HIGH_RISK_TUG_S = 12.0  # Timed Up and Go, seconds (CDC STEADI)
HIGH_RISK_GAIT_SPEED_MS = 0.76  # under this, gait speed goes with falling (PMC4912425)
RECENT_SURGERY_MONTHS = 6
HIGHEST_ADVISED_PAIN_CEILING = 5  # pain-monitoring model: above 5/10 is "too much"
# Holding the rails of a treadmill, the parallel bars or a dead-mill. A light touch is not holding on.
RAIL_SUPPORTS = (Support.BOTH_RAILS, Support.ONE_RAIL)
# Precautions that ask for supervised or rails-only backward walking (expert opinion).
BALANCE_PRECAUTIONS = {
    "vestibular_disorder": "Vestibular disorder",
    "peripheral_neuropathy": "Peripheral neuropathy",
    "cognitive_impairment": "Cognitive impairment",
}
# Each warning's rule in a few words, for the lists that name the warnings a version went past (the full
# message says why; these say which).
RULE_TITLES: dict[str, str] = {
    "walker": "Walker user off the rails", "fall_risk": "High fall risk off the rails",
    "not_screened": "No fall-risk screen",
    **{name: f"{label} off the rails" for name, label in BALANCE_PRECAUTIONS.items()},
    "recent_surgery": "Surgery under 6 months, outside the clinic", "pain_ceiling": "Pain ceiling above 5",
    "no_surgery_date": "No surgery date for a timed phase", "postop_too_early": "Phase before its week after surgery",
}


@dataclass(frozen=True)
class PatientFacts:
    """What the checks need to know about the patient: precautions, surgery and the newest fall-risk screen."""

    today: date
    uses_walker: bool = False
    condition: str = ""
    surgery_date: date | None = None
    vestibular_disorder: bool = False
    peripheral_neuropathy: bool = False
    cognitive_impairment: bool = False
    anticoagulants: bool = False
    backward_walk_3m_s: float | None = None
    tug_s: float | None = None
    gait_speed_ms: float | None = None


@dataclass(frozen=True)
class SafetyWarning:
    rule: str
    message: str
    source: str  # a key of references.toml
    where: str = ""
    facts: str = ""  # what the warning rests on; a reason given for it stands until these change

    @property
    def fingerprint(self) -> str:
        # Without named facts the message stands for them (it carries the values the warning is about).
        return f"{self.rule}|{self.where}|{self.facts or self.message}"


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day (31 Aug + 6 months = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def fall_risk_findings(facts: PatientFacts) -> list[str]:
    """Each screen result that makes the fall risk high, in words (boundaries count as high risk)."""
    found = []
    if facts.backward_walk_3m_s is not None and facts.backward_walk_3m_s >= HIGH_RISK_BACKWARD_WALK_S:
        found.append(f"3-metre backward walk {_number(facts.backward_walk_3m_s)} s (4.5 s or more)")
    if facts.tug_s is not None and facts.tug_s >= HIGH_RISK_TUG_S:
        found.append(f"Timed Up and Go {_number(facts.tug_s)} s (12 s or more)")
    if facts.gait_speed_ms is not None and facts.gait_speed_ms < HIGH_RISK_GAIT_SPEED_MS:
        found.append(f"gait speed {_number(facts.gait_speed_ms)} m/s (under 0.76 m/s)")
    return found


def _screen_source(findings: list[str]) -> str:
    """The source of the first finding: the 3-metre backward walk, else the TUG, else gait speed."""
    first = findings[0]
    if first.startswith("3-metre"):
        return "carter2020"
    return "steadi" if first.startswith("Timed") else "gait_speed_falls"


def is_high_fall_risk(facts: PatientFacts) -> bool:
    return bool(fall_risk_findings(facts))


def is_screened(facts: PatientFacts) -> bool:
    """A fall-risk screen is the 3-metre backward walk test or the TUG (gait speed alone is not one)."""
    return facts.backward_walk_3m_s is not None or facts.tug_s is not None


def is_recent_surgery(facts: PatientFacts) -> bool:
    """Knee surgery less than 6 calendar months ago, whatever the condition: the surgery date is the fact. A
    planned surgery is not one (the knee is not yet operated on: prehabilitation); once its day comes it is,
    and the advice asks for the protocol to be reviewed (``advice.rules.planned_surgery_passed``)."""
    return (facts.surgery_date is not None and facts.surgery_date <= facts.today
            < add_months(facts.surgery_date, RECENT_SURGERY_MONTHS))


def weeks_since_surgery(surgery_date: date, today: date) -> int:
    """Whole weeks since surgery (day 0-6: week 0), so a phase "from week 6" starts 42 days after surgery."""
    return (today - surgery_date).days // 7


def start_phase_for(phases: list[Phase], *, surgery_date: date | None, today: date) -> int:
    """The phase a new protocol starts in: the last phase whose post-operative start week has come (a patient
    13 weeks after surgery starts in "from week 12", not in "weeks 2 to 6"). Phase 1 when no phase is timed
    from surgery, when the surgery date is unknown, or when it is too early for any phase (the builder warns)."""
    if surgery_date is None:
        return 0
    weeks = weeks_since_surgery(surgery_date, today)
    started = [index for index, phase in enumerate(phases)
               if phase.from_week is not None and phase.from_week <= weeks]
    return started[-1] if started else 0


def on_rails(rx: Prescription, exercise: Exercise) -> bool:
    """Walking on a treadmill, in the bars or on a dead-mill while holding the rails."""
    return not exercise.overground and rx.support in RAIL_SUPPORTS


def supervised_or_on_rails(rx: Prescription, exercise: Exercise) -> bool:
    return rx.setting == "clinic" or on_rails(rx, exercise)


def _doing(rx: Prescription) -> str:
    return f"{SETTING_LABELS[rx.setting].lower()}, {SUPPORT_LABELS[rx.support].lower()}"


def check_protocol(content: ProtocolContent, facts: PatientFacts, *, start_phase: int = 0) -> list[SafetyWarning]:
    """Every safety rule the protocol trips, at most one warning per rule and place. ``start_phase``: where a
    new protocol starts (its post-operative timing is checked)."""
    catalogue = exercises()
    warnings: list[SafetyWarning] = []
    findings, screened, recent = fall_risk_findings(facts), is_screened(facts), is_recent_surgery(facts)
    screen = f"3mbwt={facts.backward_walk_3m_s};tug={facts.tug_s};gait={facts.gait_speed_ms}"
    precautions = [(name, label) for name, label in BALANCE_PRECAUTIONS.items() if getattr(facts, name)]
    for phase_index, phase in enumerate(content.phases, start=1):
        for rx in phase.prescriptions:
            exercise = catalogue[rx.exercise]
            where = f"Phase {phase_index}, {exercise.text().name.lower()}"
            dose = f"{rx.exercise}/{rx.setting}/{rx.support}"

            def warn(rule: str, message: str, source: str, facts_key: str) -> None:
                warnings.append(SafetyWarning(rule, message, source, where, facts_key))  # noqa: B023

            if facts.uses_walker and not on_rails(rx, exercise):
                warn("walker", "This patient uses a rollator or walker, and this is backward walking without "
                     "holding rails. People fall backward during weight shift with a rollator: no backward "
                     "walking with a rollator.", "rollator", f"walker;{dose}")
            if not supervised_or_on_rails(rx, exercise):
                if findings:
                    warn("fall_risk", f"High fall-risk screen ({'; '.join(findings)}) and backward walking "
                         f"outside the clinic without holding rails ({_doing(rx)}): supervised or "
                         "treadmill-with-rails only.", _screen_source(findings), f"{screen};{dose}")
                elif not screened:
                    warn("not_screened", "No fall-risk screen recorded (3-metre backward walk test or Timed Up "
                         f"and Go) and backward walking outside the clinic without holding rails ({_doing(rx)}): "
                         "treated like a high-risk screen. Record a baseline assessment on the patient page, or "
                         "keep to supervised or rails-only walking.", "screen_before_home", f"unscreened;{dose}")
                for name, label in precautions:
                    warn(name, f"{label}: backward walking supervised in the clinic or holding rails only; this "
                         f"is {_doing(rx)}.", "precautions_expert", f"{name};{dose}")
            if recent and rx.setting != "clinic":
                warn("recent_surgery", f"Knee surgery on {day_text(facts.surgery_date)}, less than 6 months "
                     "ago, and work outside the clinic: supervised only.", "perturbation_trial",
                     f"surgery={facts.surgery_date};{rx.setting}")
            if rx.pain_ceiling > HIGHEST_ADVISED_PAIN_CEILING:
                warn("pain_ceiling", f"Pain ceiling {rx.pain_ceiling}/10 is above 5: the pain-monitoring model "
                     "calls pain above 5/10 during exercise too much.", "silbernagel2007",
                     f"ceiling={rx.pain_ceiling}")
    warnings += _start_phase_warnings(content, facts, start_phase)
    return warnings


def _start_phase_warnings(content: ProtocolContent, facts: PatientFacts, start_phase: int) -> list[SafetyWarning]:
    """A new protocol must not start in a phase its post-operative timing does not allow yet."""
    if not 0 <= start_phase < len(content.phases):
        return []
    phase = content.phases[start_phase]
    if phase.from_week is None:
        return []
    where = f"Phase {start_phase + 1}, start"
    if facts.surgery_date is None:
        return [SafetyWarning("no_surgery_date", f"Phase {start_phase + 1} is timed from surgery (from week "
                              f"{phase.from_week}) but the patient has no surgery date: add it on the "
                              "patient's details so the phases follow it.", "postop_weeks_expert", where,
                              f"nosurgery;start={start_phase};from={phase.from_week}")]
    weeks = weeks_since_surgery(facts.surgery_date, facts.today)
    if weeks >= phase.from_week:
        return []
    now = (before_surgery_note(facts.surgery_date, facts.today) if is_planned(facts.surgery_date, facts.today)
           else f"the patient is in week {weeks} (surgery on {day_text(facts.surgery_date)}).")
    return [SafetyWarning("postop_too_early", f"Phase {start_phase + 1} starts in week {phase.from_week} "
                          f"after surgery; {now}", "postop_weeks_expert", where,
                          f"surgery={facts.surgery_date};start={start_phase};from={phase.from_week}")]
