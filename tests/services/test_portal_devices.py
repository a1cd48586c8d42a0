"""Remembered phones and the message sent with a link, without the app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from sqlmodel import Session

from rehab.models import Patient, PortalDevice
from rehab.services import link_message, portal_devices, portal_links
from rehab.services.tokens import token_hash
from tests import factories

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SECRET = "unit-test-secret-key-0123456789-abcdef"
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 "
           "Mobile Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")


@pytest.fixture
def patient(session: Session) -> Patient:
    patient = factories.patient(session, factories.clinic(session))
    factories.protocol(session, patient, days_ago=20, now=NOW)
    return patient


@pytest.mark.parametrize(("agent", "label"), [
    (ANDROID, "Android phone, Chrome"), (IPHONE, "iPhone, Safari"),
    ("Mozilla/5.0 (Windows NT 10.0) Gecko/20100101 Firefox/133.0", "Windows computer, Firefox"),
    ("", "Unknown device"),
])
def test_a_phone_is_named_so_the_therapist_can_tell_two_apart(agent: str, label: str) -> None:
    assert portal_devices.device_label(agent) == label


def test_a_remembered_phone_is_found_by_its_token_kept_only_as_a_hash(session: Session, patient: Patient) -> None:
    link, _token = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET)
    device, token = portal_devices.remember(session, link=link, now=NOW, user_agent=ANDROID)
    assert len(token) >= 43 and device.token_hash == token_hash(token) and token not in repr(device.__dict__)
    assert portal_devices.find(session, token) is device
    assert portal_devices.find(session, token + "x") is None and portal_devices.find(session, "") is None


def test_forgetting_one_or_all_phones_ends_them(session: Session, patient: Patient) -> None:
    link, _token = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET)
    first, first_token = portal_devices.remember(session, link=link, now=NOW, user_agent=ANDROID)
    second, _ = portal_devices.remember(session, link=link, now=NOW + timedelta(minutes=1), user_agent=IPHONE)
    portal_devices.touch(session, device_id=first.id, now=NOW + timedelta(days=2))
    session.expire_all()
    assert [card.label for card in portal_devices.remembered(session, link_id=link.id)] == \
        ["Android phone, Chrome", "iPhone, Safari"]  # the most recently used first
    assert portal_devices.forget(session, device_id=first.id, patient_id=patient.id + 1, now=NOW) is None
    assert portal_devices.forget(session, device_id=first.id, patient_id=patient.id, now=NOW) is not None
    assert portal_devices.find(session, first_token) is None
    assert not portal_devices.still_remembered(session, device_id=first.id, link_id=link.id)
    assert portal_devices.still_remembered(session, device_id=second.id, link_id=link.id)
    assert portal_devices.forget_all(session, patient_id=patient.id, now=NOW) == 1
    assert portal_devices.remembered(session, link_id=link.id) == []
    session.expire_all()
    assert session.get(PortalDevice, second.id).forgotten_at is not None  # type: ignore[union-attr]


def _query(href: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(href).query, keep_blank_values=True).items()}


def test_the_message_has_the_link_and_the_code_encoded_for_mail_and_text_apps() -> None:
    message = link_message.compose(language="en", patient_name="Margaret", clinic_name="Riverside PT & Co",
                                   url="https://rehab.example/p/abc_DEF-123", code="K7QM-3XPA",
                                   entry_url="https://rehab.example/p/code", email="m.okafor@example.org",
                                   phone="(555) 010-0199")
    assert message.subject == "Your exercises from Riverside PT & Co"
    assert "https://rehab.example/p/abc_DEF-123" in message.body and "K7QM-3XPA" in message.body
    assert message.mailto.startswith(
        "mailto:m.okafor@example.org?subject=Your%20exercises%20from%20Riverside%20PT%20%26%20Co&body=")
    mail = _query(message.mailto)
    assert mail["subject"] == message.subject and mail["body"] == message.body.replace("\n", "\r\n")
    assert message.sms.startswith("sms:5550100199?body=")
    assert unquote(message.sms.split("?body=", 1)[1]) == message.body
    assert " " not in message.mailto and "\n" not in message.sms and "&Co" not in message.mailto


def test_the_message_is_in_the_patients_language() -> None:
    message = link_message.compose(language="es", patient_name="Lucía", clinic_name="Clínica Norte",
                                   url="https://rehab.example/p/abc", code="K7QM-3XPA",
                                   entry_url="https://rehab.example/p/code")
    assert message.subject == "Sus ejercicios de Clínica Norte"
    assert message.body.startswith("Hola, Lucía:") and "escribir su código: K7QM-3XPA" in message.body
    assert message.mailto.startswith("mailto:?subject=")


def test_a_link_without_a_code_sends_the_link_alone() -> None:
    message = link_message.compose(language="en", patient_name="Margaret", clinic_name="Riverside PT",
                                   url="https://rehab.example/p/abc", code=None, entry_url="https://rehab.example/p/code")
    assert "https://rehab.example/p/abc" in message.body and "type your code" not in message.body
