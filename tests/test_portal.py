"""The patient portal as patients and therapists use it: the link, the patient session, isolation, home logs,
alerts, advice and audit (SECURITY.md 9, 16, 19, 22-24)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from rehab.models import (
    Alert,
    AuditEvent,
    EditRecord,
    HandoutPrint,
    HomeLog,
    LoginAttempt,
    PortalLink,
    UserSession,
    utcnow,
)
from rehab.security import PUBLIC_ENDPOINTS
from rehab.services import home_logs, tokens
from rehab.services.catalogue import templates
from rehab.services.protocol_content import content_from_template
from rehab.services.protocol_records import create_protocol
from rehab.services.submissions import new_form_id
from rehab.translation import gettext
from rehab.vocabulary import RED_FLAG_PATIENT, SORENESS_PATIENT
from tests import factories
from tests.conftest import count_rows, csrf_from, sign_in, submit
from tests.test_access import GET_RULES, POST_RULES, build_url, snapshot
from tests.test_visits import decide

pytestmark = pytest.mark.db

BOOKKEEPING = {"audit_event", "login_attempt", "user_session"}


@pytest.fixture
def protocol(db, patient, therapist):  # type: ignore[no-untyped-def]
    """A knee-OA protocol started three weeks ago (so one-level-a-week does not hold the advice back), its first
    phase on a treadmill at home (a clinic-only phase offers no log: tests/test_clinic_only.py)."""
    return factories.protocol(db, patient, user_id=therapist.id, home=True)


def log_form(**overrides):  # type: ignore[no-untyped-def]
    form = {"session_date": datetime.now(UTC).date().isoformat(), "minutes": "10", "pain_worst": "3",
            "soreness": "none", "stumbled": "no", "fell": "no", "note": ""}
    form.update(overrides)
    return form


def log_session(phone, **overrides):  # type: ignore[no-untyped-def]
    return submit(phone, "/p/log", log_form(**overrides))


# ---------------------------------------------------------------------------------------------------- the link


def test_opening_the_link_starts_a_session_and_drops_the_token_from_the_address(patient_client, app, token):
    phone = app.test_client()
    opened = phone.get(f"/p/{token}")
    assert opened.status_code == 302 and opened.headers["Location"] == "/p/home"
    assert token not in opened.headers["Location"]
    home = phone.get("/p/home")
    html = home.get_data(as_text=True)
    assert home.status_code == 200 and "Hello, Margaret" in html and token not in html
    assert "Walk backward on the treadmill for 5 minutes, 3 times a week" in html
    assert "555-0100" in html and "When to stop" in html and "What comes next" in html
    assert home.headers["Cache-Control"] == "no-store" and home.headers["Referrer-Policy"] == "no-referrer"


def test_the_token_is_stored_only_as_its_hash(db, token):
    rows = json.dumps(snapshot(db), default=str)
    assert token not in rows
    assert tokens.token_hash(token) in rows


def test_get_of_the_link_changes_nothing_but_the_session_and_the_audit(app, db, token):
    before = snapshot(db)
    app.test_client().get(f"/p/{token}")
    after = snapshot(db)
    assert {name: rows for name, rows in after.items() if name != "audit_event"} == \
        {name: rows for name, rows in before.items() if name != "audit_event"}
    assert db.exec(select(AuditEvent.action)).all() == ["portal.open"]


@pytest.mark.parametrize(("change", "status"), [
    ({"revoked_at": utcnow()}, 410),
    ({"expires_at": utcnow() - timedelta(minutes=1)}, 410),
    ({"locked_at": utcnow()}, 410),
])
def test_a_dead_link_shows_the_friendly_page_with_the_clinic_phone(app, db, token, change, status):
    db.execute(update(PortalLink).values(**change))
    db.commit()
    response = app.test_client().get(f"/p/{token}")
    html = response.get_data(as_text=True)
    assert response.status_code == status and "555-0100" in html and "Margaret" not in html
    assert "This link is no longer valid" in html or "This link is locked" in html


def test_an_unknown_token_gets_the_friendly_page_without_any_clinic(client, token):
    response = client.get("/p/" + "y" * 43)
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and "This link is no longer valid" in html and "555-0100" not in html


def test_invalid_tokens_are_throttled_per_address_in_the_shared_table(app, db, token):
    phone = app.test_client()
    guesser = {"REMOTE_ADDR": "203.0.113.9"}
    for attempt in range(10):
        assert phone.get(f"/p/guess{attempt:040d}", environ_base=guesser).status_code == 404
    # The 11th bad token from that address is refused; another address is not affected.
    assert phone.get(f"/p/guess{11:040d}", environ_base=guesser).status_code == 429
    assert app.test_client().get(f"/p/guess{12:040d}", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 404
    attempts = db.exec(select(LoginAttempt)).all()
    assert {(row.account_key, row.address) for row in attempts} == {("portal", "203.0.113.9"),
                                                                     ("portal", "198.51.100.7")}
    assert len(attempts) == 11


def test_a_valid_link_opens_from_an_address_that_sent_many_bad_ones(app, db, token):
    """Patients behind one clinic NAT or proxy share an address: others' mistyped links lock nobody out."""
    shared_address = {"REMOTE_ADDR": "203.0.113.9"}
    for attempt in range(15):
        app.test_client().get(f"/p/guess{attempt:040d}", environ_base=shared_address)
    assert app.test_client().get(f"/p/guess{99:040d}", environ_base=shared_address).status_code == 429
    response = app.test_client().get(f"/p/{token}", environ_base=shared_address)
    assert response.status_code == 302 and response.headers["Location"] == "/p/home"


def test_a_dead_link_opened_again_and_again_is_audited_once_per_window(app, db, token):
    db.execute(update(PortalLink).values(revoked_at=utcnow()))
    db.commit()
    for _ in range(30):
        assert app.test_client().get(f"/p/{token}").status_code == 410
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "portal.open.revoked")).all()
    assert len(events) == 1 and events[0].object_type == "portal_link" and events[0].patient_id is not None


def test_a_throttled_address_writes_one_audit_event_per_window_not_one_per_try(app, db, token):
    guesser = app.test_client()
    for attempt in range(60):
        guesser.get(f"/p/guess{attempt:040d}", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    actions = [row.action for row in db.exec(select(AuditEvent)).all()]
    assert actions.count("portal.open.unknown") == 10 and actions.count("portal.throttled") == 1


def test_the_therapist_shares_rotates_and_revokes(therapist_client, app, db, patient, protocol):
    page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Share with patient" in page
    shared = submit(therapist_client, f"/patients/{patient.id}/portal/share", {}, form_page=f"/patients/{patient.id}",
                    follow_redirects=True)
    html = shared.get_data(as_text=True)
    assert shared.status_code == 200 and 'src="data:image/svg+xml' in html  # the QR code, allowed by the CSP
    url = html.split('id="portal-url" type="text" value="')[1].split('"')[0]
    first = url.rsplit("/", 1)[1]
    phone = app.test_client()
    assert phone.get(f"/p/{first}").status_code == 302
    assert "Link active" in therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)

    # Reloading the page that showed the link makes no new link: it leads to the share card, which shows the same
    # link (re-derived under the secret key, as every sheet prints it).
    again = therapist_client.get(f"/patients/{patient.id}/portal/shared", follow_redirects=True).get_data(as_text=True)
    assert "its code and the message to send are on the patient" in again and count_rows(db, PortalLink) == 1
    assert f'value="{url}" readonly' in again
    live = db.exec(select(PortalLink.id).where(col(PortalLink.revoked_at).is_(None))).one()
    db.rollback()
    rotated = submit(therapist_client, f"/patients/{patient.id}/portal/rotate", {"link_id": str(live)},
                     form_page=f"/patients/{patient.id}", follow_redirects=True)
    second = rotated.get_data(as_text=True).split('id="portal-url" type="text" value="')[1].split('"')[0]
    # The old link and the session it opened stop at once.
    assert phone.get("/p/home").status_code == 410
    assert app.test_client().get(f"/p/{first}").status_code == 410
    assert app.test_client().get(second.replace("http://localhost", "")).status_code == 302

    submit(therapist_client, f"/patients/{patient.id}/portal/revoke", {}, form_page=f"/patients/{patient.id}")
    revoked = app.test_client().get(second.replace("http://localhost", ""))
    assert revoked.status_code == 410 and "This link is no longer valid" in revoked.get_data(as_text=True)
    actions = db.exec(select(AuditEvent.action).where(AuditEvent.action.startswith("portal.link"))).all()
    assert actions == ["portal.link.issue", "portal.link.rotate", "portal.link.revoke"]


def test_no_sharing_without_an_active_protocol(therapist_client, db, patient):
    response = submit(therapist_client, f"/patients/{patient.id}/portal/share", {}, form_page=f"/patients/{patient.id}",
                      follow_redirects=True)
    assert "Start a protocol before sharing" in response.get_data(as_text=True)
    assert count_rows(db, PortalLink) == 0


def test_opening_a_link_in_a_therapists_browser_signs_the_therapist_out(therapist_client, db, token):
    assert therapist_client.get(f"/p/{token}").status_code == 302
    assert therapist_client.get("/dashboard").headers["Location"].startswith("/login")
    db.expire_all()
    assert all(row.ended_at is not None for row in db.exec(select(UserSession)))


# ----------------------------------------------------------------------------------------- date of birth check


def test_five_wrong_birth_dates_lock_the_link_and_tell_the_therapist(app, db, patient, protocol, therapist_client):
    locked_token = factories.portal_link(db, patient, require_birth_date=True)
    phone = app.test_client()
    assert phone.get(f"/p/{locked_token}").headers["Location"] == "/p/check"
    assert phone.get("/p/home").headers["Location"] == "/p/closed"  # not in before the check
    wrong = {"day": "1", "month": "1", "year": "1960"}
    for left in (4, 3, 2, 1):
        response = submit(phone, "/p/check", wrong)
        assert response.status_code == 422 and f"Tries left: {left}." in response.get_data(as_text=True)
    locked = submit(phone, "/p/check", wrong)
    assert locked.status_code == 410 and "This link is locked" in locked.get_data(as_text=True)
    # Now even the right date does not open it, and the therapist's dashboard says why.
    again = app.test_client()
    assert again.get(f"/p/{locked_token}").status_code == 410
    board = therapist_client.get("/dashboard").get_data(as_text=True)
    assert "Link locked" in board and "wrong dates of birth" in board
    assert db.exec(select(Alert.kind)).all() == ["dob_lockout"]


def test_the_right_birth_date_opens_the_page(app, db, patient, protocol):
    checked_token = factories.portal_link(db, patient, require_birth_date=True)
    phone = app.test_client()
    phone.get(f"/p/{checked_token}")
    response = submit(phone, "/p/check", {"day": "14", "month": "3", "year": "1951"})
    assert response.headers["Location"] == "/p/home"
    assert "Hello, Margaret" in phone.get("/p/home").get_data(as_text=True)


# ------------------------------------------------------------------------------------------ the patient session


def test_the_session_ends_after_30_idle_minutes_or_2_hours(patient_client):
    with patient_client.session_transaction() as cookie:
        cookie["portal_seen"] -= 31 * 60
    assert patient_client.get("/p/home").headers["Location"] == "/p/closed"
    closed = patient_client.get("/p/closed").get_data(as_text=True)
    assert "Your page is closed" in closed and "555-0100" in closed


def test_the_absolute_limit_holds_even_with_activity(patient_client):
    with patient_client.session_transaction() as cookie:
        cookie["portal_started"] -= 2 * 3600 + 1
    assert patient_client.get("/p/progress").headers["Location"] == "/p/closed"


def test_a_half_hour_portal_session_lasts_half_an_hour_not_zero(app, patient_client):
    """0.5 hours once became int(0.5) == 0 and ended every patient session at once."""
    app.config["PORTAL_SESSION_HOURS"] = 0.5
    with patient_client.session_transaction() as cookie:
        cookie["portal_started"] -= 20 * 60
    assert patient_client.get("/p/home").status_code == 200
    with patient_client.session_transaction() as cookie:
        cookie["portal_started"] -= 11 * 60
    assert patient_client.get("/p/home").headers["Location"] == "/p/closed"


def test_closing_the_page_ends_the_session(patient_client):
    response = submit(patient_client, "/p/leave", {}, form_page="/p/home")
    assert response.headers["Location"] == "/p/closed"
    assert patient_client.get("/p/home").headers["Location"] == "/p/closed"


def test_language_and_text_size_are_the_patients_choice(patient_client):
    submit(patient_client, "/p/language", {"language": "es", "back": "/p/home"}, form_page="/p/home")
    html = patient_client.get("/p/home").get_data(as_text=True)
    assert '<html lang="es"' in html and "Camine hacia atrás en la caminadora" in html and "Hola, Margaret" in html
    submit(patient_client, "/p/text-size", {"size": "large", "back": "https://evil.example/"}, form_page="/p/home")
    assert 'class="text-large"' in patient_client.get("/p/home").get_data(as_text=True)


# ------------------------------------------------------------------------------------------------- isolation


@pytest.fixture
def other(db, clinic, make_patient, therapist):  # type: ignore[no-untyped-def]
    """Patient B, with a protocol, a link and a home log of their own."""
    b = make_patient(clinic, first_name="Bernard", last_name="Quist", chart_number="B-2")
    b_protocol = create_protocol(db, patient=b, content=content_from_template(templates()["pfp"]), user_id=None,
                                 now=utcnow() - timedelta(days=3), overrides=[])
    shape, _ = home_logs.validate_home_log(home_logs.home_log_data(log_form(pain_worst="2")),
                                           today=datetime.now(UTC).date())
    b_log = home_logs.create_home_log(db, patient=b, protocol=b_protocol, form=shape, link_id=None, now=utcnow())
    db.commit()
    return b, b_log


# The patient's own pages: the portal blueprint, and only it.
PATIENT_PAGES = {rule.endpoint for rule in GET_RULES + POST_RULES if rule.endpoint.startswith("portal.")}
GET_IDS = [rule for rule in GET_RULES if rule.endpoint not in PUBLIC_ENDPOINTS | PATIENT_PAGES]
POST_IDS = [rule for rule in POST_RULES if rule.endpoint not in PUBLIC_ENDPOINTS | PATIENT_PAGES]


def test_a_patient_session_reaches_no_therapist_page(app, db, patient_client, other):
    """Walk every route of the app with a patient session: no therapist page answers, nothing changes."""
    token = csrf_from(patient_client.get("/p/log", follow_redirects=True).get_data(as_text=True))
    before = snapshot(db)
    for rule in GET_IDS:
        with patient_client.get(build_url(app, rule)) as response:
            if rule.endpoint.startswith("fhir."):  # the FHIR API wants an API client's token, never a session
                assert response.status_code == 401 and "Bernard" not in response.get_data(as_text=True), rule.rule
                continue
            assert response.status_code in (302, 404), rule.rule
            if response.status_code == 302:
                assert response.headers["Location"].startswith("/login"), rule.rule
            assert "Bernard" not in response.get_data(as_text=True)
    for rule in POST_IDS:
        response = patient_client.post(build_url(app, rule), data={"csrf_token": token, "name": "Changed"})
        if rule.endpoint.startswith("fhir."):
            assert response.status_code == 401, rule.rule
            continue
        assert response.status_code in (302, 404), rule.rule
        assert response.status_code == 404 or response.headers["Location"].startswith("/login"), rule.rule
    after = snapshot(db)
    assert {k: v for k, v in after.items() if k not in BOOKKEEPING} == \
        {k: v for k, v in before.items() if k not in BOOKKEEPING}
    assert patient_client.get("/p/home").status_code == 200  # still the patient's own pages, and only those


def test_patient_a_cannot_see_or_change_patient_bs_entries(db, patient_client, other):
    _, b_log = other
    assert patient_client.get(f"/p/log/{b_log.id}").status_code == 404
    assert patient_client.get(f"/p/log/{b_log.id}/edit").status_code == 404
    response = submit(patient_client, f"/p/log/{b_log.id}/edit", log_form(pain_worst="9", version="1"),
                      form_page="/p/log")
    assert response.status_code == 404 and "We could not find that page" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(HomeLog, b_log.id).pain_worst == 2 and count_rows(db, EditRecord) == 0
    for page in ("/p/home", "/p/progress", "/p/log"):
        assert "Bernard" not in patient_client.get(page).get_data(as_text=True)


def test_a_session_whose_patient_does_not_match_its_link_is_ended(patient_client, other):
    b, _ = other
    with patient_client.session_transaction() as cookie:  # as if the cookie could be forged
        cookie["portal_patient_id"] = b.id
    response = patient_client.get("/p/home")
    assert response.status_code == 410 and "Bernard" not in response.get_data(as_text=True)
    assert patient_client.get("/p/home").headers["Location"] == "/p/closed"


def test_a_therapists_session_opens_no_patient_page(app, db, therapist, token):
    """Every patient page (the home sheet's download included) wants the patient session: a therapist signed in
    on a browser is sent to "closed" and changes nothing, and their own session is left alone."""
    browser = app.test_client()
    sign_in(browser, therapist.email)
    csrf = csrf_from(browser.get("/patients/new", follow_redirects=True).get_data(as_text=True))
    before = snapshot(db)
    for rule in GET_RULES + POST_RULES:
        if rule.endpoint not in PATIENT_PAGES or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = build_url(app, rule)
        response = browser.get(url) if "GET" in rule.methods else browser.post(url, data={"csrf_token": csrf})
        assert response.status_code == 302 and response.headers["Location"] == "/p/closed", rule.rule
    assert {k: v for k, v in snapshot(db).items() if k not in BOOKKEEPING} == \
        {k: v for k, v in before.items() if k not in BOOKKEEPING}
    assert "Okafor" in browser.get("/patients/").get_data(as_text=True)  # still signed in as the therapist


# -------------------------------------------------------------------------------------------------- home logs


@pytest.mark.parametrize(("field", "value", "message"), [
    ("pain_worst", "11", "Choose your worst pain: a number from 0 to 10."),
    ("minutes", "-5", "Enter the minutes you walked backward: a number from 0.5 to 180."),
    ("session_date", (datetime.now(UTC).date() + timedelta(days=2)).isoformat(), "The date cannot be in the future."),
    ("note", "n" * 1_000_000, "Your note is too long. Use 1000 letters or fewer."),
    ("fell", "", "Choose yes or no."),
])
def test_bad_home_log_input_is_explained_beside_the_field_and_nothing_is_saved(patient_client, db, field, value,
                                                                               message):
    response = log_session(patient_client, **{field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html and f'id="{field}-error"' in html
    assert count_rows(db, HomeLog) == 0


def test_messages_are_in_the_patients_language(patient_client, db):
    submit(patient_client, "/p/language", {"language": "es"}, form_page="/p/home")
    html = log_session(patient_client, pain_worst="11").get_data(as_text=True)
    assert "Elija su peor dolor: un número del 0 al 10." in html


def test_a_logged_session_shows_on_the_therapist_page_and_changes_the_advice(patient_client, therapist_client, db,
                                                                              patient, protocol):
    assert 'id="advice"' not in therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)  # no card yet
    saved = log_session(patient_client, pain_worst="2", note="Walked in the hallway <b>ok</b>")
    assert saved.status_code == 302 and saved.headers["Location"].startswith("/p/log/")
    assert "Thank you. Your session is saved." in patient_client.get(saved.headers["Location"]).get_data(as_text=True)
    log_session(patient_client, pain_worst="2")
    page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Home sessions" in page and "Walked in the hallway &lt;b&gt;ok&lt;/b&gt;" in page
    assert "Advance" in page and "minutes 5 → 7" in page
    # The decision checks the same advice (home logs included), so accepting it works.
    accepted = decide(therapist_client, patient, "advance", "minutes 5 → 7", decision="accept", follow_redirects=True)
    assert "Applied: minutes 5 → 7" in accepted.get_data(as_text=True)
    recent = therapist_client.get("/dashboard").get_data(as_text=True)
    assert "Okafor, Margaret" in recent.split("Recently seen")[1]


def test_a_red_flag_shows_the_stop_box_at_once_and_alerts_the_therapist(patient_client, therapist_client, db):
    saved = log_session(patient_client, flag_chest="1")
    html = patient_client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Stop and call the clinic" in html and 'href="tel:555-0100"' in html
    alert = db.exec(select(Alert)).one()
    log = db.exec(select(HomeLog)).one()
    assert (alert.kind, alert.home_log_id) == ("red_flag", log.id)
    assert "chest pain or breathlessness" in therapist_client.get("/dashboard").get_data(as_text=True)


def test_a_fall_stops_too(patient_client, db):
    saved = log_session(patient_client, fell="yes")
    assert "Stop and call the clinic" in patient_client.get(saved.headers["Location"]).get_data(as_text=True)
    assert db.exec(select(Alert.kind)).all() == ["fall"]


def test_an_entry_can_be_corrected_for_24_hours_with_its_history_kept(patient_client, db):
    saved = log_session(patient_client, pain_worst="7")
    entry_url = saved.headers["Location"]
    response = submit(patient_client, f"{entry_url}/edit", log_form(pain_worst="3", version="1"))
    assert response.status_code == 302
    log = db.exec(select(HomeLog)).one()
    assert (log.pain_worst, log.version) == (3, 2)
    record = db.exec(select(EditRecord)).one()
    assert (record.entity, json.loads(record.changes)) == ("home_log", {"pain_worst": [7, 3]})
    assert db.exec(select(AuditEvent.object_id).where(AuditEvent.action == "portal.log.update")).one() == log.id
    db.execute(update(HomeLog).values(created_at=utcnow() - timedelta(hours=25)))
    db.commit()
    late = submit(patient_client, f"{entry_url}/edit", log_form(pain_worst="1", version="2"), form_page=entry_url)
    assert late.status_code == 403 and "can no longer be changed" in late.get_data(as_text=True)
    assert patient_client.get(f"{entry_url}/edit").status_code == 403
    db.expire_all()
    assert db.get(HomeLog, log.id).pain_worst == 3


def test_a_correction_that_adds_a_fall_raises_the_alert(patient_client, db):
    entry_url = log_session(patient_client).headers["Location"]
    submit(patient_client, f"{entry_url}/edit", log_form(fell="yes", version="1"))
    assert db.exec(select(Alert.kind)).all() == ["fall"]


def test_progress_shows_the_patients_chart_and_table(patient_client, db):
    log_session(patient_client, pain_worst="4", minutes="12")
    html = patient_client.get("/p/progress").get_data(as_text=True)
    assert "My progress" in html and "4/10" in html and "/p/chart.svg" in html
    chart = patient_client.get("/p/chart.svg")
    policy = chart.headers["Content-Security-Policy"]
    assert chart.mimetype == "image/svg+xml" and "default-src 'none'" in policy and "unsafe-inline" not in policy
    submit(patient_client, "/p/language", {"language": "es"}, form_page="/p/home")
    spanish = patient_client.get("/p/chart.svg").get_data(as_text=True)
    assert "Peor dolor" in spanish and "Worst pain" not in spanish


def test_two_sessions_on_one_day_are_two_rows_with_their_times(patient_client, db, clinic, patient, protocol):
    day = datetime.now(ZoneInfo(clinic.timezone)).date() - timedelta(days=1)
    for hour in (9, 15):
        factories.visit(db, patient, protocol, at=datetime.combine(day, time(hour), tzinfo=ZoneInfo(clinic.timezone)))
    html = patient_client.get("/p/progress").get_data(as_text=True)
    dates = re.findall(r'<td class="p-date"[^>]*>(?:<span class="p-cell-label"[^>]*>[^<]*</span>)?([^<]*)</td>', html)
    assert len(dates) == 2 and dates[0].endswith(", 15:00") and dates[1].endswith(", 09:00")


def test_the_chart_text_grows_with_the_large_text_setting(patient_client):
    log_session(patient_client, pain_worst="4")

    def legend_px() -> float:
        svg = patient_client.get("/p/chart.svg").get_data(as_text=True)
        return float(re.search(r"\.legends \.legend text\{[^}]*font-size:([\d.]+)px", svg).group(1))

    def img_height() -> int:
        html = patient_client.get("/p/progress").get_data(as_text=True)
        return int(re.search(r'<img src="/p/chart.svg[^>]*height="(\d+)"', html).group(1))

    normal, normal_height = legend_px(), img_height()
    submit(patient_client, "/p/text-size", {"size": "large"}, form_page="/p/home")
    assert legend_px() >= normal * 1.3
    assert img_height() > normal_height  # the page holds the taller chart


def test_the_spanish_log_form_words_every_answer_in_spanish(patient_client):
    """Soreness and red flags are the vocabulary's patient wording, translated: no English choice is left."""
    submit(patient_client, "/p/language", {"language": "es"}, form_page="/p/home")
    page = patient_client.get(f"/p/log?form={new_form_id()}").get_data(as_text=True)
    for value, text in SORENESS_PATIENT.items():
        assert f'value="{value}"' in page and gettext("es", text) in page and text not in page
    for text in RED_FLAG_PATIENT.values():
        assert gettext("es", text) in page and text not in page


def test_each_link_use_log_entry_and_page_read_is_audited(patient_client, db, patient, token):
    log_session(patient_client)
    patient_client.get("/p/progress")
    rows = db.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    actions = [row.action for row in rows]
    assert actions[0] == "portal.open" and "portal.log.create" in actions and "portal.view" in actions
    assert {row.patient_id for row in rows} == {patient.id} and {row.user_id for row in rows} == {None}
    assert all(row.clinic_id == patient.clinic_id for row in rows)


def test_the_home_page_offers_the_sheet_as_a_form_with_a_csrf_token(patient_client):
    html = patient_client.get("/p/home").get_data(as_text=True)
    assert "Download my home sheet" in html
    form = html[html.index('action="/p/sheet"') - 40:html.index("Download my home sheet")]
    assert 'method="post"' in form and 'name="csrf_token"' in form


def test_the_therapist_sees_what_the_patient_corrected(patient_client, therapist_client, patient):
    entry_url = log_session(patient_client, pain_worst="7").headers["Location"]
    submit(patient_client, f"{entry_url}/edit", log_form(pain_worst="3", version="1"))
    page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Corrected by the patient" in page and "Worst pain</strong>: 7 → 3" in page


def test_portal_pages_use_as_many_queries_with_100_sessions_as_with_1(patient_client, db, patient, protocol):
    def count(url: str) -> int:
        response = patient_client.get(url)
        assert response.status_code == 200, url
        return int(response.headers["X-Query-Count"])

    log_session(patient_client)
    pages = ("/p/home", "/p/progress", "/p/chart.svg", f"/p/log?form={new_form_id()}")
    few = {url: count(url) for url in pages}
    today = datetime.now(UTC).date()
    shape = home_logs.validate_home_log(home_logs.home_log_data(log_form()), today=today)[0]
    for _ in range(99):
        home_logs.create_home_log(db, patient=patient, protocol=protocol, form=shape, link_id=None, now=utcnow())
    db.commit()
    assert {url: count(url) for url in few} == few



def test_the_patient_downloads_their_own_sheet_with_their_link_on_it(patient_client, patient, db):
    from tests.test_handouts import pdf_text

    token = csrf_from(patient_client.get("/p/home").get_data(as_text=True))
    response = patient_client.post("/p/sheet", data={"csrf_token": token}, follow_redirects=True)
    assert response.mimetype == "application/pdf" and "attachment" in response.headers["Content-Disposition"]
    text = " ".join(pdf_text(response.data)[0].split())
    assert patient.last_name in text and "Your exercises online" in text and "/p/" in "".join(text.split())
    record = db.exec(select(HandoutPrint)).one()
    assert (record.source, record.printed_by_id) == ("portal", None)
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "portal.sheet")).first() is not None


def test_tokens_never_reach_the_request_logs(caplog):
    import logging

    from rehab.logredact import RedactingLogger, RedactTokens, redact

    token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd"
    assert redact(f'"GET /p/{token} HTTP/1.1" 302') == '"GET /p/<token> HTTP/1.1" 302'
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '%s - - "%s" %s',
                               ("127.0.0.1", f"GET /p/{token} HTTP/1.1", "302"), None)
    RedactTokens().filter(record)
    assert token not in record.getMessage() and "/p/<token>" in record.getMessage()
    assert "atoms" in vars(RedactingLogger)  # gunicorn's access log goes through the same redaction


def test_the_development_server_log_drops_query_strings():
    import logging

    from rehab.logredact import RedactTokens

    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '%s - - "%s" %s',
                               ("127.0.0.1", "GET /patients/?q=Okafor HTTP/1.1", "200"), None)
    RedactTokens().filter(record)
    assert "Okafor" not in record.getMessage() and '"GET /patients/ HTTP/1.1"' in record.getMessage()
