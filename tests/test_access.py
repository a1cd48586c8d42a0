"""Deny by default, response headers and error pages, walked over every route the app has (SECURITY.md 8, 16-18).

The route list comes from the app's own URL map, so a route added later is checked without editing this file.
"""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask, url_for
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel
from werkzeug.routing import IntegerConverter, Rule

from rehab import create_app
from rehab.security import PUBLIC_ENDPOINTS
from tests.conftest import base_config, csrf_from, sign_in

pytestmark = pytest.mark.db

# The short explicit list of pages anyone may open. Adding to it must be a decision, so it is spelled out here.
# The patient's calendar (portal.calendar) is fetched by calendar apps, which have no cookie: its own token is the key.
EXPECTED_PUBLIC = {"auth.login", "static", "main.health", "main.ping", "portal.open", "portal.closed", "portal.code",
                   "portal.calendar", "portal.service_worker", "portal.manifest", "portal.offline",
                   "fhir.metadata"}
DUMMY_ID = 1
STATIC_FILE = "css/app.css"
DUMMY_TOKEN = "x" * 43  # the shape of a portal link token, issued to no one
# Patient portal pages answer to the patient's link, not to a therapist sign-in: without a patient session
# they send the browser to the portal's "your page is closed" page (tests/test_portal.py walks them further).
PORTAL_CLOSED = "/p/closed"
# The FHIR API answers to an API client's bearer token, not to a sign-in: without one every route but
# /fhir/metadata gets a 401 OperationOutcome (tests/test_fhir.py walks tokens further).
FHIR_DUMMY_ID = "1"


def _rules() -> list[Rule]:
    """The URL map of an app built like the real one (no database is opened to read it)."""
    app = create_app(base_config("sqlite://"))
    return sorted(app.url_map.iter_rules(), key=lambda rule: (rule.rule, rule.endpoint))


RULES = _rules()
GET_RULES = [rule for rule in RULES if "GET" in rule.methods]
POST_RULES = [rule for rule in RULES if "POST" in rule.methods]
CHECKED_POST_RULES = [rule for rule in POST_RULES if rule.endpoint not in PUBLIC_ENDPOINTS]


def build_url(app: Flask, rule: Rule) -> str:
    values: dict[str, object] = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if rule.endpoint == "static":
            values[name] = STATIC_FILE
        elif rule.endpoint in ("portal.open", "portal.calendar"):
            values[name] = DUMMY_TOKEN
        elif isinstance(converter, IntegerConverter):
            values[name] = DUMMY_ID
        elif rule.endpoint.startswith("fhir."):  # FHIR ids are strings; "1" is the patient below
            values[name] = FHIR_DUMMY_ID
        else:  # a new kind of URL argument: decide here what a realistic value is
            pytest.fail(f"{rule.rule}: no test value for the {type(converter).__name__} argument {name!r}")
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


@pytest.fixture
def records(clinic, therapist, admin, make_patient):  # type: ignore[no-untyped-def]
    """Real rows behind id 1 (clinic, user, patient), so a route that wrongly let an anonymous request through
    would have something to change."""
    patient = make_patient(clinic, chart_number="RV-1")
    assert clinic.id == patient.id == DUMMY_ID and DUMMY_ID in (therapist.id, admin.id)


def snapshot(db: Session) -> dict[str, list[tuple]]:
    """Every row of every table, as committed now."""
    state = {table.name: [tuple(row) for row in db.execute(sa_select(table).order_by(*table.primary_key.columns))]
             for table in SQLModel.metadata.sorted_tables}
    db.commit()
    return state


# -------------------------------------------------------------------------------------------- deny by default


def test_the_public_list_is_short_and_explicit():
    assert set(PUBLIC_ENDPOINTS) == EXPECTED_PUBLIC


def test_every_route_is_walked():
    endpoints = {rule.endpoint for rule in RULES}
    assert EXPECTED_PUBLIC <= endpoints
    assert {"patients.index", "admin.users", "auth.logout"} <= endpoints  # the walk sees the real map


@pytest.mark.parametrize("rule", GET_RULES, ids=lambda rule: f"GET {rule.rule}")
def test_anonymous_get_is_sent_to_sign_in_unless_public(app, client, records, rule):
    url = build_url(app, rule)
    response = client.get(url)
    response.close()  # static files are streamed from an open file
    if rule.endpoint == "portal.open":  # a token issued to no one: the friendly "no longer valid" page
        assert response.status_code == 404 and "no longer valid" in response.get_data(as_text=True)
        return
    if rule.endpoint == "portal.calendar":  # a calendar issued to no one: nothing but the refusal
        assert response.status_code == 404 and response.get_data(as_text=True) == "No such calendar.\n"
        return
    if rule.endpoint in EXPECTED_PUBLIC:
        assert response.status_code == 200, url
        return
    if _is_fhir(rule):
        _check_fhir_refusal(response, url)
        return
    assert response.status_code == 302, url
    assert response.headers["Location"].startswith(PORTAL_CLOSED if _is_portal(rule) else "/login")
    assert "Margaret" not in response.get_data(as_text=True)


def _is_fhir(rule: Rule) -> bool:
    return rule.endpoint.startswith("fhir.")


def _check_fhir_refusal(response, url: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 401, url
    assert response.mimetype == "application/fhir+json"
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert "Margaret" not in response.get_data(as_text=True)


def _is_portal(rule: Rule) -> bool:
    """The patient's pages: the portal blueprint, every one of them behind the portal's own guard."""
    return rule.endpoint.startswith("portal.")


def test_public_pages_show_nothing_private(client, records):
    health = client.get("/healthz")
    assert health.get_json() == {"status": "ok"}
    login = client.get("/login").get_data(as_text=True)
    assert "Margaret" not in login and "Riverside PT" not in login
    with client.get(f"/static/{STATIC_FILE}") as static:
        assert static.status_code == 200 and static.mimetype == "text/css"


@pytest.mark.parametrize("rule", CHECKED_POST_RULES, ids=lambda rule: f"POST {rule.rule}")
def test_anonymous_post_is_refused_and_changes_nothing(app, client, db, records, rule):
    url = build_url(app, rule)
    before = snapshot(db)
    form = {"active": "0", "archived": "1", "name": "Changed", "first_name": "Changed", "password": "x" * 20,
            "clinic_id": "1"}
    if _is_fhir(rule):  # no bearer token: refused before the body is read
        _check_fhir_refusal(client.post(url, json={"resourceType": "Patient"}), url)
        assert snapshot(db) == before
        return
    without_token = client.post(url, data=form)
    signed_out = PORTAL_CLOSED if _is_portal(rule) else "/login"
    assert without_token.status_code in (302, 400), url
    if without_token.status_code == 302:
        assert without_token.headers["Location"].startswith(signed_out)
    else:
        expired = "This page was open too long" if _is_portal(rule) else "This form has expired"
        assert expired in without_token.get_data(as_text=True)
    # Even with a valid token from the sign-in page, an anonymous post goes to sign-in.
    token = csrf_from(client.get("/login").get_data(as_text=True))
    with_token = client.post(url, data={**form, "csrf_token": token})
    assert with_token.status_code == 302, url
    assert with_token.headers["Location"].startswith(signed_out)
    assert snapshot(db) == before


def test_no_get_route_changes_anything(app, records, db, admin):
    """GET never changes state (SECURITY.md 16): opening every page as an admin leaves the records alone."""
    browser = app.test_client()
    # The admin's own sign-in writes a session and an audit row; take the snapshot after it.
    sign_in(browser, admin.email)
    before = snapshot(db)
    for rule in GET_RULES:
        browser.get(build_url(app, rule)).close()
    after = snapshot(db)
    # Reading may touch the session's "last seen" and append to the audit trail; nothing else may change.
    bookkeeping = {"user_session", "audit_event", "login_attempt"}
    assert {name: rows for name, rows in after.items() if name not in bookkeeping} == \
        {name: rows for name, rows in before.items() if name not in bookkeeping}


FHIR_RULES = [rule for rule in RULES if _is_fhir(rule) and rule.endpoint not in PUBLIC_ENDPOINTS]


@pytest.mark.parametrize("rule", FHIR_RULES,
                         ids=lambda rule: f"{sorted(rule.methods - {'HEAD', 'OPTIONS'})} {rule.rule}")
def test_a_signed_in_browser_cannot_use_the_fhir_api_without_a_token(app, client, admin, records, rule):
    """A session cookie is no FHIR credential: another site could make a browser send it."""
    sign_in(client, admin.email)
    url = build_url(app, rule)
    response = client.post(url, json={"resourceType": "Patient"}) if "POST" in rule.methods else client.get(url)
    _check_fhir_refusal(response, url)


def test_no_fhir_get_changes_anything_but_the_audit_trail(app, db, clinic, records):
    """Every FHIR GET, with a valid token, only reads (and audits the use)."""
    from rehab.models import utcnow
    from rehab.services import api_clients

    _, token = api_clients.create_client(db, clinic_id=clinic.id, name="Records", scope="read-write", user_id=None,
                                         now=utcnow())
    db.commit()
    before = snapshot(db)
    browser = app.test_client()
    for rule in GET_RULES:
        if _is_fhir(rule):
            response = browser.get(build_url(app, rule), headers={"Authorization": f"Bearer {token}"})
            assert response.status_code in (200, 400, 404), rule.rule  # 400: a search without its patient
            assert response.mimetype == "application/fhir+json"
    after = snapshot(db)
    assert len(after["audit_event"]) > len(before["audit_event"])
    assert {name: rows for name, rows in after.items() if name != "audit_event"} == \
        {name: rows for name, rows in before.items() if name != "audit_event"}


# ---------------------------------------------------------------------------------------------------- headers


def _check_headers(response, *, static: bool = False) -> None:  # type: ignore[no-untyped-def]
    policy = response.headers.get("Content-Security-Policy", "")
    # Pages run only the app's own scripts; an image served on its own (a chart) runs none.
    assert "script-src 'self'" in policy or "script-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") == "no-referrer"
    if not static:
        assert "no-store" in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize("rule", GET_RULES, ids=lambda rule: f"GET {rule.rule}")
def test_every_page_carries_the_security_headers_signed_in_or_not(app, client, admin, records, rule):
    url = build_url(app, rule)
    with client.get(url) as response:
        _check_headers(response, static=rule.endpoint == "static")
    sign_in(client, admin.email)
    with client.get(url) as response:
        assert response.status_code < 500, url  # a missing record (404) is fine here; the headers are the point
        _check_headers(response, static=rule.endpoint == "static")


def test_error_and_redirect_responses_carry_the_headers_too(client, therapist_client):
    for response in (
        therapist_client.get("/no-such-page"),
        therapist_client.get("/logout"),  # 405
        therapist_client.post("/patients/new", data={}),  # 400: no CSRF token
        therapist_client.get("/patients/999999"),  # 404
        therapist_client.get("/admin/users"),  # 403
        therapist_client.get("/"),  # redirect
    ):
        _check_headers(response)


# ------------------------------------------------------------------------------------------------ error pages


def test_an_unknown_url_gets_the_friendly_404_page(client, therapist_client):
    response = therapist_client.get("/patients/lost/and/found")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "We could not find that page" in html and "Go to the patient list" in html


def test_an_unknown_url_gets_a_404_even_when_signed_out(app):
    response = app.test_client().get("/wp-admin/setup.php")
    assert response.status_code == 404
    assert "We could not find that page" in response.get_data(as_text=True)


@pytest.mark.parametrize("testing", [True, False], ids=["testing", "production"])
def test_a_crash_shows_a_friendly_page_with_an_error_id_and_no_traceback(app, client, therapist, caplog, testing):
    app.config["TESTING"] = testing  # production does not propagate errors; both must show the friendly page
    secret_detail = "patient Margaret Okafor broke the printer"

    def explode():  # type: ignore[no-untyped-def]
        raise RuntimeError(secret_detail)

    app.add_url_rule("/test-explode", "test_explode", explode)
    sign_in(client, therapist.email)
    with caplog.at_level(logging.ERROR, logger="rehab.errors"):
        response = client.get("/test-explode")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in html
    match = re.search(r'<code class="error-id">([0-9a-f]+)</code>', html)
    assert match, "the page shows no error id"
    assert "Traceback" not in html and "RuntimeError" not in html and secret_detail not in html
    _check_headers(response)
    # IT can find the same id in the log, with the traceback there and not on the page.
    logged = [record for record in caplog.records if match.group(1) in record.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert secret_detail not in logged[0].getMessage()
