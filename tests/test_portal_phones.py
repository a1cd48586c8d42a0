"""'Remember this phone' as a patient and a therapist use it: the choice, the cookie, staying signed in past the
idle closure, and its end (forgotten by the therapist or the patient, or the link replaced)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from rehab.models import AuditEvent, Patient, PortalDevice, PortalLink
from rehab.services import portal_devices
from rehab.services.tokens import token_hash
from rehab.views.portal.phones import COOKIE
from tests import factories
from tests.conftest import submit

pytestmark = pytest.mark.db

ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 "
           "Mobile Safari/537.36")


def _read(db: Session) -> Session:
    """The test's session on a new transaction, so it sees what the requests committed since its last read."""
    db.rollback()
    return db


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def _cookie_header(response) -> str:  # type: ignore[no-untyped-def]
    headers = [value for value in response.headers.getlist("Set-Cookie") if value.startswith(f"{COOKIE}=")]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")
    return headers[0]


def remember(phone: FlaskClient):  # type: ignore[no-untyped-def]
    return submit(phone, "/p/remember", {"remember": "1"}, form_page="/p/home")


def _idle(phone: FlaskClient, minutes: int = 31) -> None:
    with phone.session_transaction() as cookie:
        cookie["portal_seen"] -= minutes * 60
        cookie["portal_started"] -= minutes * 60


def _live_link(db: Session, patient: Patient) -> PortalLink:
    db.rollback()  # a new read: what the requests committed
    return db.exec(select(PortalLink).where(PortalLink.patient_id == patient.id,
                                            col(PortalLink.revoked_at).is_(None))).one()


def test_the_choice_is_offered_unticked_with_the_shared_phone_warning(patient_client):  # type: ignore[no-untyped-def]
    html = _text(patient_client.get("/p/home"))
    assert "Remember this phone" in html and "Do not tick this on a shared phone or computer." in html
    box = re.search(r'<input type="checkbox" name="remember"[^>]*>', html)
    assert box is not None and "checked" not in box.group(0)


def test_not_ticked_nothing_is_remembered(db, patient_client):  # type: ignore[no-untyped-def]
    answer = submit(patient_client, "/p/remember", {}, form_page="/p/home")
    assert answer.status_code == 302 and COOKIE not in " ".join(answer.headers.getlist("Set-Cookie"))
    assert _read(db).exec(select(PortalDevice)).all() == []
    assert "Remember this phone" not in _text(patient_client.get("/p/home"))  # asked once per visit


def test_a_remembered_phone_gets_a_safe_cookie_of_its_own(app, db, token, patient_client):  # type: ignore[no-untyped-def]
    answer = remember(patient_client)
    header = _cookie_header(answer)
    value = header.split(";", 1)[0].split("=", 1)[1]
    assert value != token and token not in header
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/p/" in header
    assert re.search(r"Max-Age=15\d{6}", header)  # the link's life: 180 days is 15,552,000 seconds
    assert "Secure" not in header  # served over plain HTTP in the tests; see the next test
    device = _read(db).exec(select(PortalDevice)).one()
    assert device.token_hash == token_hash(value) and value not in repr(device.__dict__)
    assert _read(db).exec(select(AuditEvent.action).where(AuditEvent.action == "portal.phone.remember")).all()


def test_the_cookie_is_secure_over_https(app, token):  # type: ignore[no-untyped-def]
    phone = app.test_client()
    phone.get(f"/p/{token}", base_url="https://localhost")
    page = phone.get("/p/home", base_url="https://localhost")
    fields = re.findall(r'name="(csrf_token|form_id)" value="([^"]+)"', _text(page))
    answer = phone.post("/p/remember", data={**dict(fields), "remember": "1"}, base_url="https://localhost")
    assert "Secure" in _cookie_header(answer)


def test_a_remembered_phone_stays_signed_in_past_the_idle_closure(app, token, patient_client):  # type: ignore[no-untyped-def]
    remember(patient_client)
    _idle(patient_client, 3 * 60)  # past both the 30 idle minutes and the 2 hours
    home = patient_client.get("/p/home")
    assert home.status_code == 200 and "Hello, Margaret" in _text(home)
    # A phone that is not remembered still closes.
    other = app.test_client()
    other.get(f"/p/{token}")
    _idle(other)
    assert other.get("/p/home").headers["Location"] == "/p/closed"


def test_a_remembered_phone_opens_the_page_without_the_link(app, db, patient_client):  # type: ignore[no-untyped-def]
    value = _cookie_header(remember(patient_client)).split(";", 1)[0].split("=", 1)[1]
    fresh = app.test_client()  # the browser was closed: only the long-lived cookie is left
    fresh.set_cookie(COOKIE, value, path="/p/")
    home = fresh.get("/p/home", headers={"User-Agent": ANDROID})
    assert home.status_code == 200 and "Hello, Margaret" in _text(home)
    assert _read(db).exec(select(AuditEvent.action).where(AuditEvent.action == "portal.phone.resume")).all()


def test_forgetting_a_phone_signs_it_out_on_its_next_request(app, db, patient, patient_client, therapist_client):  # type: ignore[no-untyped-def]
    remember(patient_client)
    device = _read(db).exec(select(PortalDevice)).one()
    card = _text(therapist_client.get(f"/patients/{patient.id}"))
    assert "Remembered phones" in card and "Forget this phone" in card and "last used" in card
    assert "Forget all of Margaret&#39;s phones" in card or "Forget all of Margaret's phones" in card
    forgot = submit(therapist_client, f"/patients/{patient.id}/portal/phones/{device.id}/forget", {},
                    form_page=f"/patients/{patient.id}")
    assert forgot.status_code == 302
    answer = patient_client.get("/p/home")
    assert answer.headers["Location"] == "/p/closed"
    assert f"{COOKIE}=;" in " ".join(answer.headers.getlist("Set-Cookie"))  # the cookie is deleted too
    actions = _read(db).exec(select(AuditEvent.action).where(AuditEvent.action == "portal.phones.forget")).all()
    assert actions == ["portal.phones.forget"]


def test_forget_all_phones_ends_every_one(app, db, patient, token, therapist_client):  # type: ignore[no-untyped-def]
    phones = []
    for _ in range(2):
        phone = app.test_client()
        phone.get(f"/p/{token}")
        remember(phone)
        phones.append(phone)
    assert len(portal_devices.remembered(db, link_id=_live_link(db, patient).id)) == 2
    submit(therapist_client, f"/patients/{patient.id}/portal/phones/forget", {}, form_page=f"/patients/{patient.id}")
    for phone in phones:
        assert phone.get("/p/home").headers["Location"] == "/p/closed"


def test_rotating_the_link_ends_the_remembered_phones(app, db, patient, patient_client, therapist_client):  # type: ignore[no-untyped-def]
    value = _cookie_header(remember(patient_client)).split(";", 1)[0].split("=", 1)[1]
    submit(therapist_client, f"/patients/{patient.id}/portal/rotate", {"link_id": str(_live_link(db, patient).id)},
           form_page=f"/patients/{patient.id}")
    assert patient_client.get("/p/home").status_code == 410
    fresh = app.test_client()
    fresh.set_cookie(COOKIE, value, path="/p/")
    answer = fresh.get("/p/home")
    assert answer.status_code == 410 and "no longer valid" in _text(answer)
    assert "None." in _text(therapist_client.get(f"/patients/{patient.id}"))  # the new link has no phones


def test_closing_my_page_forgets_the_phone(db, patient_client):  # type: ignore[no-untyped-def]
    remember(patient_client)
    closed = submit(patient_client, "/p/leave", {}, form_page="/p/home")
    assert closed.headers["Location"] == "/p/closed"
    assert _read(db).exec(select(PortalDevice)).one().forgotten_at is not None
    assert f"{COOKIE}=;" in " ".join(closed.headers.getlist("Set-Cookie"))


def test_the_check_page_offers_the_choice_and_remembers_after_the_right_date(app, db, patient, protocol):  # type: ignore[no-untyped-def]
    checked = factories.portal_link(db, patient, require_birth_date=True)
    phone = app.test_client()
    phone.get(f"/p/{checked}")
    page = _text(phone.get("/p/check"))
    assert "Remember this phone" in page and "Do not tick this on a shared phone or computer." in page
    wrong = submit(phone, "/p/check", {"day": "1", "month": "1", "year": "1960", "remember": "1"})
    assert wrong.status_code == 422 and _read(db).exec(select(PortalDevice)).all() == []
    right = submit(phone, "/p/check", {"day": "14", "month": "3", "year": "1951", "remember": "1"})
    assert right.headers["Location"] == "/p/home" and "HttpOnly" in _cookie_header(right)
    _idle(phone, 200)
    assert phone.get("/p/home").status_code == 200  # no second birth-date check on a remembered phone
