"""The patient's own home sheet: made from the active protocol in their language, then downloaded as PDF (made by
a render worker while the phone waits on its waiting page, through the same code as the therapist's sheet).

Rendering, the cache and the print records are in ``rehab.printing``; this module only routes. The same sheet
asked for again the same day is the print made before, so a patient link cannot fill the therapist's print
history however often or fast it asks.
"""

from __future__ import annotations

from flask import Response, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from rehab import once, printing, security
from rehab.db import get_session
from rehab.models import HandoutPrint, utcnow
from rehab.patient_links import printed_link
from rehab.printing import queue, responses
from rehab.printing.sheets import PrintedLink, sheet_cache_key
from rehab.printing.snapshot import SheetOptions, sheet_filename, snapshot_digest
from rehab.services import audit
from rehab.services.submissions import AlreadySubmitted
from rehab.views.portal import current
from rehab.views.portal.blueprint import bp
from rehab.views.portal.layout import page
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


def _own_sheet(print_id: int) -> tuple[HandoutPrint, PrintedLink | None, str]:
    """A sheet the patient made, the live link it prints and its cache key; another patient's is simply not
    found."""
    db = get_session()
    record = db.get(HandoutPrint, print_id)
    if record is None or record.patient_id != current.patient_id():
        abort(404)
    link = printed_link(printing.live_opening_link(db, patient_id=record.patient_id, now=utcnow()))
    return record, link, sheet_cache_key(record.digest, link)


def _answer(print_id: int, cache_key: str) -> dict[str, object]:
    return queue.waiting_answer(cache_key, url_for("portal.sheet_pdf", print_id=print_id))


@bp.get("/sheet/<int:print_id>.pdf")
def sheet_pdf(print_id: int):  # type: ignore[no-untyped-def]
    """A sheet the patient made, as a download from the cache; the first time, a render worker makes it while
    the phone waits on the waiting page, as the therapist's sheet does."""
    record, link, cache_key = _own_sheet(print_id)
    waiting = responses.queued_or_none(
        cache_key, enqueue=lambda: queue.enqueue_sheet(print_id=print_id, patient_id=record.patient_id,
                                                       link_base=request.url_root, cache_key=cache_key),
        waiting_url=url_for("portal.sheet_waiting", print_id=print_id))
    if waiting is not None:
        return waiting
    pdf = printing.render_sheet(record.snapshot, digest=record.digest, link=link)
    return printing.pdf_response(pdf, sheet_filename(record.printed_at), inline=False)


@bp.get("/sheet/<int:print_id>/waiting")
def sheet_waiting(print_id: int) -> str:
    """"Your sheet is being prepared…", in big plain words, until the sheet opens by itself; if printing is not
    running, it says so and offers the clinic's phone instead of leaving the patient waiting. Once the sheet is
    made it says so with a button to open it (a download: the page stays, unlike the therapist's)."""
    _, _, cache_key = _own_sheet(print_id)
    return page("portal/sheet_waiting.html", answer=_answer(print_id, cache_key),
                state_url=url_for("portal.sheet_state", print_id=print_id))


@bp.get("/sheet/<int:print_id>/state")
def sheet_state(print_id: int) -> Response:
    """The waiting page's poll: whether the sheet is made."""
    _, _, cache_key = _own_sheet(print_id)
    return responses.answer_json(_answer(print_id, cache_key))
