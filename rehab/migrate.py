"""Run Alembic from the app, on the app's own engine (works from an installed package too)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import current_app

from rehab.db import get_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(revision: str = "head") -> None:
    """Upgrade the current app's database. The connection is handed to env.py through attributes."""
    config = alembic_config()
    with get_engine().begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    current_app.logger.info("database upgraded to %s", revision)


def check() -> None:
    """Raise if the models and the migrations differ (``alembic check``)."""
    config = alembic_config()
    with get_engine().connect() as connection:
        config.attributes["connection"] = connection
        command.check(config)
