"""The guided session's pages: the player carries this patient's plan and its cues, a stopped patient sees "stop",
the log form takes the player's minutes (checked like typing), and the next morning is asked on the next visit."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlmodel import select

from rehab.models import EditRecord, HomeLog, utcnow
from rehab.printing.prints import new_snapshot
from rehab.printing.snapshot import SheetOptions
from rehab.services.catalogue import templates
from rehab.services.protocol_content import content_from_template
from tests import factories
from tests.conftest import submit

pytestmark = pytest.mark.db


def interval_content():  # type: ignore[no-untyped-def]
    """The knee-OA plan with phase 1 at home: 1 minute backward in every 2 of a 10-minute walk, a 2-minute warm-up."""
    content = content_from_template(templates()["knee_oa"])
    rx = content.phases[0].prescriptions[0]
    values = rx.model_dump() | {"exercise": "overground_partner", "setting": "home_partner", "support": "partner",
                                "speed_kmh": None, "speed_goal_kmh": None, "minutes": 5, "minutes_goal": None,
                                "walk_minutes": 10, "interval_backward_minutes": 1, "interval_every_minutes": 2,
                                "warmup_minutes": 2, "incline_pct": 0, "incline_goal_pct": None}
    content.phases[0].prescriptions[0] = type(rx).model_validate(values)
    return content


@pytest.fixture
def protocol(db, patient, therapist):  # type: ignore[no-untyped-def]
    return factories.protocol(db, patient, user_id=therapist.id, content=interval_content())


def player_data(html: str) -> dict:  # type: ignore[type-arg]
    found = re.search(r'<script type="application/json" id="player-data">(.*?)</script>', html, re.S)
    assert found, "the player page carries its plan"
    return json.loads(found.group(1))


def test_my_exercises_offers_the_session_and_shows_the_pattern_in_words(patient_client):
    html = patient_client.get("/p/home").get_data(as_text=True)
    assert "Start today’s session" in html and 'href="/p/session"' in html
    assert ("Walk backward on flat ground for 1 minute in every 2 minutes, walking forward in between: 5 minutes "
            "backward in a 10-minute walk, with 2 minutes of easy walking first to warm up") in html


def test_the_player_carries_this_patients_plan_and_cues(patient_client):
    page = patient_client.get("/p/session")
    html = page.get_data(as_text=True)
    data = player_data(html)
    assert [(part["kind"], part["seconds"]) for part in data["segments"]] == \
        [("warmup", 120)] + [("backward", 60), ("forward", 60)] * 5
    assert data["segments"][1]["name"] == "Walk backward"
    assert data["segments"][1]["cue"] == "Walk backward now, for 1 minute. Look over your shoulder. Short steps."
    assert data["segments"][1]["soon"] == "In 10 seconds: walk forward."
    assert data["lang"] == "en" and data["logUrl"] == "/p/log"
    assert "5 minutes backward, 12 minutes in all" in html
    # Self-contained: its own script and style, no address but the log's in the plan.
    assert "/static/js/player.js" in html and "/static/css/player.css" in html
    assert page.headers["Cache-Control"] == "no-store"


def test_the_player_speaks_spanish_to_a_spanish_speaker(patient_client):
    patient_client.post("/p/language", data={"language": "es", "back": "/p/session",
                                             "csrf_token": _csrf(patient_client.get("/p/session"))})
    data = player_data(patient_client.get("/p/session").get_data(as_text=True))
    assert data["lang"] == "es"
    assert data["segments"][1]["name"] == "Camine hacia atrás"
    assert data["segments"][1]["cue"] == ("Ahora camine hacia atrás durante 1 minuto. Mire por encima del hombro. "
                                          "Pasos cortos.")
    assert data["words"]["stopNow"].startswith("Deje de caminar ahora")


def _csrf(response) -> str:  # type: ignore[no-untyped-def]
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)  # type: ignore[union-attr]


def test_a_stopped_patient_sees_the_stop_screen_never_a_session(patient_client, db, patient, protocol):
    factories.home_log(db, patient, protocol, fell=True)
    html = patient_client.get("/p/session").get_data(as_text=True)
    assert "Stop: call the clinic before you walk backward again" in html
    assert "player-data" not in html and "Start the session" not in html
    assert "Start today’s session" not in patient_client.get("/p/home").get_data(as_text=True)


def test_a_dose_counted_in_steps_gets_no_clock(db, patient, app):
    content = content_from_template(templates()["post_aclr"])
    home = next(index for index, phase in enumerate(content.phases)
                if any(rx.exercise == "band_resisted" for rx in phase.prescriptions))
    content.phases[home].prescriptions = [rx for rx in content.phases[home].prescriptions
                                          if rx.exercise == "band_resisted"]
    content.phases[home].prescriptions[0].setting = "home_partner"
    row = factories.protocol(db, patient, "post_aclr", content=content, start_phase=home)
    assert row.current_phase == home
    phone = app.test_client()
    phone.get(f"/p/{factories.portal_link(db, patient)}")
    html = phone.get("/p/session").get_data(as_text=True)
    assert "no timed backward walking at home" in html and "player-data" not in html


def test_the_log_form_takes_the_players_minutes_and_reason(patient_client):
    html = patient_client.get("/p/log?minutes=4.5&stopped=pain", follow_redirects=True).get_data(as_text=True)
    assert 'name="minutes" type="text" value="4.5"' in html
    assert "I stopped the guided session early: Pain." in html
    assert "Your guided session is filled in below" in html


def test_the_knee_gave_way_ticks_the_red_flag_and_saving_it_stops_the_exercises(patient_client, db):
    page = patient_client.get("/p/log?minutes=3&stopped=unsteady", follow_redirects=True)
    html = page.get_data(as_text=True)
    assert re.search(r'name="flag_locking" value="1" checked', html)
    saved = submit(patient_client, page.request.full_path, {
        "session_date": utcnow().date().isoformat(), "minutes": "3", "pain_worst": "4", "soreness": "none",
        "stumbled": "yes", "fell": "no", "flag_locking": "1", "note": "I stopped the guided session early."})
    assert saved.status_code == 302
    assert db.exec(select(HomeLog)).one().flag_locking is True
    for page_url in ("/p/home", "/p/session"):
        assert "Stop: call the clinic" in patient_client.get(page_url).get_data(as_text=True)


@pytest.mark.parametrize("minutes", ["500", "abc", "0"])
def test_a_prefilled_minutes_value_is_checked_like_typing(patient_client, db, minutes):
    page = patient_client.get(f"/p/log?minutes={minutes}&guided=1", follow_redirects=True)
    assert f'value="{minutes}"' in page.get_data(as_text=True)
    refused = submit(patient_client, page.request.full_path, {
        "session_date": utcnow().date().isoformat(), "minutes": minutes, "pain_worst": "2", "soreness": "none",
        "stumbled": "no", "fell": "no"})
    assert refused.status_code == 422
    assert "Enter the minutes you walked backward: a number from 0.5 to 180." in refused.get_data(as_text=True)
    assert db.exec(select(HomeLog)).all() == []


# ------------------------------------------------------------------------------------------ the next morning


def test_the_next_morning_is_asked_on_the_next_visit_and_saved_once(patient_client, db, patient, protocol):
    log = factories.home_log(db, patient, protocol, day=utcnow().date() - timedelta(days=1),
                             recorded=utcnow() - timedelta(days=1))
    home = patient_client.get("/p/home").get_data(as_text=True)
    assert "How is your knee this morning?" in home
    saved = submit(patient_client, "/p/morning", {"log_id": str(log.id), "pain": "4", "sore": "yes"},
                   form_page="/p/home")
    assert saved.status_code == 302 and saved.headers["Location"] == "/p/home"
    db.refresh(log)
    assert (log.pain_next_morning, log.soreness) == (4, "late")  # what the soreness and morning rules read
    record = db.exec(select(EditRecord).where(EditRecord.entity == "home_log")).one()
    assert json.loads(record.changes) == {"pain_next_morning": [None, 4], "soreness": ["none", "late"]}
    assert "How is your knee this morning?" not in patient_client.get("/p/home").get_data(as_text=True)


def test_the_morning_is_not_asked_the_same_day_or_after_a_week(patient_client, db, patient, protocol):
    factories.home_log(db, patient, protocol)
    assert "How is your knee this morning?" not in patient_client.get("/p/home").get_data(as_text=True)
    old = db.exec(select(HomeLog)).one()
    old.session_date = utcnow().date() - timedelta(days=8)
    db.add(old)
    db.commit()
    assert "How is your knee this morning?" not in patient_client.get("/p/home").get_data(as_text=True)


def test_a_morning_answer_missing_is_explained_and_nothing_saved(patient_client, db, patient, protocol):
    log = factories.home_log(db, patient, protocol, day=utcnow().date() - timedelta(days=1))
    refused = submit(patient_client, "/p/morning", {"log_id": str(log.id), "pain": "12"}, form_page="/p/home")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Choose your pain this morning: a number from 0 to 10." in html and "Choose yes or no." in html
    db.refresh(log)
    assert log.pain_next_morning is None


def test_the_pattern_reads_in_words_on_the_protocol_page_and_the_sheet(therapist_client, db, patient, protocol,
                                                                       clinic):
    view = therapist_client.get(f"/patients/{patient.id}/protocols/{protocol.id}").get_data(as_text=True)
    assert "2 min warm-up · 1 min backward in every 2 (walk forward in between) · 5 min in a 10-min walk" in view
    sheet = json.dumps(new_snapshot(db, patient, protocol, SheetOptions(language="es"), clinic=clinic,
                                    printed_by_name="Pat"), ensure_ascii=False)
    assert "durante 1 minuto de cada 2 minutos, caminando hacia adelante entre medio" in sheet


def test_the_player_uses_as_many_queries_with_100_sessions_as_with_1(patient_client, db, patient, protocol):
    def count() -> int:
        response = patient_client.get("/p/session")
        assert response.status_code == 200
        return int(response.headers["X-Query-Count"])

    factories.home_log(db, patient, protocol)
    few = count()
    for _ in range(99):
        factories.home_log(db, patient, protocol)
    assert count() == few
