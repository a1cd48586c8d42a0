"""Every closed list of words the app stores: one enum per list, with its labels, so a table's column, a form's
choices, a rule's check and a page's wording all name the same values.

Values are what the database holds (short strings, not database enums, so a new choice needs no PostgreSQL
type migration). Labels are English gettext msgids marked with ``N_``: this module imports no Flask, so
services and tables use it, and the edge translates. Patient pages and sheets pass them through ``_()``
(Flask-Babel, in the patient's language); services rendering for a given language use
``rehab.translation.gettext``; therapist pages show them as they are (English). Each label has its Spanish in
``rehab/translations/es/LC_MESSAGES/messages.po`` (tests/test_vocabulary.py checks both).

Some lists have two wordings: ``*_LABELS`` for therapists (short, clinical) and ``*_PATIENT`` for the patient
(first person, plain words).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

from rehab.translation import N_


@dataclass(frozen=True)
class OneOf:
    """Marks a ``str`` field as holding a value of ``vocabulary``: ``Annotated[str, OneOf(Soreness)]``.

    The field stays a plain string (a table column, JSON, the database all see the value), and an input shape
    refuses anything else with the same error as a ``Literal`` would ("Choose one of the options")."""

    vocabulary: type[StrEnum]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def _check(self, value: str) -> str:
        try:
            return self.vocabulary(value).value
        except ValueError:
            raise PydanticCustomError("literal_error", "Input should be one of the listed values") from None


class Condition(StrEnum):
    KNEE_OA = "knee_oa"
    POST_TKA = "post_tka"
    POST_ACLR = "post_aclr"
    PFP = "pfp"
    OTHER = "other"


CONDITION_LABELS: dict[str, str] = {
    Condition.KNEE_OA: N_("Knee osteoarthritis"),
    Condition.POST_TKA: N_("After total knee arthroplasty"),
    Condition.POST_ACLR: N_("After ACL reconstruction"),
    Condition.PFP: N_("Patellofemoral pain"),
    Condition.OTHER: N_("Other"),
}


class Knee(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BOTH = "both"


KNEE_LABELS: dict[str, str] = {Knee.LEFT: N_("Left"), Knee.RIGHT: N_("Right"), Knee.BOTH: N_("Both")}


class Language(StrEnum):
    """The languages patient text (sheets, portal, questionnaires) is written in; therapist pages are English."""

    EN = "en"
    ES = "es"


LANGUAGE_LABELS: dict[str, str] = {Language.EN: N_("English"), Language.ES: N_("Spanish")}
# A language picker names each language in itself, so a patient finds theirs whatever the page is in.
LANGUAGE_OWN_NAMES: dict[str, str] = {Language.EN: "English", Language.ES: "Español"}


class Precaution(StrEnum):
    """A patient's precautions: each is a yes/no column of ``patient`` named by its value."""

    USES_WALKER = "uses_walker"
    VESTIBULAR_DISORDER = "vestibular_disorder"
    PERIPHERAL_NEUROPATHY = "peripheral_neuropathy"
    ANTICOAGULANTS = "anticoagulants"
    COGNITIVE_IMPAIRMENT = "cognitive_impairment"


PRECAUTION_LABELS: dict[str, str] = {
    Precaution.USES_WALKER: N_("Uses a rollator or walker"),
    Precaution.VESTIBULAR_DISORDER: N_("Vestibular disorder"),
    Precaution.PERIPHERAL_NEUROPATHY: N_("Peripheral neuropathy"),
    Precaution.ANTICOAGULANTS: N_("Takes anticoagulants"),
    Precaution.COGNITIVE_IMPAIRMENT: N_("Cognitive impairment"),
}


class Support(StrEnum):
    """What the patient holds while walking backward, most support first (dose steps wean in this order)."""

    BOTH_RAILS = "both_rails"
    ONE_RAIL = "one_rail"
    LIGHT_TOUCH = "light_touch"
    PARTNER = "partner"
    NONE = "none"


SUPPORT_LABELS: dict[str, str] = {
    Support.BOTH_RAILS: N_("Both rails"),
    Support.ONE_RAIL: N_("One rail"),
    Support.LIGHT_TOUCH: N_("Light touch"),
    Support.PARTNER: N_("Partner spotting"),
    Support.NONE: N_("No support"),
}

# The end of the patient's dose sentence ("..., holding both rails."), and its words in the parallel bars.
SUPPORT_PATIENT: dict[str, str] = {
    Support.BOTH_RAILS: N_("holding both rails"),
    Support.ONE_RAIL: N_("holding one rail"),
    Support.LIGHT_TOUCH: N_("with a light touch on the rails"),
    Support.PARTNER: N_("with a partner beside you"),
    Support.NONE: N_("without holding on"),
}
SUPPORT_PATIENT_IN_BARS: dict[str, str] = {
    **SUPPORT_PATIENT,
    Support.BOTH_RAILS: N_("holding both bars"),
    Support.LIGHT_TOUCH: N_("with a light touch on the bars"),
}


class Setting(StrEnum):
    """Where a prescription is done."""

    CLINIC = "clinic"
    HOME_PARTNER = "home_partner"
    HOME_ALONE = "home_alone"


SETTING_LABELS: dict[str, str] = {
    Setting.CLINIC: N_("In the clinic (supervised)"),
    Setting.HOME_PARTNER: N_("At home with a partner"),
    Setting.HOME_ALONE: N_("At home alone"),
}


class Soreness(StrEnum):
    """When the knee was sore, for the soreness rules (Thomeé's pain-monitoring model, after the session)."""

    NONE = "none"
    WARMUP_GONE = "warmup_gone"
    WARMUP_STAYED = "warmup_stayed"
    LATE = "late"


SORENESS_LABELS: dict[str, str] = {
    Soreness.NONE: N_("No soreness"),
    Soreness.WARMUP_GONE: N_("Sore during warm-up, went away"),
    Soreness.WARMUP_STAYED: N_("Sore during warm-up, stayed"),
    Soreness.LATE: N_("Sore more than an hour after, or the next day"),
}
SORENESS_PATIENT: dict[str, str] = {
    Soreness.NONE: N_("No soreness"),
    Soreness.WARMUP_GONE: N_("Sore at the start, but it went away as I warmed up"),
    Soreness.WARMUP_STAYED: N_("Sore at the start, and it stayed"),
    Soreness.LATE: N_("Sore later: more than 1 hour after, or the next day"),
}


class Effusion(StrEnum):
    """Knee swelling by the stroke test, mildest first (``effusion_at_least`` compares by this order)."""

    ZERO = "0"
    TRACE = "trace"
    ONE = "1+"
    TWO = "2+"
    THREE = "3+"


EFFUSION_LABELS: dict[str, str] = {
    Effusion.ZERO: N_("0 (none)"), Effusion.TRACE: N_("Trace"), Effusion.ONE: N_("1+"), Effusion.TWO: N_("2+"),
    Effusion.THREE: N_("3+"),
}
EFFUSION_GRADES: tuple[str, ...] = tuple(Effusion)


def effusion_at_least(grade: str | None, threshold: str) -> bool:
    return grade in EFFUSION_GRADES and EFFUSION_GRADES.index(grade) >= EFFUSION_GRADES.index(threshold)


class RedFlag(StrEnum):
    """A sign that stops backward walking until a therapist clears it: each is a yes/no column of ``visit``
    and ``home_log`` named by its value."""

    CALF = "flag_calf"
    CHEST = "flag_chest"
    INFECTION = "flag_infection"
    SUDDEN_PAIN = "flag_sudden_pain"
    LOCKING = "flag_locking"


# Therapist wording, lower case: it is read inside sentences ("reported calf pain or swelling").
RED_FLAG_LABELS: dict[str, str] = {
    RedFlag.CALF: N_("calf pain or swelling"),
    RedFlag.CHEST: N_("chest pain or breathlessness"),
    RedFlag.INFECTION: N_("spreading redness, heat, fever or wound drainage"),
    RedFlag.SUDDEN_PAIN: N_("sudden sharp rise in pain"),
    RedFlag.LOCKING: N_("knee locking or giving way"),
}
RED_FLAG_PATIENT: dict[str, str] = {
    RedFlag.CALF: N_("Pain, swelling or warmth in my calf"),
    RedFlag.CHEST: N_("Chest pain, or it was hard to breathe"),
    RedFlag.INFECTION: N_("Redness that spreads, heat, fever, or fluid from my wound"),
    RedFlag.SUDDEN_PAIN: N_("My pain suddenly got much worse"),
    RedFlag.LOCKING: N_("My knee locked or gave way"),
}


class ClearanceAction(StrEnum):
    """What a therapist did about a red flag or a fall. Only "cleared" lets the patient walk again; the others
    are kept in the record and the stop stands (the safer outcome while a referral is open)."""

    CALLED = "called"
    REFERRED = "referred"
    CLEARED = "cleared"


CLEARANCE_ACTION_LABELS: dict[str, str] = {
    ClearanceAction.CALLED: N_("Called the patient"),
    ClearanceAction.REFERRED: N_("Referred to the physician or emergency care"),
    ClearanceAction.CLEARED: N_("Cleared to go on with backward walking"),
}


class Decision(StrEnum):
    """What a therapist did with the advice: accepted it (its change applied) or overrode it with a reason."""

    ACCEPTED = "accepted"
    OVERRIDDEN = "overridden"


DECISION_LABELS: dict[str, str] = {
    Decision.ACCEPTED: N_("Accepted"),
    Decision.OVERRIDDEN: N_("Overridden"),
}


class AlertKind(StrEnum):
    """Why a patient is on the therapist's alert list."""

    RED_FLAG = "red_flag"
    FALL = "fall"
    PAIN_TWICE = "pain_twice"
    PAIN_HIGH = "pain_high"
    INACTIVE = "inactive"
    DOB_LOCKOUT = "dob_lockout"
    CLINIC_ONLY = "clinic_only"


ALERT_KIND_LABELS: dict[str, str] = {
    AlertKind.RED_FLAG: N_("Red flag"),
    AlertKind.FALL: N_("Fall"),
    AlertKind.PAIN_TWICE: N_("Pain above the ceiling twice"),
    AlertKind.PAIN_HIGH: N_("Pain above the ceiling at home"),
    AlertKind.INACTIVE: N_("No recent activity"),
    AlertKind.DOB_LOCKOUT: N_("Portal link locked"),
    AlertKind.CLINIC_ONLY: N_("Home session of a clinic-only program"),
}
# The dashboard's badges: the same kinds in fewer words.
ALERT_KIND_SHORT: dict[str, str] = {
    AlertKind.RED_FLAG: N_("Red flag"),
    AlertKind.FALL: N_("Fall"),
    AlertKind.PAIN_TWICE: N_("Pain above ceiling"),
    AlertKind.PAIN_HIGH: N_("Pain above ceiling at home"),
    AlertKind.INACTIVE: N_("No recent activity"),
    AlertKind.DOB_LOCKOUT: N_("Link locked"),
    AlertKind.CLINIC_ONLY: N_("Walked at home, clinic only"),
}
# Kinds that stop backward walking: shown as danger, not as a warning.
STOPPING_ALERTS = frozenset({AlertKind.RED_FLAG, AlertKind.FALL})
# Pain above the phase's pain ceiling: the dose is too much. Shown in words and a colour of its own.
PAIN_ALERTS = frozenset({AlertKind.PAIN_TWICE, AlertKind.PAIN_HIGH})
# The dashboard's order, most urgent first (docs/clinical.md, "Alerts"): what stops walking, then pain above the
# ceiling, then what needs a look but harms nobody today.
ALERT_URGENCY: tuple[AlertKind, ...] = (AlertKind.RED_FLAG, AlertKind.FALL, AlertKind.PAIN_TWICE,
                                        AlertKind.PAIN_HIGH, AlertKind.CLINIC_ONLY, AlertKind.DOB_LOCKOUT,
                                        AlertKind.INACTIVE)


class PaperSize(StrEnum):
    LETTER = "letter"
    A4 = "a4"


PAPER_SIZE_LABELS: dict[str, str] = {PaperSize.LETTER: N_("US Letter"), PaperSize.A4: N_("A4")}


class SpeedUnit(StrEnum):
    KMH = "kmh"
    MPH = "mph"


SPEED_UNIT_LABELS: dict[str, str] = {SpeedUnit.KMH: N_("km/h"), SpeedUnit.MPH: N_("mph")}


class Between(StrEnum):
    """What the patient does between the backward parts of an interval pattern ("1 minute backward in every 2")."""

    FORWARD = "forward"
    REST = "rest"


BETWEEN_LABELS: dict[str, str] = {Between.FORWARD: N_("Walk forward in between"), Between.REST: N_("Rest in between")}


class StopReason(StrEnum):
    """Why a patient stopped a guided session early ("I had to stop"). ``UNSTEADY`` is a red flag: the knee
    gave way, or a near fall; it leads to the stop screen and the log's "knee locked or gave way"."""

    PAIN = "pain"
    UNSTEADY = "unsteady"
    TIRED = "tired"
    OTHER = "other"


STOP_REASON_PATIENT: dict[str, str] = {
    StopReason.PAIN: N_("Pain"),
    StopReason.UNSTEADY: N_("My knee gave way, or I nearly fell"),
    StopReason.TIRED: N_("I was too tired"),
    StopReason.OTHER: N_("Something else"),
}
# The reasons that are red flags: the session stops and the patient is told to stop and call the clinic.
STOP_REASON_RED_FLAGS: frozenset[str] = frozenset({StopReason.UNSTEADY})


class PrintJobKind(StrEnum):  # which sheets a batch print job holds
    TODAY = "today"  # everyone with a visit today, or the patients ticked on the dashboard
    CASELOAD = "caseload"  # the patients of the therapist who started it ("My patients")
    CLINIC = "clinic"  # every patient of the clinic with an active protocol (admins)


PRINT_JOB_KIND_LABELS: dict[str, str] = {PrintJobKind.TODAY: N_("Today's sheets"),
                                         PrintJobKind.CASELOAD: N_("My caseload's sheets"),
                                         PrintJobKind.CLINIC: N_("The whole clinic's sheets")}


class PrintJobStatus(StrEnum):
    QUEUED = "queued"  # waiting for a render worker
    RUNNING = "running"  # a render worker is printing its sheets
    DONE = "done"  # finished: one PDF of every sheet that printed (some may have failed, named)
    FAILED = "failed"  # nothing to open: every sheet failed, or printing stopped too often


PRINT_JOB_STATUS_LABELS: dict[str, str] = {PrintJobStatus.QUEUED: N_("Waiting to print"),
                                           PrintJobStatus.RUNNING: N_("Printing"),
                                           PrintJobStatus.DONE: N_("Done"),
                                           PrintJobStatus.FAILED: N_("Failed")}


class PrintItemStatus(StrEnum):  # one sheet of a batch print job
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


PRINT_ITEM_STATUS_LABELS: dict[str, str] = {PrintItemStatus.PENDING: N_("Not printed yet"),
                                            PrintItemStatus.DONE: N_("Printed"),
                                            PrintItemStatus.FAILED: N_("Not printed")}


# Every vocabulary with each of its wordings, for the tests that check every value is labelled (in English and
# Spanish) and that every value stored in the database is one of these.
VOCABULARIES: dict[type[StrEnum], tuple[Mapping[str, str], ...]] = {
    Condition: (CONDITION_LABELS,),
    Knee: (KNEE_LABELS,),
    Language: (LANGUAGE_LABELS, LANGUAGE_OWN_NAMES),
    Precaution: (PRECAUTION_LABELS,),
    Support: (SUPPORT_LABELS, SUPPORT_PATIENT, SUPPORT_PATIENT_IN_BARS),
    Setting: (SETTING_LABELS,),
    Soreness: (SORENESS_LABELS, SORENESS_PATIENT),
    Effusion: (EFFUSION_LABELS,),
    RedFlag: (RED_FLAG_LABELS, RED_FLAG_PATIENT),
    ClearanceAction: (CLEARANCE_ACTION_LABELS,),
    Decision: (DECISION_LABELS,),
    AlertKind: (ALERT_KIND_LABELS, ALERT_KIND_SHORT),
    PaperSize: (PAPER_SIZE_LABELS,),
    SpeedUnit: (SPEED_UNIT_LABELS,),
    Between: (BETWEEN_LABELS,),
    StopReason: (STOP_REASON_PATIENT,),
    PrintJobKind: (PRINT_JOB_KIND_LABELS,),
    PrintJobStatus: (PRINT_JOB_STATUS_LABELS,),
    PrintItemStatus: (PRINT_ITEM_STATUS_LABELS,),
}
