"""CPU time per request, in process: the benched pages through Flask's test client against a seeded database.

`make bench` measures throughput through gunicorn, which on a shared machine moves with everyone else's load.
This measures what one request costs this process (``time.process_time``, best and median of N, after a
warm-up), which does not: the figure to compare before and after a change. On PostgreSQL the database
server's own work is not in it; the wall time (best and median) is printed beside it.

    python bench/cpu.py sqlite:////tmp/bench.sqlite3            # a database seeded by bench/seed.py
    python bench/cpu.py URL --pages patient_detail --profile    # cProfile of one page, heaviest calls first

It writes: a visit per record_visit request, a print and its sheet once, a patient link, audit rows. Run it
on a copy of the seeded database.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import re
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.seed import BENCH_PASSWORD  # noqa: E402

SECRET = "bench-secret-key-not-for-production-0123456789"  # noqa: S105 (a throwaway bench app)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = ("bare", "dashboard", "patient_search", "patient_detail", "record_visit", "sheet_cached", "portal")
VISIT = {"pain_before": "1", "pain_worst": "2", "pain_after": "1", "soreness": "none", "effusion": "0",
         "exercise": "treadmill_rails", "minutes": "10", "speed": "1.2", "incline_pct": "0",
         "support": "both_rails", "stumbles": "0", "falls": "0"}


def build(database_url: str):  # type: ignore[no-untyped-def]
    from rehab import create_app

    return create_app({"SECRET_KEY": SECRET, "DATABASE_URL": database_url, "PASSWORD_HASH_TIME_COST": 1,
                       "PASSWORD_HASH_MEMORY_KIB": 8, "COUNT_QUERIES": True, "PUBLIC_URL": "http://rehab.test",
                       "SHEET_CACHE_DIR": f"/tmp/rehab-cpu-sheets-{secrets.token_hex(4)}",  # noqa: S108
                       "LOGIN_MAX_FAILURES_PER_ADDRESS": 1000, "RENDER_QUEUE": "inline"})


def steps(app, database_url: str) -> dict[str, Callable[[], Any]]:  # type: ignore[no-untyped-def]
    """One request per page, as the bench's first client sends it (therapist 1, clinic 1)."""
    signed_in = app.test_client()
    page = signed_in.get("/login").get_data(as_text=True)
    answer = signed_in.post("/login", data={"email": "therapist1@bench.example", "password": BENCH_PASSWORD,
                                            "csrf_token": CSRF.search(page).group(1)})  # type: ignore[union-attr]
    assert answer.status_code == 302, answer.status_code
    token = CSRF.search(signed_in.get("/patients/1").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    bare = app.test_client()
    stamp = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 86_400))
    visits = iter(range(10**6))

    def record_visit() -> Any:
        patient = 1 + 5 * (1 + next(visits) % 1500)  # clinic 1's patients, as the bench's client 1
        return signed_in.post(f"/patients/{patient}/visits/new", data={
            **VISIT, "occurred_at": stamp, "csrf_token": token, "form_id": secrets.token_urlsafe(16)})

    printed = signed_in.post("/patients/1/sheet", data={"csrf_token": token, "form_id": secrets.token_urlsafe(16),
                                                        "paper": "letter", "language": "en", "include_next": "1"})
    assert printed.status_code == 303, printed.status_code
    sheet_url = printed.headers["Location"]
    assert signed_in.get(sheet_url).data.startswith(b"%PDF")
    from bench.run import issue_links

    patient_client = app.test_client()
    patient_client.get(f"/p/{issue_links(database_url, count=1)[0]}")
    return {
        "bare": lambda: bare.get("/ping"),
        "dashboard": lambda: signed_in.get("/dashboard"),
        "patient_search": lambda: signed_in.get("/patients/?q=okafor"),
        "patient_detail": lambda: signed_in.get("/patients/1"),
        "record_visit": record_visit,
        "sheet_cached": lambda: signed_in.get(sheet_url),
        "portal": lambda: patient_client.get("/p/home"),
    }


EXPECTED = {"record_visit": 302}


def measure(step: Callable[[], Any], expected: int, count: int) -> tuple[list[float], list[float], str]:
    """CPU and wall seconds of each of ``count`` requests, and the last one's statement count."""
    cpu, wall, statements = [], [], ""
    for _ in range(count):
        began_cpu, began_wall = time.process_time(), time.perf_counter()
        response = step()
        cpu.append(time.process_time() - began_cpu)
        wall.append(time.perf_counter() - began_wall)
        assert response.status_code == expected, response.status_code
        statements = response.headers.get("X-Query-Count", "")
    return cpu, wall, statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="cProfile the pages instead of timing them")
    arguments = parser.parse_args()
    app = build(arguments.database_url)
    pages = steps(app, arguments.database_url)
    names = arguments.pages.split(",")
    for name in names:  # warm-up: statement caches, templates, the sheet cache
        measure(pages[name], EXPECTED.get(name, 200), 20)
    gc.collect()
    gc.freeze()  # as gunicorn's workers do after the fork (rehab/gunicorn_conf.py)
    if arguments.profile:
        for name in names:
            profile = cProfile.Profile()
            profile.enable()
            measure(pages[name], EXPECTED.get(name, 200), arguments.count)
            profile.disable()
            print(f"\n===== {name}: {arguments.count} requests")
            pstats.Stats(profile).sort_stats("tottime").print_stats(35)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(60)
        return
    print(f"{'page (ms)':<18}{'cpu best':>10}{'cpu median':>12}{'wall best':>11}{'wall median':>13}{'queries':>9}")
    for name in names:
        cpu, wall, statements = measure(pages[name], EXPECTED.get(name, 200), arguments.count)
        print(f"{name:<18}{min(cpu) * 1000:>10.2f}{statistics.median(cpu) * 1000:>12.2f}"
              f"{min(wall) * 1000:>11.2f}{statistics.median(wall) * 1000:>13.2f}{statements:>9}", flush=True)


if __name__ == "__main__":
    main()
