"""The progress report for the referring physician, from its snapshot to PDF: printed from the report's
options page (kept as a ``ReportPrint``, reprinted as printed, through the PDF cache), and made fresh for the
FHIR export's DocumentReference.

Needs the app (its templates and translations) and never a request."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from flask import render_template
from flask_babel import force_locale, gettext
from sqlmodel import Session, col, select

from rehab.dates import day_text
from rehab.models import Clinic, Patient, ReportPrint, utcnow
from rehab.printing import cache
from rehab.printing.pdf import html_to_pdf
from rehab.printing.report_snapshot import LetterText, ReportOptions, build_report_snapshot
from rehab.printing.sheets import static_root
from rehab.printing.snapshot import snapshot_digest
from rehab.services.advice.types import ADVICE_TITLES
from rehab.vocabulary import (
    CONDITION_LABELS,
    EFFUSION_LABELS,
    KNEE_LABELS,
    RED_FLAG_LABELS,
    SORENESS_LABELS,
    Language,
)

Snapshot = dict[str, Any]


def report_filename(printed_on: date) -> str:
    """``progress-report-2026-12-01.pdf``: a date, never the patient's name."""
    return f"progress-report-{printed_on.isoformat()}.pdf"


def record_report(db: Session, patient: Patient, snapshot: Snapshot, *, source: str,
                  printed_by_id: int | None) -> ReportPrint:
    """Keep a printed report with its snapshot (the assessment and plan among it) and digest (the cache key)."""
    record = ReportPrint(patient_id=patient.id, clinic_id=patient.clinic_id, options=json.dumps(snapshot["options"]),
                         assessment=snapshot["assessment"], plan=snapshot["plan"], snapshot=json.dumps(snapshot),
                         digest=snapshot_digest(snapshot), printed_by_id=printed_by_id, source=source)
    db.add(record)
    db.flush()
    return record


def new_report(db: Session, patient: Patient, *, clinic: Clinic, therapist_name: str, options: ReportOptions,
               letter: LetterText) -> Snapshot:
    return build_report_snapshot(db, patient, clinic=clinic, therapist_name=therapist_name, options=options,
                                 letter=letter, now=utcnow())


def recent_reports(db: Session, *, patient_id: int, limit: int = 50) -> Sequence[ReportPrint]:
    """The patient's printed reports, newest first, for the report page's history."""
    return db.exec(select(ReportPrint).where(ReportPrint.patient_id == patient_id)
                   .order_by(col(ReportPrint.printed_at).desc(), col(ReportPrint.id).desc()).limit(limit)).all()


def clinic_report(db: Session, *, report_id: int, patient_id: int, clinic_id: int) -> ReportPrint | None:
    """A printed report, only when it is this clinic's patient's."""
    return db.exec(select(ReportPrint).where(ReportPrint.id == report_id, ReportPrint.patient_id == patient_id,
                                             ReportPrint.clinic_id == clinic_id)).first()


def report_cache_key(digest: str) -> str:
    """The cache key of a printed report (never the key of a sheet's snapshot): its page asks whether a render
    worker has made it."""
    return snapshot_digest({"report": digest})


def render_report(snapshot: Snapshot | Callable[[], Snapshot], *, digest: str) -> bytes:
    """The PDF of a printed report, from the disk cache when this exact letter was rendered before."""
    cache_key = report_cache_key(digest)
    cached = cache.read(cache_key)
    if cached is not None:
        return cached
    rendered = report_pdf_of(snapshot() if callable(snapshot) else snapshot)
    cache.write(cache_key, rendered)
    return rendered


def report_pdf_of(snapshot: Snapshot) -> bytes:
    return html_to_pdf(report_html(snapshot), static_root=static_root())


def _data_url(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def report_html(snapshot: Snapshot) -> str:
    """The letter as HTML in its language."""
    language = snapshot["options"]["language"]
    chart = snapshot.get("chart")
    with force_locale(language):
        return render_template(
            # ``tr`` words a stored value (a label, a threshold) without reading "%" in it as a placeholder.
            "handouts/report.html", r=snapshot, tr=gettext,
            chart=_data_url(chart) if chart else None,
            score_charts=[_data_url(svg) for svg in snapshot.get("score_charts", ())],
            # Dates as every page and sheet writes them (rehab/dates.py), the letter's own date too.
            day=lambda iso: day_text(iso, language), long_day=lambda iso: day_text(iso, language),
            conditions=CONDITION_LABELS, knees=KNEE_LABELS, red_flags=RED_FLAG_LABELS, soreness=SORENESS_LABELS,
            effusion=EFFUSION_LABELS, advice_titles=ADVICE_TITLES,
        )


def report_pdf(db: Session, patient: Patient, *, clinic: Clinic, therapist_name: str) -> bytes:
    """A report made now, without an assessment or plan (the FHIR export's DocumentReference): the letter
    says none was typed. The letter is as of today, so it comes from the cache when nothing in the record
    changed since the last export today: exporting a clinic, or an API client asking twice, renders it once."""
    snapshot = new_report(db, patient, clinic=clinic, therapist_name=therapist_name,
                          options=ReportOptions(paper=clinic.paper_size, language=Language.EN),
                          letter=LetterText(assessment="", plan=""))
    return render_report(snapshot, digest=snapshot_digest(snapshot))
