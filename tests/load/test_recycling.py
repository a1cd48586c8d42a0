"""Workers are recycled by memory, not after a fixed number of requests (rehab/gunicorn_conf.py).

A worker whose resident memory passes REHAB_WORKER_MAX_RSS_MB finishes its request and is replaced; below
the limit a worker keeps serving, so a busy server does not fork a new process every few seconds."""

from __future__ import annotations

import pytest

from tests.load.server import Browser, fresh_database

pytestmark = [pytest.mark.load, pytest.mark.db]


def test_a_worker_over_the_memory_limit_answers_then_is_replaced(tmp_path, template_database, serve):
    server = serve(fresh_database(tmp_path, template_database), workers=2,
                   extra_env={"REHAB_WORKER_MAX_RSS_MB": "1"})  # every worker is over 1 MB
    first = server.worker_pids()
    statuses = [Browser(server.address).get("/healthz").status for _ in range(6)]
    assert statuses == [200] * 6  # the request that crosses the limit is answered all the same
    server.wait_for_workers(exclude=first)
    assert "over the 1 MB limit: recycling it" in server.log()


def test_a_worker_under_the_memory_limit_keeps_serving(tmp_path, template_database, serve):
    server = serve(fresh_database(tmp_path, template_database), workers=2)
    first = server.worker_pids()
    assert [Browser(server.address).get("/healthz").status for _ in range(40)] == [200] * 40
    assert server.worker_pids() == first
    assert "recycling it" not in server.log()
