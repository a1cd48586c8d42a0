"""Questionnaires as therapists and patients use them: one-click send, answering through the link page by
page, stopping and finishing later, Spanish answers, scores on the patient page, licensed totals, discharge."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlmodel import select

from rehab.models import Protocol, QuestionnaireResponse, ReportPrint, utcnow
from rehab.printing.report import report_pdf_of
from rehab.services import questionnaire_records
from tests import factories
from tests.conftest import count_rows, form_fields, submit
from tests.pages import visible_text
from tests.services.test_questionnaires import BMJ_CASE

pytestmark = pytest.mark.db


@pytest.fixture
def protocol(db, patient, therapist):  # type: ignore[no-untyped-def]
    """Phase 1 on a treadmill at home, so the patient has a portal to answer in."""
    return factories.protocol(db, patient, user_id=therapist.id, home=True)


@pytest.fixture
def phone(app, db, patient, protocol):  # type: ignore[no-untyped-def]
    phone = app.test_client()
    assert phone.get(f"/p/{factories.portal_link(db, patient)}").status_code == 302
    return phone


def lefs_waiting(db, patient) -> int:  # type: ignore[no-untyped-def]
    """The id of the patient's LEFS; the test's own read transaction is closed so the app can write."""
    found = db.exec(select(QuestionnaireResponse.id).where(QuestionnaireResponse.patient_id == patient.id,
                                                           QuestionnaireResponse.instrument == "lefs")).one()
    db.rollback()
    return found


def stored(db, response_id: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """What the database holds now, as plain values (and the read transaction closed again)."""
    row = db.get(QuestionnaireResponse, response_id)
    db.refresh(row)
    values = {"answers": questionnaire_records.answers_of(row), "score": row.score, "completed_at": row.completed_at,
              "language": row.language, "raw": row.answers}
    db.rollback()
    return values


def answer_page(phone, response_id: int, page: int, values: list[int], action: str = "next"):  # type: ignore[no-untyped-def]
    form = {"page": str(page), "action": action}
    form.update({f"item-{page * 5 + offset + 1}": str(value) for offset, value in enumerate(values)})
    return submit(phone, f"/p/questionnaires/{response_id}", form,
                  form_page=f"/p/questionnaires/{response_id}?page={page}")


def test_the_therapist_sends_with_one_click_and_a_double_click_sends_one(therapist_client, db, patient, protocol):
    detail = f"/patients/{patient.id}"
    html = therapist_client.get(detail).get_data(as_text=True)
    assert "Send LEFS to the patient" in html
    first = submit(therapist_client, f"/patients/{patient.id}/questionnaires/send", {"instrument": "lefs"},
                   form_page=detail, follow_redirects=True).get_data(as_text=True)
    assert "LEFS sent" in first
    again = submit(therapist_client, f"/patients/{patient.id}/questionnaires/send", {"instrument": "lefs"},
                   form_page=detail, follow_redirects=True).get_data(as_text=True)
    assert "already waiting" in again
    assert len(db.exec(select(QuestionnaireResponse).where(QuestionnaireResponse.instrument == "lefs")).all()) == 1
    assert "1 waiting" in again


def test_the_schedule_sends_lefs_and_pain_at_the_start_and_every_two_weeks(db, patient, protocol):
    start = protocol.created_at
    sent = questionnaire_records.send_scheduled(db, protocol=protocol, now=start + timedelta(hours=1))
    assert {r.instrument for r in sent} == {"lefs", "nprs"}
    db.commit()
    # Still waiting: not sent again. Answered, and 13 days later: not due; 14 days: due again.
    assert questionnaire_records.send_scheduled(db, protocol=protocol, now=start + timedelta(days=3)) == []
    for response in questionnaire_records.open_for(db, patient_id=patient.id):
        response.completed_at, response.score = start + timedelta(days=1), 1.0
        db.add(response)
    db.commit()
    assert questionnaire_records.send_scheduled(db, protocol=protocol, now=start + timedelta(days=13, hours=23)) == []
    assert len(questionnaire_records.send_scheduled(db, protocol=protocol,
                                                    now=start + timedelta(days=14, hours=2))) == 2


def test_a_patient_answers_half_leaves_and_finishes_later(app, db, patient, phone):
    listing = phone.get("/p/questionnaires").get_data(as_text=True)  # the schedule puts LEFS and pain here
    assert "Start LEFS" in listing
    response_id = lefs_waiting(db, patient)
    values = BMJ_CASE["pre"]
    assert answer_page(phone, response_id, 0, values[0:5]).status_code == 302
    stopped = answer_page(phone, response_id, 1, values[5:10], action="stop")
    assert stopped.headers["Location"].endswith("/p/questionnaires")
    saved = stored(db, response_id)
    assert saved["completed_at"] is None and saved["score"] is None and len(saved["answers"]) == 10

    # The phone's session ends; the patient opens the link again another day.
    later = app.test_client()
    assert later.get(f"/p/{factories.portal_link(db, patient)}").status_code == 302
    assert "10 of 20 questions answered" in later.get("/p/questionnaires").get_data(as_text=True)
    resumed = later.get(f"/p/questionnaires/{response_id}").get_data(as_text=True)
    assert "Page 3 of 4" in resumed and "Walking 2 blocks" in resumed
    assert "Rolling over in bed" not in resumed and "Squatting" not in resumed
    # Earlier answers are kept (checked) when going back.
    back = later.get(f"/p/questionnaires/{response_id}?page=0").get_data(as_text=True)
    assert 'name="item-1" value="1" checked' in back
    answer_page(later, response_id, 2, values[10:15])
    done = answer_page(later, response_id, 3, values[15:20])
    assert done.headers["Location"].endswith(f"/p/questionnaires/{response_id}/done")
    saved = stored(db, response_id)
    assert saved["score"] == 50 and saved["completed_at"] is not None


def test_an_unanswered_item_is_named_beside_it_and_the_rest_are_kept(db, patient, phone):
    phone.get("/p/questionnaires")
    response_id = lefs_waiting(db, patient)
    page = phone.get(f"/p/questionnaires/{response_id}")
    form = {**form_fields(page.get_data(as_text=True)), "page": "0", "action": "next",
            "item-1": "4", "item-2": "4", "item-3": "4", "item-4": "4"}
    result = phone.post(f"/p/questionnaires/{response_id}", data=form)
    html = result.get_data(as_text=True)
    assert result.status_code == 422
    assert 'id="item-5-error"' in html and "Please pick an answer." in html and "Putting on your shoes" in html
    assert stored(db, response_id)["answers"] == {1: 4, 2: 4, 3: 4, 4: 4}


def test_a_value_that_is_not_a_choice_saves_nothing(db, patient, phone):
    phone.get("/p/questionnaires")
    response_id = lefs_waiting(db, patient)
    page = phone.get(f"/p/questionnaires/{response_id}").get_data(as_text=True)
    result = phone.post(f"/p/questionnaires/{response_id}",
                        data={**form_fields(page), "page": "0", "item-1": "4", "item-2": "9"})
    assert result.status_code == 400
    assert stored(db, response_id)["answers"] == {}


def test_spanish_answers_score_the_same(db, patient, phone):
    submit(phone, "/p/language", {"language": "es", "back": "/p/questionnaires"}, form_page="/p/home")
    listing = phone.get("/p/questionnaires").get_data(as_text=True)
    assert "Mis cuestionarios" in listing and "Empezar LEFS" in listing
    response_id = lefs_waiting(db, patient)
    first = phone.get(f"/p/questionnaires/{response_id}").get_data(as_text=True)
    assert "Caminar de un cuarto a otro." in first and "Ninguna dificultad" in first
    for page in range(4):
        answer_page(phone, response_id, page, BMJ_CASE["post"][page * 5:page * 5 + 5])
    saved = stored(db, response_id)
    assert saved["language"] == "es" and saved["score"] == 58


def test_another_patients_questionnaire_is_not_found(db, clinic, make_patient, phone):
    other = make_patient(clinic, first_name="Bernard", chart_number="B-2")
    theirs, _ = questionnaire_records.send(db, patient_id=other.id, clinic_id=clinic.id, protocol_id=None,
                                           instrument="lefs", now=utcnow(), user_id=None)
    db.commit()
    assert phone.get(f"/p/questionnaires/{theirs.id}").status_code == 404


def two_lefs_and_two_pain_ratings(db, clinic, patient, protocol, language: str = "en"):  # type: ignore[no-untyped-def]
    """LEFS 50 then 58 (+8, under Binkley's 9) and a pain rating 7 then 4 (-3), two weeks apart."""
    start = utcnow() - timedelta(days=20)
    for offset, values in enumerate([BMJ_CASE["pre"], BMJ_CASE["post"]]):
        response, _ = questionnaire_records.send(db, patient_id=patient.id, clinic_id=clinic.id,
                                                 protocol_id=protocol.id, instrument="lefs",
                                                 now=start + timedelta(days=offset * 14), user_id=None)
        questionnaire_records.save_answers(db, response=response, new=dict(enumerate(values, start=1)),
                                           language=language, now=start + timedelta(days=offset * 14))
    for day, pain in ((0, 7), (14, 4)):
        response, _ = questionnaire_records.send(db, patient_id=patient.id, clinic_id=clinic.id,
                                                 protocol_id=protocol.id, instrument="nprs",
                                                 now=start + timedelta(days=day), user_id=None)
        questionnaire_records.save_answers(db, response=response, new={1: pain}, language=language,
                                           now=start + timedelta(days=day))
    db.commit()


def test_the_progress_section_charts_each_questionnaire_with_its_threshold_and_reading(therapist_client, db,
                                                                                      clinic, patient, protocol):
    two_lefs_and_two_pain_ratings(db, clinic, patient, protocol)
    html = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    progress = html[html.index('id="progress"'):html.index('id="questionnaires"')]
    assert "Questionnaire scores" in progress
    assert f"/patients/{patient.id}/questionnaires/scores.svg?instrument=lefs" in progress
    assert "50 → 58 (+8): no change; important change 9 points" in progress  # the image's words
    lefs = therapist_client.get(f"/patients/{patient.id}/questionnaires/scores.svg?instrument=lefs")
    assert lefs.mimetype == "image/svg+xml"
    svg = lefs.get_data(as_text=True)
    assert "Lower Extremity Functional Scale (LEFS): 50 → 58 (+8): no change; important change 9 points" in svg
    assert "Important change (first score ± 9)" in visible_text(svg)  # the legend, wrapped or not
    pain = therapist_client.get(f"/patients/{patient.id}/questionnaires/scores.svg?instrument=nprs")
    assert "7 → 4 (-3): improved; important change 2 points or 30 %" in pain.get_data(as_text=True)
    assert therapist_client.get(f"/patients/{patient.id}/questionnaires/scores.svg?instrument=womac").status_code == 404


def test_spanish_lefs_scores_say_the_translation_is_not_validated(therapist_client, db, clinic, patient, protocol):
    two_lefs_and_two_pain_ratings(db, clinic, patient, protocol, language="es")
    html = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    section = html[html.index('id="questionnaires"'):]
    assert "Spanish: not a validated translation" in section
    assert "not the validated Spanish LEFS (Cruz-Díaz 2014)" in section
    pain_row = section[section.index("Pain rating"):]
    assert "not a validated" not in pain_row[:pain_row.index("</tr>")]  # the pain rating is one plain question
    progress = html[html.index('id="progress"'):html.index('id="questionnaires"')]
    assert "Answered in Spanish on the clinic's own translation, not a validated Spanish LEFS" in progress


def test_the_physician_report_draws_each_questionnaire_with_its_reading(app_config, therapist_client, db, clinic,
                                                                         patient, protocol):
    factories.visit(db, patient, protocol, at=utcnow() - timedelta(days=3))
    db.commit()
    two_lefs_and_two_pain_ratings(db, clinic, patient, protocol)
    submit(therapist_client, f"/patients/{patient.id}/report",
           {"assessment": "Walks further with less pain.", "plan": "Home programme.", "paper": "letter",
            "language": "en"})
    snapshot = json.loads(db.exec(select(ReportPrint)).one().snapshot)
    charts = snapshot["score_charts"]
    assert len(charts) == 2
    assert "50 → 58 (+8): no change; important change 9 points" in charts[0]
    assert "7 → 4 (-3): improved; important change 2 points or 30 %" in charts[1]
    with app_config.app_context():
        pdf = report_pdf_of(snapshot)
    if os.environ.get("REHAB_SHOTS_DIR"):  # kept to look at, as the browser tests keep their screenshots
        Path(os.environ["REHAB_SHOTS_DIR"], "report-scores.pdf").write_bytes(pdf)
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Questionnaire scores" in text and "dashed lines mark the important change" in text


def test_scores_on_the_patient_page_with_threshold_and_verdict(therapist_client, db, clinic, patient, protocol):
    start = utcnow() - timedelta(days=20)
    for offset, values in enumerate([BMJ_CASE["pre"], BMJ_CASE["post"]]):
        response, _ = questionnaire_records.send(db, patient_id=patient.id, clinic_id=clinic.id,
                                                 protocol_id=protocol.id, instrument="lefs",
                                                 now=start + timedelta(days=offset * 14), user_id=None)
        questionnaire_records.save_answers(db, response=response, new=dict(enumerate(values, start=1)), language="en",
                                           now=start + timedelta(days=offset * 14))
    for day, pain in ((0, 7), (14, 4)):
        response, _ = questionnaire_records.send(db, patient_id=patient.id, clinic_id=clinic.id,
                                                 protocol_id=protocol.id, instrument="nprs",
                                                 now=start + timedelta(days=day), user_id=None)
        questionnaire_records.save_answers(db, response=response, new={1: pain}, language="en",
                                           now=start + timedelta(days=day))
    db.commit()
    html = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    section = html[html.index('id="questionnaires"'):]
    lefs_row = section[section.index("Lower Extremity Functional Scale"):]
    lefs_row = lefs_row[:lefs_row.index("</tr>")]
    assert ">50<" in lefs_row and ">58<" in lefs_row and "+8" in lefs_row and "9 points" in lefs_row
    assert "No change" in lefs_row  # 8 points is under Binkley's 9
    pain_row = section[section.index("Pain rating"):]
    pain_row = pain_row[:pain_row.index("</tr>")]
    assert "-3" in pain_row and "2 points or 30 %" in pain_row and "Improved" in pain_row


@pytest.mark.parametrize(("total", "ok"), [("40", True), ("97", False), ("lots", False)])
def test_a_licensed_total_is_recorded_on_its_scale(therapist_client, db, patient, protocol, total, ok):
    today = datetime.now(UTC).date().isoformat()
    page = submit(therapist_client, f"/patients/{patient.id}/questionnaires/total",
                  {"instrument": "womac", "total": total, "taken_on": today}, form_page=f"/patients/{patient.id}",
                  follow_redirects=True).get_data(as_text=True)
    saved = db.exec(select(QuestionnaireResponse).where(QuestionnaireResponse.instrument == "womac")).all()
    if ok:
        assert [row.score for row in saved] == [40] and "WOMAC total 40 recorded" in page
        assert saved[0].answers == "{}"  # no items of a licensed measure are ever stored
    else:
        assert saved == [] and "Total not recorded" in page


@pytest.mark.parametrize(("field", "value", "message"), [
    ("total", "97", "WOMAC total (Likert 3.1, 0-96) runs from 0 to 96."),
    ("total", "lots", "Type the total as a number, e.g. 42."),
    ("taken_on", "2999-01-01", "The date cannot be in the future."),
])
def test_a_bad_licensed_total_is_named_beside_its_field_and_kept_as_typed(therapist_client, db, patient, protocol,
                                                                           field, value, message):
    form = {"instrument": "womac", "total": "40", "taken_on": datetime.now(UTC).date().isoformat(), field: value}
    response = submit(therapist_client, f"/patients/{patient.id}/questionnaires/total", form,
                      form_page=f"/patients/{patient.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    box = html[html.index('id="licensed-total"'):html.index("</details>", html.index('id="licensed-total"'))]
    ids = {"total": "total-value", "taken_on": "total-date"}
    assert box.startswith('id="licensed-total" open')  # the form is open, not folded away
    error = box[box.index(f'id="{ids[field]}-error"'):]
    assert error[error.index(">") + 1:].startswith(message)  # the message, next to its field
    field_html = box[box.index(f'id="{ids[field]}"'):]
    assert f'value="{value}"' in field_html[:field_html.index(">")] and 'aria-invalid="true"' in field_html[:300]
    assert 'value="womac" selected' in box  # the rest of what was typed is kept too
    assert count_rows(db, QuestionnaireResponse) == 0


def test_a_protocol_is_completed_with_a_discharge_reason(therapist_client, db, patient, protocol):
    view = f"/patients/{patient.id}/protocols/{protocol.id}"
    html = therapist_client.get(view).get_data(as_text=True)
    assert "Discharged: goals met" in html
    submit(therapist_client, f"{view}/end", {"discharge_reason": "goals_met", "reason": ""}, form_page=view)
    ended = db.get(Protocol, protocol.id)
    db.refresh(ended)
    assert ended.status == "ended" and ended.discharge_reason == "goals_met" and ended.end_reason == "Goals met"
    assert "Discharged" in therapist_client.get(view).get_data(as_text=True)


def test_an_unknown_discharge_reason_ends_nothing(therapist_client, db, patient, protocol):
    view = f"/patients/{patient.id}/protocols/{protocol.id}"
    submit(therapist_client, f"{view}/end", {"discharge_reason": "bored"}, form_page=view)
    db.refresh(protocol)
    assert protocol.status == "active"


def test_answers_are_stored_as_option_values_not_text(db, patient, phone):
    phone.get("/p/questionnaires")
    response_id = lefs_waiting(db, patient)
    answer_page(phone, response_id, 0, [0, 1, 2, 3, 4])
    assert json.loads(stored(db, response_id)["raw"]) == {"1": 0, "2": 1, "3": 2, "4": 3, "5": 4}
