"""A form from an out-of-date page is refused with the current state shown, and changes nothing.

Two tabs open the same page, so each has its own one-time form id; the first tab's post applies, the
second's is not a repeat of it (tests/test_double_submit.py covers those) but a decision made on what the
page showed before the first one. Each test finds one change, and the second tab told what is there now.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from rehab.models import AuditEvent, Clinic, ClinicTemplate, QuestionnaireResponse, RedFlagClearance
from tests.test_double_submit import (  # noqa: F401  (world is the walk's fixture)
    CASES,
    World,
    _count,
    _form,
    _fresh,
    _is_admin,
    page_form,
    world,
)

pytestmark = pytest.mark.db


def _two_tabs(w: World, db: Session, endpoint: str, **data: str):  # type: ignore[no-untyped-def]
    """The same page opened twice, in the same browser: two forms with their own ids."""
    tabs = [_form(w, db, CASES[endpoint]) for _ in range(2)]
    assert tabs[0][2]["form_id"] != tabs[1][2]["form_id"]
    return [(browser, url, {**form, **data}) for browser, url, form in tabs]


def _audited(db: Session, action: str) -> int:
    count = _count(db, AuditEvent, AuditEvent.action == action)
    db.rollback()
    return count


def test_making_someone_admin_from_an_out_of_date_page_changes_nothing(world, db):  # noqa: F811
    first, second = _two_tabs(world, db, "admin.change_member")
    assert first[0].post(first[1], data=first[2]).status_code == 302
    refused = second[0].post(second[1], data=second[2], follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert "They are already an admin of this clinic; nothing was changed." in text
    assert "Remove admin role: Pat Therapist" in text  # the members as they are now
    assert _is_admin(world, db, world.therapist) is True
    assert _audited(db, "membership.admin_grant") == 1


def test_removing_someone_already_removed_changes_nothing(world, db):  # noqa: F811
    first, second = _two_tabs(world, db, "admin.change_member", action="remove")
    assert first[0].post(first[1], data=first[2]).status_code == 302
    refused = second[0].post(second[1], data=second[2], follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "They do not work in this clinic. Nothing was changed." in text
    assert "Remove from clinic: Pat Therapist" not in text and _is_admin(world, db, world.therapist) is None
    assert _audited(db, "membership.remove") == 1


def test_an_assessment_removed_meanwhile_is_not_removed_again(world, db):  # noqa: F811
    first, second = _two_tabs(world, db, "assessments.remove")
    assert first[0].post(first[1], data=first[2]).status_code == 302
    refused = second[0].post(second[1], data={**second[2], "reason": "Typed twice"}, follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert "This assessment was already removed at" in text and "(“Entered for the wrong patient”)" in text
    assert "nothing was changed" in text
    assert _audited(db, "assessment.remove") == 1


def test_a_questionnaire_sent_meanwhile_is_not_sent_twice(world, db):  # noqa: F811
    first, second = _two_tabs(world, db, "questionnaires.send")
    assert first[0].post(first[1], data=first[2]).status_code == 302
    refused = second[0].post(second[1], data=second[2], follow_redirects=True)
    assert "is already waiting for the patient; it was not sent twice." in refused.get_data(as_text=True)
    assert len(db.exec(select(QuestionnaireResponse).where(QuestionnaireResponse.instrument == "lefs")).all()) == 1


def test_red_flags_cleared_meanwhile_are_not_cleared_again(world, db):  # noqa: F811
    first, second = _two_tabs(world, db, "red_flags.clear", action="cleared")
    assert first[0].post(first[1], data=first[2]).status_code == 302
    refused = second[0].post(second[1], data=second[2], follow_redirects=True)
    assert "Nothing to clear: no red flag or fall is waiting." in refused.get_data(as_text=True)
    assert _count(db, RedFlagClearance) == 1


def test_clinic_settings_saved_meanwhile_are_not_overwritten(world, db):  # noqa: F811
    """Two admins open the settings; the second one's save would put back the phone number the first changed."""
    first, second = _two_tabs(world, db, "admin.clinic")
    assert first[0].post(first[1], data=first[2]).status_code == 302
    refused = second[0].post(second[1], data={**second[2], "phone": "555-0100", "address": "12 Mill Road"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "Another admin saved the clinic settings while you were editing" in text
    assert "<dt>Phone</dt><dd>555-0199</dd>" in text and 'value="12 Mill Road"' in text  # theirs, and what is saved
    clinic = _fresh(db, Clinic, world.clinic.id)
    assert (clinic.phone, clinic.address, clinic.version) == ("555-0199", "", 2)
    db.rollback()
    again = second[0].post(second[1], data={**page_form(text, second[1], second[1], {}), "phone": "555-0199"})
    assert again.status_code == 302 and _fresh(db, Clinic, world.clinic.id).address == "12 Mill Road"
    assert _audited(db, "clinic.update") == 2


def test_a_template_renamed_meanwhile_is_not_renamed_back(world, db):  # noqa: F811
    first, second = _two_tabs(world, db, "admin.update_template")
    assert first[0].post(first[1], data=first[2]).status_code == 302
    refused = second[0].post(second[1], data={**second[2], "name": "Knee plan B"}, follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert "Not renamed: another admin changed this template while the page was open. It is now “Renamed plan”" \
        in text
    assert 'value="Renamed plan"' in text and _fresh(db, ClinicTemplate, world.template.id).name == "Renamed plan"
    assert _audited(db, "template.rename") == 1


def test_a_template_retired_meanwhile_is_not_retired_again(world, db):  # noqa: F811
    first, second = _two_tabs(world, db, "admin.update_template")
    retire = [(browser, url, page_form(browser.get("/admin/templates").get_data(as_text=True), url, "/admin/templates",
                                       {"action": "retire"})) for browser, url, _ in (first, second)]
    assert retire[0][2]["form_id"] != retire[1][2]["form_id"]
    assert retire[0][0].post(retire[0][1], data=retire[0][2]).status_code == 302
    refused = retire[1][0].post(retire[1][1], data=retire[1][2], follow_redirects=True)
    assert "Template “Our knee plan” is already retired; nothing was changed." in refused.get_data(as_text=True)
    assert _audited(db, "template.retire") == 1
