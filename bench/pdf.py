"""The bench's PDF comparisons: Chromium's print-to-PDF of the same sheet HTML, and a renderer's memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # noqa: S404 (chromium and a fresh Python, argument lists only)
import sys
import tempfile
import time
from pathlib import Path

from bench.load import Result

ROOT = Path(__file__).resolve().parents[1]
APP_SECRET = "bench-secret-key-not-for-production-0123"  # noqa: S105 (a throwaway bench app)


def sheet_html_for(database_url: str, patient_id: int) -> tuple[str, str, str]:
    """A patient's home sheet as the app renders it: the whole page with its CSS inside (what Chromium would
    print), and the page and its CSS apart (what the app hands WeasyPrint, which parses the CSS once)."""
    from sqlmodel import select

    from rehab import create_app
    from rehab.db import get_session
    from rehab.models import Clinic, Patient, Protocol, User
    from rehab.printing import new_snapshot, sheet_css, sheet_html
    from rehab.printing.snapshot import SheetOptions

    app = create_app({"TESTING": True, "SECRET_KEY": APP_SECRET, "DATABASE_URL": database_url})
    with app.app_context():  # rendering needs the app, never a request
        session = get_session()
        patient = session.get(Patient, patient_id)
        therapist, clinic = session.get(User, 1), session.get(Clinic, patient.clinic_id)  # type: ignore[union-attr]
        protocol = session.exec(select(Protocol).where(Protocol.patient_id == patient_id)).one()
        snapshot = new_snapshot(session, patient, protocol, SheetOptions(), clinic=clinic,  # type: ignore[arg-type]
                                printed_by_name=therapist.name)  # type: ignore[union-attr]
        return sheet_html(snapshot), sheet_html(snapshot, inline_css=False), sheet_css(snapshot)


def chromium_print(html: str, runs: int = 7) -> Result:
    """Chromium's print-to-PDF of the same sheet HTML, whole command, as a clinic might do it otherwise."""
    result = Result("chromium_print")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        result.errors, result.first_error = runs, "no Chromium at /usr/bin/chromium"
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


_MEMORY_PROBE = """
import json, os, sys, time
from pathlib import Path
from rehab.printing.pdf import html_to_pdf

def rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1_048_576

html, css = Path(sys.argv[1]).read_text(), Path(sys.argv[2]).read_text()
static, renders = Path(sys.argv[3]), int(sys.argv[4])
for _ in range(20):  # warm: fonts, caches and the allocator's arenas settle first
    html_to_pdf(html, static_root=static, css=css)
start, began = rss_mb(), time.perf_counter()
for _ in range(renders):
    html_to_pdf(html, static_root=static, css=css)
seconds, end = time.perf_counter() - began, rss_mb()
print(json.dumps({"start": start, "end": end, "seconds": seconds}))
"""


def sheet_memory(html: str, css: str, renders: int = 300) -> dict[str, float | int | str]:
    """Resident memory of a fresh process rendering the same sheet ``renders`` times after 20 warm-up renders:
    what a long-lived worker keeps per render (the reason workers are recycled)."""
    with tempfile.TemporaryDirectory() as folder:
        source, style = Path(folder) / "sheet.html", Path(folder) / "sheet.css"
        source.write_text(html, encoding="utf-8")
        style.write_text(css, encoding="utf-8")
        done = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(source), str(style),  # noqa: S603
                               str(ROOT / "rehab" / "static"), str(renders)], capture_output=True, text=True,
                              cwd=ROOT, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        return {"name": "sheet_memory", "renders": renders, "errors": 1, "first_error": done.stderr[-300:],
                "rps": 0, "p50_ms": 0, "p95_ms": 0, "p99_ms": 0}
    probe = json.loads(done.stdout)
    return {"name": "sheet_memory", "renders": renders, "rss_start_mb": round(probe["start"], 1),
            "rss_end_mb": round(probe["end"], 1),
            "kb_per_render": round((probe["end"] - probe["start"]) * 1024 / renders, 1),
            "rps": round(renders / probe["seconds"], 1), "p50_ms": round(probe["seconds"] / renders * 1000, 1),
            "p95_ms": 0, "p99_ms": 0, "errors": 0}
