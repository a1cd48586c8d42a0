"""Concurrency, crashes and backups under load (SECURITY.md 25, 26; issue 7 items 4, 5 and 8).

The real app runs under gunicorn with 4 sync workers, as `make serve` runs it, on a fresh migrated database
(SQLite by default, PostgreSQL with REHAB_TEST_DATABASE_URL). Fifty client threads sign in as fifty
therapists and record visits for REHAB_LOAD_SECONDS (30 by default), each note carrying a unique marker, so
every row can be matched to the response that reported it saved.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import POSTGRES_URL
from tests.load.server import (
    ARTIFACTS,
    CANARY_BIRTH_DATE,
    CANARY_FIRST,
    CANARY_LAST,
    HISTORY_PATIENTS,
    NOTE_CANARY,
    REPO,
    Browser,
    Gunicorn,
    Seed,
    app_env,
    audit_trail_intact,
    backend,
    engine_for,
    flask_cli,
    fresh_database,
    reset_postgres_schema,
    run_id,
    seed,
    sqlite_path,
)
from tests.test_visits import visit_form

pytestmark = [pytest.mark.load, pytest.mark.db]

LOAD_SECONDS = float(os.environ.get("REHAB_LOAD_SECONDS", "30"))
CLIENTS = 50
WORKERS = 4
SEARCH_EVERY = 10  # every tenth round a client also searches the caseload by a patient's name
# Older visits (1 KB notes) under the backup test: about 23 MB on SQLite, several steps' worth of the backup
# API's 1024-page steps. PostgreSQL's pg_dump reads one snapshot whatever the size: a little history does.
HISTORY_VISITS = 3_000 if POSTGRES_URL else 15_000


# -------------------------------------------------------------------------------------------- the load itself


@dataclass
class Tally:
    """What the clients saw. A marker is "interrupted" when its POST got no answer at all (the connection
    dropped): the visit may or may not have been committed, and nobody was told either way."""

    run: str
    saved: dict[str, float] = field(default_factory=dict)  # marker -> when the 302 arrived
    interrupted: set[str] = field(default_factory=set)
    refused: dict[str, int] = field(default_factory=dict)  # marker -> unexpected status
    statuses: Counter[int] = field(default_factory=Counter)
    dropped_reads: int = 0
    searches: int = 0
    errors: list[str] = field(default_factory=list)
    signed_in: int = 0
    secrets: set[str] = field(default_factory=set)  # each client's session cookie and CSRF token
    seconds: float = 0.0  # how long the clients recorded visits, once all were signed in

    @property
    def served(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def merge(self, other: Tally) -> None:
        self.saved.update(other.saved)
        self.interrupted |= other.interrupted
        self.refused.update(other.refused)
        self.statuses.update(other.statuses)
        self.dropped_reads += other.dropped_reads
        self.searches += other.searches
        self.errors += other.errors
        self.signed_in += other.signed_in
        self.secrets |= other.secrets


def _client(number: int, server: Gunicorn, email: str, patient_id: int, tally: Tally, signed_in: threading.Barrier,
            stop: threading.Event) -> None:
    """One therapist: sign in, wait for the others, then record visits until told to stop. Never raises:
    whatever goes wrong lands in the tally, for the test to report."""
    browser = Browser(server.address)
    try:
        answer = browser.sign_in(email)
        tally.statuses.update([200, answer.status])  # the sign-in page, then the sign-in
        if answer.status != 302:
            raise AssertionError(f"sign-in of {email} gave {answer.status}")
        tally.signed_in += 1
        signed_in.wait(timeout=120)
        _record_visits(number, browser, patient_id, tally, stop)
    except threading.BrokenBarrierError:
        pass  # another client could not sign in: its error is in the tally
    except Exception as error:
        tally.errors.append(f"client {number}: {error!r}")
        signed_in.abort()


def _record_visits(number: int, browser: Browser, patient_id: int, tally: Tally, stop: threading.Event) -> None:
    form_path = f"/patients/{patient_id}/visits/new"
    for sequence in range(1_000_000):
        if stop.is_set():
            break
        try:
            page = browser.get(form_path)
            if page.status == 302:  # the form page gives itself a one-time form id in its address
                page = browser.get(page.location)
        except (OSError, HTTPException):
            tally.dropped_reads += 1
            continue
        tally.statuses[page.status] += 1
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.body)
        form_id = re.search(r'name="form_id" value="([^"]+)"', page.body)
        if page.status != 200 or token is None or form_id is None:
            tally.refused[f"GET {form_path} #{sequence}"] = page.status
            continue
        marker = f"{NOTE_CANARY} {tally.run} c{number:02d} n{sequence:06d}"
        if not tally.secrets:
            tally.secrets |= {browser.cookies["rehab_session"], token.group(1)}
        form = visit_form(note=marker, csrf_token=token.group(1), form_id=form_id.group(1))
        try:
            answer = browser.post(form_path, form)
        except (OSError, HTTPException):
            tally.interrupted.add(marker)
            continue
        tally.statuses[answer.status] += 1
        if answer.status == 302 and answer.location.endswith(f"/patients/{patient_id}#advice"):
            tally.saved[marker] = time.monotonic()
        else:
            tally.refused[marker] = answer.status
        if sequence % SEARCH_EVERY == 0:
            try:
                found = browser.get(f"/patients/?q={CANARY_FIRST}%20{CANARY_LAST}")
            except (OSError, HTTPException):
                tally.dropped_reads += 1
                continue
            tally.statuses[found.status] += 1
            tally.searches += 1
            if found.status != 200 or CANARY_LAST not in found.body:
                tally.refused[f"search #{sequence}"] = found.status


def run_load(server: Gunicorn, seeded: Seed, *, seconds: float, clients: int = CLIENTS,
             during: Callable[[], None] | None = None) -> Tally:
    """Sign every client in, then record visits for ``seconds`` (and until ``during`` has returned, when
    given: it runs in this thread while the clients work)."""
    tally = Tally(run=run_id())
    parts = [Tally(run=tally.run) for _ in range(clients)]
    stop = threading.Event()
    signed_in = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=_client, daemon=True, name=f"load-client-{number}",
                                args=(number, server, seeded.emails[number % len(seeded.emails)],
                                      seeded.patient_ids[number % len(seeded.patient_ids)], parts[number],
                                      signed_in, stop))
               for number in range(clients)]
    for thread in threads:
        thread.start()
    try:
        signed_in.wait(timeout=120)
        started = time.monotonic()
        if during is not None:
            during()
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        tally.seconds = time.monotonic() - started
    except threading.BrokenBarrierError:
        pass  # a client failed to sign in; its error is in the tally
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a load client did not stop"
    for part in parts:
        tally.merge(part)
    tally.errors += [] if tally.signed_in == clients else [f"only {tally.signed_in} of {clients} signed in"]
    return tally


def load_markers(database_url: str, run: str) -> set[str]:
    engine = engine_for(database_url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT note FROM visit WHERE note LIKE :prefix"),
                                          {"prefix": f"{NOTE_CANARY} {run} %"}).scalars())
    finally:
        engine.dispose()


def audit_count(database_url: str, action: str) -> int:
    engine = engine_for(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM audit_event WHERE action = :action"),
                                      {"action": action}).scalar_one()
    finally:
        engine.dispose()


def sqlite_checks(path: Path) -> tuple[list[str], list[tuple]]:
    """PRAGMA integrity_check and foreign_key_check of a database file, read-only."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        foreign = list(connection.execute("PRAGMA foreign_key_check"))
    return integrity, foreign


def write_summary(key: str, summary: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    """One line in the test output (even without -s) and in test-artifacts/load-summary.json."""
    line = (f"{key} [{summary['backend']}]: {summary['requests_served']} requests served in "
            f"{summary['seconds']} s by {summary['workers']} workers to {summary['clients']} clients, "
            f"{summary['visits_saved']} visits saved, {summary['failures']} failures, "
            f"{summary['server_errors']} 5xx, {summary['rows_lost']} rows lost, "
            f"{summary['phantom_rows']} unexplained rows")
    extra = summary.get("note")
    with capsys.disabled():
        print(f"\n{line}{f'; {extra}' if extra else ''}")
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "load-summary.json"
    try:
        everything = json.loads(target.read_text())
    except (OSError, ValueError):
        everything = {}
    everything.setdefault(summary["backend"], {})[key] = {**summary, "summary": line}
    target.write_text(json.dumps(everything, indent=2, sort_keys=True) + "\n")


def summarise(tally: Tally, rows: set[str], **extra: object) -> dict[str, object]:
    saved = set(tally.saved)
    return {
        "backend": backend(), "workers": WORKERS, "clients": CLIENTS, "seconds": round(tally.seconds, 1),
        "requests_served": tally.served, "visits_saved": len(saved), "searches": tally.searches,
        "failures": len(tally.refused) + len(tally.errors), "server_errors": tally.server_errors,
        "interrupted_posts": len(tally.interrupted), "dropped_reads": tally.dropped_reads,
        # Lost: answered "saved" but not there. Unexplained: there, but never sent or answered with a refusal.
        "rows_lost": len(saved - rows), "phantom_rows": len(rows - saved - tally.interrupted),
        "statuses": {str(status): count for status, count in sorted(tally.statuses.items())}, **extra,
    }


def log_tail(server: Gunicorn, lines: int = 40) -> str:
    return "\n".join(server.log().splitlines()[-lines:])


# ------------------------------------------------------------------------------------------------------ tests


def test_fifty_clients_recording_visits_lose_nothing_and_lock_nothing(tmp_path, template_database, serve, capsys):
    """SECURITY.md 25: several server processes and dozens of clients: no "database is locked", no 5xx, and
    the visits in the database are exactly the ones the clients were told were saved."""
    database_url = fresh_database(tmp_path, template_database)
    seeded = seed(database_url, therapists=CLIENTS, patients=25)
    server = serve(database_url, workers=WORKERS)
    tally = run_load(server, seeded, seconds=LOAD_SECONDS)
    server.stop()
    rows = load_markers(database_url, tally.run)
    saved = set(tally.saved)
    summary = summarise(tally, rows)
    write_summary("load", summary, capsys)
    log = server.log()

    assert "database is locked" not in log.lower(), log_tail(server)
    assert tally.server_errors == 0, f"{tally.statuses}\n{log_tail(server)}"
    assert tally.errors == [], tally.errors[:5]
    assert tally.refused == {}, list(tally.refused.items())[:5]
    assert tally.interrupted == set() and tally.dropped_reads == 0
    assert saved - rows == set(), f"{len(saved - rows)} visits reported saved are missing"
    assert rows - saved == set(), f"{len(rows - saved)} visits saved without a success response"
    writers = {marker.split()[2] for marker in saved}
    assert len(writers) == CLIENTS, f"only {len(writers)} of {CLIENTS} clients saved a visit: {summary}"
    # Each visit was audited in its own transaction, and concurrent appends kept the hash chain whole.
    assert audit_count(database_url, "visit.create") == len(rows)
    assert audit_trail_intact(database_url)
    assert_no_patient_data_in_server_log(log, tally)


def assert_no_patient_data_in_server_log(log: str, tally: Tally) -> None:
    """SECURITY.md 20 for gunicorn's access and error logs: paths only, never a query string, a name, a
    birth date or a note. The log must hold the requests, or an empty log would pass."""
    assert len(tally.secrets) == 2 * CLIENTS
    for secret in (CANARY_FIRST, CANARY_LAST, NOTE_CANARY, CANARY_BIRTH_DATE.isoformat(), "?q=", "q=",
                   "rehab_session", "csrf_token", *tally.secrets):
        assert secret not in log, f"{secret!r} appears in the server log"
    assert '"POST /patients/' in log and '"POST /login" 302' in log
    searches = len(re.findall(r'"GET /patients/" 200 ', log))
    assert searches == tally.searches > 0, "every search is in the access log, without its query string"


def test_killed_workers_lose_no_committed_visit(tmp_path, template_database, serve, capsys):
    """A worker killed with SIGKILL mid-run, five times: every visit the clients were told was saved is
    there, nothing else is, the database file is sound, and gunicorn replaces each worker."""
    kills, seconds = 5, max(10.0, LOAD_SECONDS / 2.5)
    database_url = fresh_database(tmp_path, template_database)
    seeded = seed(database_url, therapists=CLIENTS, patients=25)
    server = serve(database_url, workers=WORKERS)
    killed: list[int] = []
    replaced: list[tuple[int, set[int]]] = []  # (the pid killed, the workers running once it was replaced)
    last_kill = [0.0]

    def kill_workers() -> None:
        for _ in range(kills):
            time.sleep(seconds / (kills + 1))
            victim = random.choice(sorted(server.worker_pids()))
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:  # it was just recycled (max_requests): pick again next round
                continue
            killed.append(victim)
            last_kill[0] = time.monotonic()
            replaced.append((victim, server.wait_for_workers(exclude=set(killed))))

    tally = run_load(server, seeded, seconds=seconds, during=kill_workers)
    server.stop()
    rows = load_markers(database_url, tally.run)
    saved = set(tally.saved)
    committed_unanswered = len(rows & tally.interrupted)
    summary = summarise(tally, rows, workers_killed=len(killed),
                        note=f"{len(killed)} workers killed, {len(tally.interrupted)} posts cut off "
                             f"({committed_unanswered} of them committed before the kill)")
    write_summary("kill", summary, capsys)

    assert len(killed) >= kills - 1, "the test did not manage to kill workers"
    assert "database is locked" not in server.log().lower(), log_tail(server)
    assert len(replaced) == len(killed)
    assert all(len(pids) == WORKERS and victim not in pids for victim, pids in replaced)
    assert tally.errors == [], tally.errors[:5]
    assert tally.interrupted or tally.dropped_reads, "no kill landed on a request in progress"
    assert tally.server_errors == 0 and tally.refused == {}, (tally.statuses, list(tally.refused.items())[:5])
    assert saved - rows == set(), f"{len(saved - rows)} committed visits lost"
    assert rows <= saved | tally.interrupted, "a visit exists that no client sent or was refused"
    assert any(moment > last_kill[0] for moment in tally.saved.values()), "nothing was saved after the last kill"
    assert audit_count(database_url, "visit.create") == len(rows)
    assert audit_trail_intact(database_url)
    if not POSTGRES_URL:
        integrity, foreign = sqlite_checks(sqlite_path(database_url))
        assert integrity == ["ok"] and foreign == []


# ------------------------------------------------------------------------------------------------------ backup


def _table_counts_sqlite(path: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}


def _table_counts_database(database_url: str) -> dict[str, int]:
    engine = engine_for(database_url)
    try:
        with engine.connect() as connection:
            tables = connection.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")).scalars().all()
            return {table: connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
                    for table in tables}
    finally:
        engine.dispose()


def _table_counts_pg_dump(archive: Path) -> dict[str, int]:
    """Rows per table in a pg_dump custom archive, read back by pg_restore as a script (COPY blocks)."""
    script = subprocess.run(["pg_restore", "--data-only", "--file=-", str(archive)], capture_output=True, text=True,
                            check=True, timeout=120).stdout
    counts: dict[str, int] = {}
    for match in re.finditer(r"^COPY public\.(\w+) \(.*?\) FROM stdin;\n(.*?)^\\\.$", script, re.M | re.S):
        counts[match.group(1).strip('"')] = match.group(2).count("\n")
    return counts


def test_backup_under_write_load_is_sound_and_restores_with_the_same_counts(tmp_path, template_database, serve, capsys):
    """SECURITY.md 26: `flask --app rehab backup FILE` while fifty clients write to a database of some size
    finishes, passes integrity_check, holds one consistent snapshot (every visit with its audit event), and
    `restore --yes` into a fresh database gives the backup's row counts."""
    seconds = max(8.0, LOAD_SECONDS / 3)
    database_url = fresh_database(tmp_path, template_database)
    seeded = seed(database_url, therapists=CLIENTS, patients=25, history_visits=HISTORY_VISITS)
    server = serve(database_url, workers=WORKERS)
    archive = tmp_path / ("backup.sqlite3" if not POSTGRES_URL else "backup.dump")
    window: dict[str, float] = {}
    outcome: dict[str, object] = {}

    def take_backup() -> None:
        time.sleep(seconds / 3)
        window["start"] = time.monotonic()
        try:
            outcome["result"] = subprocess.run(  # noqa: S603 (our own interpreter, an argument list)
                [sys.executable, "-m", "flask", "--app", "rehab", "backup", str(archive)],
                env=app_env(database_url), cwd=REPO, capture_output=True, text=True, timeout=45, check=False)
        except subprocess.TimeoutExpired:
            outcome["result"] = None
        window["end"] = time.monotonic()

    tally = run_load(server, seeded, seconds=seconds, during=take_backup)
    server.stop()
    result = outcome["result"]
    assert result is not None, "the backup did not finish within 45 s while the app was writing"
    assert result.returncode == 0, result.stdout + result.stderr  # type: ignore[union-attr]
    written_during = sum(1 for moment in tally.saved.values() if window["start"] <= moment <= window["end"])
    assert written_during > 0, "no visit was saved while the backup ran: it was not taken under load"
    assert tally.server_errors == 0 and tally.errors == [], (tally.statuses, tally.errors[:5])
    assert "database is locked" not in server.log().lower(), log_tail(server)

    final_rows = load_markers(database_url, tally.run)
    if not POSTGRES_URL:
        integrity, foreign = sqlite_checks(archive)
        assert integrity == ["ok"] and foreign == []
        in_backup = _table_counts_sqlite(archive)
        backup_url = f"sqlite:///{archive}"
        backup_rows = load_markers(backup_url, tally.run)
        assert audit_count(backup_url, "visit.create") == len(backup_rows), "the backup is not one snapshot"
        restored_url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        flask_cli(restored_url, "restore", "--yes", str(archive))
        restored = _table_counts_sqlite(sqlite_path(restored_url))
        assert sqlite_checks(sqlite_path(restored_url)) == (["ok"], [])
    else:
        subprocess.run(["pg_restore", "--list", str(archive)], capture_output=True, check=True, timeout=60)
        in_backup = _table_counts_pg_dump(archive)
        reset_postgres_schema(database_url)  # a fresh, empty database to restore into
        restored_url = database_url
        flask_cli(restored_url, "restore", "--yes", str(archive))
        restored = _table_counts_database(restored_url)
        backup_rows = load_markers(restored_url, tally.run)
        assert audit_count(restored_url, "visit.create") == len(backup_rows), "the backup is not one snapshot"

    assert restored == in_backup, "the restore does not hold the backup's rows"
    assert in_backup["visit"] >= HISTORY_VISITS and in_backup["patient"] == 25 + HISTORY_PATIENTS
    assert 0 < len(backup_rows) < len(final_rows), "the backup was not taken in the middle of the load"
    assert backup_rows <= set(tally.saved) | tally.interrupted
    assert audit_trail_intact(restored_url)
    summary = summarise(tally, final_rows, backup_seconds=round(window["end"] - window["start"], 1),
                        note=f"backup took {window['end'] - window['start']:.1f} s with {written_during} visits "
                             f"saved meanwhile; it holds {len(backup_rows)} of the run's {len(final_rows)} visits "
                             f"and {sum(in_backup.values())} rows in all")
    write_summary("backup", summary, capsys)


@pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite's backup API (pg_dump works from one snapshot)")
def test_sqlite_backup_finishes_while_another_connection_keeps_committing(tmp_path):
    """SQLite restarts an online backup from the first page whenever another connection writes between two
    of its steps, so a backup copied in steps can run for ever under steady writes once the database is
    larger than a step. `rehab.backup.backup` must finish anyway (one step: in WAL mode a reader does not
    hold writers up)."""
    from rehab.backup import backup

    source, target = tmp_path / "busy.sqlite3", tmp_path / "copy.sqlite3"
    connection = sqlite3.connect(source)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    connection.executemany("INSERT INTO note (body) VALUES (?)", [("n" * 1000,)] * 40_000)  # about 45 MB
    connection.commit()
    connection.close()
    stop, finished = threading.Event(), threading.Event()
    commits, failures = [0], []

    def write() -> None:  # about a hundred small commits a second, as a busy clinic's workers make
        writer = sqlite3.connect(source, timeout=10, isolation_level=None)
        while not stop.is_set():
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("INSERT INTO note (body) VALUES ('w')")
            writer.execute("COMMIT")
            commits[0] += 1
            time.sleep(0.01)
        writer.close()

    def copy() -> None:
        try:
            backup(f"sqlite:///{source}", target)
        except Exception as error:  # reported below
            failures.append(error)
        finally:
            finished.set()

    threads = [threading.Thread(target=write, daemon=True), threading.Thread(target=copy, daemon=True)]
    threads[0].start()
    time.sleep(0.2)
    threads[1].start()
    done_in_time = finished.wait(timeout=15)
    written_meanwhile = commits[0]
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert done_in_time, f"no backup after 15 s while another connection committed {written_meanwhile} times"
    assert failures == []
    integrity, _ = sqlite_checks(target)
    with sqlite3.connect(f"file:{target}?mode=ro", uri=True) as check:
        copied = check.execute("SELECT count(*) FROM note").fetchone()[0]
    assert integrity == ["ok"] and 40_000 <= copied <= 40_000 + commits[0]
