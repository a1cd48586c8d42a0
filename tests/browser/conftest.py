"""Browser tests: Playwright drives Debian's Chromium against the app served on loopback.

Without /usr/bin/chromium these tests skip with the reason locally; with CI=true they fail instead, so CI can
never go green by not running them.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server
from werkzeug.wsgi import ClosingIterator

from rehab.models import Patient, User
from tests import factories

CHROMIUM = os.environ.get("REHAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
SERIOUS = ("serious", "critical")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if shutil.which(CHROMIUM) or Path(CHROMIUM).exists():
        return CHROMIUM
    reason = f"Chromium not found at {CHROMIUM}: install Debian's `chromium` package to run the browser tests."
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI=true: browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance, chromium_path):  # type: ignore[no-untyped-def]
    browser = playwright_instance.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class _ClosesEveryAnswer:
    """The app, with every answer's body closed by the end of the test at the latest.

    Werkzeug's development server closes a body only after draining what the client still sends; when the
    browser resets the connection first (a context closed while its service worker fetches a script), the
    drain raises and the body, an open static file, is left to the garbage collector, whose ResourceWarning
    then fails whichever test happens to be running. gunicorn, which serves the app for real, has no such path.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.open: set[Any] = set()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = self.app(environ, start_response)
        self.open.add(body)
        return ClosingIterator(body, lambda: self.open.discard(body))

    def close_all(self) -> None:
        for body in list(self.open):
            self.open.discard(body)
            getattr(body, "close", lambda: None)()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test app served by a real HTTP server in a thread, on a free loopback port."""
    served = _ClosesEveryAnswer(app)
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()
    served.close_all()


@pytest.fixture
def page(browser, request):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def sign_in_page(page, base_url: str, user: User, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/dashboard")


# ----------------------------------------------------------------------------------------- the patient's phone


@pytest.fixture
def patient(db, clinic, therapist) -> Patient:  # type: ignore[no-untyped-def]
    """Margaret Okafor, two weeks into a protocol whose phase 1 is on a treadmill at home: she logs home sessions
    on her phone."""
    made = factories.patient(db, clinic)
    factories.protocol(db, made, days_ago=14, user_id=therapist.id, home=True)
    return made


@pytest.fixture
def phone(browser):  # type: ignore[no-untyped-def]
    """A fresh browser on a phone: nothing shared with the therapist's browser."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def axe_script() -> Path:
    if AXE.is_file():
        return AXE
    reason = f"axe-core not found at {AXE}: run `npm ci` (or `npm install`) in the project folder."
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI=true: the accessibility check must run)")
    pytest.skip(reason)


def serious_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    """What axe-core finds on the page that is serious or critical."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']][:5]}"
            for violation in result["violations"] if violation["impact"] in SERIOUS]
