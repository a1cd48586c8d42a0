"""The progress report for the referring physician: course of care, chart, measures, visits, as PDF (a
download from the patient page, and a DocumentReference in the FHIR export)."""

from __future__ import annotations

import base64

from flask import render_template
from sqlmodel import Session

from rehab.models import Clinic, Patient, utcnow
from rehab.printing.pdf import html_to_pdf
from rehab.printing.sheets import static_root
from rehab.services import protocol_records
from rehab.services import visits as visit_service
from rehab.services.advice.decisions import clearances_of
from rehab.services.baseline_change import summarize_progress
from rehab.services.charts import pain_and_minutes_svg
from rehab.services.patient_page import MEASURE_FIELDS, chart_points
from rehab.vocabulary import CONDITION_LABELS


def report_pdf(db: Session, patient: Patient, *, clinic: Clinic, therapist_name: str) -> bytes:
    """The report as PDF, dated today and signed with ``therapist_name``."""
    patient_visits = visit_service.visits_of(db, patient_id=patient.id)
    protocols = []
    moves_all = []
    for protocol in reversed(protocol_records.protocols_of(db, patient_id=patient.id)):
        version = protocol_records.get_version(db, protocol_id=protocol.id, number=protocol.latest_version)
        moves = protocol_records.phase_changes(db, protocol_id=protocol.id)
        moves_all += [change.at for change, _ in moves]
        protocols.append((protocol, protocol_records.load_content(version), moves))  # type: ignore[arg-type]  # its latest version always exists
    svg = pain_and_minutes_svg(chart_points(patient_visits), phase_changes=moves_all, zone=clinic.timezone,
                               width=900, height=360)
    progress = summarize_progress([(visit.occurred_at, {name: getattr(visit, name) for name in MEASURE_FIELDS})
                                   for visit in patient_visits])
    html = render_template(
        "handouts/report.html", patient=patient, clinic=clinic, today=utcnow().date().isoformat(),
        therapist=therapist_name, condition=patient.condition_other or CONDITION_LABELS.get(patient.condition, ""),
        visits=patient_visits, protocols=protocols, progress=progress,
        clearances=list(reversed(clearances_of(db, patient_id=patient.id, limit=None))),
        chart="data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode(),
    )
    return html_to_pdf(html, static_root=static_root())
