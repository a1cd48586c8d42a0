"""A patient's FHIR Bundle for the therapist (the patient page's "Download FHIR bundle"), the PDFs it
attaches, and the clinic-wide NDJSON export behind ``flask --app rehab fhir-export``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from fhir.resources.R4B.resource import Resource
from flask import Blueprint, Flask, Response, current_app, g, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import col, select

from rehab import db, security
from rehab.models import Clinic, HandoutPrint, Patient, utcnow
from rehab.services.fhir import bulk, common, everything
from rehab.views.patients import get_patient_or_404

bp = Blueprint("fhir_bundle", __name__)


def pdf_renderers(*, therapist_name: str) -> tuple[Callable[[HandoutPrint], bytes], Callable[[Patient], bytes | None]]:
    """The sheet and report renderers of rehab.printing, for DocumentReferences (needs a request context, for
    the patient's link on the sheet, and ``g.clinic``)."""
    from rehab import printing
    from rehab.patient_links import printed_link
    from rehab.services import visits

    def sheet(record: HandoutPrint) -> bytes:
        link = printing.live_opening_link(db.get_session(), patient_id=record.patient_id, now=utcnow())
        return printing.render_sheet(record.snapshot, digest=record.digest, link=printed_link(link))

    def report(patient: Patient) -> bytes | None:
        if not visits.latest_visits(db.get_session(), patient_id=patient.id, limit=1):
            return None  # no report without visits, as on the patient page
        return printing.report_pdf(db.get_session(), patient, clinic=g.clinic, therapist_name=therapist_name)

    return sheet, report


def _context(base_url: str | None = None) -> common.Context:
    return common.Context(base_url=base_url or url_for("fhir.metadata", _external=True).removesuffix("/metadata"),
                          identifier_system=current_app.config["FHIR_IDENTIFIER_SYSTEM"])


@bp.get("/patients/<int:patient_id>/fhir-bundle.json")
def download(patient_id: int) -> ResponseReturnValue:
    """The patient's whole record as a FHIR collection Bundle, sheets and report attached."""
    patient = get_patient_or_404(patient_id)
    sheet, report = pdf_renderers(therapist_name=g.user.name)
    now = utcnow()
    resources = everything.patient_resources(db.get_session(), _context(), patient, g.clinic, render_sheet=sheet,
                                             render_report=report, now=now)
    security.record_read("fhir.download", patient_id=patient.id, object_type="patient", object_id=patient.id)
    body = json.dumps(common.as_json(common.collection(_context(), resources, now=now)), ensure_ascii=False)
    filename = f"patient-{patient.id}-fhir-{now.date().isoformat()}.json"
    return Response(body, mimetype=common.FHIR_JSON,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def export_clinic(app: Flask, clinic: Clinic, folder: Path, *, base_url: str, with_pdfs: bool) -> dict[str, int]:
    """Every patient of one clinic, as NDJSON files in ``folder`` (the CLI's ``fhir-export``)."""
    # A fresh app context, whose session only reads (so it never takes SQLite's write lock) and closes with it.
    with app.app_context(), app.test_request_context(base_url=base_url.removesuffix("/fhir")):
        g.clinic = clinic
        session = db.get_session()  # also what the renderers' get_session() returns
        sheet, report = pdf_renderers(therapist_name="rehab export") if with_pdfs else (None, None)
        patient_ids = session.exec(select(Patient.id).where(Patient.clinic_id == clinic.id)
                                   .order_by(col(Patient.id))).all()

        def resources() -> Iterator[Resource]:
            for patient_id in patient_ids:
                patient = session.get(Patient, patient_id)
                yield from everything.patient_resources(session, _context(base_url), patient, clinic,  # type: ignore[arg-type]  # an id just read
                                                        render_sheet=sheet, render_report=report, now=utcnow())
                session.expunge_all()  # one patient's rows at a time in memory

        return bulk.write_ndjson(resources(), folder)
