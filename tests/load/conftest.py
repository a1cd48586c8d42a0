"""Fixtures shared by the load tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.load.server import Gunicorn


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Gunicorn]]:
    """Start gunicorn servers for the test; every one is stopped afterwards, whatever happened."""
    started: list[Gunicorn] = []

    def start(database_url: str, **options: object) -> Gunicorn:
        server = Gunicorn(database_url, tmp_path / f"gunicorn-{len(started)}.log", **options)  # type: ignore[arg-type]
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
