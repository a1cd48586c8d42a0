"""The audit trail's words: every action code the app records reads as a sentence, and the CSV export cannot
carry a formula into a spreadsheet."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rehab.services.audit_trail import safe_cell
from rehab.services.audit_words import LINK_REASONS, UNKNOWN, filter_choices, words_for

SOURCE = Path(__file__).resolve().parents[2] / "rehab"
CODE = r"\"([a-z_]+(?:\.[a-z_]+)+)\""
# The calls that append to the trail; each passes its action code as a literal first argument or as action=.
RECORDING = re.compile(r"\b(?:record|record_read|record_denial|record_in_clinics|audit_event|_audit|record_event)"
                       rf"\(\s*(?:{CODE}|.{{0,160}}?\baction={CODE})(?:\s+if\s[^\n]*?\selse\s{CODE})?", re.S)


def recorded_codes() -> set[str]:
    codes: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for first, second, otherwise in RECORDING.findall(text):
            codes |= {code for code in (first, second, otherwise) if code}
    # Codes made at run time: a template's rename, retire or restore; a membership change; a refused link.
    codes |= {f"template.{action}" for action in ("rename", "retire", "restore")}
    from rehab.views.admin.clinics import CHANGES

    codes |= set(CHANGES.values())
    codes |= {f"{head}.{reason}" for head in ("portal.open", "portal.session") for reason in LINK_REASONS}
    return {code for code in codes if not code.startswith(("admin.", "account.")) or code == "admin.denied"}


def test_the_scan_finds_the_apps_codes():
    """The check below is only as good as this scan: it must see codes of every kind of call."""
    assert {"patient.view", "login.failed", "portal.log.create", "fhir.read", "user.password_reset",
            "visit.create", "audit.export", "membership.admin_revoke", "advice.override"} <= recorded_codes()


@pytest.mark.parametrize("code", sorted(recorded_codes()))
def test_every_recorded_action_has_words(code):
    words = words_for(code)
    assert words is not UNKNOWN
    assert "{actor}" in words.sentence or "{patient}" in words.sentence or words.sentence[0].isupper()
    assert "_" not in words.label + words.sentence.replace("{", "").replace("}", "")


def test_a_refused_link_says_why():
    words = words_for("portal.open.expired")
    assert words.sentence == "{patient} opened their personal link: refused, the link has expired"


def test_the_filter_lists_actions_in_words_by_group():
    groups = dict(filter_choices())
    assert ("visit.create", "Recorded a visit") in groups["Visits and advice"]
    assert all(label and "." not in label for choices in groups.values() for _, label in choices)


@pytest.mark.parametrize(("cell", "safe"), [
    ("=HYPERLINK(\"http://evil.example\")", "'=HYPERLINK(\"http://evil.example\")"), ("+1", "'+1"), ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("Ana Ruiz", "Ana Ruiz"), (42, "42"), (None, ""),
])
def test_a_cell_that_would_be_a_formula_is_kept_as_text(cell, safe):
    assert safe_cell(cell) == safe
