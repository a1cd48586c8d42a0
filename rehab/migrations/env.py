"""Alembic environment: the app's metadata and engine; batch mode so SQLite can alter tables."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import rehab.models  # noqa: F401  (registers every table on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite ALTER TABLE support (SECURITY.md 27)
        compare_type=True,
        user_module_prefix="sqlmodel.sql.sqltypes.",
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # called from rehab.migrate with the app's connection
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from rehab import create_app
    from rehab.migrate import migration_connection

    app = create_app()
    with app.app_context(), migration_connection() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run against a database.")
run_migrations_online()
