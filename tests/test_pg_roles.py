"""PostgreSQL: the app's own role may add audit events but never change or delete them, while migrations run
as the owner (SECURITY.md 19). Roles exist only on PostgreSQL; this runs in the PostgreSQL pass."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from sqlmodel import Session

from rehab import create_app
from rehab.db import get_engine
from rehab.models import Clinic
from rehab.pg_roles import revoke_app_privileges
from rehab.services import audit
from tests.conftest import POSTGRES_URL, base_config, sign_in

pytestmark = [pytest.mark.db,
              pytest.mark.skipif(not POSTGRES_URL, reason="database roles are PostgreSQL's")]


@pytest.fixture
def app_role_url(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A login role for the app, named after this test database (roles are shared by the whole server)."""
    owner_url = make_url(POSTGRES_URL)
    role = f"{owner_url.database}_app"
    owner = create_engine(POSTGRES_URL)
    _drop_role(owner, role)
    yield owner_url.set(username=role, password=secrets.token_urlsafe(16)).render_as_string(hide_password=False)
    _drop_role(owner, role)
    owner.dispose()


def _drop_role(owner, role: str) -> None:  # type: ignore[no-untyped-def]
    with owner.begin() as connection:
        if connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
            revoke_app_privileges(connection, role)
            connection.exec_driver_sql(f'DROP ROLE "{role}"')


@pytest.fixture
def restricted_app(app_role_url):  # type: ignore[no-untyped-def]
    """The app as an install runs it: DATABASE_URL is the app's role, MIGRATION_DATABASE_URL the owner."""
    app = create_app({**base_config(app_role_url), "MIGRATION_DATABASE_URL": POSTGRES_URL})
    yield app
    with app.app_context():
        get_engine().dispose()


def test_the_app_role_may_add_audit_events_but_not_change_or_delete_them(restricted_app, therapist):
    runner = restricted_app.test_cli_runner()
    with restricted_app.app_context():
        result = runner.invoke(args=["grant-app-role"])
        assert result.exit_code == 0, result.output
        assert "Created the role" in result.output
        # A migration, run as the owner, gives the same privileges again (new tables get theirs).
        assert runner.invoke(args=["migrate"]).exit_code == 0
    # The app works under its role: a sign-in writes a session, an attempt and audit events.
    assert sign_in(restricted_app.test_client(), therapist.email).status_code == 302
    with restricted_app.app_context(), Session(get_engine()) as session:
        key = restricted_app.extensions["rehab.audit_key"]
        audit.record_event(session, key=key, action="test.append")
        session.add(Clinic(name="Added by the app"))
        session.commit()
        assert audit.first_broken_event(session, key=key) is None
        for statement in ("UPDATE audit_event SET action = 'forged'", "DELETE FROM audit_event",
                          "TRUNCATE audit_event", "UPDATE alembic_version SET version_num = '0001'"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                session.execute(text(statement))
            session.rollback()
        # Ordinary records stay editable.
        session.execute(text("UPDATE clinic SET name = 'Renamed' WHERE name = 'Added by the app'"))
        session.execute(text("DELETE FROM clinic WHERE name = 'Renamed'"))
        session.commit()


def test_grant_app_role_refuses_when_the_app_and_the_migrations_share_a_role(app):
    app.config["MIGRATION_DATABASE_URL"] = POSTGRES_URL
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["grant-app-role"])
    assert result.exit_code != 0 and "two different PostgreSQL users" in result.output
