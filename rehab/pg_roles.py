"""PostgreSQL: the app's own role, which may read and write the records but only add to the audit trail.

Migrations run as the schema's owner (MIGRATION_DATABASE_URL); the app connects as a role that has SELECT,
INSERT, UPDATE and DELETE on the tables, minus UPDATE, DELETE and TRUNCATE on ``audit_event`` and any write
on ``alembic_version``. Someone who takes over the app (or its database password) can then add audit rows
but not rewrite or remove them; the HMAC chain makes added rows that were not written by the app stand out.
"""

from __future__ import annotations

from sqlalchemy import Connection, literal, text

APPEND_ONLY = "audit_event"
READ_ONLY = "alembic_version"


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def role_exists(connection: Connection, role: str) -> bool:
    return connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}).first() is not None


def create_role(connection: Connection, role: str, password: str) -> None:
    """A login role without any other attribute (no superuser, no CREATEROLE, no CREATEDB)."""
    # DDL takes no bound parameters: the password goes in as a quoted literal.
    secret = literal(password).compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    connection.exec_driver_sql(f"CREATE ROLE {_quote(connection, role)} LOGIN PASSWORD {secret}")


def grant_app_privileges(connection: Connection, role: str) -> None:
    """(Re)apply the app role's privileges on every table of the current schema; run after each migration,
    since a new table has no grants yet. The owner running this is never the app role itself: an owner can
    always give itself back what was revoked."""
    owner = connection.execute(text("SELECT current_user")).scalar_one()
    if owner == role:
        raise ValueError("The app's role is the one running the migrations: give the app a role of its own.")
    schema = _quote(connection, connection.execute(text("SELECT current_schema()")).scalar_one())
    who = _quote(connection, role)
    for statement in (
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {schema}.{APPEND_ONLY} FROM {who}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {schema}.{READ_ONLY} FROM {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
        # The audit append's function (migration d20audit_0900) runs with the caller's rights, so this gives
        # nothing the tables do not; said outright for a server whose functions are not PUBLIC's by default.
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {who}",
    ):
        connection.exec_driver_sql(statement)


def revoke_app_privileges(connection: Connection, role: str) -> None:
    """Everything ``grant_app_privileges`` gave, taken back (before dropping the role)."""
    schema = _quote(connection, connection.execute(text("SELECT current_schema()")).scalar_one())
    who = _quote(connection, role)
    for statement in (f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}",
                      f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {who}",
                      f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {schema} FROM {who}",
                      f"REVOKE ALL ON SCHEMA {schema} FROM {who}"):
        connection.exec_driver_sql(statement)
