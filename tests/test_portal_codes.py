"""Typing the short code from the sheet at /p/code, as a patient does; the code on the sheet and the share card
(docs/security.md, "Short codes")."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from rehab import printing
from rehab.models import AuditEvent, Clinic, LoginAttempt, Patient, PortalLink, Protocol, utcnow
from rehab.patient_links import printed_link
from rehab.printing.snapshot import SheetOptions
from rehab.services import portal_codes
from tests import factories
from tests.conftest import form_fields, sign_in, submit
from tests.factories import SECRET

pytestmark = pytest.mark.db


def _read(db: Session) -> Session:
    """The test's session on a new transaction, so it sees what the requests committed since its last read."""
    db.rollback()
    return db


def _live_link(db: Session, patient: Patient) -> PortalLink:
    db.rollback()  # a new read: what the requests committed
    return db.exec(select(PortalLink).where(PortalLink.patient_id == patient.id,
                                            col(PortalLink.revoked_at).is_(None))).one()


def _code(db: Session, patient: Patient) -> str:
    code = portal_codes.code_of(SECRET, _live_link(db, patient))
    assert code is not None
    return code


def type_code(phone: FlaskClient, typed: str, *, address: str = "198.51.100.7"):  # type: ignore[no-untyped-def]
    """Open the code page and send what was typed, from ``address``."""
    page = phone.get("/p/code", environ_base={"REMOTE_ADDR": address})
    assert page.status_code == 200
    return phone.post("/p/code", data={**form_fields(page.get_data(as_text=True)), "code": typed},
                      environ_base={"REMOTE_ADDR": address})


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def test_the_code_page_is_plain_and_needs_no_link(app: Flask) -> None:
    page = app.test_client().get("/p/code")
    html = _text(page)
    assert page.status_code == 200 and "Type the code from your sheet" in html
    assert '<label for="code">Your code</label>' in html and "Like K7QM-3XPA" in html
    assert "maxlength" not in html


def test_the_right_code_opens_the_portal_in_any_case_with_spaces_and_misread_letters(app, db, patient, token):  # type: ignore[no-untyped-def]
    code = _code(db, patient)
    typed = f" {code[:4].lower()} - {code[4:]} ".replace("0", "o").replace("1", "l")
    phone = app.test_client()
    opened = type_code(phone, typed)
    assert opened.status_code == 302 and opened.headers["Location"] == "/p/home"
    assert "Hello, Margaret" in _text(phone.get("/p/home"))
    assert _read(db).exec(select(AuditEvent.action).where(AuditEvent.action == "portal.code")).all() == ["portal.code"]


def test_a_wrong_code_gets_a_message_beside_the_field_and_counts_once(app, db, patient, token):  # type: ignore[no-untyped-def]
    phone = app.test_client()
    code = _code(db, patient)
    wrong = ("Z" if code[0] != "Z" else "Y") + code[1:]
    page = phone.get("/p/code")
    fields = {**form_fields(_text(page)), "code": wrong}
    first, second = phone.post("/p/code", data=fields), phone.post("/p/code", data=fields)  # a double tap
    for answer in (first, second):
        html = _text(answer)
        assert answer.status_code == 422
        assert 'id="code-error" role="alert">That code does not match any page.' in html
        assert 'aria-describedby="code-hint code-error" aria-invalid="true"' in html
        assert f'value="{wrong}"' in html  # what was typed stays
    counted = _read(db).exec(select(LoginAttempt).where(LoginAttempt.account_key == portal_codes.THROTTLE_KEY)).all()
    assert len(counted) == 1
    assert phone.get("/p/home").headers["Location"] == "/p/closed"


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Type the code from your sheet."),
    ("K7QM-3XP", "A code has 8 letters and numbers, like K7QM-3XPA. You typed 7."),
    ("K7QM-3XPU", "“U” is not in any code."),
])
def test_a_code_of_the_wrong_shape_is_explained_and_not_counted(app, db, token, typed, message):  # type: ignore[no-untyped-def]
    answer = type_code(app.test_client(), typed)
    assert answer.status_code == 422 and message in _text(answer)
    assert _read(db).exec(select(LoginAttempt).where(LoginAttempt.account_key == portal_codes.THROTTLE_KEY)).all() == []


def test_wrong_codes_from_one_address_pause_typing_for_it_even_the_right_code(app, db, patient, token):  # type: ignore[no-untyped-def]
    app.config["PORTAL_CODE_MAX_WRONG_PER_ADDRESS"] = 3
    phone = app.test_client()
    for _ in range(3):
        assert type_code(phone, "ZZZZ-ZZZZ").status_code == 422
    paused = type_code(phone, _code(db, patient))
    html = _text(paused)
    assert paused.status_code == 429
    assert "Too many wrong codes were typed from this connection. Wait 15 minutes" in html
    assert "scan the square on your sheet" in html and 'id="code-error"' in html
    assert phone.get("/p/home").headers["Location"] == "/p/closed"
    # Another address still gets in; the long link always does.
    assert type_code(app.test_client(), _code(db, patient), address="203.0.113.9").status_code == 302
    assert app.test_client().get(f"/p/{token}").status_code == 302
    type_code(phone, "ZZZZ-ZZZZ")
    paused_events = _read(db).exec(select(AuditEvent).where(AuditEvent.action == "portal.code.paused.address")).all()
    assert len(paused_events) == 1  # once per window, not per try


def test_wrong_codes_from_many_addresses_pause_typing_for_everyone(app, db, patient, token):  # type: ignore[no-untyped-def]
    app.config["PORTAL_CODE_MAX_WRONG_EVERYONE"] = 4
    for number in range(4):
        assert type_code(app.test_client(), "ZZZZ-ZZZZ", address=f"192.0.2.{number + 1}").status_code == 422
    paused = type_code(app.test_client(), _code(db, patient), address="192.0.2.200")
    assert paused.status_code == 429
    assert "Typing codes is paused for a few minutes because of many wrong tries on this site" in _text(paused)
    assert app.test_client().get(f"/p/{token}").status_code == 302  # the QR code still works


def test_a_code_of_a_link_with_the_birth_date_check_leads_to_the_check(app, db, patient, protocol):  # type: ignore[no-untyped-def]
    factories.portal_link(db, patient, require_birth_date=True)
    phone = app.test_client()
    opened = type_code(phone, _code(db, patient))
    assert opened.headers["Location"] == "/p/check"
    assert phone.get("/p/home").headers["Location"] == "/p/closed"  # not in before the check
    wrong = {"day": "1", "month": "1", "year": "1960"}
    for _ in range(4):
        assert submit(phone, "/p/check", wrong).status_code == 422
    assert submit(phone, "/p/check", wrong).status_code == 410
    again = type_code(app.test_client(), _code(db, patient), address="203.0.113.50")
    assert again.status_code == 410 and "This link is locked" in _text(again)


def test_rotating_kills_the_old_code(app, db, patient, token, therapist_client):  # type: ignore[no-untyped-def]
    old_code = _code(db, patient)
    link = _live_link(db, patient)
    rotated = submit(therapist_client, f"/patients/{patient.id}/portal/rotate", {"link_id": str(link.id)},
                     form_page=f"/patients/{patient.id}")
    assert rotated.status_code == 302
    dead = type_code(app.test_client(), old_code)
    assert dead.status_code == 410 and "no longer valid" in _text(dead)
    new_code = _code(db, patient)
    assert new_code != old_code and type_code(app.test_client(), new_code).status_code == 302


def test_make_a_new_link_offers_the_birth_date_check_every_time(app, db, patient, token, therapist_client):  # type: ignore[no-untyped-def]
    page = _text(therapist_client.get(f"/patients/{patient.id}"))
    assert "Ask for the date of birth when the new link is opened" in page
    link = _live_link(db, patient)
    assert not link.require_birth_date
    submit(therapist_client, f"/patients/{patient.id}/portal/rotate",
           {"link_id": str(link.id), "require_birth_date": "1"}, form_page=f"/patients/{patient.id}")
    assert _live_link(db, patient).require_birth_date
    page = _text(therapist_client.get(f"/patients/{patient.id}"))
    assert 'name="require_birth_date" value="1" checked' in page


def test_the_share_card_tells_the_truth_and_offers_copy_mail_and_text(app, db, patient, token, therapist_client):  # type: ignore[no-untyped-def]
    html = _text(therapist_client.get(f"/patients/{patient.id}"))
    code = portal_codes.grouped(_code(db, patient))
    assert "cannot be shown again" not in html
    assert "printed on every sheet printed from now on" in html and "valid until you make a new link" in html
    assert code in html and "http://localhost/p/code" in html and f"http://localhost/p/{token}" in html
    assert "Copy Margaret&#39;s link" in html or "Copy Margaret's link" in html
    assert 'href="mailto:' in html and "Email the link to Margaret" in html
    assert 'href="sms:' in html and "Text the link to Margaret" in html
    assert code in html.split('href="mailto:', 1)[1].split('"', 1)[0]


def test_the_sheet_prints_the_code_large_with_the_page_to_type_it(app, db, patient, token):  # type: ignore[no-untyped-def]
    app.config["PUBLIC_URL"] = "https://rehab.clinic.example"
    link = _live_link(db, patient)
    protocol = db.exec(select(Protocol).where(Protocol.patient_id == patient.id)).one()
    clinic = db.get(Clinic, patient.clinic_id)
    with app.test_request_context("/"):
        snapshot = printing.new_snapshot(db, patient, protocol, SheetOptions(), clinic=clinic,
                                         printed_by_name="Pat Therapist")
        printed = printed_link(printing.opening_link(link, now=utcnow()))
        assert printed is not None and printed.code == portal_codes.grouped(_code(db, patient))
        assert printed.entry_url == "https://rehab.clinic.example/p/code"
        html = printing.sheet_html(snapshot, link=printed)
        spanish = printing.sheet_html({**snapshot, "options": {**snapshot["options"], "language": "es"}}, link=printed)
    assert f'<p class="portal-code-value">{printed.code}</p>' in html
    assert '<p class="portal-code-url">rehab.clinic.example/p/code</p>' in html and "type this link" not in html
    assert "y escriba su código:" in spanish and printed.code in spanish


def test_the_sign_in_and_code_counts_are_apart(app, db, patient, token, therapist):  # type: ignore[no-untyped-def]
    """Wrong codes never count toward a therapist's sign-in limit from the same address, nor the other way."""
    app.config["PORTAL_CODE_MAX_WRONG_PER_ADDRESS"] = 2
    for _ in range(2):
        type_code(app.test_client(), "ZZZZ-ZZZZ", address="127.0.0.1")
    assert sign_in(app.test_client(), therapist.email).status_code == 302


def test_the_code_page_offers_its_other_language_without_a_session(app):  # type: ignore[no-untyped-def]
    phone = app.test_client()
    english = _text(phone.get("/p/code"))
    assert 'href="/p/code?lang=es" lang="es" hreflang="es">Español</a>' in english
    spanish = _text(phone.get("/p/code?lang=es"))
    assert "Escriba el código de su hoja" in spanish and '<html lang="es"' in spanish
    again = type_code(phone, "K7QM-3XP")  # the choice stays for the phone: the message is in Spanish too
    assert "Un código tiene 8 letras y números, como K7QM-3XPA. Usted escribió 7." in _text(again)
