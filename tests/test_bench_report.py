"""What `make bench` prints from its rows (bench/run.py `report`), on made-up rows: each page's share of the bare
route against the issue's page targets, for each engine, and every page's PostgreSQL throughput as a share of
SQLite's from the same run against the 70 % target. Nothing is timed here: the rows are written by hand."""

from __future__ import annotations

from typing import Any

from bench.run import report

PAGES = ["bare", "dashboard", "patient_search", "patient_detail", "record_visit", "sheet_first", "sheet_cached",
         "portal", "patient_detail_while_printing", "batch_print_40"]


def rows(database: str, rps: dict[str, float]) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = [
        {"name": name, "rps": rps.get(name, 50.0), "p50_ms": 20.0, "p95_ms": 30.0, "p99_ms": 40.0, "errors": 0,
         "requests": 100, "database": database} for name in PAGES]
    made.append({"name": "chromium_print", "rps": 0.8, "p50_ms": 1000.0, "p95_ms": 1100.0, "p99_ms": 1200.0,
                 "errors": 0, "requests": 5, "database": database})
    if database == "sqlite":
        made.append({"name": "sheet_memory", "renders": 300, "rss_start_mb": 76, "rss_end_mb": 81, "kb_per_render": 12,
                     "errors": 0, "database": database})
    return made


SQLITE = {"bare": 1000.0, "dashboard": 120.0, "patient_search": 260.0, "patient_detail": 150.0, "record_visit": 140.0,
          "sheet_cached": 400.0, "portal": 250.0}
# PostgreSQL: the dashboard at 75 % of SQLite's (holds), the patient page at 60 % (missed) and under 15 % of bare.
POSTGRES = {**SQLITE, "bare": 1000.0, "dashboard": 90.0, "patient_detail": 90.0}


def lines_under(text: str, heading: str) -> list[str]:
    """The indented lines after ``heading``, up to the next blank or unindented line."""
    found, under = [], False
    for line in text.splitlines():
        if line.startswith(heading):
            under = True
            continue
        if under and not line.startswith("  "):
            if found:
                break
            continue
        if under:
            found.append(line.strip())
    return found


def test_each_engine_states_each_page_share_of_bare_against_its_target():
    text = report(rows("sqlite", SQLITE) + rows("postgresql", POSTGRES))
    sqlite_part, postgres_part = text.split("\npostgresql:")[0], text.split("\npostgresql:")[1]
    sqlite_targets = lines_under(sqlite_part, "Targets:")
    assert "patient_detail throughput 15.0% of bare >= 15%: holds" in sqlite_targets
    assert "record_visit throughput 14.0% of bare >= 15%: MISSED" in sqlite_targets
    assert "dashboard throughput 12.0% of bare >= 10%: holds" in sqlite_targets
    assert "patient_search throughput 26.0% of bare >= 25%: holds" in sqlite_targets
    assert "portal throughput 25.0% of bare >= 25%: holds" in sqlite_targets
    assert "sheet_cached throughput 40.0% of bare >= 40%: holds" in sqlite_targets
    postgres_targets = lines_under(postgres_part, "Targets:")
    assert "patient_detail throughput 9.0% of bare >= 15%: MISSED" in postgres_targets
    assert "dashboard throughput 9.0% of bare >= 10%: MISSED" in postgres_targets


def test_every_postgres_page_is_stated_as_a_share_of_its_sqlite_throughput():
    text = report(rows("sqlite", SQLITE) + rows("postgresql", POSTGRES))
    compared = lines_under(text, "PostgreSQL against SQLite")
    assert [line.split()[0] for line in compared] == PAGES  # every page, not the Chromium print nor the memory probe
    by_page = {line.split()[0]: line for line in compared}
    assert by_page["dashboard"].split() == ["dashboard", "90.0", "/", "120.0", "req/s", "=", "75.0%:", "holds"]
    assert by_page["patient_detail"].endswith("60.0%: MISSED")
    assert by_page["bare"].endswith("100.0%: holds")


def test_a_page_measured_on_one_engine_only_is_missed_and_a_sqlite_run_has_no_comparison():
    postgres = [row for row in rows("postgresql", POSTGRES) if row["name"] != "portal"]
    compared = lines_under(report(rows("sqlite", SQLITE) + postgres), "PostgreSQL against SQLite")
    assert "portal measured on SQLite only: MISSED" in [" ".join(line.split()) for line in compared]
    assert "PostgreSQL against SQLite" not in report(rows("sqlite", SQLITE))
