"""A patient's personal link points where the install says, and its token never sits in a readable cookie."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from tests import factories
from tests.conftest import form_fields, submit
from tests.test_handouts import pdf_text

pytestmark = pytest.mark.db
FORGED_HOST = {"Host": "evil.example"}


@pytest.fixture
def protocol(db, patient, therapist):  # type: ignore[no-untyped-def]
    """Phase 1 at home, so the sheet prints the patient's link."""
    return factories.protocol(db, patient, days_ago=3, user_id=therapist.id, home=True)


def _share(client, patient, **headers) -> str:  # type: ignore[no-untyped-def]
    if "Host" in headers:  # the test client keeps cookies per host: the same browser, another Host header
        for name in ("rehab_session",):
            client.set_cookie(name, client.get_cookie(name).value, domain=headers["Host"])
    page = client.get(f"/patients/{patient.id}", headers=headers)
    client.post(f"/patients/{patient.id}/portal/share", data=form_fields(page.get_data(as_text=True)), headers=headers)
    html = client.get(f"/patients/{patient.id}/portal/shared", headers=headers).get_data(as_text=True)
    return html.split('id="portal-url" type="text" value="')[1].split('"')[0]


def test_links_on_the_share_page_and_the_sheet_use_the_public_url_whatever_the_host_header(
        app_config, therapist_client, patient, protocol):
    app_config.config["PUBLIC_URL"] = "https://rehab.clinic.example/"
    link = _share(therapist_client, patient, **FORGED_HOST)
    assert link.startswith("https://rehab.clinic.example/p/")
    response = submit(therapist_client, f"/patients/{patient.id}/sheet", {"paper": "letter", "language": "en"})
    text = pdf_text(therapist_client.get(response.headers["Location"], headers=FORGED_HOST).data)[0]
    assert text
    assert "evil.example" not in text and "rehab.clinic.example/p/" in text.replace("\n", "")


def test_without_a_public_url_the_link_follows_the_requests_address(
        app_config, therapist_client, patient, protocol):
    assert _share(therapist_client, patient).startswith("http://localhost/p/")


def test_the_readable_session_cookie_never_holds_the_new_token(app_config, therapist_client, patient, protocol):
    page = therapist_client.get(f"/patients/{patient.id}")
    therapist_client.post(f"/patients/{patient.id}/portal/share", data=form_fields(page.get_data(as_text=True)))
    cookie = therapist_client.get_cookie("rehab_session").value
    handed = _unsigned_payload(cookie)["portal_shared"]
    assert set(handed) == {"patient_id", "link_id", "rotated"}
    token = therapist_client.get(f"/patients/{patient.id}/portal/shared").get_data(as_text=True) \
        .split('id="portal-url" type="text" value="')[1].split('"')[0].rsplit("/", 1)[1]
    assert token not in json.dumps(handed) and len(token) >= 43


def _unsigned_payload(cookie: str) -> dict:  # type: ignore[type-arg]
    """What anyone holding the cookie can read: Flask's cookie is signed, not encrypted."""
    compressed = cookie.startswith(".")
    payload = cookie.lstrip(".").split(".")[0]
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return json.loads(zlib.decompress(data) if compressed else data)
