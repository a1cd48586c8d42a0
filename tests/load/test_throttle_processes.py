"""Login throttling holds across server processes (SECURITY.md 3).

Flask-Limiter's ``memory://`` storage, or any per-process counter, would let each gunicorn worker count its
own failures: with four workers an attacker gets about forty guesses instead of ten. Here every request goes
on a new connection (``Connection: close``), gunicorn's access log names the worker that served it, and the
eleventh sign-in, with the right password, must be refused whichever worker takes it.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from html import unescape

import pytest
from sqlalchemy import text

from rehab.views.auth import INVALID, THROTTLED
from tests.conftest import PASSWORD
from tests.load.server import Browser, engine_for, fresh_database, seed

pytestmark = [pytest.mark.load, pytest.mark.db]

WORKERS = 4
# The worker's pid (%(p)s) first; the rest as in rehab/gunicorn_conf.py.
ACCESS_LOG_FORMAT = '%(p)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


def sign_in_workers(log: str) -> list[str]:
    """The pid of the worker that served each sign-in, in order."""
    return re.findall(r'^<(\d+)> "POST /login" ', log, re.M)


def test_ten_bad_sign_ins_throttle_the_account_on_every_worker(tmp_path, template_database, serve):
    database_url = fresh_database(tmp_path, template_database)
    seeded = seed(database_url, therapists=3, patients=1)
    server = serve(database_url, workers=WORKERS, extra_args=("--access-logformat", ACCESS_LOG_FORMAT))
    assert len(server.worker_pids()) == WORKERS

    unknown = Browser(server.address).sign_in("nobody@load.example", "wrong password, sorry")
    # Up to three accounts, in case the kernel happened to hand all ten failures to one worker.
    tried = 0
    for email in seeded.emails:
        tried += 1
        browser = Browser(server.address)
        # Two at a time, so an idle kernel does not hand every one to the worker that answered the last.
        failures: list = []  # type: ignore[type-arg]

        def five_failures(sender: Browser, email: str, failures: list) -> None:  # type: ignore[type-arg]
            failures.extend(sender.sign_in(email, "wrong password, sorry") for _ in range(5))

        pair = [threading.Thread(target=five_failures, args=(sender, email, failures))
                for sender in (browser, Browser(server.address))]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join()
        assert len(failures) == 10
        for failed in failures:
            assert failed.status == 401 and INVALID in unescape(failed.body) and THROTTLED not in unescape(failed.body)
        refused = browser.sign_in(email, PASSWORD)
        assert refused.status == 401 and THROTTLED in unescape(refused.body), refused.status
        assert browser.get("/dashboard").location.startswith("/login"), "the refused sign-in let the browser in"
        served_by = sign_in_workers(server.log())[-11:]
        if len(set(served_by[:10])) > 1:
            break
    else:
        pytest.fail("every attempt's ten failures were served by one worker: nothing was proven across processes")
    server.stop()

    served_by = sign_in_workers(server.log())
    assert len(served_by) == 1 + 11 * tried
    failures_per_worker = Counter(served_by[-11:-1])
    assert max(failures_per_worker.values()) < 10, "one worker served all ten failures"
    # Unknown account and wrong password: the same answer (no way to find out who has an account).
    assert unknown.status == 401 and INVALID in unescape(unknown.body)
    engine = engine_for(database_url)
    try:
        with engine.connect() as connection:
            throttled = connection.execute(text(
                "SELECT count(*) FROM audit_event WHERE action = 'login.throttled'")).scalar_one()
            signed_in = connection.execute(text("SELECT count(*) FROM user_session")).scalar_one()
    finally:
        engine.dispose()
    assert throttled == tried and signed_in == 0


def test_a_burst_of_parallel_bad_sign_ins_gets_no_more_than_ten_guesses(tmp_path, template_database, serve):
    """Forty wrong passwords sent at once, spread over the workers: still only ten are checked against the
    account's password, so parallel requests cannot buy extra guesses (count-then-record must not race)."""
    database_url = fresh_database(tmp_path, template_database)
    seeded = seed(database_url, therapists=1, patients=1)
    server = serve(database_url, workers=WORKERS)
    browsers = [Browser(server.address) for _ in range(40)]
    tokens = [browser.csrf("/login") for browser in browsers]
    start = threading.Barrier(len(browsers))
    answers: list[str] = [""] * len(browsers)

    def guess(number: int) -> None:
        start.wait(timeout=30)
        reply = browsers[number].post("/login", {"email": seeded.emails[0], "password": "wrong password, sorry",
                                                 "csrf_token": tokens[number]})
        body = unescape(reply.body)
        answers[number] = "checked" if INVALID in body else "throttled" if THROTTLED in body else str(reply.status)

    threads = [threading.Thread(target=guess, args=(number,), daemon=True) for number in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert Counter(answers) == {"checked": 10, "throttled": 30}
    refused = Browser(server.address).sign_in(seeded.emails[0], PASSWORD)
    assert refused.status == 401 and THROTTLED in unescape(refused.body)
