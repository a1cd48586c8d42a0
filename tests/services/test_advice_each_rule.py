"""Each rule of the advice on its own: the situation that makes it fire and the nearest one that does not, the
tables in order of severity, and docs/clinical.md naming every rule the code can give with its source."""

from __future__ import annotations

import ast
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from rehab.dates import day_text
from rehab.services.advice import rules
from rehab.services.advice.engine import safest
from rehab.services.advice.rules import ADVANCE_GATES, RULES
from rehab.services.advice.situation import Advancing, Situation, mornings_of
from rehab.services.advice.types import SEVERITY, Finding, Rule, SessionReport
from rehab.services.catalogue import references
from rehab.services.protocol_content import Phase
from tests.services.test_advice_rules import A_MONTH_AGO, KNEE_OA, NOW, TKA, at, home, visit, with_dose

ROOT = Path(__file__).resolve().parents[2]
CEILING = KNEE_OA[0].prescriptions[0].pain_ceiling  # 5


def situation(*sessions: SessionReport, phases: list[Phase] = KNEE_OA, phase_index: int = 0,
              dose_since: datetime = A_MONTH_AGO, cleared_until: datetime | None = None,
              surgery_date: date | None = None) -> Situation:
    ordered = tuple(sorted(sessions, key=lambda s: s.at))
    phase = phases[phase_index]
    return Situation(ordered, mornings_of(ordered), phase, phase.prescriptions[0], dose_since, NOW, cleared_until,
                     surgery_date)


def advancing(*sessions: SessionReport, phases: list[Phase] = KNEE_OA, phase_index: int = 0,
              last_advance_at: datetime | None = None, surgery_date: date | None = None) -> Advancing:
    return Advancing(situation(*sessions, phases=phases, phase_index=phase_index, surgery_date=surgery_date),
                     phases, phase_index, last_advance_at)


GOOD = (visit(days=3), visit(days=1))
CALF = ("flag_calf",)
BARS_DONE = with_dose(TKA, 0, minutes=5)  # the next level is the move to phase 2, from week 6 after surgery
LAST_GOALS = with_dose(KNEE_OA, 2, minutes=30, incline_pct=10)


def case(check, fires, code, quiet, name):  # type: ignore[no-untyped-def]
    return pytest.param(check, fires, code, quiet, id=name)


EACH_RULE = [
    case(rules.red_flag, situation(home(days=2, red_flags=CALF), *GOOD), "red_flag",
         situation(home(days=2, red_flags=CALF, recorded=at(days=2)), *GOOD, cleared_until=at(days=1)),
         "red flag, until a clearing recorded after it"),
    case(rules.fall, situation(*GOOD, home(hours=2, falls=1)), "fall",
         situation(home(days=2, falls=1, recorded=at(days=2)), *GOOD, cleared_until=at(days=2)),
         "fall, until cleared"),
    case(rules.effusion_persists, situation(visit(days=3, effusion="2+"), home(days=2), visit(days=1, effusion="3+")),
         "effusion_persists", situation(visit(days=3, effusion="2+"), visit(days=1, effusion="1+")),
         "2+ at two graded visits in a row, not 2+ then 1+"),
    case(rules.planned_surgery_passed, situation(*GOOD, surgery_date=NOW.date() - timedelta(days=1)),
         "planned_surgery_passed", situation(*GOOD, surgery_date=NOW.date() + timedelta(days=1)),
         "a dose set before the surgery date once it has come, not while it is planned"),
    case(rules.soreness_stayed, situation(*GOOD, visit(soreness="warmup_stayed")), "soreness_stayed",
         situation(visit(days=1, soreness="warmup_stayed"), visit()), "soreness that stayed, at the latest only"),
    case(rules.pain_above_ceiling, situation(*GOOD, visit(pain=CEILING + 1)), "pain_above_ceiling",
         situation(*GOOD, visit(pain=CEILING)), "above the ceiling, not at it"),
    case(rules.effusion_hold, situation(visit(days=3, effusion="2+"), home(days=1)), "effusion",
         situation(visit(days=3, effusion="2+"), visit(days=1, effusion="trace")), "a 2+ holds until trace"),
    case(rules.effusion_hold, situation(visit(days=3, effusion="2+"), visit(days=1, effusion="1+")),
         "effusion_after_hold", situation(visit(days=3, effusion="1+"), visit(days=1, effusion="1+")),
         "a 1+ after a hold holds again, a 1+ alone does not"),
    case(rules.soreness_late, situation(*GOOD, visit(soreness="late")), "soreness_late",
         situation(*GOOD, visit(soreness="none")), "late soreness"),
    case(rules.not_settled, situation(visit(days=2, pain_before=2), home(days=1, pain_next_morning=3)), "not_settled",
         situation(visit(days=2, pain_before=2), home(days=1, pain_next_morning=2)), "next morning above baseline"),
    case(rules.not_settled,
         situation(visit(days=2, pain_before=2), home(days=1, pain_next_morning=3), dose_since=at(days=1, hours=1)),
         "not_settled",
         situation(visit(days=2, pain_before=2), home(days=1, pain_next_morning=3), dose_since=at(hours=12)),
         "only at this dose"),
    case(rules.soreness_gone, situation(*GOOD, visit(soreness="warmup_gone")), "soreness_gone",
         situation(visit(days=1, soreness="warmup_gone"), visit()), "soreness gone, at the latest only"),
    case(rules.at_ceiling, situation(*GOOD, visit(pain=CEILING)), "at_ceiling",
         situation(*GOOD, visit(pain=CEILING - 1)), "at the ceiling, not below"),
    case(rules.stumble, situation(*GOOD, visit(stumbles=1)), "stumble",
         situation(*GOOD, visit(stumbles=1), phases=[KNEE_OA[0].model_copy(update={"no_stumbles": False})]),
         "a stumble where the phase asks for none"),
    case(rules.pain_rising, situation(visit(days=10, pain=2), visit(days=1, pain=3)), "pain_rising",
         situation(visit(days=10, pain=2), visit(days=2, pain=2), visit(days=1, pain=3)),
         "1 point up week to week, not half a point"),
    case(rules.hold_gap, advancing(visit(days=1, hours=23, effusion="2+"), visit(days=1, effusion="trace"), visit()),
         "hold_gap", advancing(visit(days=2, hours=1, effusion="2+"), visit(days=1, effusion="trace"), visit()),
         "a hold within 48 hours, not 49"),
    case(rules.one_level_a_week, advancing(*GOOD, last_advance_at=at(days=6, hours=23)), "one_level_a_week",
         advancing(*GOOD, last_advance_at=at(days=7)), "a level up within 7 days, not at 7"),
    case(rules.goals_reached, advancing(*GOOD, phases=LAST_GOALS, phase_index=2), "goals_reached",
         advancing(*GOOD, phases=KNEE_OA, phase_index=2), "the last phase's goals reached"),
    case(rules.weeks_after_surgery, advancing(*GOOD, phases=BARS_DONE, surgery_date=NOW.date() - timedelta(days=41)),
         "surgery_weeks", advancing(*GOOD, phases=BARS_DONE, surgery_date=NOW.date() - timedelta(days=42)),
         "a move before the phase's week after surgery"),
    case(rules.weeks_after_surgery, advancing(*GOOD, phases=BARS_DONE), "surgery_date_missing",
         advancing(*GOOD, phases=with_dose(KNEE_OA, 0, minutes=10, speed_kmh=1.4)),
         "no surgery date, where the next phase starts after surgery"),
]


@pytest.mark.parametrize(("check", "fires", "code", "quiet"), EACH_RULE)
def test_each_rule_fires_in_its_situation_and_not_in_the_nearest_other(check, fires, code, quiet):
    fired = check(fires)
    assert fired is not None and fired.code == code
    assert fired.source in references(), "every rule cites a source of references.toml"
    assert check(quiet) is None


def test_every_rule_of_both_tables_is_tested_on_its_own():
    tested = {param.values[0] for param in EACH_RULE}
    assert {check for check, _ in RULES} | set(ADVANCE_GATES) == tested


def test_the_rules_table_is_in_order_of_severity_red_flags_and_falls_first():
    severities = [SEVERITY[outcome.kind] for _, outcome in RULES]
    assert severities == sorted(severities, reverse=True)
    assert [check for check, _ in RULES[:2]] == [rules.red_flag, rules.fall]


def test_the_tables_rest_days_are_the_soreness_rules():
    days = {check.__name__: outcome.rest_days for check, outcome in RULES if outcome.rest_days}
    assert days == {"soreness_stayed": 2, "soreness_late": 1}


def test_a_red_flag_outranks_every_other_rule_and_says_what_it_set_aside():
    fired = rules.findings(situation(*GOOD, visit(pain=CEILING + 1, soreness="late", red_flags=CALF)))
    advice = safest(fired, rx=KNEE_OA[0].prescriptions[0], phase_index=0, phases=KNEE_OA, last_raise=None)
    assert advice.kind == "stop_refer" and advice.rules[0].code == "red_flag"
    assert (advice.change, advice.rest_days, advice.set_aside) == (None, 0, ("regress", "repeat"))
    assert advice.why == ("Other rules below ask for “regress one level” and “repeat this level”; when rules "
                          "disagree the safer advice wins: “stop and refer”.")


def test_advice_the_rules_agree_on_gives_no_why():
    stayed = Finding("repeat", Rule("soreness_late", "", "soreness_rules"), rest_days=1)
    gone = Finding("repeat", Rule("soreness_gone", "", "soreness_rules"))
    advice = safest([stayed, gone], rx=KNEE_OA[0].prescriptions[0], phase_index=0, phases=KNEE_OA, last_raise=None)
    assert (advice.kind, advice.rest_days, advice.set_aside, advice.why) == ("repeat", 1, (), "")


# ------------------------------------------------------------------ docs/clinical.md names every rule

def _rules_in_code() -> dict[str, str]:
    """Every Rule(code, text, source) the advice package can give: code -> source."""
    found: dict[str, str] = {}
    for path in (ROOT / "rehab" / "services" / "advice").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Rule":
                code, source = node.args[0], node.args[-1]
                assert isinstance(code, ast.Constant) and isinstance(source, ast.Constant), ast.unparse(node)
                found[code.value] = source.value
    return found


def _advice_rules_table() -> dict[str, str]:
    """Rule code -> its row in docs/clinical.md's "The advice rules" table."""
    text = (ROOT / "docs" / "clinical.md").read_text()
    section = text[text.index("## The advice rules"):]
    section = section[:section.index("\n## ", 4)]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| Order")]
    return {code: row for row in rows for code in re.findall(r"`(\w+)`", row.split("|")[2])}


def test_docs_list_every_rule_of_the_code_by_its_code_with_its_source():
    in_code, in_docs = _rules_in_code(), _advice_rules_table()
    assert len(in_code) >= 21
    assert sorted(set(in_code) - set(in_docs)) == [], "add these rules to docs/clinical.md, The advice rules"
    assert sorted(set(in_docs) - set(in_code)) == [], "docs/clinical.md names rules the code does not have"
    for code, source in in_code.items():
        if source == "progression_expert":
            assert "Expert opinion" in in_docs[code], f"docs/clinical.md: say that `{code}` is expert opinion"
        else:
            assert in_docs[code].rstrip(" |").rsplit("|", 1)[1].strip(), f"docs/clinical.md: give `{code}` a source"


def test_a_dose_set_after_the_surgery_is_not_asked_to_be_reviewed():
    after = situation(*GOOD, surgery_date=A_MONTH_AGO.date() - timedelta(days=1))  # the usual post-operative case
    assert rules.planned_surgery_passed(after) is None


def test_before_a_planned_surgery_a_phase_timed_from_it_waits_and_says_why():
    planned = NOW.date() + timedelta(days=20)
    rule = rules.weeks_after_surgery(advancing(*GOOD, phases=BARS_DONE, surgery_date=planned))
    assert rule is not None and rule.code == "surgery_weeks"
    assert f"surgery is planned for {day_text(planned)} (in 3 weeks)" in rule.text
    assert "week -" not in rule.text  # no negative weeks after surgery
