"""Each area answers its errors in its own voice, routing errors too: an unknown address or a wrong method
under /p/ shows the patient's page (never "Go to the patient list"), and under /fhir/ an OperationOutcome
(never HTML). Flask gives routing errors to no blueprint, so rehab/errors.py finds the area by its prefix."""

from __future__ import annotations

import json
import logging
import re

import pytest

from tests.test_fhir import token_for

pytestmark = pytest.mark.db

THERAPIST_LINK = "Go to the patient list"


def test_a_wrong_method_under_the_portal_shows_the_patients_page_with_the_way_back(patient_client):
    response = patient_client.get("/p/sheet")  # the sheet is asked for with the button's POST
    html = response.get_data(as_text=True)
    assert response.status_code == 405
    assert "We could not find that page" in html and "Back to my exercises" in html
    assert THERAPIST_LINK not in html


def test_an_unknown_portal_address_is_the_patients_page_in_the_patients_language(app):
    response = app.test_client().get("/p/lost/and/found", headers={"Accept-Language": "es"})
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert '<html lang="es"' in html and "No encontramos esa página" in html
    assert THERAPIST_LINK not in html


def test_an_address_that_only_begins_like_the_portal_is_the_clinics_page(app):
    response = app.test_client().get("/pineapple/p/")
    assert response.status_code == 404
    assert THERAPIST_LINK in response.get_data(as_text=True)


@pytest.mark.parametrize("testing", [True, False], ids=["testing", "production"])
def test_a_crash_in_the_portal_shows_the_patient_an_error_number_the_log_also_has(app, patient_client, caplog,
                                                                                   monkeypatch, testing):
    app.config["TESTING"] = testing  # production does not propagate errors; both must show the patient's page
    secret_detail = "Margaret's knee log broke"

    def explode(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError(secret_detail)

    monkeypatch.setattr("rehab.views.portal.pages.stop_page", explode)
    with caplog.at_level(logging.ERROR, logger="rehab.errors"):
        response = patient_client.get("/p/home")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in html and "call your clinic" in html
    assert THERAPIST_LINK not in html and secret_detail not in html and "Traceback" not in html
    match = re.search(r'<code class="error-id">([0-9a-f]+)</code>', html)
    assert match, "the patient is given no number to quote"
    assert any(match.group(1) in record.getMessage() for record in caplog.records)


def test_a_bad_request_in_the_portal_is_the_patients_page(patient_client, monkeypatch):
    from flask import abort

    monkeypatch.setattr("rehab.views.portal.pages.stop_page", lambda *_args, **_kwargs: abort(400))
    response = patient_client.get("/p/home")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "That did not work" in html and "Nothing was changed" in html and THERAPIST_LINK not in html


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/fhir/NoSuchType/1", 404, "not-found"),
    ("DELETE", "/fhir/Patient/1", 405, "not-supported"),
    ("POST", "/fhir/metadata", 405, "not-supported"),
])
def test_routing_errors_under_fhir_are_operation_outcomes(client, db, clinic, method, path, status, code):
    response = client.open(path, method=method, headers=token_for(db, clinic))
    assert response.status_code == status
    assert response.mimetype == "application/fhir+json"
    body = json.loads(response.get_data(as_text=True))
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == code


def test_a_crash_under_fhir_is_an_operation_outcome_with_the_logged_error_id(app, client, caplog, monkeypatch):
    app.config["TESTING"] = False  # as in production: the error is answered, not raised into the test

    def explode(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the capability statement broke")

    monkeypatch.setattr("rehab.views.fhir.capability_statement", explode)
    with caplog.at_level(logging.ERROR, logger="rehab.errors"):
        response = client.get("/fhir/metadata")
    assert response.status_code == 500 and response.mimetype == "application/fhir+json"
    issue = json.loads(response.get_data(as_text=True))["issue"][0]
    assert issue["code"] == "exception" and "broke" not in issue["diagnostics"]
    error_id = re.search(r"error id ([0-9a-f]+)", issue["diagnostics"])
    assert error_id and any(error_id.group(1) in record.getMessage() for record in caplog.records)
