"""`make bench`: seed a clinic chain, serve it exactly as `make serve` does, and measure.

Prints a table (requests per second, p50, p95, p99, errors) and writes bench/results.json. Every page is
also reported as a ratio of the bare route (the framework's own ceiling on this machine), and the home sheet
against Chromium's print-to-PDF of the same HTML. With REHAB_BENCH_DATABASE_URL set, the run repeats on that
PostgreSQL database.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess  # noqa: S404 (gunicorn, flask and chromium, argument lists only)
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.seed import BENCH_PASSWORD, CLINICS, seed  # noqa: E402

CONCURRENCY = int(os.environ.get("REHAB_BENCH_CLIENTS", "8"))
SECONDS = float(os.environ.get("REHAB_BENCH_SECONDS", "8"))
WORKERS = os.environ.get("REHAB_BENCH_WORKERS", "2")
CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')
SERVER_SECRET = "bench-secret-key-not-for-production-0123456789"  # noqa: S105 (a throwaway bench server)


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    def row(self) -> dict[str, float | int | str]:
        ordered = sorted(self.latencies) or [0.0]

        def pick(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

        return {"name": self.name, "rps": round(len(self.latencies) / self.seconds, 1) if self.seconds else 0,
                "p50_ms": round(statistics.median(ordered) * 1000, 1), "p95_ms": pick(0.95), "p99_ms": pick(0.99),
                "errors": self.errors, "requests": len(self.latencies)}


class Client:
    """A minimal browser: one cookie jar, a new connection per request (gunicorn's sync workers close them)."""

    def __init__(self, port: int) -> None:
        self.port, self.cookie, self.last_location = port, "", ""

    def request(self, method: str, path: str, body: dict[str, str] | None = None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and value.startswith("rehab_session="):
                self.cookie = value.split(";", 1)[0]
            elif header.lower() == "location":
                self.last_location = value.removeprefix(f"http://127.0.0.1:{self.port}")
        connection.close()
        return response.status, payload

    def csrf(self, path: str) -> str:
        status, page = self.request("GET", path)
        match = CSRF.search(page)
        if status != 200 or not match:
            raise RuntimeError(f"no form at {path} (status {status})")
        return match.group(1).decode()

    def sign_in(self, email: str) -> None:
        token = self.csrf("/login")
        status, _ = self.request("POST", "/login", {"email": email, "password": BENCH_PASSWORD, "csrf_token": token})
        if status != 302:
            raise RuntimeError(f"sign-in failed for {email}: {status}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REHAB_DATABASE_URL": database_url, "REHAB_BIND": f"127.0.0.1:{port}",
           "REHAB_WORKERS": WORKERS, "REHAB_SECRET_KEY": SERVER_SECRET,
           "REHAB_PASSWORD_HASH_TIME_COST": "1", "REHAB_PASSWORD_HASH_MEMORY_KIB": "8",
           "REHAB_SHEET_CACHE_DIR": str(log.parent / "sheet-cache"), "REHAB_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000",
           "REHAB_ACCESS_LOG": str(log.parent / "access.log")}
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "-c", "python:rehab.gunicorn_conf", "rehab:create_app()"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if Client(port).request("GET", "/ping")[0] == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"gunicorn did not start; see {log}")


def drive(name: str, clients: list[Client], step, seconds: float = SECONDS) -> Result:  # type: ignore[no-untyped-def]
    """Run ``step(client, n)`` from every client in its own thread for ``seconds``; keep every latency."""
    result = Result(name)
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(client: Client, index: int) -> None:
        n = index
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                ok = step(client, n)
            except Exception:  # noqa: BLE001 (a failed request is counted, never fatal)
                ok = False
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    result.latencies.append(elapsed)
                else:
                    result.errors += 1
            n += len(clients)

    threads = [threading.Thread(target=worker, args=(client, i)) for i, client in enumerate(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began
    return result


def chromium_print(html: str, runs: int = 7) -> Result:
    """Chromium's print-to-PDF of the same sheet HTML, whole command, as a clinic might do it otherwise."""
    result = Result("chromium_print")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        result.errors = runs
        return result
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "sheet.html", Path(folder) / "sheet.pdf"
        source.write_text(html, encoding="utf-8")
        began = time.perf_counter()
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",  # noqa: S603
                                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                   "--no-first-run", f"--user-data-dir={folder}/profile", "--no-pdf-header-footer",
                                   f"--print-to-pdf={target}", source.as_uri()], capture_output=True, timeout=60)
            if done.returncode == 0 and target.exists():
                result.latencies.append(time.perf_counter() - started)
            else:
                result.errors += 1
        result.seconds = time.perf_counter() - began
    return result


def sheet_html_for(database_url: str, patient_id: int) -> str:
    """The HTML of a patient's home sheet, rendered by the app itself (for the Chromium comparison)."""
    from flask import g
    from sqlmodel import select

    from rehab import create_app
    from rehab.db import get_session
    from rehab.models import Clinic, Patient, Protocol, User
    from rehab.services.handouts import SheetOptions
    from rehab.views.handouts import new_snapshot, sheet_html

    app = create_app({"TESTING": True, "SECRET_KEY": "bench-secret-key-not-for-production-0123",
                      "DATABASE_URL": database_url})
    with app.test_request_context():
        session = get_session()
        patient = session.get(Patient, patient_id)
        g.user, g.clinic = session.get(User, 1), session.get(Clinic, patient.clinic_id)  # type: ignore[union-attr]
        protocol = session.exec(select(Protocol).where(Protocol.patient_id == patient_id)).one()
        return sheet_html(new_snapshot(patient, protocol, SheetOptions()))  # type: ignore[arg-type]


def sheet_memory(database_url: str, renders: int = 500) -> dict[str, float | int | str]:
    """Resident memory of one process rendering the same sheet ``renders`` times (shared font configuration)."""
    from rehab.services.handouts import html_to_pdf

    html = sheet_html_for(database_url, 1)

    def rss_mb() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1_048_576

    html_to_pdf(html, static_root=ROOT / "rehab" / "static")
    start, began = rss_mb(), time.perf_counter()
    for _ in range(renders):
        html_to_pdf(html, static_root=ROOT / "rehab" / "static")
    seconds = time.perf_counter() - began
    end = rss_mb()
    return {"name": "sheet_memory", "renders": renders, "rss_start_mb": round(start, 1), "rss_end_mb": round(end, 1),
            "kb_per_render": round((end - start) * 1024 / renders, 1), "rps": round(renders / seconds, 1),
            "p50_ms": round(seconds / renders * 1000, 1), "p95_ms": 0, "p99_ms": 0, "errors": 0}


def measure(database_url: str, label: str) -> list[dict]:  # type: ignore[type-arg]
    work = Path(tempfile.mkdtemp(prefix=f"rehab-bench-{label}-"))
    port = free_port()
    process = serve(database_url, port, work / "gunicorn.log")
    try:
        clients = [Client(port) for _ in range(CONCURRENCY)]
        for index, client in enumerate(clients):
            client.sign_in(f"therapist{index + 1}@bench.example")  # therapist k works in clinic (k - 1) % 5 + 1

        def clinic_of(n: int) -> int:
            return n % len(clients) % CLINICS + 1

        surnames = ["okafor", "reyes", "nguyen", "garcia", "tanaka", "haddad", "smith", "brooks"]
        # The bare route from cookie-less clients: the framework's own ceiling, no session to look up.
        results = [drive("bare", [Client(port) for _ in clients], lambda c, n: c.request("GET", "/ping")[0] == 200)]
        results.append(drive("dashboard", clients, lambda c, n: c.request("GET", "/dashboard")[0] == 200))
        results.append(drive("patient_search", clients, lambda c, n: c.request(
            "GET", f"/patients/?q={surnames[n % len(surnames)]}")[0] == 200))
        # Patients 1-5 have 200 visits each, one per clinic: each client opens its own clinic's.
        results.append(drive("patient_detail", clients, lambda c, n: c.request(
            "GET", f"/patients/{clinic_of(n)}")[0] == 200))
        tokens = [client.csrf(f"/patients/{index % CLINICS + 1}/visits/new") for index, client in enumerate(clients)]
        stamp = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 86_400))  # yesterday, in any zone

        def record_visit(client: Client, n: int) -> bool:
            index = clients.index(client)
            patient = index % CLINICS + 1 + CLINICS * (1 + n % 1500)  # a patient of the client's own clinic
            form = {"csrf_token": tokens[index], "occurred_at": stamp, "pain_before": "1", "pain_worst": "2",
                    "pain_after": "1", "soreness": "none", "effusion": "0", "exercise": "treadmill_rails",
                    "minutes": "10", "speed": "1.2", "incline_pct": "0", "support": "both_rails", "stumbles": "0",
                    "falls": "0"}
            return client.request("POST", f"/patients/{patient}/visits/new", form)[0] == 302

        results.append(drive("record_visit", clients, record_visit))

        def print_sheet(client: Client, patient: int) -> str:
            """Print a sheet (POST, recorded) and return the address of its PDF."""
            index = clients.index(client)
            status, _ = client.request("POST", f"/patients/{patient}/sheet", {
                "csrf_token": tokens[index], "paper": "letter", "language": "en", "include_next": "1"})
            if status != 303:
                raise RuntimeError(f"printing answered {status}")
            return client.last_location

        def download(client: Client, url: str) -> bool:
            status, body = client.request("GET", url)
            return status == 200 and body.startswith(b"%PDF")

        def first_sheet(client: Client, n: int) -> bool:
            index = clients.index(client)
            patient = index % CLINICS + 1 + CLINICS * (2000 - n % 1900)  # never printed before: a cache miss
            return download(client, print_sheet(client, patient))

        # A first render as one person waits for it (one client): the sheet's own latency on this machine.
        results.append(drive("sheet_first", clients[:1], first_sheet, seconds=max(SECONDS, 10)))
        results.append(drive("sheet_first_8_clients", clients, first_sheet, seconds=max(SECONDS, 10)))
        urls = {id(client): print_sheet(client, clients.index(client) % CLINICS + 1) for client in clients}
        for client in clients:
            download(client, urls[id(client)])  # rendered once; every download after comes from the cache
        results.append(drive("sheet_cached", clients, lambda c, n: download(c, urls[id(c)])))
        results.append(_portal(port, database_url))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    html = sheet_html_for(database_url, 1)
    results.append(chromium_print(html))
    rows = [result.row() for result in results]
    rows.append(sheet_memory(database_url))
    for row in rows:
        row["database"] = label
    return rows


def issue_links(database_url: str, *, count: int) -> list[str]:
    """Personal links for the first ``count`` heavy patients, made by the app's own service."""
    from rehab import create_app
    from rehab.db import get_session
    from rehab.models import Patient, utcnow
    from rehab.services import portal

    app = create_app({"TESTING": True, "SECRET_KEY": SERVER_SECRET, "DATABASE_URL": database_url})
    tokens = []
    with app.app_context():
        session = get_session()
        for patient_id in range(1, count + 1):
            _, token = portal.issue_link(session, patient=session.get(Patient, patient_id), user_id=None,  # type: ignore[arg-type]
                                         now=utcnow(), secret=SERVER_SECRET)
            tokens.append(token)
        session.commit()
    return tokens


def _portal(port: int, database_url: str) -> Result:
    """The patient portal's home page, opened through personal links issued by the app's own service."""
    tokens = issue_links(database_url, count=CONCURRENCY)
    clients = [Client(port) for _ in tokens]
    for client, token in zip(clients, tokens, strict=True):
        client.request("GET", f"/p/{token}")
    return drive("portal", clients, lambda c, n: c.request("GET", "/p/home")[0] == 200)


TARGETS = [
    ("patient_search", "p95_ms", "<=", 25), ("patient_detail", "p95_ms", "<=", 25),
    ("record_visit", "p95_ms", "<=", 30),
    ("sheet_first", "p50_ms", "<=", 250), ("sheet_cached", "p50_ms", "<=", 10),
]


def report(rows: list[dict]) -> str:  # type: ignore[type-arg]
    lines = []
    for label in dict.fromkeys(row["database"] for row in rows):
        subset = [row for row in rows if row["database"] == label]
        bare = next(row for row in subset if row["name"] == "bare")
        lines.append(f"\n{label}: {CONCURRENCY} clients, {WORKERS} gunicorn workers, {SECONDS:g} s per page")
        lines.append(f"{'page':<16}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}  ratio")
        for row in subset:
            if row["name"] == "sheet_memory":
                continue
            ratio = f"{row['rps'] / bare['rps']:.1%} of bare" if bare["rps"] and row["name"] not in (
                "bare", "chromium_print") else ""
            lines.append(f"{row['name']:<16}{row['rps']:>9}{row['p50_ms']:>9}{row['p95_ms']:>9}{row['p99_ms']:>9}"
                         f"{row['errors']:>8}  {ratio}")
        by_name = {row["name"]: row for row in subset}
        sheet, chromium = by_name.get("sheet_first"), by_name.get("chromium_print")
        if sheet and chromium and sheet["p50_ms"]:
            lines.append(f"Home sheet vs Chromium print-to-PDF: {chromium['p50_ms']} / {sheet['p50_ms']} ms = "
                         f"{chromium['p50_ms'] / sheet['p50_ms']:.1f}x faster (median)")
        memory = by_name["sheet_memory"]
        lines.append(f"Memory over {memory['renders']} renders in one process: {memory['rss_start_mb']} -> "
                     f"{memory['rss_end_mb']} MB ({memory['kb_per_render']} KB per render)")
        search = by_name["patient_search"]
        checks = [f"{name} {key} {row_value} {op} {limit}: {'holds' if row_value <= limit else 'MISSED'}"
                  for name, key, op, limit in TARGETS if (row_value := by_name[name][key]) is not None]
        checks.append(f"patient_search throughput {search['rps'] / bare['rps']:.1%} of bare >= 15%: "
                      f"{'holds' if search['rps'] >= 0.15 * bare['rps'] else 'MISSED'}")
        if sheet and chromium and sheet["p50_ms"]:
            factor = chromium["p50_ms"] / sheet["p50_ms"]
            verdict = "holds" if factor >= 3 else "MISSED"
            checks.append(f"sheet at least 3x faster than Chromium: {factor:.1f}x {verdict}")
        errors = sum(row["errors"] for row in subset if row["name"] != "chromium_print")
        checks.append(f"zero errors: {'holds' if errors == 0 else f'MISSED ({errors})'}")
        lines += ["Targets:", *[f"  {check}" for check in checks]]
    return "\n".join(lines)


def main() -> None:
    rows: list[dict] = []  # type: ignore[type-arg]
    folder = Path(tempfile.mkdtemp(prefix="rehab-bench-db-"))
    sqlite_url = f"sqlite:///{folder / 'bench.sqlite3'}"
    print("Seeding SQLite:", json.dumps(seed(sqlite_url)), flush=True)
    rows += measure(sqlite_url, "sqlite")
    postgres_url = os.environ.get("REHAB_BENCH_DATABASE_URL")
    if postgres_url:
        from sqlalchemy import create_engine, text

        engine = create_engine(postgres_url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        print("Seeding PostgreSQL:", json.dumps(seed(postgres_url)), flush=True)
        rows += measure(postgres_url, "postgresql")
    (ROOT / "bench" / "results.json").write_text(json.dumps({"results": rows}, indent=2))
    print(report(rows))
    print(f"\nWritten to {ROOT / 'bench' / 'results.json'}")


if __name__ == "__main__":
    main()
