"""Every rule of the advice, one small function each, in two tables read in order (docs/clinical.md lists them).

``RULES``, the safety and tolerance rules, most severe first: each reads the whole ``Situation`` (all recent
sessions, from visits and home logs, in time order) and returns the ``Rule`` that explains it, or None; the
table gives what it asks for. The engine runs every one of them, so a red flag or a fall is seen first and
the safer advice wins when several fire. ``ADVANCE_GATES``: when none of those fired and the streak is long
enough, the first gate that objects turns an advance into a repeat. Sources: clinical reference, sections 2
and 3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import mean

from rehab.dates import day_text
from rehab.services.advice.situation import Advancing, Situation, open_hold, uncleared
from rehab.services.advice.types import AdviceKind, Finding, Rule
from rehab.services.protocol_content import Phase, number
from rehab.services.surgery import before_surgery_note, is_planned
from rehab.vocabulary import EFFUSION_GRADES, RED_FLAG_LABELS, effusion_at_least

PAIN_TREND_RISE = 1.0  # mean worst pain this week at least this much above last week's
HOLD_GAP = timedelta(hours=48)
ONE_LEVEL_PER = timedelta(days=7)
NO_SESSIONS = Rule("no_sessions", "No session recorded yet at this dose.", "silbernagel2007")


# ------------------------------------------------------------------------------- the safety and tolerance rules


def red_flag(situation: Situation) -> Rule | None:
    """A red flag at any visit or home log, in any date order, until a therapist clears it."""
    flagged = [s for s in uncleared(situation) if s.red_flags]
    if not flagged:
        return None
    what = "; ".join(f"{', '.join(RED_FLAG_LABELS.get(flag, flag) for flag in s.red_flags)} ({s.label})"
                     for s in flagged)
    return Rule("red_flag", f"Red flag reported, not yet cleared: {what}. Stop backward walking and contact the "
                "physician; a therapist clears it with what was done.", "red_flags")


def fall(situation: Situation) -> Rule | None:
    """A fall at any visit or home log, until a therapist clears it."""
    fallen = [s for s in uncleared(situation) if s.falls]
    if not fallen:
        return None
    count = sum(s.falls for s in fallen)
    where = ", ".join(s.label for s in fallen)
    return Rule("fall", f"{count} fall{'s' if count > 1 else ''} reported, not yet cleared ({where}): stop and "
                "assess before any more backward walking.", "red_flags")


def effusion_persists(situation: Situation) -> Rule | None:
    """An effusion of 2+ or more at the last two graded visits: the swelling persists."""
    graded = [s for s in situation.sessions if s.effusion in EFFUSION_GRADES]
    if len(graded) < 2 or not all(effusion_at_least(s.effusion, "2+") for s in graded[-2:]):
        return None
    return Rule("effusion_persists", f"Effusion {graded[-1].effusion} at two visits in a row: the swelling "
                "persists, refer.", "sturgill2009")


def planned_surgery_passed(situation: Situation) -> Rule | None:
    """Expert opinion: a dose set before the surgery (prehabilitation) is not carried over the operation. Once
    the surgery date has come, stop until a therapist confirms the surgery and sets a post-operative dose (a new
    version, a phase move or a new protocol starts a dose after the date, which ends this)."""
    surgery, today = situation.surgery_date, situation.now.date()
    if surgery is None or not situation.dose_since.date() < surgery <= today:
        return None
    return Rule("planned_surgery_passed", f"The surgery date ({surgery.isoformat()}) has come, and this dose was "
                "set before it (prehabilitation). Stop backward walking at this dose: confirm the surgery and its "
                "date on the patient's details, then review the protocol for after surgery (the 6-month "
                "supervised-only check applies).", "postop_weeks_expert")


def soreness_stayed(situation: Situation) -> Rule | None:
    if situation.latest.soreness != "warmup_stayed":
        return None
    return Rule("soreness_stayed", "Sore during warm-up and it stayed: stop, 2 days off, drop one level.",
                "soreness_rules")


def pain_above_ceiling(situation: Situation) -> Rule | None:
    latest = situation.latest
    if latest.pain_worst <= situation.ceiling:
        return None
    return Rule("pain_above_ceiling", f"Pain during {latest.pain_worst}/10 is above the ceiling of "
                f"{situation.ceiling}/10: drop one level.", "silbernagel2007")


def effusion_hold(situation: Situation) -> Rule | None:
    """A hold stands from an effusion of 2+ until a clinic visit grades trace or none (home logs grade nothing)."""
    hold = open_hold(situation.sessions)
    if hold is None:
        return None
    start, latest = (situation.sessions[i] for i in hold)
    unchecked = sum(1 for s in situation.sessions if s.at > latest.at)
    since = f" {unchecked} session{'s' if unchecked != 1 else ''} since, not re-checked." if unchecked else ""
    if latest is start or effusion_at_least(latest.effusion, "2+"):
        return Rule("effusion", f"Effusion {latest.effusion} ({latest.label}): hold the level and treat the "
                    f"swelling until a clinic visit grades it trace or none.{since}", "sturgill2009")
    return Rule("effusion_after_hold", f"Effusion {latest.effusion} after a hold ({start.label} was "
                f"{start.effusion}): hold the level again until it is trace or none.{since}", "sturgill2009")


def soreness_late(situation: Situation) -> Rule | None:
    if situation.latest.soreness != "late":
        return None
    return Rule("soreness_late", "Sore more than an hour after or the next day: 1 day off, repeat the same level.",
                "soreness_rules")


def not_settled(situation: Situation) -> Rule | None:
    """The latest session at this dose whose next morning is known decides."""
    for session, morning in reversed(list(zip(situation.sessions, situation.mornings, strict=True))):
        if session.at < situation.dose_since:
            return None
        if morning is not None and morning.settled is not None:
            if morning.settled:
                return None
            return Rule("not_settled", f"Pain the morning after the {session.label} was {morning.pain}/10, above "
                        f"its baseline of {morning.baseline}/10: repeat the same level.", "silbernagel2007")
    return None


def soreness_gone(situation: Situation) -> Rule | None:
    if situation.latest.soreness != "warmup_gone":
        return None
    return Rule("soreness_gone", "Sore during warm-up that went away: repeat the same level.", "soreness_rules")


def at_ceiling(situation: Situation) -> Rule | None:
    """Expert opinion: the ceiling is the most that is acceptable, so a session at it is repeated, not built on."""
    latest = situation.latest
    if latest.pain_worst != situation.ceiling or latest.pain_worst == 0:
        return None
    return Rule("at_ceiling", f"Pain during {latest.pain_worst}/10 is at the ceiling: acceptable to repeat, not to "
                "advance from.", "progression_expert")


def stumble(situation: Situation) -> Rule | None:
    if not (situation.phase.no_stumbles and situation.latest.stumbles):
        return None
    return Rule("stumble", "A stumble: repeat the level; progress only without stumbles.", "progression_expert")


def pain_rising(situation: Situation) -> Rule | None:
    """Mean worst pain of the last 7 days against the 7 days before, when both weeks have sessions."""
    now = situation.now
    this_week = [s.pain_worst for s in situation.sessions if now - s.at < timedelta(days=7)]
    last_week = [s.pain_worst for s in situation.sessions if timedelta(days=7) <= now - s.at < timedelta(days=14)]
    if not this_week or not last_week or mean(this_week) - mean(last_week) < PAIN_TREND_RISE:
        return None
    trend = f"{number(round(mean(last_week), 1))} → {number(round(mean(this_week), 1))}/10"
    return Rule("pain_rising", f"Pain during is rising week to week ({trend}): do not progress.", "silbernagel2007")


@dataclass(frozen=True)
class Outcome:
    """What a rule that fires asks for: the advice's kind, and days off before the next session."""

    kind: AdviceKind
    rest_days: int = 0


STOP, REGRESS, HOLD, REPEAT = Outcome("stop_refer"), Outcome("regress"), Outcome("hold"), Outcome("repeat")
Check = Callable[[Situation], Rule | None]

# Predicate and outcome, most severe first (tests/services/test_advice_rules.py keeps it in that order). Every
# rule runs and every finding is shown; the most severe outcome decides.
RULES: tuple[tuple[Check, Outcome], ...] = (
    (red_flag, STOP),
    (fall, STOP),
    (effusion_persists, STOP),
    (planned_surgery_passed, STOP),
    (soreness_stayed, Outcome("regress", rest_days=2)),
    (pain_above_ceiling, REGRESS),
    (effusion_hold, HOLD),
    (soreness_late, Outcome("repeat", rest_days=1)),
    (not_settled, REPEAT),
    (soreness_gone, REPEAT),
    (at_ceiling, REPEAT),
    (stumble, REPEAT),
    (pain_rising, REPEAT),
)


def findings(situation: Situation) -> list[Finding]:
    """Every rule of ``RULES`` that fires, in the table's order."""
    return [Finding(outcome.kind, rule, outcome.rest_days) for check, outcome in RULES
            if (rule := check(situation)) is not None]


# ------------------------------------------------------------------------------------- advancing and its gates


def within_rules(advancing: Advancing) -> Rule:
    """The streak, shown with every advance or repeat it decides."""
    streak, needed = advancing.streak, advancing.needed
    rules_text = (f"within the pain rules at this dose (pain during below {advancing.situation.ceiling}/10, settled "
                  "by next morning)")
    if streak < needed:
        text = f"{streak} of {needed} sessions {rules_text}."
    else:
        text = f"{streak} session{'s' if streak != 1 else ''} in a row {rules_text}; {needed} needed."
    return Rule("within_rules", text, "silbernagel2007")


def hold_gap(advancing: Advancing) -> Rule | None:
    """Expert opinion: no level up within 48 hours of a session inside a hold."""
    s = advancing.situation
    last_hold = max((session.at for session, hold in zip(s.sessions, advancing.held, strict=True) if hold),
                    default=None)
    if last_hold is None or s.now - last_hold >= HOLD_GAP:
        return None
    return Rule("hold_gap", "A hold in the last 48 hours: no progression yet.", "progression_expert")


def one_level_a_week(advancing: Advancing) -> Rule | None:
    """Expert opinion: at most one accepted level up in 7 days."""
    last, now = advancing.last_advance_at, advancing.situation.now
    if last is None or now - last >= ONE_LEVEL_PER:
        return None
    return Rule("one_level_a_week", f"At most one level up a week: the last one was {(now - last).days} day(s) ago.",
                "progression_expert")


def goals_reached(advancing: Advancing) -> Rule | None:
    if advancing.change is not None:
        return None
    return Rule("goals_reached", "Every goal of the last phase is reached: consider re-testing and discharge or a "
                "maintenance plan.", "progression_expert")


def surgery_gate(phase: Phase, *, number: int, surgery_date: date | None, today: date) -> Rule | None:
    """A phase that starts a number of weeks after surgery is not entered earlier (or with no surgery date).
    The builder's own phase move asks the same."""
    if phase.from_week is None:
        return None
    if surgery_date is None:
        return Rule("surgery_date_missing", f"Phase {number} ({phase.name}) starts at week {phase.from_week} after "
                    "surgery and no surgery date is recorded: record it on the patient before moving on.",
                    "progression_expert")
    week = (today - surgery_date).days // 7
    if week >= phase.from_week:
        return None
    now = (before_surgery_note(surgery_date, today) if is_planned(surgery_date, today)
           else f"the patient is in week {week} (surgery {day_text(surgery_date)}): not yet.")
    return Rule("surgery_weeks", f"Phase {number} ({phase.name}) starts at week {phase.from_week} after surgery; "
                f"{now}", "progression_expert")


def weeks_after_surgery(advancing: Advancing) -> Rule | None:
    """A move into a phase the weeks since surgery do not allow yet."""
    change = advancing.change
    if change is None or change.to_phase is None:
        return None
    return surgery_gate(advancing.phases[change.to_phase], number=change.to_phase + 1,
                        surgery_date=advancing.situation.surgery_date, today=advancing.situation.now.date())


# In order: the first that objects is the one shown with the streak.
ADVANCE_GATES: tuple[Callable[[Advancing], Rule | None], ...] = (
    hold_gap, one_level_a_week, goals_reached, weeks_after_surgery)
ONE_VARIABLE = Rule("one_variable", "One variable at a time, in the order minutes, speed, incline; a phase move "
                    "changes one thing.", "progression_expert")
