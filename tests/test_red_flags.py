"""The safety loop through the app: a red flag or fall from a visit or a home log, in any date order, stops the
advice and the portal until a therapist records "cleared to go on" with a note; the note shows in the record
and the physician report; a swelling hold stands until a visit re-checks it, however long ago it started."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from rehab.models import AdviceDecision, Alert, HandoutPrint, HomeLog, ProtocolVersion, RedFlagClearance, Visit, utcnow
from rehab.services.advice.inputs import advice_for
from tests import factories
from tests.conftest import count_rows, submit
from tests.test_handouts import pdf_text, print_report
from tests.test_portal import log_session
from tests.test_visits import decide, record, signature_on

pytestmark = pytest.mark.db

STOP = "Stop: call the clinic before you walk backward again"
NOTE = "Called the patient: calf soft, no swelling, seen by GP today, DVT ruled out."


@pytest.fixture
def protocol(db, patient, therapist):  # type: ignore[no-untyped-def]
    # Phase 1 on a treadmill at home: a clinic-only phase offers no log (tests/test_clinic_only.py).
    return factories.protocol(db, patient, days_ago=60, user_id=therapist.id, home=True)


def clear(client, patient, action: str = "cleared", note: str = NOTE, signature: str | None = None):  # type: ignore[no-untyped-def]
    url = f"/patients/{patient.id}/red-flags"
    form = client.get(url).get_data(as_text=True)
    return submit(client, url, {"action": action, "note": note,
                                "signature": signature if signature is not None else signature_on(form)})


def advice_kind(db, patient, protocol) -> str:  # type: ignore[no-untyped-def]
    db.expire_all()
    kind = advice_for(db, patient=patient, protocol=protocol, now=utcnow()).advice.kind
    db.rollback()  # end the read, so the app's next write does not wait for it
    return kind


def add_visit(db, patient, protocol, *, days: float, **fields):  # type: ignore[no-untyped-def]
    """A visit ``days`` ago, entered then."""
    at = utcnow() - timedelta(days=days)
    return factories.visit(db, patient, protocol, at=at, recorded=at, **fields)


def test_the_loop_from_a_home_log_with_calf_pain(therapist_client, patient_client, patient, protocol, db):
    log_session(patient_client, flag_calf="1")
    page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Stop and refer" in page and "Record what was done about the red flag" in page
    assert "Accept" not in page  # nothing to accept while the flag waits
    assert STOP in patient_client.get("/p/home").get_data(as_text=True)
    sheet = submit(patient_client, "/p/sheet", {}, form_page="/p/log")  # no exercise sheet while stopped either
    assert sheet.status_code == 200 and STOP in sheet.get_data(as_text=True)
    assert count_rows(db, HandoutPrint) == 0

    # "Called" is kept in the record; the stop stands.
    assert clear(therapist_client, patient, action="called", note="Left a message, will call back at 3pm.") \
        .status_code == 302
    assert STOP in patient_client.get("/p/home").get_data(as_text=True)
    assert advice_kind(db, patient, protocol) == "stop_refer"
    assert db.exec(select(Alert).where(Alert.kind == "red_flag")).one().acknowledged_at is None  # still on the board
    db.rollback()

    # "Cleared to go on" with a note: the exercises come back, the note is in the record and the report.
    assert clear(therapist_client, patient).status_code == 302
    home = patient_client.get("/p/home").get_data(as_text=True)
    assert STOP not in home and "Log a session" in home
    assert advice_kind(db, patient, protocol) != "stop_refer"
    page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert NOTE in page and "Cleared to go on with backward walking" in page
    report = " ".join(pdf_text(print_report(therapist_client, patient).data)[0].split())
    assert "Red flags and falls: what was done" in report and "DVT ruled out" in report
    assert [row.action for row in db.exec(select(RedFlagClearance).order_by(RedFlagClearance.id))] == [
        "called", "cleared"]
    assert db.exec(select(Alert).where(Alert.kind == "red_flag")).one().acknowledged_at is not None


@pytest.mark.parametrize(("action", "note", "field", "message"), [
    ("", NOTE, "action", "Choose what was done."),
    ("cleared", "ok", "note", "Write what was done and found, in at least 10 characters."),
    ("cleared", "          ", "note", "Write what was done and found, in at least 10 characters."),
    ("shrugged", NOTE, "action", "Choose what was done."),
    ("cleared", "x" * 2001, "note", "This text is 2,001 characters; the limit is 2,000. Shorten it by 1 character."),
])
def test_clearing_needs_an_action_and_a_note(therapist_client, patient, protocol, db, action, note, field, message):
    record(therapist_client, patient, falls="1")
    response = clear(therapist_client, patient, action=action, note=note)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error">{message}' in page
    assert count_rows(db, RedFlagClearance) == 0 and advice_kind(db, patient, protocol) == "stop_refer"


def test_a_red_flag_that_arrives_while_the_form_is_open_is_not_cleared_unseen(therapist_client, patient_client,
                                                                                patient, protocol, db):
    record(therapist_client, patient, flag_locking="1")
    form = therapist_client.get(f"/patients/{patient.id}/red-flags").get_data(as_text=True)
    log_session(patient_client, flag_chest="1")
    response = clear(therapist_client, patient, signature=signature_on(form))
    assert response.status_code == 409 and "A new red flag or fall came in" in response.get_data(as_text=True)
    assert count_rows(db, RedFlagClearance) == 0


def test_accepting_advice_is_refused_while_a_red_flag_waits(therapist_client, patient, protocol, db):
    record(therapist_client, patient, flag_sudden_pain="1")
    assert db.exec(select(Visit)).one().flag_sudden_pain is True
    response = decide(therapist_client, patient, "stop_refer", decision="accept")
    assert response.headers["Location"].endswith(f"/patients/{patient.id}/red-flags")
    assert count_rows(db, AdviceDecision) == 0


def test_the_home_log_can_report_a_sudden_sharp_rise_in_pain(patient_client, patient, protocol, db):
    log_session(patient_client, flag_sudden_pain="1")
    assert "My pain suddenly got much worse" in patient_client.get("/p/home").get_data(as_text=True)
    assert db.exec(select(HomeLog)).one().flag_sudden_pain is True
    assert db.exec(select(Alert)).one().message.endswith("sudden sharp rise in pain.")


def test_a_home_log_above_the_pain_ceiling_alerts_the_therapist(patient_client, patient, protocol, db):
    log_session(patient_client, pain_worst="7")
    alert = db.exec(select(Alert)).one()
    assert alert.kind == "pain_high" and "Pain 7/10 at home, above the ceiling of 5/10" in alert.message


@pytest.mark.parametrize("log_first", [True, False])
def test_a_back_dated_home_red_flag_stops_in_either_order(therapist_client, patient, protocol, db, log_first):
    now = utcnow()
    if log_first:
        factories.home_log(db, patient, protocol, day=(now - timedelta(days=3)).date(),
                           recorded=now - timedelta(days=3), flag_calf=True)
    add_visit(db, patient, protocol, days=2)
    add_visit(db, patient, protocol, days=1)
    if not log_first:  # logged today, dated before both visits
        factories.home_log(db, patient, protocol, day=(now - timedelta(days=3)).date(), recorded=now, flag_calf=True)
    assert advice_kind(db, patient, protocol) == "stop_refer"


def test_a_clearing_does_not_cover_a_back_dated_flag_logged_after_it(therapist_client, patient, protocol, db):
    add_visit(db, patient, protocol, days=5, flag_calf=True)
    clear(therapist_client, patient)
    assert advice_kind(db, patient, protocol) != "stop_refer"
    factories.home_log(db, patient, protocol, day=(utcnow() - timedelta(days=6)).date(), recorded=utcnow(), fell=True)
    assert advice_kind(db, patient, protocol) == "stop_refer"


def test_an_uncleared_fall_older_than_the_advice_window_still_stops(therapist_client, patient_client, patient,
                                                                    protocol, db):
    add_visit(db, patient, protocol, days=40, falls=1)
    add_visit(db, patient, protocol, days=3)
    add_visit(db, patient, protocol, days=1)
    assert advice_kind(db, patient, protocol) == "stop_refer"
    assert STOP in patient_client.get("/p/home").get_data(as_text=True)


def test_a_swelling_hold_from_long_ago_stands_until_a_visit_grades_trace(therapist_client, patient, protocol, db):
    add_visit(db, patient, protocol, days=40, effusion="2+")
    add_visit(db, patient, protocol, days=10, effusion="1+")
    today = utcnow()
    for days in (3, 2, 1):
        factories.home_log(db, patient, protocol, day=(today - timedelta(days=days)).date(),
                           recorded=today - timedelta(days=days))
    assert advice_kind(db, patient, protocol) == "hold"
    add_visit(db, patient, protocol, days=0.5, effusion="trace")
    assert advice_kind(db, patient, protocol) != "hold"


def test_accepting_a_move_into_another_exercise_starts_it_gently(therapist_client, make_patient, clinic, therapist,
                                                                 db):
    patient = make_patient(clinic, condition="post_aclr", surgery_date=date.today() - timedelta(weeks=12))
    protocol = factories.protocol(db, patient, "post_aclr", days_ago=21, user_id=therapist.id)
    for days in (2, 1):
        add_visit(db, patient, protocol, days=days, exercise="band_resisted", support="partner")
    advice = advice_for(db, patient=patient, protocol=protocol, now=utcnow()).advice
    assert advice.kind == "advance" and advice.change is not None and advice.change.entry is not None
    decide(therapist_client, patient, "advance", advice.change.text, decision="accept")
    db.expire_all()
    version = db.exec(select(ProtocolVersion).order_by(ProtocolVersion.number.desc())).first()  # type: ignore[attr-defined]
    treadmill = json.loads(version.content)["phases"][1]["prescriptions"][0]
    assert (treadmill["minutes"], treadmill["minutes_goal"], treadmill["incline_pct"], treadmill["incline_goal_pct"]) \
        == (5, 15, 0, 10)
    assert db.get(type(protocol), protocol.id).current_phase == 1


def test_regress_undoes_the_speed_that_was_last_accepted(therapist_client, patient, protocol, db):
    version = db.exec(select(ProtocolVersion)).one()
    content = json.loads(version.content)
    content["phases"][0]["prescriptions"][0]["minutes"] = 10  # at the goal: the next step is the speed
    version.content = json.dumps(content)
    db.add(version)
    db.commit()
    record(therapist_client, patient, minutes="10")
    record(therapist_client, patient, minutes="10")
    step = "speed 1.2 km/h (0.7 mph) → 1.4 km/h (0.9 mph), before the move to phase 2"
    decide(therapist_client, patient, "advance", step, decision="accept")
    record(therapist_client, patient, minutes="10", pain_worst="7",
           occurred_at=(datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "speed 1.4 km/h (0.9 mph) → 1.2 km/h (0.7 mph) (undoes the last raise)" in page


def test_every_red_flag_has_a_fhir_code():
    from rehab.services.fhir.codes import LOCAL_CONCEPTS
    from rehab.services.fhir.visits import RED_FLAG_FIELDS
    from rehab.vocabulary import RedFlag

    assert set(RED_FLAG_FIELDS) == set(RedFlag)
    assert all(f"red-flag-{name}" in LOCAL_CONCEPTS for name in RED_FLAG_FIELDS.values())


def test_no_exercise_sheet_is_printed_while_a_red_flag_waits(therapist_client, patient, protocol, make_patient,
                                                             clinic, therapist, db):
    other = make_patient(clinic, first_name="Ana", last_name="Ruiz")
    factories.protocol(db, other, days_ago=3, user_id=therapist.id)
    add_visit(db, patient, protocol, days=0.1, flag_infection=True)
    refused = therapist_client.get(f"/patients/{patient.id}/sheet")
    assert refused.headers["Location"].endswith(f"/patients/{patient.id}/red-flags")
    batch = submit(therapist_client, "/dashboard/sheets", {"patient_id": [str(patient.id), str(other.id)]},
                   form_page="/dashboard", follow_redirects=True)  # to the batch's progress page
    assert batch.status_code == 200 and "a red flag or fall is not yet cleared" in batch.get_data(as_text=True)
    progress = therapist_client.get(f"{batch.request.path}/progress").get_json()
    assert progress["words"] == "1 of 1 printed"
    assert therapist_client.get(progress["pdf_url"]).mimetype == "application/pdf"
    prints = db.exec(select(HandoutPrint)).all()
    assert [row.patient_id for row in prints] == [other.id]  # Ana's sheet only
    db.rollback()
    clear(therapist_client, patient)
    assert therapist_client.get(f"/patients/{patient.id}/sheet").status_code == 200


@pytest.mark.parametrize(("surgery_weeks_ago", "moved"), [(4, False), (6, True), (None, False)])
def test_a_manual_move_into_a_post_operative_phase_waits_for_its_week(therapist_client, make_patient, clinic,
                                                                      therapist, db, surgery_weeks_ago, moved):
    surgery = None if surgery_weeks_ago is None else date.today() - timedelta(weeks=surgery_weeks_ago)
    patient = make_patient(clinic, condition="post_tka", surgery_date=surgery)
    protocol = factories.protocol(db, patient, "post_tka", days_ago=0, user_id=therapist.id)
    base = f"/patients/{patient.id}/protocols/{protocol.id}"
    move = {"from_phase": "0", "to_phase": "1", "reason": "Walks well in the bars"}
    page = submit(therapist_client, f"{base}/phase", move, form_page=base, follow_redirects=True).get_data(as_text=True)
    db.expire_all()
    assert (db.get(type(protocol), protocol.id).current_phase == 1) is moved
    if not moved:
        assert "starts at week 6 after surgery" in page


def test_a_manual_move_forward_waits_for_a_red_flag_to_be_cleared(therapist_client, patient, protocol, db):
    add_visit(db, patient, protocol, days=1, falls=1)
    base = f"/patients/{patient.id}/protocols/{protocol.id}"
    page = submit(therapist_client, f"{base}/phase", {"from_phase": "0", "to_phase": "1", "reason": "Good week"},
                  form_page=base, follow_redirects=True).get_data(as_text=True)
    assert "A red flag or fall is not yet cleared" in page
    db.expire_all()
    assert db.get(type(protocol), protocol.id).current_phase == 0
