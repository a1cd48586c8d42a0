"""The service tests' database: a SQLite file per test on the app's engine, with the tables from the models, no
app and no migrations (tests/test_migrations.py checks that the two agree)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from rehab.db import make_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    # The app's engine: its SQLite connections leave BEGIN to SQLAlchemy, so a service's SAVEPOINT nests in the
    # transaction (pysqlite's own handling would commit the transaction when the savepoint is released).
    engine = make_engine(f"sqlite:///{tmp_path / 'services.sqlite3'}")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session
