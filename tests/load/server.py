"""The real app under gunicorn on loopback, a fresh database for it, and a small cookie-keeping HTTP client.

Used by the load, crash, backup and throttling tests. Everything runs on 127.0.0.1; every process started
here is in a process group of its own, so ``Gunicorn.stop`` can end the master and its workers together.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.client import HTTPConnection
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine, create_engine, insert, text
from sqlmodel import Session

from rehab import create_app
from rehab.db import EXTENSION_KEY
from rehab.models import Clinic, Patient, Visit
from rehab.services import accounts, audit
from rehab.services.catalogue import templates
from rehab.services.protocol_content import content_from_template
from rehab.services.protocol_records import create_protocol
from tests.conftest import CSRF_RE, PASSWORD, POSTGRES_URL, base_config

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
SECRET_KEY = "load-test-secret-key-" + "0123456789abcdef" * 2
# Patient data that must never reach a log: the seeded patients carry these names and every load note starts
# with NOTE_CANARY (the markers that tie a response to its row follow it).
CANARY_FIRST, CANARY_LAST = "Zyxcanary", "Qwertovich"
NOTE_CANARY = "Vexcanary"
CANARY_BIRTH_DATE = date(1941, 7, 23)
HOST = "127.0.0.1"
HISTORY_PATIENTS = 5


def backend() -> str:
    return "postgresql" if POSTGRES_URL else "sqlite"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment for `flask --app rehab ...` and gunicorn: no REHAB_* setting leaks in from outside."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("REHAB_")}
    env.update(
        REHAB_DATABASE_URL=database_url,
        REHAB_SECRET_KEY=SECRET_KEY,
        REHAB_PASSWORD_HASH_TIME_COST="1",
        REHAB_PASSWORD_HASH_MEMORY_KIB="8",
        # Fifty clients sign in from one address; the per-account limit stays at its default.
        REHAB_LOGIN_MAX_FAILURES_PER_ADDRESS="100000",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def flask_cli(database_url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `flask --app rehab ARGS` as an operator would; raises with its output if it fails."""
    result = subprocess.run(  # noqa: S603 (our own interpreter, an argument list)
        [sys.executable, "-m", "flask", "--app", "rehab", *args], env=app_env(database_url), cwd=REPO,
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"flask {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def reset_postgres_schema(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def fresh_database(tmp_path: Path, template: str) -> str:
    """An empty database at head: the PostgreSQL test database with its schema dropped, made again and
    migrated by `flask --app rehab migrate`; or, on SQLite, a copy of the run's migrated template file."""
    if POSTGRES_URL:
        reset_postgres_schema(POSTGRES_URL)
        flask_cli(POSTGRES_URL, "migrate")
        return POSTGRES_URL
    target = tmp_path / "load.sqlite3"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def audit_trail_intact(database_url: str) -> bool:
    """What `flask --app rehab audit verify` checks: the hash chain, from the first event to the last."""
    engine = engine_for(database_url)
    try:
        with Session(engine) as session:
            key = audit.chain_key(audit_key="", secret_key=SECRET_KEY)  # the servers' key: derived from the secret
            return audit.first_broken_event(session, key=key) is None
    finally:
        engine.dispose()


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def engine_for(url: str) -> Engine:
    """A plain engine for checking results from outside the server (no app, no BEGIN IMMEDIATE)."""
    return create_engine(url)


# -------------------------------------------------------------------------------------------------- seeding


@dataclass
class Seed:
    emails: list[str]
    patient_ids: list[int]


def seed(database_url: str, *, therapists: int = 50, patients: int = 25, history_visits: int = 0) -> Seed:
    """One clinic, ``therapists`` accounts, ``patients`` patients (canary names) with an active knee-OA
    protocol, and optionally ``history_visits`` older visits with long notes (a database of some size)."""
    app = create_app(base_config(database_url))
    engine = app.extensions[EXTENSION_KEY]
    hasher = app.extensions["rehab.hasher"]
    try:
        with app.app_context(), Session(engine, expire_on_commit=False) as session:
            clinic = Clinic(name="Load Test PT", timezone="UTC", speed_unit="kmh")
            session.add(clinic)
            session.flush()
            emails = [f"therapist{number:02d}@load.example" for number in range(therapists)]
            users = [accounts.create_user(session, hasher, email=email, name=f"Therapist {number}", password=PASSWORD,
                                          clinic_ids=[clinic.id])  # type: ignore[list-item]
                     for number, email in enumerate(emails)]
            started = datetime.now(UTC) - timedelta(days=21)
            content = content_from_template(templates()["knee_oa"])
            made: list[tuple[Patient, int]] = []
            for number in range(patients + (HISTORY_PATIENTS if history_visits else 0)):
                patient = Patient(clinic_id=clinic.id, first_name=f"{CANARY_FIRST}{number}",  # type: ignore[arg-type]
                                  last_name=CANARY_LAST, date_of_birth=CANARY_BIRTH_DATE, chart_number=f"LD-{number}",
                                  affected_knee="left", condition="knee_oa")
                session.add(patient)
                session.flush()
                protocol = create_protocol(session, patient=patient, content=content, user_id=users[0].id,  # type: ignore[arg-type]
                                           now=started, overrides=[])
                made.append((patient, protocol.id))  # type: ignore[arg-type]
            session.commit()
            load_patients = [patient.id for patient, _ in made[:patients]]
            if history_visits:  # on patients of their own, so the load's pages stay as quick as usual
                _add_history(session, clinic.id, made[patients:], users[0].id, history_visits, started)  # type: ignore[arg-type]
                session.commit()
            return Seed(emails=emails, patient_ids=load_patients)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def _add_history(session: Session, clinic_id: int, made: list[tuple[Patient, int]], user_id: int, count: int,
                 started: datetime) -> None:
    """Old visits with 1 KB notes, inserted in bulk: a clinic's database after months of use."""
    rows: list[dict[str, Any]] = []
    for number in range(count):
        patient, protocol_id = made[number % len(made)]
        at = started - timedelta(days=30, minutes=number)
        rows.append({
            "patient_id": patient.id, "clinic_id": clinic_id, "protocol_id": protocol_id, "protocol_version": 1,
            "phase_index": 0, "occurred_at": at, "pain_before": 1, "pain_worst": 2, "pain_after": 1,
            "soreness": "none", "effusion": "0", "exercise": "treadmill_rails", "minutes": 5.0, "speed_kmh": 1.2,
            "incline_pct": 0.0, "support": "both_rails", "stumbles": 0, "falls": 0, "flag_calf": False,
            "flag_chest": False, "flag_infection": False, "flag_locking": False, "note": "history " + "h" * 1000,
            "created_at": at, "updated_at": at, "created_by_id": user_id, "version": 1, "delete_reason": "",
        })
    for start in range(0, len(rows), 2000):
        session.execute(insert(Visit), rows[start:start + 2000])


# --------------------------------------------------------------------------------------------------- gunicorn


@dataclass
class Gunicorn:
    """`python -m gunicorn -c python:rehab.gunicorn_conf "rehab:create_app()"`, as `make serve` runs it."""

    database_url: str
    log_path: Path
    workers: int = 4
    extra_args: tuple[str, ...] = ()
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.port

    def start(self, *, timeout: float = 60) -> Gunicorn:
        env = app_env(self.database_url, REHAB_BIND=f"{HOST}:{self.port}", REHAB_WORKERS=str(self.workers),
                      **self.extra_env)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own interpreter, an argument list)
                [sys.executable, "-m", "gunicorn", "-c", "python:rehab.gunicorn_conf", *self.extra_args,
                 "rehab:create_app()"],
                env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                if Browser(self.address, timeout=2).get("/healthz").status == 200 and len(self.worker_pids()) == \
                        self.workers:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not answer within {timeout} s:\n{self.log()}")

    def worker_pids(self) -> set[int]:
        """The master's live children (gunicorn workers), read from /proc."""
        assert self.process is not None
        children = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'.
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == self.process.pid and fields[0] != "Z":
                children.add(int(entry.name))
        return children

    def wait_for_workers(self, *, exclude: set[int], timeout: float = 30) -> set[int]:
        """Wait until the master runs its full number of workers, none of them in ``exclude``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) == self.workers and not pids & exclude:
                return pids
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not replace workers {sorted(exclude)}: now {sorted(self.worker_pids())}")

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL to the whole process group if it lingers."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the group this test started: master and workers
        except ProcessLookupError:
            pass
        if self.process.returncode is None:
            self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# ----------------------------------------------------------------------------------------------------- client


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


class Browser:
    """One user's browser: a cookie jar and one new connection per request (``Connection: close``), so
    consecutive requests may land on different gunicorn workers. Redirects are not followed."""

    def __init__(self, address: tuple[str, int], *, timeout: float = 30) -> None:
        self.address = address
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Response:
        connection = HTTPConnection(*self.address, timeout=self.timeout)
        try:
            headers = {"Connection": "close"}
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
            body = None
            if form is not None:
                body = urlencode(form)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            connection.request(method, path, body=body, headers=headers)
            reply = connection.getresponse()
            data = reply.read().decode("utf-8", errors="replace")
            for header in reply.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(header)
                for name, morsel in jar.items():
                    if morsel["max-age"] == "0" or morsel.value == "":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            return Response(reply.status, {name.lower(): value for name, value in reply.getheaders()}, data)
        finally:
            connection.close()

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> Response:
        return self.request("POST", path, form)

    def csrf(self, path: str) -> str:
        page = self.get(path)
        match = CSRF_RE.search(page.body)
        if page.status != 200 or not match:
            raise AssertionError(f"GET {path} gave {page.status} without a CSRF token")
        return match.group(1)

    def sign_in(self, email: str, password: str = PASSWORD) -> Response:
        token = self.csrf("/login")
        return self.post("/login", {"email": email, "password": password, "csrf_token": token})


def run_id() -> str:
    return uuid.uuid4().hex[:8]
