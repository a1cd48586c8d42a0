"""The advice card shows its state: no card before a first session, nothing to decide where accepting changes
nothing, a decision that stands (who, when, why, the advice it answered) with no second decision on it, and an
undo for the one who decided, on the day, that puts the protocol back exactly or says why it cannot."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from rehab.models import AdviceDecision, Assessment, PhaseChange, Protocol, ProtocolVersion, Visit, utcnow
from rehab.services.advice.decisions import AdviceShown, decision_history, record_decision
from rehab.services.advice.inputs import advice_for
from rehab.services.assessments import latest_screen, patient_facts
from rehab.services.protocol_records import Override, load_content
from rehab.services.safety import check_protocol
from tests import factories
from tests.conftest import count_rows, sign_in, submit
from tests.test_portal import log_session
from tests.test_visits import advice_shown_on, at_the_end_of_phase_1, record

pytestmark = pytest.mark.db


@pytest.fixture
def protocol(db, patient, therapist):  # type: ignore[no-untyped-def]
    """Phase 1 with sessions at home (so the patient can log one), for a patient screened at low fall risk: the
    builder would have saved it without a safety reason to give."""
    db.add(Assessment(patient_id=patient.id, clinic_id=patient.clinic_id, occurred_at=utcnow() - timedelta(days=22),
                      backward_walk_3m_s=3.0, tug_s=9.0))
    db.commit()
    return factories.protocol(db, patient, user_id=therapist.id, home=True)


@pytest.fixture
def colleague_client(app, make_user, clinic):  # type: ignore[no-untyped-def]
    """Another therapist of the clinic, in a browser of their own."""
    make_user("sam.colleague@clinic.example", clinics=[clinic], name="Sam Colleague")
    browser = app.test_client()
    assert sign_in(browser, "sam.colleague@clinic.example").status_code == 302
    return browser


def page_of(client, patient) -> str:  # type: ignore[no-untyped-def]
    return client.get(f"/patients/{patient.id}").get_data(as_text=True)


def card_of(page: str) -> str:
    """The advice card's text, as a reader sees it."""
    start = page.index('id="advice"')
    card = page[page.index(">", start) + 1:page.index("</section>", start)]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", card)).split()).replace(" .", ".").replace(" )", ")")


def decide_on(client, patient, shown: dict[str, str], **data: str):  # type: ignore[no-untyped-def]
    return submit(client, f"/patients/{patient.id}/advice", {**shown, **data}, form_page=f"/patients/{patient.id}",
                  follow_redirects=True)


def undo(client, patient, decision_id: int):  # type: ignore[no-untyped-def]
    return submit(client, f"/patients/{patient.id}/advice/{decision_id}/undo", {},
                  form_page=f"/patients/{patient.id}", follow_redirects=True)


def content_of(db, protocol_id: int, number: int) -> dict:  # type: ignore[no-untyped-def]
    version = db.exec(select(ProtocolVersion).where(ProtocolVersion.protocol_id == protocol_id,
                                                    ProtocolVersion.number == number)).one()
    return json.loads(version.content)


def test_no_card_before_the_first_session_and_nothing_to_decide_on_a_plain_repeat(therapist_client, patient,
                                                                                   protocol, db):
    assert 'id="advice"' not in page_of(therapist_client, patient)
    record(therapist_client, patient)  # within the rules, one of two sessions: repeat, the dose stays
    card = card_of(page_of(therapist_client, patient))
    assert "Repeat" in card and "Nothing to decide: the dose stays as it is until the next session." in card
    assert "Accept" not in card and "Override" not in card
    # A hand-made decision on it is refused too: accepting would change nothing.
    shown = AdviceShown.of(advice_for(db, patient=patient, protocol=protocol, now=utcnow())).fields()
    refused = card_of(decide_on(therapist_client, patient, shown, decision="accept").get_data(as_text=True))
    assert "Nothing to decide: this advice keeps the dose as it is." in refused
    assert count_rows(db, AdviceDecision) == 0 and "Accept" not in refused


def test_the_visit_saved_message_shows_inside_the_card_it_scrolls_to(therapist_client, patient, protocol):
    saved = record(therapist_client, patient)
    assert saved.headers["Location"].endswith("#advice")
    page = therapist_client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Visit saved. The advice takes it into account." in card_of(page)
    assert page.count("Visit saved.") == 1  # not at the top of the page as well


def test_a_colleague_sees_the_override_and_cannot_accept_the_overridden_advice(therapist_client, colleague_client,
                                                                               patient, protocol, db):
    record(therapist_client, patient, pain_worst="7")
    stale = advice_shown_on(page_of(colleague_client, patient))  # the colleague's page, opened before the override
    assert (stale["advice"], stale["change"]) == ("regress", "minutes 5 → 3")
    overridden = decide_on(therapist_client, patient, advice_shown_on(page_of(therapist_client, patient)),
                           decision="override", reason="Pain from a fall off a bike, not the walking")
    assert "Advice overridden." in card_of(overridden.get_data(as_text=True))

    card = card_of(page_of(colleague_client, patient))
    assert "Advice overridden" in card and "by Pat Therapist" in card
    assert "Regress one level: minutes 5 → 3" in card and "Pain from a fall off a bike, not the walking" in card
    assert "Nothing: the dose stays as it is" in card
    assert "Accept" not in card and "Undo" not in card
    assert "Only Pat Therapist, who made this decision, can undo it." in card

    refused = decide_on(colleague_client, patient, stale, decision="accept")
    card = card_of(refused.get_data(as_text=True))
    assert "Pat Therapist already decided on this advice at" in card and "overridden. Nothing was changed." in card
    db.expire_all()
    assert count_rows(db, AdviceDecision) == 1 and db.get(Protocol, protocol.id).latest_version == 1


def test_the_undo_is_for_the_one_who_decided_and_asks_for_the_decision_again(therapist_client, colleague_client,
                                                                              patient, protocol, db):
    record(therapist_client, patient, pain_worst="7")
    decide_on(therapist_client, patient, advice_shown_on(page_of(therapist_client, patient)), decision="override",
              reason="Travelling next week, keep the dose")
    decision = db.exec(select(AdviceDecision)).one()

    refused = undo(colleague_client, patient, decision.id)
    assert "Not undone. Only Pat Therapist, who made this decision, can undo it." in card_of(
        refused.get_data(as_text=True))
    db.expire_all()
    assert db.get(AdviceDecision, decision.id).undone_at is None

    undone = card_of(undo(therapist_client, patient, decision.id).get_data(as_text=True))
    assert "Override undone. Decide on the advice again." in undone
    assert "Accept: minutes 5 → 3" in undone  # the same advice asks again
    db.expire_all()
    kept = db.get(AdviceDecision, decision.id)
    assert kept.undone_at is not None and kept.undone_by_id is not None  # kept, marked undone
    history = therapist_client.get(f"/patients/{patient.id}/visits").get_data(as_text=True)
    assert "Travelling next week, keep the dose" in history and "Undone by Pat Therapist" in history
    again = undo(therapist_client, patient, decision.id)
    assert "Not undone. This decision was already undone by Pat Therapist." in card_of(again.get_data(as_text=True))


def test_the_undo_is_refused_the_next_day_with_the_day_it_was_made(therapist_client, patient, protocol, therapist,
                                                                    clinic, db):
    now = utcnow()
    factories.visit(db, patient, protocol, at=now - timedelta(days=3), recorded=now - timedelta(days=3), pain_worst=7)
    yesterday = now - timedelta(days=1)
    context = advice_for(db, patient=patient, protocol=protocol, now=yesterday)
    facts = patient_facts(patient, latest_screen(db, patient_id=patient.id), today=yesterday.date())
    decision = record_decision(db, patient=patient, protocol=protocol, context=context, accepted=False,
                               reason="Flare-up after gardening", user_id=therapist.id, now=yesterday, facts=facts)
    db.commit()
    day = yesterday.astimezone(ZoneInfo(clinic.timezone)).date().isoformat()
    reason = f"A decision can be undone only on the day it was made ({day}). To change the dose now, edit the protocol."
    card = card_of(page_of(therapist_client, patient))
    assert "Flare-up after gardening" in card and reason in card and "Undo my override" not in card
    refused = undo(therapist_client, patient, decision.id)
    assert f"Not undone. {reason}" in card_of(refused.get_data(as_text=True))


def test_undoing_an_accept_puts_the_dose_back_exactly_and_the_same_advice_asks_again(therapist_client, patient,
                                                                                      protocol, db):
    record(therapist_client, patient)
    record(therapist_client, patient)
    before = advice_shown_on(page_of(therapist_client, patient))
    assert (before["advice"], before["change"]) == ("advance", "minutes 5 → 7")
    accepted = decide_on(therapist_client, patient, before, decision="accept")
    card = card_of(accepted.get_data(as_text=True))
    assert "Advice accepted. Applied: minutes 5 → 7." in card
    assert "Advice accepted" in card and "minutes 5 → 7 (now version 2, phase 1)" in card
    assert "Accept:" not in card  # the repeat that follows an accept asks for nothing

    undone = card_of(undo(therapist_client, patient, db.exec(select(AdviceDecision)).one().id).get_data(as_text=True))
    assert "Accept undone: back to the dose of version 1 (now version 3). Decide on the advice again." in undone
    db.expire_all()
    assert db.get(Protocol, protocol.id).latest_version == 3
    assert content_of(db, protocol.id, 3) == content_of(db, protocol.id, 1)
    # The sessions at the dose still count (the undone change reads as never made): the same advance asks again.
    after = advice_shown_on(page_of(therapist_client, patient))
    assert (after["advice"], after["change"], after["protocol_version"]) == ("advance", "minutes 5 → 7", "3")
    accepted_again = decide_on(therapist_client, patient, after, decision="accept")
    assert "Applied: minutes 5 → 7" in card_of(accepted_again.get_data(as_text=True))


def test_undoing_an_accept_after_a_sheet_was_printed_says_to_print_a_new_one(therapist_client, patient, protocol,
                                                                             db):
    record(therapist_client, patient)
    record(therapist_client, patient)
    decide_on(therapist_client, patient, advice_shown_on(page_of(therapist_client, patient)), decision="accept")
    decision = db.exec(select(AdviceDecision)).one()
    submit(therapist_client, f"/patients/{patient.id}/sheet", {"paper": "letter", "language": "en"},
           form_page=f"/patients/{patient.id}/sheet")  # the sheet now shows 7 minutes
    card = card_of(undo(therapist_client, patient, decision.id).get_data(as_text=True))
    assert "Accept undone" in card
    assert "shows the dose that was undone. Print a new sheet and ask the patient to throw the old one away." in card


def test_undoing_an_accept_printed_before_it_asks_for_no_new_sheet(therapist_client, patient, protocol, db):
    submit(therapist_client, f"/patients/{patient.id}/sheet", {"paper": "letter", "language": "en"},
           form_page=f"/patients/{patient.id}/sheet")  # printed at the old dose, which the undo puts back
    record(therapist_client, patient)
    record(therapist_client, patient)
    decide_on(therapist_client, patient, advice_shown_on(page_of(therapist_client, patient)), decision="accept")
    card = card_of(undo(therapist_client, patient, db.exec(select(AdviceDecision)).one().id).get_data(as_text=True))
    assert "Accept undone" in card and "Print a new sheet" not in card


def test_undoing_an_accepted_phase_move_puts_the_patient_back_in_the_phase(therapist_client, patient, protocol, db):
    content = at_the_end_of_phase_1(db)
    record(therapist_client, patient, minutes="10")
    record(therapist_client, patient, minutes="10")
    shown = advice_shown_on(page_of(therapist_client, patient))
    assert shown["advice"] == "advance" and shown["change"].startswith("move to phase 2")
    decide_on(therapist_client, patient, shown, decision="accept")
    db.expire_all()
    assert db.get(Protocol, protocol.id).current_phase == 1
    versions = db.get(Protocol, protocol.id).latest_version

    undone = card_of(undo(therapist_client, patient, db.exec(select(AdviceDecision)).one().id).get_data(as_text=True))
    assert "Accept undone: back to" in undone and "phase 1" in undone
    db.expire_all()
    restored = db.get(Protocol, protocol.id)
    assert restored.current_phase == 0
    assert content_of(db, protocol.id, restored.latest_version)["phases"] == content["phases"]
    assert versions <= restored.latest_version
    assert db.exec(select(PhaseChange)).one().undone_at is not None  # the move is kept, marked undone
    again = advice_shown_on(page_of(therapist_client, patient))
    assert (again["advice"], again["change"]) == (shown["advice"], shown["change"])


def test_the_undo_is_refused_after_a_later_visit_or_home_session(therapist_client, patient_client, patient,
                                                                  protocol, db):
    record(therapist_client, patient)
    record(therapist_client, patient)
    decide_on(therapist_client, patient, advice_shown_on(page_of(therapist_client, patient)), decision="accept")
    decision = db.exec(select(AdviceDecision)).one()
    log_session(patient_client, pain_worst="2")
    refused = card_of(undo(therapist_client, patient, decision.id).get_data(as_text=True))
    assert ("Not undone. A visit or home session was recorded or corrected since the decision, so the advice now "
            "rests on it. The decision stays.") in refused
    db.expire_all()
    assert db.get(Protocol, protocol.id).latest_version == 2 and db.get(AdviceDecision, decision.id).undone_at is None
    assert "Undo my accept" not in refused  # and the card offers none


def test_the_undo_is_refused_while_a_red_flag_waits(therapist_client, patient, protocol, db):
    record(therapist_client, patient)
    record(therapist_client, patient)
    decide_on(therapist_client, patient, advice_shown_on(page_of(therapist_client, patient)), decision="accept")
    decision = db.exec(select(AdviceDecision)).one()
    row = db.get(Visit, db.exec(select(AdviceDecision.newest_visit_id)).one())
    row.flag_calf = True  # a correction that adds a red flag records no new visit
    db.add(row)
    db.commit()
    refused = undo(therapist_client, patient, decision.id).get_data(as_text=True)
    assert "Not undone. A red flag or fall is waiting: record what was done about it first." in refused
    db.expire_all()
    assert db.get(Protocol, protocol.id).latest_version == 2


def test_the_undo_never_puts_back_a_dose_past_a_safety_warning_without_its_reason(therapist_client, patient,
                                                                                    protocol, db):
    record(therapist_client, patient)
    record(therapist_client, patient)
    decide_on(therapist_client, patient, advice_shown_on(page_of(therapist_client, patient)), decision="accept")
    patient.vestibular_disorder = True  # a precaution recorded since: the old dose's checks no longer hold
    db.add(patient)
    db.commit()
    refused = card_of(undo(therapist_client, patient, db.exec(select(AdviceDecision)).one().id)
                      .get_data(as_text=True))
    assert "Not undone. Putting the dose back raises a safety warning with no reason given: Vestibular" in refused
    assert "Change the dose in the protocol builder, where you can give one." in refused
    db.expire_all()
    assert db.get(Protocol, protocol.id).latest_version == 2


def test_accepting_refuses_a_dose_past_a_safety_warning_nobody_gave_a_reason_for(therapist_client, patient,
                                                                                   protocol, db):
    record(therapist_client, patient)
    record(therapist_client, patient)
    patient.vestibular_disorder = True  # recorded after the dose was saved: nobody has weighed it yet
    db.add(patient)
    db.commit()
    refused = card_of(decide_on(therapist_client, patient, advice_shown_on(page_of(therapist_client, patient)),
                                decision="accept").get_data(as_text=True))
    assert "Accepting would raise a safety warning with no reason given: Vestibular" in refused
    assert "change the dose in the protocol builder, where you can give one." in refused
    db.expire_all()
    assert db.get(Protocol, protocol.id).latest_version == 1 and count_rows(db, AdviceDecision) == 0


def test_accepting_keeps_the_safety_reasons_given_for_the_dose(therapist_client, patient, protocol, db):
    patient.vestibular_disorder = True
    db.add(patient)
    facts = patient_facts(patient, latest_screen(db, patient_id=patient.id), today=utcnow().date())
    version = db.exec(select(ProtocolVersion).where(ProtocolVersion.protocol_id == protocol.id)).one()
    reason = "Walks with her daughter beside her; reviewed in clinic"
    version.safety_overrides = json.dumps([Override.of(warning, reason, 1).__dict__ for warning in
                                           check_protocol(load_content(version), facts, start_phase=-1)])
    db.add(version)  # as the builder saves it after the therapist gave the reason
    db.commit()
    record(therapist_client, patient)
    record(therapist_client, patient)
    decide_on(therapist_client, patient, advice_shown_on(page_of(therapist_client, patient)), decision="accept")
    db.expire_all()
    new = db.exec(select(ProtocolVersion).where(ProtocolVersion.number == 2)).one()
    kept = json.loads(new.safety_overrides)
    assert kept and {(item["reason"], item["given_in"]) for item in kept} == {(reason, 1)}
    shown = therapist_client.get(f"/patients/{patient.id}/protocols/{protocol.id}").get_data(as_text=True)
    assert f"Reason: {reason}" in shown  # the protocol as it stands still says why its dose is allowed


def test_the_decision_history_is_plain_values_newest_first(therapist_client, patient, protocol, db):
    record(therapist_client, patient, pain_worst="7")
    decide_on(therapist_client, patient, advice_shown_on(page_of(therapist_client, patient)), decision="override",
              reason="Travelling next week")
    record(therapist_client, patient)
    record(therapist_client, patient)
    decide_on(therapist_client, patient, advice_shown_on(page_of(therapist_client, patient)), decision="accept")
    newest, oldest = decision_history(db, patient.id)
    assert (newest.decision_label, newest.advice_text, newest.applied, newest.by) == (
        "Accepted", "Advance: minutes 5 → 7", "minutes 5 → 7", "Pat Therapist")
    assert (oldest.decision_label, oldest.advice_text, oldest.applied, oldest.reason) == (
        "Overridden", "Regress one level: minutes 5 → 3", "", "Travelling next week")
    assert oldest.rules and all(isinstance(text, str) for text in oldest.rules)
    page = page_of(therapist_client, patient)
    assert "Earlier decisions on the advice" in page and "Travelling next week" in page
