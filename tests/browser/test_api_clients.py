"""An admin sets up a records system's access to the FHIR API, and takes it away, in a real browser."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.browser.conftest import sign_in_page
from tests.conftest import PASSWORD


def _fhir_status(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310 (the test's own server)
            json.load(response)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_create_a_client_use_its_token_then_revoke_it(page, live_server, admin, clinic, make_patient):
    make_patient(clinic, chart_number="RV-3")
    sign_in_page(page, live_server, admin, PASSWORD)
    page.get_by_text("Clinic admin").click()
    page.get_by_role("link", name="API clients").click()
    page.get_by_role("button", name="Create API client").click()  # nothing filled in: told what is missing
    assert "Give the client a name" in page.locator("#name-error").inner_text()

    page.get_by_label("Name").fill("Hospital records")
    page.get_by_label("Read only").check()
    page.get_by_role("button", name="Create API client").click()
    token = page.get_by_label("Token for Hospital records").input_value()
    assert token.startswith("rhb_")
    assert _fhir_status(f"{live_server}/fhir/Patient?identifier=RV-3", token) == 200

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke Hospital records").click()
    assert "stopped working at once" in page.locator(".flash").inner_text()
    assert _fhir_status(f"{live_server}/fhir/Patient?identifier=RV-3", token) == 401
    assert page.get_by_role("button", name="Revoke Hospital records").count() == 0
