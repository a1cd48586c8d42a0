"""Logging a home session, and correcting it within 24 hours (the earlier answers are kept for the therapist).

A red flag or a fall alerts the therapist at once and stops the exercises until a therapist clears it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _

from rehab import once, security
from rehab.db import get_session
from rehab.models import HomeLog, utcnow
from rehab.request_guard import bounded_id
from rehab.services import home_logs, home_plan, submissions
from rehab.services.edits import StaleEdit
from rehab.services.submissions import AlreadySubmitted
from rehab.views import refuse
from rehab.views.portal import current, guided, offline
from rehab.views.portal.blueprint import bp
from rehab.views.portal.current import audit_event
from rehab.views.portal.layout import page
from rehab.vocabulary import RED_FLAG_PATIENT, SORENESS_PATIENT


def _form_page(values: Any, errors: dict[str, str], *, entry: HomeLog | None = None, status: int = 200,
               stale: bool = False, guided_session: bool = False):  # type: ignore[no-untyped-def]
    today = current.today()
    recent = [log for log in home_logs.home_logs_of(get_session(), patient_id=current.patient_id(), limit=5)
              if home_logs.can_correct(log, utcnow())] if entry is None else []
    return page("portal/log.html", values=values, errors={name: _(text) for name, text in errors.items()},
                entry=entry, form_id=once.posted_form_id() if entry is None else "", soreness=SORENESS_PATIENT,
                guided_session=guided_session,
                flags=RED_FLAG_PATIENT, today=today, stale=stale, recent=recent,
                earliest=(today - timedelta(days=home_logs.LOG_DAYS_BACK)).isoformat()), status


# Sent by static/js/offline-queue.js when it sends a log kept on the phone: the answer is then JSON, not a page.
QUEUED_HEADER = "X-Rehab-Queued"


def _queued() -> bool:
    return request.headers.get(QUEUED_HEADER) == "1"


@bp.route("/log", methods=["GET", "POST"])
def log():  # type: ignore[no-untyped-def]
    """Log a home session. A red flag or a fall stops the exercises and alerts the therapist at once.

    The form's one-time id (``form_id``) is the log's idempotency key, also for a log queued on the phone with
    no signal and sent later (static/js/offline-queue.js keeps the key with the log and sends it every time):
    the key is claimed in the same transaction that inserts the log, and ``form_submission.form_id`` is unique,
    so the database lets exactly one transaction with that key commit. A resend after a lost answer, or two
    sends at once (the page and the background sync), find the first's row and are answered "already saved";
    nothing is checked first and inserted after, so no timing makes a second row."""
    if request.method == "GET":
        once.page_form_id()  # in the address: Back then Send shows the saved session, and alerts only once
        # The guided session's minutes and stop reason, put in as given (checked like typing when sent).
        prefill = guided.log_prefill(request.args)
        return _form_page({"session_date": current.today().isoformat(), **prefill}, {},
                          guided_session=bool(prefill))
    queued = _queued()
    if queued and request.form.get("owner") != offline.portal_owner():
        # Kept on a shared phone for another patient: never saved into this one's record (the phone keeps it).
        return jsonify(outcome="other_patient"), 409
    form, errors = home_logs.validate_home_log(home_logs.home_log_data(request.form), today=current.today())
    if form is None:
        if queued:
            return jsonify(outcome="invalid", errors={name: _(text) for name, text in errors.items()}), 422
        return _form_page(request.form, errors, status=422)
    db = get_session()
    state = current.state()
    try:
        once.claim("portal.log.create")
    except AlreadySubmitted as repeat:
        if not queued:
            raise
        return _queued_repeat(repeat)
    content, index = current.phase()
    now = utcnow()
    earlier = list(current.advice_inputs(now).sessions)
    entry = home_logs.create_home_log(db, patient=state.patient, protocol=state.protocol, form=form,  # type: ignore[arg-type]
                                      link_id=state.link.id, now=now)  # type: ignore[union-attr]
    home_logs.raise_home_alerts(
        db, log=entry, ceiling=home_logs.home_ceiling(content.phases[index]), now=now,
        previous=home_logs.previous_report(earlier, before=home_logs.session_time(entry)))
    unprescribed = home_plan.clinic_only_alert(entry, phase=content.phases[index], phase_number=index + 1, now=now)
    if unprescribed is not None:
        db.add(unprescribed)
    audit_event("portal.log.create", patient_id=entry.patient_id, object_type="home_log", object_id=entry.id)
    target = once.leads_to(url_for("portal.entry", log_id=entry.id))
    flash(_("Thank you. Your session is saved."), "success")
    if queued:
        stop = entry.red_flags or entry.fell  # the stop screen comes next, as after a log sent from the form
        return jsonify(outcome="saved", url=target, stop_url=url_for("portal.home") if stop else None), 201
    return redirect(target)


def _queued_repeat(repeat: AlreadySubmitted):  # type: ignore[no-untyped-def]
    """A queued log sent again (its answer was lost, or two sends crossed): "already saved", and where it is."""
    earlier = repeat.earlier
    if not submissions.same_sender(earlier, clinic_id=None, user_id=None, patient_id=current.patient_id()):
        return jsonify(outcome="form_used"), 409
    return jsonify(outcome="already_saved", url=earlier.result or url_for("portal.home")), 200


def _own_entry(log_id: int) -> HomeLog:
    entry = home_logs.get_home_log(get_session(), patient_id=current.patient_id(), log_id=log_id)
    if entry is None:
        security.record_denial("portal.log.not_found", patient_id=current.patient_id(), object_type="home_log",
                               object_id=log_id)
        abort(404)
    return entry


@bp.get("/log/<int:log_id>")
def entry(log_id: int):  # type: ignore[no-untyped-def]
    """One saved entry; with a red flag or a fall, the "stop and call the clinic" box comes first."""
    saved = _own_entry(log_id)
    return page("portal/entry.html", entry=saved, soreness=SORENESS_PATIENT, flags=RED_FLAG_PATIENT,
                can_correct=home_logs.can_correct(saved, utcnow()))


@bp.route("/log/<int:log_id>/edit", methods=["GET", "POST"])
def edit(log_id: int):  # type: ignore[no-untyped-def]
    """Correct an own entry within 24 hours; the earlier answers are kept for the therapist."""
    saved = _own_entry(log_id)
    if not home_logs.can_correct(saved, utcnow()):
        return page("portal/message.html", kind="too_late"), 403
    if request.method == "GET":
        return _form_page(_values_of(saved), {}, entry=saved)
    form, errors = home_logs.validate_home_log(home_logs.home_log_data(request.form), today=current.today())
    if form is None:
        return _form_page(request.form, errors, entry=saved, status=422)
    db = get_session()
    once.claim("portal.log.update")
    once.leads_to(url_for("portal.entry", log_id=saved.id))
    now = utcnow()
    try:
        changes = home_logs.correct_home_log(db, log=saved, form=form, now=now,
                                             seen_version=request.form.get("version", 0, type=bounded_id))
    except StaleEdit:  # refused: nothing of this request is kept, the form's one-time id neither
        refuse(_form_page(_values_of(_own_entry(log_id)), {}, entry=_own_entry(log_id), status=409, stale=True))
    except home_logs.TooLate:
        refuse(page("portal/message.html", kind="too_late"), 403)
    if changes:
        content, index = current.phase()
        earlier = [report for report in current.advice_inputs(now).sessions
                   if report.at != home_logs.session_time(saved)]
        home_logs.raise_home_alerts(
            db, log=saved, ceiling=home_logs.home_ceiling(content.phases[index]), now=now,
            previous=home_logs.previous_report(earlier, before=home_logs.session_time(saved)))
        audit_event("portal.log.update", patient_id=saved.patient_id, object_type="home_log", object_id=saved.id)
    flash(_("Your changes are saved.") if changes else _("Nothing was changed."), "success")
    return redirect(url_for("portal.entry", log_id=saved.id))


def _values_of(saved: HomeLog) -> dict[str, Any]:
    values: dict[str, Any] = saved.model_dump()
    values.update(session_date=saved.session_date.isoformat(), minutes=f"{saved.minutes:g}",
                  stumbled="yes" if saved.stumbled else "no", fell="yes" if saved.fell else "no")
    return values
