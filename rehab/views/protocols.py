"""The protocol builder: choose a template, adjust doses, save versions, move between phases."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from rehab import once, security
from rehab.dates import day_text
from rehab.db import get_session
from rehab.forms.protocol import (
    MAX_EXERCISES,
    MAX_PHASES,
    TooLarge,
    apply_action,
    content_from_draft,
    draft_from_content,
    draft_from_form,
    override_reasons,
    start_phase_of,
    warning_fingerprint,
)
from rehab.models import Patient, Protocol, ProtocolVersion, utcnow
from rehab.request_guard import bounded_id, is_id
from rehab.services import assessments, catalogue, portal_links, protocol_records, questionnaire_records
from rehab.services.advice.inputs import hand_raise_warnings, waiting_red_flags
from rehab.services.advice.rules import surgery_gate
from rehab.services.edits import StaleEdit
from rehab.services.protocol_content import (
    ProtocolContent,
    blank_phase,
    content_from_template,
    keep_unchanged_speeds,
)
from rehab.services.safety import (
    PatientFacts,
    SafetyWarning,
    check_protocol,
    fall_risk_findings,
    is_screened,
    start_phase_for,
    weeks_since_surgery,
)
from rehab.services.surgery import before_surgery_note, is_planned
from rehab.views import refuse, stated_reason
from rehab.views.patients import get_patient_or_404
from rehab.vocabulary import BETWEEN_LABELS, SETTING_LABELS, SUPPORT_LABELS

bp = Blueprint("protocols", __name__, url_prefix="/patients/<int:patient_id>/protocols")


def get_protocol_or_404(patient: Patient, protocol_id: int) -> Protocol:
    protocol = protocol_records.get_protocol(get_session(), patient_id=patient.id, protocol_id=protocol_id)
    if protocol is None:
        abort(404)
    return protocol


def _facts(patient: Patient) -> tuple[PatientFacts, assessments.FallScreen]:
    """The patient's precautions, surgery date and newest fall-risk screen (baseline assessments and visits)."""
    screen = assessments.latest_screen(get_session(), patient_id=patient.id)
    return assessments.patient_facts(patient, screen, today=date.today()), screen


def _start_note(content: ProtocolContent, start_phase: int, facts: PatientFacts) -> str:
    """Why a new protocol starts where it does, for its first version's summary."""
    if facts.surgery_date is None or content.phases[start_phase].from_week is None:
        return f"Starts in phase {start_phase + 1}." if start_phase else ""
    if is_planned(facts.surgery_date, facts.today):
        return (f"Starts in phase {start_phase + 1} ({content.phases[start_phase].name}): "
                f"{before_surgery_note(facts.surgery_date, facts.today)}")
    weeks = weeks_since_surgery(facts.surgery_date, facts.today)
    return (f"Starts in phase {start_phase + 1} ({content.phases[start_phase].name}): week {weeks} after "
            f"surgery on {day_text(facts.surgery_date)}.")


def _starting_content(patient: Patient, source: str) -> ProtocolContent | None:
    """The content a new protocol starts from: a built-in template, a clinic template, or a blank phase."""
    kind, _, key = source.partition(":")
    if kind == "builtin" and key in catalogue.templates():
        return content_from_template(catalogue.templates()[key])
    if kind == "clinic" and is_id(key):
        template = protocol_records.get_clinic_template(get_session(), clinic_id=g.clinic.id, template_id=int(key))
        return protocol_records.clinic_template_content(template) if template else None
    if kind == "blank":
        return ProtocolContent(title="Backward walking", phases=[blank_phase(1)])
    return None


def _builder_context(patient: Patient, draft: dict[str, Any], **extra: Any) -> dict[str, Any]:
    template = catalogue.templates().get(draft.get("template_key", ""))
    facts, screen = _facts(patient)
    return {
        "patient": patient, "draft": draft, "exercises": catalogue.exercises(), "settings": SETTING_LABELS,
        "supports": SUPPORT_LABELS, "betweens": BETWEEN_LABELS, "speed_unit": g.clinic.speed_unit, "template": template,
        "references": catalogue.references(), "errors": {}, "warnings": [], "focus": "", "standing": {},
        "fingerprint": warning_fingerprint, "evidence_label": catalogue.evidence_label, "screen": screen,
        "screen_findings": fall_risk_findings(facts), "screened": is_screened(facts),
        "weeks_since_surgery": weeks_since_surgery(facts.surgery_date, facts.today) if facts.surgery_date else None,
        "surgery_planned": facts.surgery_date is not None and is_planned(facts.surgery_date, facts.today),
        "max_phases": MAX_PHASES, "max_exercises": MAX_EXERCISES,
        "form_id": once.posted_form_id() if request.method == "POST" else "", **extra,
    }


@bp.get("/new")
def choose(patient_id: int) -> ResponseReturnValue:
    """Step 1: pick a template (the patient's condition first) or start from scratch."""
    patient = get_patient_or_404(patient_id)
    builtin = sorted(catalogue.templates().values(), key=lambda t: (t.condition != patient.condition, t.key))
    clinic_templates = protocol_records.clinic_templates(get_session(), clinic_id=g.clinic.id)
    active = protocol_records.active_protocol(get_session(), patient_id=patient.id)
    return render_template("protocols/choose.html", patient=patient, templates=builtin, active=active,
                           clinic_templates=clinic_templates, references=catalogue.references(),
                           evidence_label=catalogue.evidence_label)


@bp.route("/new/build", methods=["GET", "POST"])
def build(patient_id: int) -> ResponseReturnValue:
    """Step 2 and 3: adjust the doses and save (version 1)."""
    patient = get_patient_or_404(patient_id)
    if patient.archived_at is not None:
        flash("This patient is archived. Bring them back to the active list before starting a protocol.", "error")
        return redirect(url_for("patients.detail", patient_id=patient.id))
    if request.method == "GET":
        content = _starting_content(patient, request.args.get("source", ""))
        if content is None:
            abort(404)
        form_id = once.page_form_id()  # kept through the builder's steps: Back then Save cannot start it twice
        draft = draft_from_content(content, speed_unit=g.clinic.speed_unit)
        draft["start_phase"] = str(start_phase_for(content.phases, surgery_date=patient.surgery_date,
                                                   today=date.today()))
        return render_template("protocols/builder.html", **_builder_context(patient, draft, protocol=None,
                                                                            form_id=form_id))
    return _handle_builder_post(patient, protocol=None)


@bp.route("/<int:protocol_id>/edit", methods=["GET", "POST"])
def edit(patient_id: int, protocol_id: int) -> ResponseReturnValue:
    """Change any dose; saving makes a new version with a summary of what changed."""
    patient = get_patient_or_404(patient_id)
    protocol = get_protocol_or_404(patient, protocol_id)
    if protocol.status != "active":
        flash("This protocol has ended; start a new one to make changes.", "error")
        return redirect(url_for("protocols.view", patient_id=patient.id, protocol_id=protocol.id))
    if request.method == "GET":
        version = protocol_records.latest_version(get_session(), protocol)
        draft = draft_from_content(protocol_records.load_content(version), speed_unit=g.clinic.speed_unit)
        return render_template("protocols/builder.html", **_builder_context(
            patient, draft, protocol=protocol, seen_version=protocol.latest_version))
    return _handle_builder_post(patient, protocol=protocol)


def _handle_builder_post(patient: Patient, *, protocol: Protocol | None) -> ResponseReturnValue:
    db = get_session()
    unit = g.clinic.speed_unit
    try:
        draft = draft_from_form(request.form)
    except TooLarge:
        abort(413)
    action = request.form.get("action", "save")
    seen_version = request.form.get("seen_version", 0, type=bounded_id)
    context: dict[str, Any] = {"protocol": protocol, "seen_version": seen_version}
    if action != "save":
        draft, focus = apply_action(draft, action, speed_unit=unit)
        return render_template("protocols/builder.html", **_builder_context(patient, draft, focus=focus, **context))
    if protocol is not None and protocol.latest_version != seen_version:
        once.raise_if_applied()  # the form saved a moment ago, sent again, is "Already saved"
        # Someone saved meanwhile: refuse before asking for reasons about a dose that is no longer current.
        return render_template("protocols/builder.html", **_builder_context(
            patient, draft, stale=True, **context)), 409
    content, errors = content_from_draft(draft, speed_unit=unit)
    warnings: list[SafetyWarning] = []
    start_phase = start_phase_of(draft) if protocol is None else 0
    # Reasons given for the version being edited stand while their warning rests on the same facts.
    standing = {} if protocol is None else protocol_records.standing_reasons(
        protocol_records.latest_version(db, protocol))
    context["standing"] = standing
    facts, _ = _facts(patient)
    if content is not None:
        warnings = check_protocol(content, facts, start_phase=start_phase if protocol is None else -1)
        if protocol is not None:  # a dose raised by hand is held to the advice's pace too
            warnings += hand_raise_warnings(db, protocol=protocol, content=content, now=utcnow())
        reasons, override_errors = override_reasons(request.form, warnings, standing)
        if warnings and override_errors and request.form.get("warnings_shown"):
            errors.update(override_errors)
        elif warnings and override_errors:
            # First time these warnings appear: show them, save nothing, ask for reasons.
            return render_template("protocols/builder.html", **_builder_context(
                patient, draft, warnings=warnings, **context)), 422
    if content is None or errors:
        return render_template("protocols/builder.html", **_builder_context(
            patient, draft, errors=errors, warnings=warnings, **context)), 422
    overrides = [protocol_records.Override.of(warning, reasons[warning.fingerprint],
                                     standing[warning.fingerprint][1] if warning.fingerprint in standing else None)
                 for warning in warnings]
    now = utcnow()
    # Everything above only read and computed: on SQLite the claim, the first write, takes the write lock and
    # holds it to the commit (rehab/db.py). The edit's version check (save_version) refuses a protocol changed
    # meanwhile.
    once.claim("protocol.create" if protocol is None else "protocol.update", patient_id=patient.id)
    if protocol is None:
        protocol = protocol_records.create_protocol(db, patient=patient, content=content, user_id=g.user.id, now=now,
                                                    overrides=overrides, start_phase=start_phase,
                                                    start_note=_start_note(content, start_phase, facts))
        security.record("protocol.create", patient_id=patient.id, object_type="protocol", object_id=protocol.id)
        target = once.leads_to(url_for("protocols.view", patient_id=patient.id, protocol_id=protocol.id))
        flash(f"Protocol saved: {content.title}.", "success")
        return redirect(target)
    try:
        current = protocol_records.latest_version(db, protocol)
        content = keep_unchanged_speeds(protocol_records.load_content(current), content, speed_unit=unit)
        version = protocol_records.save_version(db, protocol=protocol, content=content, seen_version=seen_version,
                                                user_id=g.user.id, now=now, overrides=overrides, speed_unit=unit)
    except StaleEdit:
        refuse(render_template("protocols/builder.html", **_builder_context(patient, draft, stale=True, **context)),
               409)
    if version is None:
        flash("No changes to save.", "info")
        refuse(redirect(url_for("protocols.view", patient_id=patient.id, protocol_id=protocol.id)))
    security.record("protocol.update", patient_id=patient.id, object_type="protocol", object_id=protocol.id)
    once.leads_to(url_for("protocols.view", patient_id=patient.id, protocol_id=protocol.id))
    flash(f"Saved as version {version.number}.", "success")
    return redirect(url_for("protocols.view", patient_id=patient.id, protocol_id=protocol.id))


@bp.get("/<int:protocol_id>")
def view(patient_id: int, protocol_id: int) -> ResponseReturnValue:
    patient = get_patient_or_404(patient_id)
    protocol = get_protocol_or_404(patient, protocol_id)
    version = protocol_records.latest_version(get_session(), protocol)
    security.record_read("protocol.view", patient_id=patient.id, object_type="protocol", object_id=protocol.id)
    return _render_version(patient, protocol, version, latest=True)


@bp.get("/<int:protocol_id>/versions/<int:number>")
def version(patient_id: int, protocol_id: int, number: int) -> ResponseReturnValue:
    patient = get_patient_or_404(patient_id)
    protocol = get_protocol_or_404(patient, protocol_id)
    found = protocol_records.get_version(get_session(), protocol_id=protocol.id, number=number)
    if found is None:
        abort(404)
    return _render_version(patient, protocol, found, latest=number == protocol.latest_version)


def _render_version(patient: Patient, protocol: Protocol, version: ProtocolVersion, *,
                    latest: bool) -> ResponseReturnValue:
    content = protocol_records.load_content(version)
    template = catalogue.templates().get(content.template_key)
    return render_template(
        "protocols/view.html", patient=patient, protocol=protocol, version=version, content=content,
        latest=latest, template=template, exercises=catalogue.exercises(), references=catalogue.references(),
        settings=SETTING_LABELS, supports=SUPPORT_LABELS, overrides=json.loads(version.safety_overrides),
        evidence_label=catalogue.evidence_label, discharge_reasons=protocol_records.DISCHARGE_REASONS,
        discharge_answer_days=portal_links.DISCHARGE_ANSWER_DAYS,
        phase_changes=protocol_records.phase_changes(get_session(), protocol_id=protocol.id)[:5],
    )


@bp.get("/<int:protocol_id>/history")
def history(patient_id: int, protocol_id: int) -> ResponseReturnValue:
    patient = get_patient_or_404(patient_id)
    protocol = get_protocol_or_404(patient, protocol_id)
    db = get_session()
    return render_template(
        "protocols/history.html", patient=patient, protocol=protocol,
        versions=[(version, author, json.loads(version.summary), json.loads(version.safety_overrides))
                  for version, author in protocol_records.history(db, protocol_id=protocol.id)],
        phase_changes=protocol_records.phase_changes(db, protocol_id=protocol.id),
    )


@bp.post("/<int:protocol_id>/phase")
def move_phase(patient_id: int, protocol_id: int) -> ResponseReturnValue:
    """Move to the next or previous phase; a reason is required."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    protocol = get_protocol_or_404(patient, protocol_id)
    once.claim("protocol.phase", patient_id=patient.id)
    # The form states the move: from the phase the page showed, to the one next to it (0-based).
    from_phase = request.form.get("from_phase", -1, type=int)
    to_phase = request.form.get("to_phase", -1, type=int)
    target = once.leads_to(url_for("protocols.view", patient_id=patient.id, protocol_id=protocol.id))
    back = redirect(target)
    reason = stated_reason(back, limit=500)
    if protocol.status != "active":
        flash("This protocol has ended.", "error")
        refuse(back)
    if len(reason) < 3:
        flash("Give a reason for the phase change (for example: two sessions within the pain rules).", "error")
        refuse(back)
    content = protocol_records.load_content(protocol_records.latest_version(db, protocol))
    refusal = _forward_move_refusal(patient, protocol, content, to_phase - protocol.current_phase)
    if refusal:
        flash(refusal, "error")
        refuse(back)
    try:
        change = protocol_records.move_phase(db, protocol=protocol, from_phase=from_phase, to_phase=to_phase,
                                             reason=reason, user_id=g.user.id, now=utcnow(),
                                             phase_count=len(content.phases))
    except protocol_records.PhaseMoved:
        db.refresh(protocol)  # the phase it is in now (moved since the page was opened)
        flash(f"Not moved: this page showed phase {from_phase + 1}, but the protocol is now in phase "
              f"{protocol.current_phase + 1} (moved since the page was opened). "
              "Check the phase below before moving it again.", "error")
        refuse(back)
    except protocol_records.PhaseMoveError as error:
        flash(str(error), "error")
        refuse(back)
    security.record("protocol.phase", patient_id=patient.id, object_type="protocol", object_id=protocol.id)
    flash(f"Moved to phase {change.to_phase + 1}: {content.phases[change.to_phase].name}.", "success")
    return back


def _forward_move_refusal(patient: Patient, protocol: Protocol, content: ProtocolContent, step: int) -> str:
    """Why a move to the next phase is refused ("" when it is not): a red flag or fall waiting, or a phase that
    starts later after surgery. The safer course wins; a deliberate builder edit changes the phase's week."""
    target = protocol.current_phase + step
    if step != 1 or not 0 <= target < len(content.phases):
        return ""
    if waiting_red_flags(get_session(), patient_ids=[patient.id]):
        return "A red flag or fall is not yet cleared: record what was done before moving on."
    gate = surgery_gate(content.phases[target], number=target + 1, surgery_date=patient.surgery_date,
                        today=utcnow().date())
    if gate is None:
        return ""
    return (f"{gate.text} Record the surgery date on the patient, or change the phase's “Not before week after "
            "surgery” in the builder (the change is kept in the version history).")


@bp.post("/<int:protocol_id>/end")
def end(patient_id: int, protocol_id: int) -> ResponseReturnValue:
    db = get_session()
    patient = get_patient_or_404(patient_id)
    protocol = get_protocol_or_404(patient, protocol_id)
    once.claim("protocol.end", patient_id=patient.id)
    target = once.leads_to(url_for("patients.detail", patient_id=patient.id))
    reason = stated_reason(redirect(url_for("protocols.view", patient_id=patient.id, protocol_id=protocol.id)),
                           limit=300)
    discharge = request.form.get("discharge_reason", "")
    if discharge not in ("", *protocol_records.DISCHARGE_REASONS):
        flash("Choose a discharge reason from the list.", "error")
        refuse(redirect(url_for("protocols.view", patient_id=patient.id, protocol_id=protocol.id)))
    reason = reason or protocol_records.DISCHARGE_REASONS.get(discharge, "Ended by the therapist.")
    if protocol.status != "active":
        flash("This protocol had already ended; nothing was changed.", "info")
        refuse(redirect(target))
    now = utcnow()
    protocol_records.end_protocol(db, protocol=protocol, reason=reason, now=now, discharge_reason=discharge)
    security.record("protocol.end", patient_id=patient.id, object_type="protocol", object_id=protocol.id)
    flash("The protocol has ended. It stays in the patient's record.", "success")
    if discharge and patient.archived_at is None:
        _send_discharge_questionnaires(patient, protocol, now)
    return redirect(target)


def _send_discharge_questionnaires(patient: Patient, protocol: Protocol, now: datetime) -> None:
    """At discharge LEFS and the pain rating go to the patient's link, which opens for them alone for a month;
    without a working link nothing is sent (nobody could answer it), and the therapist is told."""
    db = get_session()
    link = portal_links.link_card(db, patient_id=patient.id, now=now)
    if link is None or link.status != "ok":
        flash("No discharge questionnaires were sent: the patient has no working link, and none can be made once "
              "the protocol has ended. Give them LEFS and the pain rating on paper, or share the link before a "
              "discharge.", "info")
        return
    for response, new in questionnaire_records.send_at_discharge(db, protocol=protocol, now=now, user_id=g.user.id):
        if new:
            security.record("questionnaire.send", patient_id=patient.id, object_type="questionnaire",
                            object_id=response.id)
    flash("Discharge questionnaires (LEFS and the pain rating) sent: the patient's link opens them, and nothing "
          f"else, for {portal_links.DISCHARGE_ANSWER_DAYS} days.", "info")


@bp.post("/<int:protocol_id>/save-template")
def save_template(patient_id: int, protocol_id: int) -> ResponseReturnValue:
    """Keep this protocol as a clinic template for the next patient."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    protocol = get_protocol_or_404(patient, protocol_id)
    once.claim("template.create", patient_id=patient.id)
    name = request.form.get("name", "").strip()
    back = redirect(once.leads_to(url_for("protocols.view", patient_id=patient.id, protocol_id=protocol.id)))
    if not 1 <= len(name) <= 120 or "<" in name or ">" in name:
        flash("Give the template a name of up to 120 characters (no < or >).", "error")
        refuse(back)
    content = protocol_records.load_content(protocol_records.latest_version(db, protocol))
    template = protocol_records.save_clinic_template(db, clinic_id=g.clinic.id, name=name, condition=patient.condition,
                                                     content=content, user_id=g.user.id, now=utcnow())
    security.record("template.create", object_type="clinic_template", object_id=template.id)
    flash(f"Saved as the clinic template “{name}”.", "success")
    return back
