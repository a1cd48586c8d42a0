"""The patient's own home sheet: made from the active protocol in their language, then downloaded as PDF.

Rendering, the cache and the print records are in ``rehab.printing``; this module only routes. The same sheet
asked for again the same day is the print made before, so a patient link cannot fill the therapist's print
history however often or fast it asks.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, url_for
from flask_babel import gettext as _

from rehab import once, printing, security
from rehab.db import get_session
from rehab.models import HandoutPrint, utcnow
from rehab.patient_links import printed_link
from rehab.printing.snapshot import SheetOptions, sheet_filename, snapshot_digest
from rehab.services import audit
from rehab.services.submissions import AlreadySubmitted
from rehab.views.portal import current
from rehab.views.portal.blueprint import bp
from rehab.views.portal.pages import stop_page


@bp.post("/sheet")
def sheet():  # type: ignore[no-untyped-def]
    """The patient downloads their own home sheet (their language, the clinic's paper size), recorded."""
    stopped = stop_page()
    if stopped is not None:  # no exercise sheet while a red flag or a fall waits for a therapist
        return stopped
    state = current.state()
    patient, protocol = state.patient, state.protocol
    assert patient is not None and protocol is not None  # the guard let only a live link with a protocol in
    if not g.clinic.phone.strip():
        flash(_("Your sheet cannot be made right now. Please ask your clinic for a paper copy."), "error")
        return redirect(url_for("portal.home"))
    # The sheet in the patient's language and text size on the portal: someone reading Large on the phone
    # gets Large print on paper.
    options = SheetOptions(paper=g.clinic.paper_size, language=g.patient_language or patient.language,
                           large_print=g.get("text_size") == "large")
    db = get_session()
    snapshot = printing.new_snapshot(db, patient, protocol, options, clinic=g.clinic, printed_by_name=None)
    same_sheet = f"sheet-{patient.id}-{snapshot_digest(snapshot)[:48]}"
    try:
        once.claim("portal.sheet", key=same_sheet)
    except AlreadySubmitted as repeat:
        return redirect(repeat.earlier.result, code=303)
    record = printing.record_print(db, patient, protocol, snapshot, source="portal", printed_by_id=None)
    audit.record_event(db, key=security.audit_key(), action="portal.sheet", clinic_id=patient.clinic_id,
                       patient_id=patient.id, object_type="handout_print", object_id=record.id)
    target = once.leads_to(url_for("portal.sheet_pdf", print_id=record.id))
    return redirect(target, code=303)


@bp.get("/sheet/<int:print_id>.pdf")
def sheet_pdf(print_id: int):  # type: ignore[no-untyped-def]
    """A sheet the patient made, as a download; another patient's sheet is simply not found."""
    db = get_session()
    record = db.get(HandoutPrint, print_id)
    if record is None or record.patient_id != current.patient_id():
        abort(404)
    link = printed_link(printing.live_opening_link(db, patient_id=record.patient_id, now=utcnow()))
    pdf = printing.render_sheet(record.snapshot, digest=record.digest, link=link)
    return printing.pdf_response(pdf, sheet_filename(record.printed_at), inline=False)
