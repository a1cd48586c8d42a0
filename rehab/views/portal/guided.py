"""The guided session (a player that times today's home dose and speaks its cues), and the next morning's
"How is your knee this morning?" asked on the patient's next visit to their page.

The player page carries its whole plan and every word it says, translated here, so the session runs in the
browser with no request until the log form opens at the end. A stopped patient sees "stop", never a session.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from rehab import once, security
from rehab.db import get_session
from rehab.models import utcnow
from rehab.request_guard import bounded_id
from rehab.services import home_logs
from rehab.services.catalogue import exercises
from rehab.services.edits import StaleEdit
from rehab.services.session_plan import Segment, SegmentKind, session_plan
from rehab.translation import N_
from rehab.views.portal import current
from rehab.views.portal.blueprint import bp
from rehab.views.portal.current import audit_event
from rehab.views.portal.layout import page
from rehab.views.portal.pages import stop_page
from rehab.vocabulary import STOP_REASON_PATIENT, STOP_REASON_RED_FLAGS

# Each part's name on the screen and its spoken cue (English msgids; Spanish in the catalog).
NAMES: dict[SegmentKind, str] = {
    "warmup": N_("Warm up: walk forward, easy"), "backward": N_("Walk backward"), "forward": N_("Walk forward"),
    "rest": N_("Rest"), "cooldown": N_("Cool down: walk forward, easy"),
}
CUES: dict[SegmentKind, str] = {
    "warmup": N_("Warm up. Walk forward at an easy pace for %(time)s."),
    "backward": N_("Walk backward now, for %(time)s. Look over your shoulder. Short steps."),
    "forward": N_("Turn around. Walk forward for %(time)s."),
    "rest": N_("Stop and rest for %(time)s."),
    "cooldown": N_("Cool down. Walk forward at an easy pace for %(time)s."),
}
SOON_SECONDS = 10  # "In 10 seconds: walk forward": time to find a safe place to turn


def duration_words(seconds: int) -> str:
    """"1 minute", "30 seconds", "1 minute 30 seconds", in the patient's language."""
    minutes, rest = divmod(seconds, 60)
    words = []
    if minutes:
        words.append(ngettext("%(num)s minute", "%(num)s minutes", minutes))
    if rest or not minutes:
        words.append(ngettext("%(num)s second", "%(num)s seconds", rest))
    return " ".join(words)


def _segment(segment: Segment, following: Segment | None, exercise_names: dict[str, str]) -> dict[str, Any]:
    name = _(NAMES[segment.kind])
    soon = ""
    if following is not None and segment.seconds >= 2 * SOON_SECONDS:
        soon = _("In %(count)s seconds: %(next)s.", count=SOON_SECONDS, next=_(NAMES[following.kind]).lower())
    return {"kind": segment.kind, "seconds": segment.seconds, "name": name, "time": duration_words(segment.seconds),
            "exercise": exercise_names.get(segment.exercise, ""),
            "cue": _(CUES[segment.kind]) % {"time": duration_words(segment.seconds)}, "soon": soon}


@bp.get("/session")
def session_player():  # type: ignore[no-untyped-def]
    """Today's guided session: the timed plan and its spoken cues, run in the browser; "stop" after a red flag
    or a fall not yet cleared."""
    stopped = stop_page()
    if stopped is not None:
        return stopped
    content, index = current.phase()
    phase = content.phases[index]
    home = [rx for rx in phase.prescriptions if rx.setting != "clinic"]
    plan = session_plan(home)
    names = {rx.exercise: exercises()[rx.exercise].text(g.patient_language).name for rx in home}
    segments = list(plan.segments)
    data = {
        "lang": g.patient_language,
        "segments": [_segment(segment, segments[n + 1] if n + 1 < len(segments) else None, names)
                     for n, segment in enumerate(segments)],
        "logUrl": url_for("portal.log"),
        "redFlags": sorted(STOP_REASON_RED_FLAGS),
        "words": {
            "next": _("Next: %(name)s", name="%(name)s"), "last": _("This is the last part."),
            "part": _("Part %(number)s of %(count)s", number="%(number)s", count="%(count)s"),
            "left": _("%(time)s left in all", time="%(time)s"),
            "paused": _("Paused. Press Resume when you are ready."), "resumed": _("Go on."),
            "finished": _("Well done. Your session is finished. Now tell your therapist how it went."),
            "stopped": _("You stopped the session. Now tell your therapist how it went."),
            "stopNow": _("Stop walking now. Call the clinic before you walk backward again."),
        },
    }
    security.record_read("portal.view", patient_id=current.patient_id(), object_type="portal_session")
    return page("portal/session.html", plan=plan, data=data, reasons=STOP_REASON_PATIENT, timed=bool(segments),
                total=duration_words(plan.total_seconds), backward=duration_words(plan.backward_seconds))


def log_prefill(args: Any) -> dict[str, Any]:
    """What the player hands the log form in its address: the minutes done and why the session stopped early.

    Values are put in the form as given and validated like anything typed when the form is sent."""
    values: dict[str, Any] = {}
    minutes = str(args.get("minutes", "")).strip()[:20]
    if minutes:
        values["minutes"] = minutes
    reason = str(args.get("stopped", ""))
    if reason in STOP_REASON_PATIENT:
        values["note"] = _("I stopped the guided session early: %(reason)s.", reason=_(STOP_REASON_PATIENT[reason]))
        if reason in STOP_REASON_RED_FLAGS:
            values["flag_locking"] = "1"  # the knee gave way: the log's own red flag, so the safety path runs
    elif args.get("guided"):
        values["note"] = _("I did the guided session.")
    return values


@bp.post("/morning")
def morning():  # type: ignore[no-untyped-def]
    """The next morning's pain for the last home session, saved once (an earlier answer stays)."""
    db = get_session()
    entry = home_logs.get_home_log(db, patient_id=current.patient_id(),
                                   log_id=request.form.get("log_id", 0, type=bounded_id))
    if entry is None:
        security.record_denial("portal.log.not_found", patient_id=current.patient_id(), object_type="home_log",
                               object_id=request.form.get("log_id", 0, type=bounded_id))
        abort(404)
    answer, errors = home_logs.validate_morning(request.form)
    if answer is None:
        return page("portal/morning.html", morning_log=entry, errors={k: _(v) for k, v in errors.items()},
                    values=request.form, form_id=once.posted_form_id()), 422
    once.claim("portal.morning")
    once.leads_to(url_for("portal.home"))
    if not home_logs.morning_pending(entry, today=current.today()):  # answered on another screen meanwhile
        flash(_("Your answer for that morning was already saved."), "success")
        return redirect(url_for("portal.home"))
    try:
        home_logs.record_morning(db, log=entry, answer=answer, now=utcnow())
    except StaleEdit:  # the same entry saved on another screen this moment: that answer stands
        flash(_("Your answer for that morning was already saved."), "success")
        return redirect(url_for("portal.home"))
    audit_event("portal.morning", patient_id=entry.patient_id, object_type="home_log", object_id=entry.id)
    flash(_("Thank you. Your answer is saved."), "success")
    return redirect(url_for("portal.home"))
