"""Test harness: a fresh database per test, an app per test, factories and a signed-in client.

SQLite (default): the schema is built once per run by the real Alembic migrations into a template file,
then copied for each test, so every test starts from an empty, migrated database in a file of its own
(real WAL, real locking). PostgreSQL (``REHAB_TEST_DATABASE_URL``): migrated once, then every table is
emptied before each test.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel, func, select

from rehab import create_app
from rehab.db import EXTENSION_KEY, get_engine
from rehab.models import Clinic, Patient, Protocol, User
from tests import factories
from tests.factories import PASSWORD, SECRET

POSTGRES_URL = os.environ.get("REHAB_TEST_DATABASE_URL", "")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_ID_RE = re.compile(r'name="form_id" value="([^"]+)"')


def base_config(database_url: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 8,
        "COUNT_QUERIES": True,
        # Sheets render in the request: tests/test_print_jobs.py starts real render workers where it needs them.
        "RENDER_QUEUE": "inline",
    }


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """Compile the .po catalogs when the .mo files are missing or older (``make`` does the same)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in (Path(__file__).resolve().parents[1] / "rehab" / "translations").glob("*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
            with po_path.open("rb") as source:
                catalog = read_po(source)
            with mo_path.open("wb") as target:
                write_mo(target, catalog)


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The migrated schema, built once per run (SQLite: a file to copy; PostgreSQL: the test database)."""
    if POSTGRES_URL:
        app = create_app(base_config(POSTGRES_URL))
        with app.app_context():
            with get_engine().begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            from rehab.migrate import upgrade

            upgrade()
            get_engine().dispose()
        return POSTGRES_URL
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    app = create_app(base_config(f"sqlite:///{path}"))
    with app.app_context():
        from rehab.migrate import upgrade

        upgrade()
        get_engine().dispose()  # the last connection to close checkpoints the WAL into the file
    assert not Path(f"{path}-wal").exists()
    return str(path)


@pytest.fixture
def database_url(template_database: str, tmp_path: Path) -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    target = tmp_path / "rehab.sqlite3"
    shutil.copyfile(template_database, target)
    return f"sqlite:///{target}"


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    # No app context stays pushed during the test: each request must get its own `g`, as in production.
    # Its own instance folder: the sheet cache and anything else an app keeps there stay out of the checkout.
    app = create_app(base_config(database_url), instance_path=str(tmp_path / "instance"))
    if POSTGRES_URL:
        _empty_postgres_tables(engine_of(app))
    yield app
    engine_of(app).dispose()


def engine_of(app: Flask) -> Engine:
    return app.extensions[EXTENSION_KEY]


def _empty_postgres_tables(engine: Engine) -> None:
    tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


class RequestingClient(FlaskClient):
    """A test client that first ends the test's own transaction, so that the ``db`` fixture then sees what the
    request saved, as a separate program would: on SQLite an open read keeps its snapshot, and the session's
    loaded objects keep their values until expired (the rollback expires them)."""

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        for session in self.application.extensions.get("tests.sessions", []):
            session.rollback()
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = RequestingClient
    return app.test_client()


@pytest.fixture
def app_config(app: Flask, tmp_path: Path) -> Flask:
    """The app with its sheet cache in a folder of the test's own, for tests that look into it."""
    app.config["SHEET_CACHE_DIR"] = str(tmp_path / "sheets")
    return app


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session for arranging and checking data directly (separate from the app's request sessions)."""
    with Session(engine_of(app), expire_on_commit=False) as session:
        app.extensions.setdefault("tests.sessions", []).append(session)
        yield session


def write_lock_is_free(database_url: str) -> bool:
    """Whether another process could take SQLite's write lock right now (for checks that slow work holds none)."""
    import sqlite3

    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.rollback()
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def count_rows(db: Session, model: type[SQLModel]) -> int:
    """Rows in a table as committed now. Ends the read at once, so a later count sees later commits (an open
    read keeps its snapshot on SQLite)."""
    db.expire_all()
    try:
        return db.exec(select(func.count()).select_from(model)).one()
    finally:
        db.rollback()


# ---------------------------------------------------------------------------------------------- factories


# Fixtures over tests/factories.py, bound to the test's ``db`` (and app), for tests that make several rows.


@pytest.fixture
def make_clinic(db: Session) -> Callable[..., Clinic]:
    def make(name: str = "Riverside PT", **fields: Any) -> Clinic:
        return factories.clinic(db, name, **fields)

    return make


@pytest.fixture
def make_user(db: Session, app: Flask, make_clinic: Callable[..., Clinic]) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(email: str | None = None, *, clinics: list[Clinic] | None = None, is_admin: bool = False,
             name: str = "Alex Therapist", password: str = PASSWORD) -> User:
        return factories.user(db, app.extensions["rehab.hasher"],
                              email=email or f"therapist{next(counter)}@clinic.example",
                              clinics=clinics or [make_clinic()], is_admin=is_admin, name=name, password=password)

    return make


@pytest.fixture
def make_patient(db: Session) -> Callable[..., Patient]:
    def make(clinic: Clinic, **fields: Any) -> Patient:
        return factories.patient(db, clinic, **fields)

    return make


# ------------------------------------------------------------------------------------------ signed-in use


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def form_id_from(html: str) -> str | None:
    """The one-time id of the page's first form that has one (rehab/once.py)."""
    match = FORM_ID_RE.search(html)
    return match.group(1) if match else None


def form_fields(html: str) -> dict[str, str]:
    """What every form on the page sends besides its fields: the CSRF token and, if it has one, its form id."""
    fields = {"csrf_token": csrf_from(html)}
    form_id = form_id_from(html)
    if form_id:
        fields["form_id"] = form_id
    return fields


def submit(client: FlaskClient, url: str, data: dict[str, Any], *, form_page: str | None = None,
           follow_redirects: bool = False):  # type: ignore[no-untyped-def]
    """Post a form the way a browser does: open the page first (following a redirect that gives the form its
    id), then send its CSRF token and form id back."""
    page = client.get(form_page or url, follow_redirects=True)
    return client.post(url, data={**form_fields(page.get_data(as_text=True)), **data},
                       follow_redirects=follow_redirects)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return submit(client, "/login", {"email": email, "password": password})


@pytest.fixture
def clinic(make_clinic: Callable[..., Clinic]) -> Clinic:
    return make_clinic("Riverside PT")


@pytest.fixture
def therapist(make_user: Callable[..., User], clinic: Clinic) -> User:
    return make_user("pat.therapist@clinic.example", clinics=[clinic], name="Pat Therapist")


@pytest.fixture
def patient(db: Session, clinic: Clinic) -> Patient:
    """Margaret Okafor, left knee osteoarthritis, in the therapist's clinic (modules override it as they need)."""
    return factories.patient(db, clinic)


@pytest.fixture
def protocol(db: Session, patient: Patient, therapist: User) -> Protocol:
    """A knee-OA protocol the therapist started three weeks ago (so one-level-a-week does not hold the advice
    back), in the clinic (modules override it as they need, through tests/factories.py)."""
    return factories.protocol(db, patient, user_id=therapist.id)


@pytest.fixture
def token(db: Session, patient: Patient, protocol: Protocol) -> str:
    """The patient's personal link (to the protocol the module's ``protocol`` fixture makes)."""
    return factories.portal_link(db, patient)


@pytest.fixture
def patient_client(app: Flask, token: str) -> FlaskClient:
    """A phone that opened the patient's link."""
    phone = app.test_client()
    assert phone.get(f"/p/{token}").status_code == 302
    return phone


@pytest.fixture
def admin(make_user: Callable[..., User], clinic: Clinic) -> User:
    return make_user("ada.admin@clinic.example", clinics=[clinic], is_admin=True, name="Ada Admin")


@pytest.fixture
def therapist_client(client: FlaskClient, therapist: User) -> FlaskClient:
    response = sign_in(client, therapist.email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def admin_client(client: FlaskClient, admin: User) -> FlaskClient:
    response = sign_in(client, admin.email)
    assert response.status_code == 302
    return client
