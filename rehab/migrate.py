"""Run Alembic from the app, on the app's own engine (works from an installed package too)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import current_app
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from rehab.db import get_engine, make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@contextlib.contextmanager
def migration_connection() -> Iterator[Connection]:
    """The app's database in one transaction, ready for schema changes.

    On SQLite, foreign keys are off while the schema changes, as SQLite's own ALTER TABLE procedure asks:
    batch mode alters a column by copying the table, and dropping the old copy of a table that other rows
    point to would fail. ``foreign_key_check`` then proves that no reference broke before anything commits."""
    with owner_engine() as engine, engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw = connection.connection.driver_connection if sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")  # only takes effect outside a transaction, hence here
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration left {len(broken)} broken references, e.g. {broken[0]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


@contextlib.contextmanager
def owner_engine() -> Iterator[Engine]:
    """The engine that changes the schema: MIGRATION_DATABASE_URL's (the owner) when set, else the app's."""
    url = current_app.config["MIGRATION_DATABASE_URL"]
    if not url or url == current_app.config["DATABASE_URL"]:
        yield get_engine()
        return
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def app_role() -> str | None:
    """The PostgreSQL role the app connects as, when it is not the one that runs the migrations."""
    config = current_app.config
    if not config["MIGRATION_DATABASE_URL"] or not config["DATABASE_URL"].startswith("postgresql"):
        return None
    app_user = make_url(config["DATABASE_URL"]).username
    return app_user if app_user != make_url(config["MIGRATION_DATABASE_URL"]).username else None


def upgrade(revision: str = "head") -> None:
    """Upgrade the current app's database. The connection is handed to env.py through attributes.

    With a separate app role, its privileges are applied again in the same transaction, so a table that a
    revision adds is usable at once and the audit table stays append-only for the app."""
    from rehab.pg_roles import grant_app_privileges, role_exists

    config = alembic_config()
    with migration_connection() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        role = app_role()
        if role is not None and role_exists(connection, role):
            grant_app_privileges(connection, role)
        elif role is not None:
            current_app.logger.warning("the app's role %s does not exist yet: run `grant-app-role`", role)
    current_app.logger.info("database upgraded to %s", revision)


def downgrade(revision: str) -> None:
    """Downgrade the current app's database (for an install going back a release)."""
    config = alembic_config()
    with migration_connection() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    current_app.logger.info("database downgraded to %s", revision)


def check() -> None:
    """Raise if the models and the migrations differ (``alembic check``)."""
    config = alembic_config()
    with get_engine().connect() as connection:
        config.attributes["connection"] = connection
        command.check(config)
