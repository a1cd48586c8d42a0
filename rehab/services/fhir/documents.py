"""Home-exercise sheets and progress reports as DocumentReference, with the PDF attached.

The PDFs come from the app's own renderer (rehab/printing); this module only wraps them."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from fhir.resources.R4B.resource import Resource

from rehab.models import HandoutPrint
from rehab.printing.snapshot import sheet_filename
from rehab.services.fhir.codes import local_concept
from rehab.services.fhir.common import instant, ref, validated


def _document(resource_id: str, patient_id: int, kind: str, when: datetime, pdf: bytes, title: str,
              description: str) -> Resource:
    return validated({
        "resourceType": "DocumentReference", "id": resource_id, "status": "current", "docStatus": "final",
        "type": local_concept(kind), "subject": ref("Patient", patient_id), "date": instant(when),
        "description": description,
        "content": [{"attachment": {
            "contentType": "application/pdf", "language": "en", "title": title, "creation": instant(when),
            "size": len(pdf), "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode(),  # noqa: S324 (FHIR's SHA-1)
            "data": base64.b64encode(pdf).decode(),
        }}],
    })


def sheet_document(record: HandoutPrint, pdf: bytes) -> Resource:
    """One printed home sheet, exactly as it was printed."""
    return _document(f"sheet-{record.id}", record.patient_id, "home-sheet", record.printed_at, pdf,
                     sheet_filename(record.printed_at),
                     f"Home-exercise sheet, protocol version {record.protocol_version}, "
                     f"phase {record.phase_index + 1} ({record.source})")


def report_document(patient_id: int, when: datetime, pdf: bytes) -> Resource:
    """The progress report for the referring physician, as of ``when``."""
    return _document(f"report-{patient_id}", patient_id, "progress-report", when, pdf,
                     sheet_filename(when, kind="progress-report"), "Progress report for the referring physician")
