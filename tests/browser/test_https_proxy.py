"""Behind the HTTPS proxy the README prescribes, every form works in a real browser.

The proxy is played by Playwright sending ``X-Forwarded-Proto: https`` on every request, with the app trusting
one proxy hop (``TRUSTED_PROXY_COUNT``): the app then sees each request as HTTPS, as it does in production.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from rehab import create_app
from rehab.models import Alert, HomeLog
from tests.browser.conftest import (
    CHROMIUM_ARGS,  # noqa: F401 (the browser fixtures come from conftest)
    PHONE,
)
from tests.conftest import PASSWORD, base_config, count_rows, engine_of

PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = create_app({**base_config(database_url), "TRUSTED_PROXY_COUNT": 1})
    if database_url.startswith("postgresql"):
        from tests.conftest import _empty_postgres_tables

        _empty_postgres_tables(engine_of(app))
    yield app
    engine_of(app).dispose()


def test_sign_in_share_and_a_red_flag_home_log_all_work_behind_https(browser, live_server, db, therapist,
                                                                     patient):
    therapist_browser = browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers=PROXY_HEADERS)
    phone_browser = browser.new_context(**PHONE, extra_http_headers=PROXY_HEADERS)
    try:
        page = therapist_browser.new_page()
        page.goto(f"{live_server}/login")
        page.get_by_label("Email").fill(therapist.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server}/dashboard")

        page.goto(f"{live_server}/patients/{patient.id}")
        page.get_by_role("button", name="Share with patient").click()
        link = page.get_by_label("Link").input_value()
        assert link.startswith("https://"), "the app did not see the request as HTTPS"
        token = link.rsplit("/", 1)[1]

        phone = phone_browser.new_page()
        phone.goto(f"{live_server}/p/{token}")  # plain HTTP to the test server; the proxy header says HTTPS
        phone.wait_for_url(f"{live_server}/p/home")
        phone.get_by_role("navigation").get_by_role("link", name="Log a session").click()
        phone.get_by_label("Minutes you walked backward").fill("6")
        phone.locator("#pain_worst").get_by_text("2", exact=True).click()
        phone.locator("#stumbled").get_by_text("No", exact=True).click()
        phone.locator("#fell").get_by_text("No", exact=True).click()
        phone.get_by_text("Pain, swelling or warmth in my calf").click()
        phone.get_by_role("button", name="Save my session").click()
        assert "This form has expired" not in phone.locator("main").inner_text()
        assert "Stop and call the clinic" in phone.locator("main").inner_text()
        assert count_rows(db, HomeLog) == 1 and count_rows(db, Alert) >= 1

        page.get_by_role("button", name="Sign out").click()
        assert "You are signed out." in page.locator(".flash").inner_text()
    finally:
        therapist_browser.close()
        phone_browser.close()
