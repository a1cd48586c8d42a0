"""Discharge as a patient meets it: the questionnaires sent at discharge, and a link that still opens them after
the protocol has ended, and nothing else (no exercises, no session logging, no sheet)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from rehab.models import HandoutPrint, HomeLog, Protocol, QuestionnaireResponse, utcnow
from rehab.services import questionnaire_records
from rehab.views.portal.phones import COOKIE
from tests import factories
from tests.conftest import count_rows, submit
from tests.pages import visible_text
from tests.services.test_questionnaires import BMJ_CASE

pytestmark = pytest.mark.db


@pytest.fixture
def protocol(db, patient, therapist):  # type: ignore[no-untyped-def]
    return factories.protocol(db, patient, user_id=therapist.id, home=True)


@pytest.fixture
def phone(app, db, patient, protocol):  # type: ignore[no-untyped-def]
    """The patient's phone, its link opened before the discharge."""
    phone = app.test_client()
    assert phone.get(f"/p/{factories.portal_link(db, patient)}").status_code == 302
    return phone


def discharge(therapist_client, patient, protocol, reason: str = "goals_met"):  # type: ignore[no-untyped-def]
    view = f"/patients/{patient.id}/protocols/{protocol.id}"
    return submit(therapist_client, f"{view}/end", {"discharge_reason": reason, "reason": ""}, form_page=view,
                  follow_redirects=True).get_data(as_text=True)


def waiting(db, patient) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    rows = db.exec(select(QuestionnaireResponse.instrument, QuestionnaireResponse.occasion).where(
        QuestionnaireResponse.patient_id == patient.id, QuestionnaireResponse.completed_at == None)  # noqa: E711
        .order_by(QuestionnaireResponse.instrument)).all()
    db.rollback()
    return [tuple(row) for row in rows]


def test_a_discharge_sends_lefs_and_the_pain_rating_and_says_where_they_wait(therapist_client, db, patient,
                                                                             protocol, phone):
    page = discharge(therapist_client, patient, protocol)
    assert waiting(db, patient) == [("lefs", "discharge"), ("nprs", "discharge")]
    assert "Discharge questionnaires (LEFS and the pain rating) sent" in page
    assert "opens them, and nothing else, for 30 days" in page


def test_a_discharge_without_a_link_sends_nothing_and_says_why(therapist_client, db, patient, protocol):
    page = discharge(therapist_client, patient, protocol, reason="moved")
    assert "No discharge questionnaires were sent: the patient has no working link" in page
    assert waiting(db, patient) == []


def test_ending_without_a_discharge_sends_nothing_and_closes_the_link(therapist_client, db, patient, protocol, phone):
    discharge(therapist_client, patient, protocol, reason="")
    assert waiting(db, patient) == []
    assert phone.get("/p/home").status_code == 410


def test_a_questionnaire_waiting_unstarted_becomes_the_discharge_one_and_is_not_doubled(db, patient, protocol,
                                                                                      therapist):
    nine_days_ago = utcnow() - timedelta(days=9)
    started, _ = questionnaire_records.send(db, patient_id=patient.id, clinic_id=patient.clinic_id,
                                            protocol_id=protocol.id, instrument="lefs", now=nine_days_ago,
                                            user_id=None)
    questionnaire_records.save_answers(db, response=started, new={1: 4, 2: 3}, language="en", now=nine_days_ago)
    unstarted, _ = questionnaire_records.send(db, patient_id=patient.id, clinic_id=patient.clinic_id,
                                              protocol_id=protocol.id, instrument="nprs", now=nine_days_ago,
                                              user_id=None)
    db.commit()
    now = utcnow()
    sent = questionnaire_records.send_at_discharge(db, protocol=protocol, now=now, user_id=therapist.id)
    db.commit()
    assert [(response.id, new) for response, new in sent] == [(started.id, False), (unstarted.id, False)]
    db.refresh(started)
    db.refresh(unstarted)
    # The pain rating not yet answered is sent again now; the LEFS half answered nine days ago is left to finish.
    assert (unstarted.occasion, unstarted.sent_at) == ("discharge", now)
    assert (started.occasion, started.sent_at) == ("sent", nine_days_ago)
    assert count_rows(db, QuestionnaireResponse) == 2


def test_after_discharge_the_link_opens_a_thank_you_and_the_questionnaires_only(therapist_client, db, patient,
                                                                                protocol, phone):
    discharge(therapist_client, patient, protocol)
    home = phone.get("/p/home")
    html = home.get_data(as_text=True)
    assert home.status_code == 200
    assert "Thank you, Margaret" in html and "Your treatment has ended" in html
    assert "Start LEFS" in html and "Start pain rating" in html and "555-0100" in html
    assert "This page stays open for your questions until" in html
    # No exercises, no progress, no session logging, no sheet: not in the page, and not at their addresses.
    seen = visible_text(html)
    for words in ("My exercises", "Log a session", "My progress", "Walk backward on the treadmill", "My sheet",
                  "Download my home sheet"):
        assert words not in seen
    for address in ("/p/progress", "/p/log", "/p/chart.svg"):
        moved = phone.get(address)
        assert (moved.status_code, moved.headers["Location"]) == (303, "/p/home")
    refused = submit(phone, "/p/log", {"session_date": utcnow().date().isoformat(), "minutes": "10",
                                       "pain_worst": "2", "soreness": "none", "stumbled": "no", "fell": "no"},
                     form_page="/p/home", follow_redirects=True).get_data(as_text=True)
    assert "Your treatment has ended, so nothing was saved" in refused
    assert count_rows(db, HomeLog) == 0
    assert submit(phone, "/p/sheet", {}, form_page="/p/home").status_code == 303
    assert count_rows(db, HandoutPrint) == 0


def test_a_discharged_patient_answers_on_the_phone_and_the_therapist_sees_the_score(therapist_client, db, patient,
                                                                                   protocol, phone):
    discharge(therapist_client, patient, protocol)
    response_id = db.exec(select(QuestionnaireResponse.id).where(QuestionnaireResponse.instrument == "lefs")).one()
    db.rollback()
    for page in range(4):
        form = {"page": str(page), "action": "next"}
        form.update({f"item-{page * 5 + offset + 1}": str(value)
                     for offset, value in enumerate(BMJ_CASE["post"][page * 5:page * 5 + 5])})
        submit(phone, f"/p/questionnaires/{response_id}", form,
               form_page=f"/p/questionnaires/{response_id}?page={page}")
    done = phone.get(f"/p/questionnaires/{response_id}/done").get_data(as_text=True)
    assert "Thank you" in done and "My exercises" not in done
    assert "Start LEFS" not in phone.get("/p/home").get_data(as_text=True)
    section = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    section = section[section.index('id="questionnaires"'):]
    assert ">58<" in section


def test_the_link_closes_a_month_after_the_discharge(therapist_client, db, patient, protocol, phone):
    discharge(therapist_client, patient, protocol)
    ended = db.get(Protocol, protocol.id)
    db.refresh(ended)
    ended.ended_at = utcnow() - timedelta(days=30, minutes=1)
    db.add(ended)
    db.commit()
    closed = phone.get("/p/home")
    assert closed.status_code == 410 and "This link is no longer valid" in closed.get_data(as_text=True)


def test_a_new_protocol_after_discharge_brings_the_exercises_back(therapist_client, db, patient, protocol, phone,
                                                                  therapist):
    discharge(therapist_client, patient, protocol)
    factories.protocol(db, patient, user_id=therapist.id, home=True, days_ago=0)
    html = phone.get("/p/home").get_data(as_text=True)
    assert "Walk backward on the treadmill" in html and "My exercises" in html


def test_a_remembered_phone_after_discharge_opens_the_questionnaires_only(app, therapist_client, db, patient,
                                                                          protocol, phone):
    from tests.test_portal_phones import ANDROID, _cookie_header, remember

    value = _cookie_header(remember(phone)).split(";", 1)[0].split("=", 1)[1]
    discharge(therapist_client, patient, protocol)
    fresh = app.test_client()  # the browser was closed: only the phone's long-lived cookie is left
    fresh.set_cookie(COOKIE, value, path="/p/")
    progress = fresh.get("/p/progress", headers={"User-Agent": ANDROID})
    assert (progress.status_code, progress.headers["Location"]) == (303, "/p/home")
    home = fresh.get("/p/home", headers={"User-Agent": ANDROID}).get_data(as_text=True)
    assert "Thank you, Margaret" in home and "Start LEFS" in home
