"""A form sent twice applies once: the web side of ``rehab.services.submissions``.

Every form that posts carries a one-time ``form_id`` (the ``csrf`` macros in templates/macros/forms.html and
templates/portal/_macros.html write it next to the CSRF token). A state-changing view calls ``claim`` before
its first write and ``leads_to`` with where it sends the user; a repeat of the same form never reaches the
view's writes: it is answered with the "Already saved" page, which links to where the first post led.

Pages are sent with ``Cache-Control: no-store`` (they hold patient data), so the browser's Back never shows a
page from memory: it fetches the page again, which renders a new id, and then refills the fields with what was
typed. Save there would be a new form to the server. Two things keep the first id instead:

- Forms that create a record (a visit, a patient, a home session) keep their id in the page's URL
  (``page_form_id``): Back shows the same form, and once that form was saved, what it saved.
- Every other form's id, once sent, is kept in the page's history entry by static/js/forms.js, which gives it
  back to the form when the page is reached again by Back or Forward; Save then shows "Already saved".
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, g, make_response, redirect, render_template, request, url_for

from rehab.db import get_session
from rehab.models import FormSubmission, utcnow
from rehab.services import submissions
from rehab.services.submissions import AlreadySubmitted

FIELD = "form_id"
URL_ARG = "form"

# What the "Already saved" page offers, by the action the first post did (default: "See what was saved").
LINK_TEXT = {
    "visit.create": "See the saved visit and its advice",
    "patient.create": "Open the patient",
    "protocol.create": "Open the protocol",
    "protocol.phase": "See the protocol's phase",
    "sheet.print": "Open the printed sheet",
    "sheet.reprint": "Open the printed sheet",
    "sheet.batch": "Open the printed sheets",
    "report.print": "Open the printed report",
    "report.reprint": "Open the printed report",
    "portal.link.issue": "See the patient's link",
    "portal.link.rotate": "See the patient's link",
    "assessment.create": "See the patient's fall-risk screen",
    "assessment.remove": "See the patient's fall-risk screen",
    "questionnaire.send": "See the patient's questionnaires",
    "questionnaire.total": "See the patient's questionnaires",
    "red_flag.clear": "See the patient's advice",
    "clinic.create": "See the new clinic's members",
    "membership.add": "See the clinic's members",
    "membership.change": "See the clinic's members",
}


def init_app(app: Flask) -> None:
    app.add_template_global(submissions.new_form_id, "new_form_id")
    app.register_error_handler(AlreadySubmitted, already_saved)


def _sender() -> dict[str, Any]:
    """Who is posting: a therapist in their clinic, or a patient through their link (``g.portal``)."""
    portal = g.get("portal")
    if g.get("user") is None and portal is not None and portal.patient is not None:
        return {"clinic_id": portal.patient.clinic_id, "user_id": None, "patient_id": portal.patient.id}
    return {"clinic_id": g.clinic.id if g.get("clinic") is not None else None,
            "user_id": g.user.id if g.get("user") is not None else None, "patient_id": None}


def claim(action: str, *, patient_id: int | None = None, key: str | None = None, leads_to: str = "") -> FormSubmission:
    """Claim the posted form's id for ``action`` in the request's transaction, before anything else is written.

    A post without a well-formed id (a page from before this check, a hand-made request) is refused with 400
    and changes nothing; one whose form was already applied raises AlreadySubmitted (see ``already_saved``).
    ``key`` replaces the form's id where what is asked for decides the repeat (the same sheet, the same day).
    ``leads_to`` is where the form leads when that is known before it is applied: it is written with the claim
    (one UPDATE fewer than calling the function ``leads_to`` afterwards)."""
    form_id = key if key is not None else request.form.get(FIELD, "")
    if not submissions.is_form_id(form_id):
        abort(400)
    sender = _sender()
    row = submissions.claim(get_session(), form_id=form_id, action=action, now=utcnow(),
                            clinic_id=sender["clinic_id"], user_id=sender["user_id"],
                            patient_id=patient_id if patient_id is not None else sender["patient_id"],
                            result=leads_to)
    g.form_submission = row
    return row


def raise_if_applied() -> None:
    """For a view that refuses an out-of-date form before it writes: when it is this very form sent again, the
    answer is "Already saved" (AlreadySubmitted), not "someone changed it". Only reads."""
    form_id = request.form.get(FIELD, "")
    earlier = submissions.find(get_session(), form_id=form_id) if submissions.is_form_id(form_id) else None
    if earlier is not None:
        raise AlreadySubmitted(earlier)


def leads_to(target: str) -> str:
    """Remember where the claimed form led (a repeat links there); call it before the commit. Returns target."""
    row: FormSubmission | None = g.get("form_submission")
    if row is not None:
        row.result = target[:300]
        get_session().add(row)
    return target


def posted_form_id() -> str:
    """The id of the form on this page: the posted one (a page shown again with errors keeps it), or the URL's."""
    return request.form.get(FIELD) or request.args.get(URL_ARG, "")


def page_form_id() -> str:
    """For a page whose form creates a record: its one-time id, carried in the URL.

    Without one, the browser is sent to the same URL with a new id. With an id whose form was already saved,
    the page is the "Already saved" answer (so Back, then Save, cannot save it twice)."""
    form_id = request.args.get(URL_ARG, "")
    if not submissions.is_form_id(form_id):
        values: dict[str, Any] = {**(request.view_args or {}), **request.args.to_dict(),
                                  URL_ARG: submissions.new_form_id()}
        abort(redirect(url_for(request.endpoint or "", **values)))
    earlier = submissions.find(get_session(), form_id=form_id)
    if earlier is not None:
        abort(make_response(already_saved(AlreadySubmitted(earlier))))
    return form_id


def already_saved(error: AlreadySubmitted) -> Any:
    """What a repeated form is answered with: what the first post did, and a link to it. Nothing is changed.

    Only its sender is shown where it led; anyone else (who could only have the id by copying the form) is
    told that the form was used."""
    earlier = error.earlier
    sender = _sender()
    mine = submissions.same_sender(earlier, clinic_id=sender["clinic_id"], user_id=sender["user_id"],
                                   patient_id=sender["patient_id"])
    if sender["user_id"] is None and sender["patient_id"] is not None:
        from rehab.views.portal.layout import page  # the portal's own layout and language

        return page("portal/message.html", kind="already_saved" if mine else "form_used",
                    result=earlier.result if mine else ""), (200 if mine else 409)
    return render_template("already_saved.html", earlier=earlier if mine else None,
                           link_text=LINK_TEXT.get(earlier.action, "See what was saved")), (200 if mine else 409)
