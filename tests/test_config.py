"""Settings an IT person relies on: refusing unsafe secrets, where settings come from, and SQLite tuned for
several workers (SECURITY.md 18, 25).

Not marked ``db``: every test here builds its own app, and the SQLite ones their own SQLite file, whatever
database the rest of the suite uses.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlmodel import Session, SQLModel, func, select

from rehab import ConfigurationError, create_app
from rehab.config import DEFAULT_SECRET_KEY, Defaults
from rehab.db import EXTENSION_KEY, side_transaction
from rehab.models import Clinic, Patient, UserSession, utcnow
from rehab.services import accounts
from tests.conftest import PASSWORD, base_config, form_fields, sign_in


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No REHAB_* or FLASK_DEBUG from the shell running the tests may change what these tests see."""
    for name in list(os.environ):
        if name.startswith("REHAB_") or name == "FLASK_DEBUG":
            monkeypatch.delenv(name)


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    folder = tmp_path / "instance"
    folder.mkdir()
    return folder


@pytest.fixture
def built() -> Iterator[list[Flask]]:
    """Apps a test builds; their engines are closed afterwards."""
    apps: list[Flask] = []
    yield apps
    for app in apps:
        app.extensions[EXTENSION_KEY].dispose()


def production_app(instance: Path, built: list[Flask], **settings: object) -> Flask:
    """Built as production builds it: no TESTING, no DEBUG."""
    app = create_app({"DATABASE_URL": f"sqlite:///{instance / 'rehab.sqlite3'}", **settings},
                     instance_path=str(instance))
    built.append(app)
    return app


# --------------------------------------------------------------------------------------------- the secret


@pytest.mark.parametrize("secret", [None, DEFAULT_SECRET_KEY, "", "s" * 31],
                         ids=["not set", "the placeholder", "empty", "31 characters"])
def test_production_refuses_to_start_without_a_real_secret(instance, built, secret):
    settings = {} if secret is None else {"SECRET_KEY": secret}
    with pytest.raises(ConfigurationError, match="REHAB_SECRET_KEY"):
        production_app(instance, built, **settings)


def test_production_starts_with_a_long_random_secret(instance, built):
    app = production_app(instance, built, SECRET_KEY=secrets.token_urlsafe(32))
    assert not app.debug and not app.testing
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}


def test_the_secret_can_come_from_instance_config(instance, built):
    key = secrets.token_urlsafe(48)
    (instance / "config.py").write_text(f"SECRET_KEY = {key!r}\n")
    app = production_app(instance, built)
    assert app.config["SECRET_KEY"] == key


def test_the_secret_can_come_from_the_environment(instance, built, monkeypatch):
    key = secrets.token_urlsafe(48)
    monkeypatch.setenv("REHAB_SECRET_KEY", key)
    assert production_app(instance, built).config["SECRET_KEY"] == key


# ------------------------------------------------------------------------------------ where settings come from


def test_environment_overrides_instance_config_which_overrides_the_defaults(instance, built, monkeypatch):
    (instance / "config.py").write_text("PATIENTS_PER_PAGE = 5\nIDLE_TIMEOUT_MINUTES = 30\n")
    monkeypatch.setenv("REHAB_PATIENTS_PER_PAGE", "7")
    app = production_app(instance, built, SECRET_KEY=secrets.token_urlsafe(32))
    assert app.config["PATIENTS_PER_PAGE"] == 7  # environment, parsed as a number
    assert app.config["IDLE_TIMEOUT_MINUTES"] == 30  # instance/config.py
    assert app.config["ABSOLUTE_SESSION_HOURS"] == Defaults.ABSOLUTE_SESSION_HOURS  # default


def test_instance_config_overrides_the_defaults(instance, built):
    (instance / "config.py").write_text("PATIENTS_PER_PAGE = 5\n")
    app = production_app(instance, built, SECRET_KEY=secrets.token_urlsafe(32))
    assert app.config["PATIENTS_PER_PAGE"] == 5 != Defaults.PATIENTS_PER_PAGE


def test_the_test_settings_override_everything(instance, built, monkeypatch):
    (instance / "config.py").write_text("PATIENTS_PER_PAGE = 5\n")
    monkeypatch.setenv("REHAB_PATIENTS_PER_PAGE", "7")
    app = production_app(instance, built, SECRET_KEY=secrets.token_urlsafe(32), PATIENTS_PER_PAGE=9)
    assert app.config["PATIENTS_PER_PAGE"] == 9


# ------------------------------------------------------------------------- tests depend on nothing outside


@pytest.fixture
def developer_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """What a developer's own install may hold: a short page in instance/config.py, a short idle timeout in the
    shell. Set before the app fixture builds the test app."""
    folder = tmp_path / "developer-instance"
    folder.mkdir()
    (folder / "config.py").write_text("PATIENTS_PER_PAGE = 2\nIDLE_TIMEOUT_MINUTES = 1\n")
    monkeypatch.setenv("REHAB_PATIENTS_PER_PAGE", "2")
    monkeypatch.setenv("REHAB_IDLE_TIMEOUT_MINUTES", "1")
    return folder


def test_a_test_app_reads_neither_the_instance_config_nor_the_shell(developer_settings, built, tmp_path):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'isolated.sqlite3'}"), instance_path=str(developer_settings))
    built.append(app)
    assert app.config["PATIENTS_PER_PAGE"] == Defaults.PATIENTS_PER_PAGE
    assert app.config["IDLE_TIMEOUT_MINUTES"] == Defaults.IDLE_TIMEOUT_MINUTES


def test_the_suites_apps_behave_as_shipped_whatever_the_developer_set(developer_settings, therapist_client,
                                                                        therapist, clinic, make_patient, db):
    for index in range(3):
        make_patient(clinic, last_name=f"Isolated{index}")
    html = therapist_client.get("/patients/").get_data(as_text=True)
    assert all(f"Isolated{index}" in html for index in range(3))  # one page of 25, not 2
    record = db.exec(select(UserSession).where(UserSession.user_id == therapist.id)).one()
    record.last_seen_at = utcnow() - timedelta(minutes=5)  # idle past the developer's 1 minute, not 15
    db.add(record)
    db.commit()
    assert "<h1>Patients</h1>" in therapist_client.get("/patients/").get_data(as_text=True)


def test_without_a_database_url_the_database_lives_in_the_instance_folder(instance, built):
    app = create_app({"SECRET_KEY": secrets.token_urlsafe(32)}, instance_path=str(instance))
    built.append(app)
    assert app.config["DATABASE_URL"] == f"sqlite:///{instance / 'rehab.sqlite3'}"


# ------------------------------------------------------------------------------------------------ SQLite


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "tuned.sqlite3"


@pytest.fixture
def sqlite_app(sqlite_path: Path, built: list[Flask]) -> Flask:
    """An app on its own SQLite file with the schema, one clinic, one therapist and one patient."""
    app = create_app({**base_config(f"sqlite:///{sqlite_path}"), "SQLITE_BUSY_TIMEOUT_MS": 500})
    built.append(app)
    engine = app.extensions[EXTENSION_KEY]
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        clinic = Clinic(name="Riverside PT")
        session.add(clinic)
        session.flush()
        accounts.create_user(session, app.extensions["rehab.hasher"], email="pat@clinic.example",
                             name="Pat Therapist", password=PASSWORD, clinic_ids=[clinic.id])
        session.add(Patient(clinic_id=clinic.id, first_name="Ruth", last_name="Abernathy",
                            date_of_birth=date(1939, 3, 14),
                            affected_knee="both", condition="knee_oa"))
        session.commit()
    return app


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(sqlite_app):
    with sqlite_app.extensions[EXTENSION_KEY].connect() as connection:
        pragma = {name: connection.execute(text(f"PRAGMA {name}")).scalar()
                  for name in ("journal_mode", "foreign_keys", "busy_timeout")}
    assert pragma["journal_mode"] == "wal"
    assert pragma["foreign_keys"] == 1
    assert pragma["busy_timeout"] == 500  # the configured value reaches every connection


def test_the_default_busy_timeout_is_at_least_five_seconds(sqlite_path, built):
    app = create_app({**base_config(f"sqlite:///{sqlite_path}")})
    built.append(app)
    assert "SQLITE_BUSY_TIMEOUT_MS" not in base_config("")
    with app.extensions[EXTENSION_KEY].connect() as connection:
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_a_write_transaction_holds_the_write_lock_from_its_first_statement(sqlite_app, sqlite_path):
    """BEGIN IMMEDIATE: even before writing anything, a second writer must wait for this one to finish."""
    finished: dict[str, object] = {}

    def second_writer() -> None:
        connection = sqlite3.connect(sqlite_path, timeout=5)
        try:
            connection.execute("UPDATE clinic SET phone = '555-0000'")
            connection.commit()
            finished["at"] = time.monotonic()
        except sqlite3.Error as error:  # pragma: no cover - reported by the assertion below
            finished["error"] = error
        finally:
            connection.close()

    with sqlite_app.app_context():
        with side_transaction() as session:
            assert session.exec(select(func.count()).select_from(Clinic)).one() == 1  # a read, nothing written
            blocked = sqlite3.connect(sqlite_path, timeout=0.1)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                blocked.execute("UPDATE clinic SET phone = '555-1111'")
            blocked.close()
            writer = threading.Thread(target=second_writer)
            writer.start()
            time.sleep(0.3)
            assert writer.is_alive() and not finished  # queued behind us, not failed and not proceeding
            released_at = time.monotonic()
        writer.join(timeout=5)
    assert "error" not in finished
    assert finished["at"] >= released_at  # it went ahead only once our transaction ended
    with sqlite3.connect(sqlite_path) as check:
        assert check.execute("SELECT phone FROM clinic").fetchone() == ("555-0000",)


def test_opening_a_page_does_not_take_the_write_lock(sqlite_app):
    client = sqlite_app.test_client()
    assert sign_in(client, "pat@clinic.example").status_code == 302
    with sqlite_app.app_context():
        with side_transaction() as session:
            session.exec(select(func.count()).select_from(Clinic)).one()  # now holds the write lock
            response = client.get("/patients/")  # had it asked for the lock: "database is locked" after 500 ms
    assert response.status_code == 200
    assert "Abernathy, Ruth" in response.get_data(as_text=True)


def test_saving_a_form_queues_behind_another_writer_and_then_succeeds(sqlite_app, sqlite_path):
    """The contrast to the test above: a POST takes the write lock, so it waits for the other writer."""
    client = sqlite_app.test_client()
    assert sign_in(client, "pat@clinic.example").status_code == 302
    fields = form_fields(client.get("/patients/1").get_data(as_text=True))
    locked, release_after = threading.Event(), 0.25

    def other_writer() -> None:
        connection = sqlite3.connect(sqlite_path, timeout=5, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(release_after)
        connection.execute("COMMIT")
        connection.close()

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert locked.wait(timeout=5)
    started = time.monotonic()
    response = client.post("/patients/1/archive", data=fields)
    waited = time.monotonic() - started
    writer.join(timeout=5)
    assert response.status_code == 302  # no "database is locked": it waited within the busy timeout
    assert waited >= release_after * 0.8
    with sqlite3.connect(sqlite_path) as check:
        assert check.execute("SELECT archived_at IS NOT NULL FROM patient").fetchone() == (1,)


@pytest.mark.parametrize(("name", "value"), [("PORTAL_SESSION_HOURS", 0), ("PORTAL_IDLE_MINUTES", -5),
                                             ("IDLE_TIMEOUT_MINUTES", "15"), ("LOGIN_MAX_FAILURES_PER_ACCOUNT", 0),
                                             ("TRUSTED_PROXY_COUNT", -1), ("TRUSTED_PROXY_COUNT", 1.5)])
def test_a_time_or_count_setting_that_would_end_every_session_is_refused_at_start(name, value):
    with pytest.raises(ConfigurationError, match=name):
        create_app({"TESTING": True, "SECRET_KEY": "x" * 40, "DATABASE_URL": "sqlite://", name: value})


def test_fractional_times_are_accepted(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x" * 40, "DATABASE_URL": f"sqlite:///{tmp_path}/r.sqlite3",
                      "PORTAL_SESSION_HOURS": 0.5, "IDLE_TIMEOUT_MINUTES": 7.5})
    assert app.config["PORTAL_SESSION_HOURS"] == 0.5
    app.extensions[EXTENSION_KEY].dispose()


def test_gunicorn_runs_without_the_shared_control_socket_and_with_a_private_umask(monkeypatch):
    from gunicorn.config import Config

    monkeypatch.setenv("REHAB_PRODUCTION", "0")  # importing the gunicorn settings must not switch the tests to it
    from rehab import gunicorn_conf

    config = Config()
    for name in ("control_socket_disable", "umask"):
        config.set(name, getattr(gunicorn_conf, name))
    assert config.control_socket_disable is True and config.umask == 0o077
