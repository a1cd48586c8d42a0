"""Printing home-exercise sheets (one, a reprint, or today's batch) and the physician progress report."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import bindparam
from sqlmodel import col, select

from rehab import once, security
from rehab.db import get_session
from rehab.i18n import LANGUAGES
from rehab.models import Clinic, HandoutPrint, Patient, PortalLink, Protocol, utcnow
from rehab.request_guard import bounded_id, is_id
from rehab.services import audit, portal_links, protocol_records
from rehab.services import handouts as sheets
from rehab.services.advice.inputs import waiting_red_flags
from rehab.services.submissions import AlreadySubmitted
from rehab.views.patients import clinic_phone_missing, get_patient_or_404
from rehab.views.portal import link_url, portal_required
from rehab.views.portal_pages import stop_page

bp = Blueprint("handouts", __name__)


def _static_root() -> Path:
    return Path(current_app.static_folder or "")


def _cache_dir() -> Path:
    folder = Path(current_app.config.get("SHEET_CACHE_DIR") or Path(current_app.instance_path) / "sheet-cache")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def render_sheet(snapshot: dict[str, Any] | str | Callable[[], str], *, digest: str,
                 portal_url: str | None = None) -> bytes:
    """The PDF for a snapshot (a dict, or its stored JSON), from the disk cache when this exact sheet was
    rendered before: a cached download reads one file and never parses the snapshot.

    The cache is shared by every worker process; a sheet with a portal link is cached under a key that
    includes the link, so one patient's link never appears on another print."""
    key = digest if portal_url is None else sheets.snapshot_digest({"digest": digest, "portal_url": portal_url})
    cached = _cache_dir() / f"{key}.pdf"
    if cached.is_file():
        return cached.read_bytes()
    if callable(snapshot):  # read only on a miss: a cached download never loads the snapshot
        snapshot = snapshot()
    if isinstance(snapshot, str):
        snapshot = json.loads(snapshot)
    pdf = sheets.html_to_pdf(sheet_html(snapshot, portal_url=portal_url, inline_css=False),  # type: ignore[arg-type]
                             static_root=_static_root(), css=sheet_css(snapshot))  # type: ignore[arg-type]
    # A temporary file of its own, then renamed (atomic): a concurrent reader sees the whole file or none, and
    # two workers rendering the same sheet at once (a double click) each rename their own file; with one
    # shared temporary name, the second rename found it gone and that download failed.
    with tempfile.NamedTemporaryFile(dir=cached.parent, prefix=f"{key[:8]}.", suffix=".tmp", delete=False) as out:
        out.write(pdf)
    Path(out.name).replace(cached)
    return pdf


def sheet_html(snapshot: dict[str, Any], *, portal_url: str | None = None, inline_css: bool = True) -> str:
    """The sheet as HTML; with ``inline_css`` its CSS is inside (a whole page, as a browser would print it),
    otherwise ``sheet_css`` gives it apart (for ``html_to_pdf``, which parses it once per process)."""
    qr = sheets.qr_data_uri(portal_url) if portal_url else None
    with force_locale(snapshot["options"]["language"]):
        return render_template("handouts/sheet.html", sheet=snapshot, portal_url=portal_url, portal_qr=qr,
                               short_url=_short(portal_url), inline_css=inline_css)


def sheet_css(snapshot: dict[str, Any]) -> str:
    """The sheet's CSS for this snapshot's paper, print size and language."""
    with force_locale(snapshot["options"]["language"]):
        return render_template("handouts/sheet.css", sheet=snapshot)


def warm_up(app: Flask) -> None:
    """Parse every variant of the sheet's CSS and render two made-up sheets (no database), so the process
    starts with WeasyPrint's fonts, caches and stylesheets loaded: a worker's first sheet otherwise took
    about 0.3 s longer. gunicorn calls it in the master, before it forks the workers (rehab/gunicorn_conf.py)."""
    from datetime import date

    from rehab.services.catalogue import templates
    from rehab.services.protocols import content_from_template

    content = content_from_template(templates()["knee_oa"])
    with app.test_request_context():
        for paper in ("letter", "a4"):
            for large_print in (False, True):
                for language in LANGUAGES:
                    options = sheets.SheetOptions(paper=paper, large_print=large_print, language=language)
                    snapshot = sheets.build_sheet_snapshot(
                        patient_name="Sample Patient",
                        clinic={"name": "Clinic", "address": "Road", "phone": "555", "emergency_number": "911"},
                        therapist_name="Therapist", protocol_title="Sample", version_number=1, content=content,
                        phase_index=0, options=options, printed_on=date(2026, 1, 1), speed_unit="kmh")
                    css = sheet_css(snapshot)
                    sheets.warm_stylesheet(css, static_root=_static_root())
                    if (paper, large_print, language) in (("letter", False, "en"), ("a4", True, "es")):
                        html = sheet_html(snapshot, portal_url="https://example.invalid/p/sample", inline_css=False)
                        sheets.html_to_pdf(html, static_root=_static_root(), css=css)


def _short(url: str | None) -> str | None:
    """The printed link without the scheme, so it is shorter to type from paper."""
    return url.split("://", 1)[-1] if url else None


def pdf_response(pdf: bytes, filename: str, *, inline: bool = True) -> Response:
    disposition = "inline" if inline else "attachment"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'{disposition}; filename="{filename}"'})


def _active_protocol_or_guidance(patient: Patient) -> Protocol | None:
    protocol = protocol_records.active_protocol(get_session(), patient_id=patient.id)  # type: ignore[arg-type]
    if protocol is None:
        flash("Start a protocol before printing a home sheet: the sheet shows the protocol's current phase.", "error")
    return protocol


def new_snapshot(patient: Patient, protocol: Protocol, options: sheets.SheetOptions,
                 therapist_name: str | None = None) -> dict[str, Any]:
    db = get_session()
    version = protocol_records.get_version(db, protocol_id=protocol.id, number=protocol.latest_version)  # type: ignore[arg-type]
    clinic = g.clinic
    return sheets.build_sheet_snapshot(
        patient_name=patient.full_name,
        therapist_name=therapist_name if therapist_name is not None else (g.user.name if g.get("user") else ""),
        clinic={"name": clinic.name, "address": clinic.address, "phone": clinic.phone,
                "emergency_number": clinic.emergency_number},
        protocol_title=protocol.title, version_number=protocol.latest_version,
        content=protocol_records.load_content(version), phase_index=protocol.current_phase,  # type: ignore[arg-type]
        options=options, printed_on=utcnow().date(), speed_unit=clinic.speed_unit,
        anticoagulants=patient.anticoagulants,
    )


def _record_print(patient: Patient, protocol: Protocol, snapshot: dict[str, Any], *, source: str) -> HandoutPrint:
    record = HandoutPrint(
        patient_id=patient.id, clinic_id=patient.clinic_id, protocol_id=protocol.id,  # type: ignore[arg-type]
        protocol_version=snapshot["version_number"], phase_index=snapshot["phase_number"] - 1,
        options=json.dumps(snapshot["options"]), snapshot=json.dumps(snapshot),
        digest=sheets.snapshot_digest(snapshot), printed_by_id=g.user.id if g.get("user") else None, source=source,
    )
    get_session().add(record)
    get_session().flush()
    return record


@bp.route("/patients/<int:patient_id>/sheet", methods=["GET", "POST"])
def print_sheet(patient_id: int):  # type: ignore[no-untyped-def]
    """Choose options (defaults from the patient and the clinic), then get the PDF."""
    patient = get_patient_or_404(patient_id)
    protocol = _active_protocol_or_guidance(patient)
    if protocol is None or clinic_phone_missing():
        return redirect(url_for("patients.detail", patient_id=patient.id))
    if waiting_red_flags(get_session(), patient_ids=[patient.id]):  # type: ignore[list-item]
        return _red_flag_first(patient)
    defaults = sheets.SheetOptions(paper=g.clinic.paper_size, language=patient.language, include_next=True)
    if request.method == "GET":
        prints = get_session().exec(
            select(HandoutPrint).where(HandoutPrint.patient_id == patient.id)
            .order_by(col(HandoutPrint.printed_at).desc()).limit(50)).all()
        return render_template("handouts/options.html", patient=patient, protocol=protocol, options=defaults,
                               languages=LANGUAGES, prints=prints, loads=json.loads)
    once.claim("sheet.print", patient_id=patient.id)
    options = sheets.SheetOptions.parse(request.form, default_paper=g.clinic.paper_size,
                                        default_language=patient.language)
    snapshot = new_snapshot(patient, protocol, options)
    record = _record_print(patient, protocol, snapshot, source="clinic")
    security.record("sheet.print", patient_id=patient.id, object_type="handout_print", object_id=record.id)
    target = once.leads_to(url_for("handouts.sheet_pdf", patient_id=patient.id, print_id=record.id))
    get_session().commit()
    return redirect(target, code=303)


def _red_flag_first(patient: Patient):  # type: ignore[no-untyped-def]
    """No exercise sheet while a red flag or a fall waits: the sheet would send the patient on walking."""
    flash("A red flag or fall is not yet cleared: record what was done before printing exercises.", "error")
    return redirect(url_for("red_flags.clear", patient_id=patient.id))


def portal_url_for(patient_id: int) -> str | None:
    """The patient's live personal link, for the QR code on the sheet (re-derived; never stored)."""
    return _portal_url(portal_links.live_link(get_session(), patient_id=patient_id))


def _portal_url(link: PortalLink | None) -> str | None:
    if link is None or portal_links.link_status(link, utcnow()) != "ok":
        return None
    return link_url(portal_links.derive_token(current_app.secret_key, link))  # type: ignore[arg-type]


# A printed sheet's download, the most frequent request after a print: the print (without its snapshot, which
# only a first render reads), scoped to the clinic, and the patient's live link for the QR code, in one query.
_PRINT_FOR_DOWNLOAD = (
    select(HandoutPrint.id, HandoutPrint.digest, HandoutPrint.printed_at, PortalLink)
    .join(Patient, Patient.id == HandoutPrint.patient_id)  # type: ignore[arg-type]
    .outerjoin(PortalLink, (PortalLink.patient_id == Patient.id) & col(PortalLink.revoked_at).is_(None))  # type: ignore[arg-type]
    .where(HandoutPrint.id == bindparam("print_id"), HandoutPrint.patient_id == bindparam("patient_id"),
           Patient.clinic_id == bindparam("clinic_id"))
    .order_by(col(PortalLink.id).desc()).limit(1)
)


@bp.get("/patients/<int:patient_id>/sheets/<int:print_id>.pdf")
def sheet_pdf(patient_id: int, print_id: int):  # type: ignore[no-untyped-def]
    """A printed sheet as PDF: rendered the first time, then served from the cache."""
    db = get_session()
    row = db.exec(_PRINT_FOR_DOWNLOAD, params={"print_id": print_id, "patient_id": patient_id,  # type: ignore[call-overload]
                                               "clinic_id": g.clinic.id}).first()
    if row is None:
        get_patient_or_404(patient_id)  # another clinic's patient: recorded as a denial
        abort(404)
    _, digest, printed_at, link = row
    security.record_read("sheet.download", patient_id=patient_id, object_type="handout_print", object_id=print_id)

    def snapshot() -> str:
        return db.exec(select(HandoutPrint.snapshot).where(HandoutPrint.id == print_id)).one()

    pdf = render_sheet(snapshot, digest=digest, portal_url=_portal_url(link))
    return pdf_response(pdf, sheets.sheet_filename(printed_at))


@bp.post("/p/sheet")
@portal_required
def portal_sheet():  # type: ignore[no-untyped-def]
    """The patient downloads their own home sheet (their language, the clinic's paper size), recorded."""
    stopped = stop_page()
    if stopped is not None:  # no exercise sheet while a red flag or a fall waits for a therapist
        return stopped
    state = g.portal
    patient, protocol = state.patient, state.protocol
    if not g.clinic.phone.strip():
        flash(_("Your sheet cannot be made right now. Please ask your clinic for a paper copy."), "error")
        return redirect(url_for("portal.home"))
    g.user = None
    options = sheets.SheetOptions(paper=g.clinic.paper_size, language=g.patient_language or patient.language)
    snapshot = new_snapshot(patient, protocol, options, therapist_name="")
    # The same sheet asked for again the same day (its snapshot holds the date) is the print made before: a
    # patient link cannot fill the therapist's print history, however often or fast it asks.
    same_sheet = f"sheet-{patient.id}-{sheets.snapshot_digest(snapshot)[:48]}"
    try:
        once.claim("portal.sheet", key=same_sheet)
    except AlreadySubmitted as repeat:
        return redirect(repeat.earlier.result, code=303)
    record = _record_print(patient, protocol, snapshot, source="portal")
    audit.record_event(get_session(), key=security.audit_key(), action="portal.sheet", clinic_id=patient.clinic_id,
                       patient_id=patient.id, object_type="handout_print", object_id=record.id)
    target = once.leads_to(url_for("handouts.portal_sheet_pdf", print_id=record.id))
    get_session().commit()
    return redirect(target, code=303)


@bp.get("/p/sheet/<int:print_id>.pdf")
@portal_required
def portal_sheet_pdf(print_id: int):  # type: ignore[no-untyped-def]
    record = get_session().get(HandoutPrint, print_id)
    if record is None or record.patient_id != g.portal.patient.id:
        abort(404)  # another patient's sheet is simply not found
    return pdf_response(render_sheet(record.snapshot, digest=record.digest,
                                     portal_url=portal_url_for(record.patient_id)),
                        sheets.sheet_filename(record.printed_at), inline=False)


@bp.post("/patients/<int:patient_id>/sheets/<int:print_id>")
def reprint(patient_id: int, print_id: int):  # type: ignore[no-untyped-def]
    """An earlier sheet exactly as it was printed (from its snapshot); the reprint is recorded too."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("sheet.reprint", patient_id=patient.id)
    earlier = db.get(HandoutPrint, print_id)
    if earlier is None or earlier.patient_id != patient.id:
        abort(404)
    if clinic_phone_missing():
        return redirect(url_for("handouts.print_sheet", patient_id=patient.id))
    if waiting_red_flags(db, patient_ids=[patient.id]):  # type: ignore[list-item]
        return _red_flag_first(patient)
    protocol = db.get(Protocol, earlier.protocol_id)
    snapshot = json.loads(earlier.snapshot)
    if not sheets.reprintable(snapshot):
        flash("This sheet was printed before its treadmill instructions and emergency box were corrected. "
              "Print a new sheet instead.", "error")
        return redirect(url_for("handouts.print_sheet", patient_id=patient.id))
    record = _record_print(patient, protocol, snapshot, source="reprint")  # type: ignore[arg-type]
    record.printed_at = utcnow()
    security.record("sheet.reprint", patient_id=patient.id, object_type="handout_print", object_id=record.id)
    target = once.leads_to(url_for("handouts.sheet_pdf", patient_id=patient.id, print_id=record.id))
    db.commit()
    return redirect(target, code=303)


@bp.post("/dashboard/sheets")
def batch():  # type: ignore[no-untyped-def]
    """One PDF with the sheets of the chosen patients (default: everyone with a visit today)."""
    from rehab.services.dashboard import build_dashboard

    db = get_session()
    if clinic_phone_missing():
        return redirect(url_for("dashboard.index"))
    once.claim("sheet.batch")
    chosen = {bounded_id(value) for value in request.form.getlist("patient_id") if is_id(value)}
    if not chosen:
        board = build_dashboard(db, clinic_id=g.clinic.id, zone=g.clinic.timezone, now=utcnow())
        chosen = {visit.patient_id for visit in board.today}
    rows = db.exec(
        select(Patient, Protocol).join(Protocol, (Protocol.patient_id == Patient.id) & (Protocol.status == "active"))
        .where(Patient.clinic_id == g.clinic.id, col(Patient.id).in_(chosen), col(Patient.archived_at).is_(None))
        .order_by(Patient.last_name, Patient.first_name)
    ).all()
    waiting = waiting_red_flags(db, patient_ids=[patient.id for patient, _ in rows])  # type: ignore[misc]
    if waiting:
        names = ", ".join(patient.full_name for patient, _ in rows if patient.id in waiting)
        flash(f"No sheet for {names}: a red flag or fall is not yet cleared.", "error")
        rows = [(patient, protocol) for patient, protocol in rows if patient.id not in waiting]
    if not rows:
        if not waiting:
            flash("No sheets to print: nobody with an active protocol was seen today.", "info")
        return redirect(url_for("dashboard.index"))
    printed = []
    for patient, protocol in rows:
        options = sheets.SheetOptions(paper=g.clinic.paper_size, language=patient.language)
        record = _record_print(patient, protocol, new_snapshot(patient, protocol, options), source="batch")
        security.record("sheet.print", patient_id=patient.id, object_type="handout_print", object_id=record.id)
        printed.append(str(record.id))
    # The sheets are downloaded from an address of their own: a repeat of this form leads there again.
    target = once.leads_to(url_for("handouts.batch_pdf", prints=",".join(printed)))
    db.commit()
    return redirect(target, code=303)


@bp.get("/dashboard/sheets.pdf")
def batch_pdf():  # type: ignore[no-untyped-def]
    """One PDF with the sheets of a batch print (``prints``: their ids), each as it was printed."""
    ids = [int(value) for value in request.args.get("prints", "").split(",")[:200] if value.isdigit()]
    db = get_session()
    records = db.exec(select(HandoutPrint).join(Patient, Patient.id == HandoutPrint.patient_id)  # type: ignore[arg-type]
                      .where(col(HandoutPrint.id).in_(ids), Patient.clinic_id == g.clinic.id)
                      .order_by(col(HandoutPrint.id))).all()
    if not records:
        abort(404)
    pages = []
    for record in records:
        snapshot = json.loads(record.snapshot)
        security.record_read("sheet.download", patient_id=record.patient_id, object_type="handout_print",
                             object_id=record.id)
        pages.append((sheet_html(snapshot, portal_url=portal_url_for(record.patient_id), inline_css=False),
                      sheet_css(snapshot)))
    pdf = sheets.merge_pdfs(pages, static_root=_static_root())
    return pdf_response(pdf, sheets.sheet_filename(records[0].printed_at, kind="home-exercises-batch"))


@bp.get("/patients/<int:patient_id>/report.pdf")
def report(patient_id: int):  # type: ignore[no-untyped-def]
    """The progress report for the referring physician: course of care, chart, measures, visits."""
    patient = get_patient_or_404(patient_id)
    pdf = report_pdf(patient, clinic=g.clinic, therapist_name=g.user.name)
    security.record_read("report.print", patient_id=patient.id, object_type="patient", object_id=patient.id)
    return pdf_response(pdf, sheets.sheet_filename(utcnow(), kind="progress-report"))


def report_pdf(patient: Patient, *, clinic: Clinic, therapist_name: str) -> bytes:
    """The progress report as PDF (also attached to the FHIR export as a DocumentReference)."""
    import base64

    from rehab.services import visits as visit_service
    from rehab.services.advice.decisions import clearances_of
    from rehab.services.baseline_change import summarize_progress
    from rehab.services.charts import pain_and_minutes_svg
    from rehab.services.patient_page import MEASURE_FIELDS, chart_points
    from rehab.vocabulary import CONDITION_LABELS

    db = get_session()
    patient_visits = visit_service.visits_of(db, patient_id=patient.id)  # type: ignore[arg-type]
    protocols = []
    moves_all = []
    for protocol in reversed(protocol_records.protocols_of(db, patient_id=patient.id)):  # type: ignore[arg-type]
        version = protocol_records.get_version(db, protocol_id=protocol.id, number=protocol.latest_version)  # type: ignore[arg-type]
        moves = protocol_records.phase_changes(db, protocol_id=protocol.id)  # type: ignore[arg-type]
        moves_all += [change.at for change, _ in moves]
        protocols.append((protocol, protocol_records.load_content(version), moves))  # type: ignore[arg-type]
    svg = pain_and_minutes_svg(chart_points(patient_visits), phase_changes=moves_all, zone=clinic.timezone,
                               width=900, height=360)
    progress = summarize_progress([(visit.occurred_at, {name: getattr(visit, name) for name in MEASURE_FIELDS})
                                   for visit in patient_visits])
    html = render_template(
        "handouts/report.html", patient=patient, clinic=clinic, today=utcnow().date().isoformat(),
        therapist=therapist_name, condition=patient.condition_other or CONDITION_LABELS.get(patient.condition, ""),
        visits=patient_visits, protocols=protocols, progress=progress,
        clearances=list(reversed(clearances_of(db, patient_id=patient.id, limit=None))),  # type: ignore[arg-type]
        chart="data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode(),
    )
    return sheets.html_to_pdf(html, static_root=_static_root())
