"""The portal with no signal: the service worker and manifest served right, pages that say whose they are, and a log
kept on the phone sent exactly once (its idempotency key is the form's one-time id, unique in the database)."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import select

from rehab.models import FormSubmission, HomeLog
from tests import factories
from tests.conftest import count_rows, csrf_from

pytestmark = pytest.mark.db

QUEUED = {"X-Rehab-Queued": "1", "Accept": "application/json"}


@pytest.fixture
def protocol(db, patient, therapist):  # type: ignore[no-untyped-def]
    """Phase 1 on a treadmill at home: the patient logs home sessions."""
    return factories.protocol(db, patient, user_id=therapist.id, home=True)


def open_phone(app, db, patient) -> FlaskClient:  # type: ignore[no-untyped-def]
    phone = app.test_client()
    assert phone.get(f"/p/{factories.portal_link(db, patient)}").status_code == 302
    db.rollback()
    return phone


@pytest.fixture
def phone(app, db, patient, protocol) -> FlaskClient:  # type: ignore[no-untyped-def]
    return open_phone(app, db, patient)


def owner_and_csrf(phone: FlaskClient) -> tuple[str, str]:
    """What offline.js reads from the page: whose page it is and the session's CSRF token."""
    page = phone.get("/p/home")
    return page.headers["X-Portal-Owner"], csrf_from(page.get_data(as_text=True))


def queued_log(owner: str, csrf: str, key: str | None = None, **overrides: str) -> dict[str, str]:
    """A log as offline-queue.js sends it from the phone's store: the answers, its key, owner and token."""
    form = {"session_date": datetime.now(UTC).date().isoformat(), "minutes": "12", "pain_worst": "3",
            "soreness": "none", "stumbled": "no", "fell": "no", "note": "Kept on the phone",
            "form_id": key or secrets.token_urlsafe(16), "owner": owner, "csrf_token": csrf}
    return {**form, **overrides}


def logs(db) -> int:  # type: ignore[no-untyped-def]
    found = count_rows(db, HomeLog)
    db.rollback()
    return found


# ------------------------------------------------------------------------------------ what the phone is given


def test_the_service_worker_is_served_from_the_portal_as_a_script_never_kept_by_caches(client):
    response = client.get("/p/sw.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-store"
    policy = response.headers["Content-Security-Policy"]
    assert "worker-src 'self'" in policy and "manifest-src 'self'" in policy and "script-src 'self'" in policy
    script = response.get_data(as_text=True)
    assert "/p/leave" in script and "X-Portal-Owner" in script  # the worker that forgets on leaving


def test_the_manifest_opens_my_exercises_inside_the_portal_in_the_portal_colours(client):
    response = client.get("/p/app.webmanifest")
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json()
    assert manifest["start_url"] == "/p/home" and manifest["scope"] == "/p/"
    assert manifest["short_name"] == "My exercises" and manifest["display"] == "standalone"
    css = (Path(__file__).resolve().parents[1] / "rehab" / "static" / "css" / "portal.css").read_text()
    assert f"--brand: {manifest['theme_color']};" in css and f"--bg: {manifest['background_color']};" in css
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == icon["type"], icon
        image.close()


def test_only_the_portal_pages_link_the_manifest(app, db, phone, therapist):
    assert 'rel="manifest" href="/p/app.webmanifest"' in phone.get("/p/home").get_data(as_text=True)
    therapist_page = app.test_client().get("/login").get_data(as_text=True)
    assert "webmanifest" not in therapist_page and "offline.js" not in therapist_page


def test_the_offline_page_is_no_ones_in_english_and_spanish(phone, patient):
    english = phone.get("/p/offline?lang=en")
    spanish = phone.get("/p/offline?lang=es")
    assert "No signal" in english.get_data(as_text=True)
    assert "Sin señal" in spanish.get_data(as_text=True) and 'lang="es"' in spanish.get_data(as_text=True)
    for page in (english, spanish):
        text = page.get_data(as_text=True)
        assert patient.first_name not in text and "X-Portal-Owner" not in page.headers
        assert 'name="rehab-owner" content=""' in text


def test_every_page_of_a_session_says_whose_it_is_and_until_when(app, db, phone, patient, clinic, therapist):
    owner, _ = owner_and_csrf(phone)
    home = phone.get("/p/progress")
    assert home.headers["X-Portal-Owner"] == owner and f'content="{owner}"' in home.get_data(as_text=True)
    until = int(home.headers["X-Portal-Offline-Until"])
    assert 29 * 60 <= until - datetime.now(UTC).timestamp() <= 30 * 60  # the 30-minute idle close
    assert str(patient.id) != owner and len(owner) == 32
    # A new link of the same patient: the same owner (a log kept before the new link still finds its patient).
    assert owner_and_csrf(open_phone(app, db, patient))[0] == owner
    other = factories.patient(db, clinic, first_name="Rosa", chart_number="RV-2")
    factories.protocol(db, other, user_id=therapist.id, home=True)
    assert owner_and_csrf(open_phone(app, db, other))[0] != owner


# ------------------------------------------------------------------------------------- exactly once, by its key


def test_a_queued_log_sent_twice_is_saved_once_and_the_second_answer_is_already_saved(phone, db):
    owner, csrf = owner_and_csrf(phone)
    form = queued_log(owner, csrf)
    first = phone.post("/p/log", data=form, headers=QUEUED)
    assert first.status_code == 201 and first.get_json()["outcome"] == "saved"
    again = phone.post("/p/log", data=form, headers=QUEUED)  # the first answer was lost on the way
    assert again.status_code == 200 and again.get_json() == {"outcome": "already_saved", "url": first.get_json()["url"]}
    assert logs(db) == 1
    shown = phone.get(first.get_json()["url"]).get_data(as_text=True)
    assert "Kept on the phone" in shown


def test_a_queued_log_sent_twice_at_once_is_saved_once(app, phone, db):
    """The page's send and the background sync cross: the database's unique key lets one commit."""
    owner, csrf = owner_and_csrf(phone)
    form = queued_log(owner, csrf)
    twin = FlaskClient(app, app.response_class, use_cookies=True)
    cookie = phone.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    twin.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    start = threading.Barrier(2)
    answers: list[Any] = []

    def send(sender: FlaskClient) -> None:
        start.wait()
        answers.append(sender.post("/p/log", data=form, headers=QUEUED))

    threads = [threading.Thread(target=send, args=(sender,)) for sender in (phone, twin)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer.get_json()["outcome"] for answer in answers) == ["already_saved", "saved"]
    assert logs(db) == 1
    claimed = db.exec(select(FormSubmission).where(FormSubmission.form_id == form["form_id"])).all()
    assert len(claimed) == 1 and claimed[0].action == "portal.log.create"
    db.rollback()


def test_two_logs_with_their_own_keys_are_two_sessions(phone, db):
    owner, csrf = owner_and_csrf(phone)
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    for form in (queued_log(owner, csrf), queued_log(owner, csrf, session_date=yesterday, minutes="8")):
        assert phone.post("/p/log", data=form, headers=QUEUED).status_code == 201
    assert logs(db) == 2


def test_a_queued_log_refused_for_bad_input_says_why_saves_nothing_and_can_be_sent_fixed(phone, db):
    owner, csrf = owner_and_csrf(phone)
    form = queued_log(owner, csrf, minutes="500")
    refused = phone.post("/p/log", data=form, headers=QUEUED)
    assert refused.status_code == 422 and refused.get_json()["outcome"] == "invalid"
    assert "a number from 0.5 to 180" in refused.get_json()["errors"]["minutes"]
    assert logs(db) == 0
    fixed = phone.post("/p/log", data={**form, "minutes": "15"}, headers=QUEUED)  # the same key, fixed
    assert fixed.status_code == 201 and logs(db) == 1


def test_the_patient_reads_why_in_spanish(phone, db):
    owner, csrf = owner_and_csrf(phone)
    phone.post("/p/language", data={"csrf_token": csrf, "language": "es", "back": "/p/home"})
    refused = phone.post("/p/log", data=queued_log(owner, csrf, pain_worst="11"), headers=QUEUED)
    assert refused.status_code == 422 and "del 0 al 10" in refused.get_json()["errors"]["pain_worst"]


def test_a_log_kept_for_another_patient_on_a_shared_phone_is_never_saved_into_this_one(app, db, phone, clinic,
                                                                                      therapist):
    owner, _ = owner_and_csrf(phone)
    other = factories.patient(db, clinic, first_name="Rosa", chart_number="RV-2")
    factories.protocol(db, other, user_id=therapist.id, home=True)
    other_phone = open_phone(app, db, other)
    _, other_csrf = owner_and_csrf(other_phone)
    answer = other_phone.post("/p/log", data=queued_log(owner, other_csrf), headers=QUEUED)
    assert answer.status_code == 409 and answer.get_json()["outcome"] == "other_patient"
    assert logs(db) == 0


def test_a_queued_log_after_the_page_closed_is_not_saved_and_is_sent_after_the_link_is_opened_again(
        app, db, phone, patient):
    owner, csrf = owner_and_csrf(phone)
    form = queued_log(owner, csrf)
    assert phone.post("/p/leave", data={"csrf_token": csrf}).status_code == 302  # or 30 minutes without use
    closed = phone.post("/p/log", data=form, headers=QUEUED)
    assert closed.status_code in (302, 400) and not closed.is_json  # offline-queue.js: "open your link again"
    assert logs(db) == 0
    assert phone.get(f"/p/{factories.portal_link(db, patient)}").status_code == 302  # the link again, same phone
    db.rollback()
    owner_again, fresh_csrf = owner_and_csrf(phone)
    assert owner_again == owner
    sent = phone.post("/p/log", data={**form, "csrf_token": fresh_csrf}, headers=QUEUED)
    assert sent.status_code == 201 and logs(db) == 1


def test_a_queued_log_with_a_red_flag_leads_to_the_stop_screen(phone, db):
    owner, csrf = owner_and_csrf(phone)
    answer = phone.post("/p/log", data=queued_log(owner, csrf, flag_calf="1"), headers=QUEUED)
    assert answer.status_code == 201 and answer.get_json()["stop_url"] == "/p/home"
    stop = phone.get("/p/home").get_data(as_text=True)
    assert "Stop: call the clinic before you walk backward again" in stop


def test_the_log_form_carries_the_same_stop_words_as_the_stop_screen(phone):
    form = phone.get("/p/log", follow_redirects=True).get_data(as_text=True)
    assert "data-offline-log" in form and "data-offline-stop hidden" in form
    assert "Stop: call the clinic before you walk backward again" in form
    assert "Do not walk backward until your therapist has talked with you." in form


def test_a_log_sent_from_the_form_without_the_script_still_redirects(phone, db):
    """The plain form keeps working as before (no JSON unless offline-queue.js asks for it)."""
    page = phone.get("/p/log", follow_redirects=True).get_data(as_text=True)
    owner, csrf = owner_and_csrf(phone)
    form = {key: value for key, value in queued_log(owner, csrf).items() if key != "owner"}
    form["form_id"] = page.split('name="form_id" value="')[1].split('"')[0]
    answer = phone.post("/p/log", data=form)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/p/log/")
    assert logs(db) == 1


def test_a_remembered_phone_keeps_its_pages_for_the_links_life(phone):
    """"Remember this phone" opens a new session by itself while the link lasts, so its copy lasts as long."""
    owner, csrf = owner_and_csrf(phone)
    form_id = phone.get("/p/home").get_data(as_text=True).split('action="/p/remember"')[1]
    form_id = form_id.split('name="form_id" value="')[1].split('"')[0]
    assert phone.post("/p/remember", data={"csrf_token": csrf, "form_id": form_id, "remember": "1"}).status_code == 302
    page = phone.get("/p/home")
    left = int(page.headers["X-Portal-Offline-Until"]) - datetime.now(UTC).timestamp()
    assert left > 30 * 24 * 3600 and page.headers["X-Portal-Owner"] == owner
