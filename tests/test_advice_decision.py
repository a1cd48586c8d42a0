"""Deciding on the advice from the patient page: the form states the advice it showed and what that advice was
based on, and the decision is refused when any of it has changed since the page was opened."""

from __future__ import annotations

import pytest
from sqlmodel import select

from rehab.models import AdviceDecision, Visit
from tests import factories
from tests.conftest import count_rows, submit
from tests.test_portal import log_session
from tests.test_visits import advice_shown_on, record

pytestmark = pytest.mark.db


@pytest.fixture
def protocol(db, patient, therapist):  # type: ignore[no-untyped-def]
    """Phase 1 with sessions at home, so the patient can log one."""
    return factories.protocol(db, patient, user_id=therapist.id, home=True)


def page_of(client, patient) -> str:  # type: ignore[no-untyped-def]
    return client.get(f"/patients/{patient.id}").get_data(as_text=True)


def decide_on(client, patient, shown: dict[str, str], **data: str):  # type: ignore[no-untyped-def]
    return submit(client, f"/patients/{patient.id}/advice", {**shown, **data}, form_page=f"/patients/{patient.id}",
                  follow_redirects=True)


def test_the_decision_form_states_the_advice_and_the_records_it_was_based_on(therapist_client, patient, protocol, db):
    record(therapist_client, patient, pain_worst="7")
    visit = db.exec(select(Visit)).one()
    shown = advice_shown_on(page_of(therapist_client, patient))
    assert shown == {"advice": "regress", "change": "minutes 5 → 3", "protocol_version": "1", "phase": "1",
                     "newest_visit": str(visit.id), "newest_home_log": ""}


def test_a_visit_recorded_meanwhile_refuses_the_decision_even_when_the_advice_reads_the_same(
        therapist_client, patient, protocol, db):
    record(therapist_client, patient, pain_worst="7")
    shown = advice_shown_on(page_of(therapist_client, patient))
    record(therapist_client, patient, pain_worst="7")  # a colleague records the next visit
    assert advice_shown_on(page_of(therapist_client, patient))["change"] == shown["change"]
    refused = decide_on(therapist_client, patient, shown, decision="override", reason="Travelling next week")
    assert ("The advice changed since you opened the page: a visit was recorded or removed. Review it again."
            in refused.get_data(as_text=True))
    assert count_rows(db, AdviceDecision) == 0


def test_a_home_session_logged_meanwhile_refuses_the_decision(therapist_client, patient_client, patient, protocol, db):
    record(therapist_client, patient)
    record(therapist_client, patient)
    shown = advice_shown_on(page_of(therapist_client, patient))
    assert (shown["advice"], shown["change"]) == ("advance", "minutes 5 → 7")
    log_session(patient_client, pain_worst="2")
    refused = decide_on(therapist_client, patient, shown, decision="accept")
    assert "the patient logged a home session" in refused.get_data(as_text=True)
    assert count_rows(db, AdviceDecision) == 0
    accepted = decide_on(therapist_client, patient, advice_shown_on(page_of(therapist_client, patient)),
                         decision="accept")
    assert "Applied: minutes 5 → 7" in accepted.get_data(as_text=True)


def test_advice_that_changed_meanwhile_is_named_in_the_refusal(therapist_client, patient, protocol, db):
    record(therapist_client, patient)
    record(therapist_client, patient)
    shown = advice_shown_on(page_of(therapist_client, patient))
    assert shown["advice"] == "advance"
    record(therapist_client, patient, pain_worst="7")
    refused = decide_on(therapist_client, patient, shown, decision="accept")
    assert ("The advice changed since you opened the page: it now says “Regress one level: minutes 5 → 3”. "
            "Review it again." in refused.get_data(as_text=True))
    assert count_rows(db, AdviceDecision) == 0


def test_a_form_that_states_no_advice_decides_nothing(therapist_client, patient, protocol, db):
    record(therapist_client, patient)
    refused = decide_on(therapist_client, patient, {}, decision="override", reason="Flare-up after gardening")
    assert "The advice changed since you opened the page. Review it again." in refused.get_data(as_text=True)
    assert count_rows(db, AdviceDecision) == 0


def test_when_rules_disagree_the_panel_says_the_safer_advice_wins(therapist_client, patient, protocol):
    record(therapist_client, patient, pain_worst="7", effusion="2+")
    page = page_of(therapist_client, patient)
    assert ("Other rules below ask for “hold”; when rules disagree the safer advice wins: “regress one level”."
            in page)
    assert page.index("above the ceiling") < page.index("hold the level")  # the winner's rule first
