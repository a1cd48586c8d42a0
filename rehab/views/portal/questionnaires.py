"""The patient's questionnaires through the portal link: the list, and answering one a page at a time.

Each page's answers are saved when the patient moves on or stops, so a half-answered questionnaire resumes
at its first unanswered page. Routes sit on the portal blueprint, behind its guard.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from rehab import once, security
from rehab.dates import day_text
from rehab.db import get_session
from rehab.models import QuestionnaireResponse, utcnow
from rehab.services import questionnaire_records
from rehab.services.questionnaires import AnswerError, Instrument, instruments
from rehab.views import refuse
from rehab.views.portal import current
from rehab.views.portal.blueprint import bp
from rehab.views.portal.current import audit_event
from rehab.views.portal.layout import page


def _patient_id() -> int:
    return g.portal.patient.id  # type: ignore[no-any-return]


@bp.get("/questionnaires")
def questionnaires():  # type: ignore[no-untyped-def]
    """The questionnaires waiting for the patient (the scheduled ones are created here when due)."""
    if g.portal.discharged is not None:
        return discharged_page()
    db = get_session()
    created = questionnaire_records.send_scheduled(db, protocol=g.portal.protocol, now=utcnow())
    for response in created:
        audit_event("portal.questionnaire.scheduled", patient_id=_patient_id(), object_type="questionnaire",
                    object_id=response.id)
    security.record_read("portal.view", patient_id=_patient_id(), object_type="portal_questionnaires")
    return page("portal/questionnaires.html", waiting=_waiting())


def _waiting() -> list[tuple[QuestionnaireResponse, Instrument, int]]:
    """The questionnaires still to answer, each with its instrument and how many of its items are answered."""
    return [(response, instruments()[response.instrument], len(questionnaire_records.answers_of(response)))
            for response in questionnaire_records.open_for(get_session(), patient_id=_patient_id())]


def discharged_page() -> str:
    """What a discharged patient's link opens: thank you, the questionnaires still to answer, until when, and
    whom to call (no exercises, no session logging: the treatment has ended)."""
    security.record_read("portal.view", patient_id=_patient_id(), object_type="portal_discharged")
    until = g.portal.answer_until.astimezone(current.zone()).date()
    return page("portal/discharged.html", waiting=_waiting(), first_name=g.portal.patient.first_name,
                until=day_text(until, g.patient_language))


def _own(response_id: int) -> QuestionnaireResponse:
    response = questionnaire_records.get_own(get_session(), patient_id=_patient_id(), response_id=response_id)
    if response is None:
        security.record_denial("portal.questionnaire.not_found", patient_id=_patient_id(),
                               object_type="questionnaire", object_id=response_id)
        abort(404)
    return response


def _form(response: QuestionnaireResponse, number: int, answers: dict[int, int], missing: set[int],
          status: int = 200):  # type: ignore[no-untyped-def]
    instrument = instruments()[response.instrument]
    text = instrument.text(g.patient_language)
    items = [(item, text.items[item - 1]) for item in questionnaire_records.page_items(instrument, number)]
    options = list(zip(instrument.option_values, text.options, strict=True))
    return page("portal/questionnaire.html", response=response, instrument=instrument, text=text, items=items,
                options=options, answers=answers, missing=missing, page_number=number,
                page_count=questionnaire_records.pages(instrument)), status


@bp.route("/questionnaires/<int:response_id>", methods=["GET", "POST"])
def answer(response_id: int):  # type: ignore[no-untyped-def]
    """One page of a questionnaire. "Next" and "Stop for now" both save what is answered on the page."""
    response = _own(response_id)
    instrument = instruments()[response.instrument]
    if response.completed_at is not None:
        return redirect(url_for("portal.questionnaires_done", response_id=response.id))
    answers = questionnaire_records.answers_of(response)
    if request.method == "GET":
        number = request.args.get("page", type=int)
        if number is None or not 0 <= number < questionnaire_records.pages(instrument):
            number = questionnaire_records.resume_page(instrument, answers)
        return _form(response, number, answers, set())
    number = request.form.get("page", 0, type=int)
    if not 0 <= number < questionnaire_records.pages(instrument):
        abort(400)
    shown = questionnaire_records.page_items(instrument, number)
    new: dict[int, int] = {}
    for item in shown:
        raw = request.form.get(f"item-{item}", "")
        if raw != "":
            try:
                new[item] = int(raw)
            except ValueError:
                abort(400)
    db = get_session()
    once.claim("portal.questionnaire.answer")  # before the answers are merged: the same page sent again is a repeat
    try:
        response = questionnaire_records.save_answers(db, response=response, new=new, language=g.patient_language,
                                                      now=utcnow())
    except AnswerError:
        abort(400)  # only a hand-made request can send a value that is not one of the choices
    except questionnaire_records.SaveConflict:
        flash(_("Your answers were not saved. Please try again."), "error")
        refuse(_form(response, number, {**answers, **new}, set(), status=409))
    audit_event("portal.questionnaire.answer", patient_id=_patient_id(), object_type="questionnaire",
                object_id=response.id)
    answers = questionnaire_records.answers_of(response)
    missing = {item for item in shown if item not in answers}
    stop = request.form.get("action") == "stop"
    target = once.leads_to(_after_saving(response, number, missing, stop=stop))
    if response.completed_at is None and stop:
        flash(_("Your answers are saved. You can finish later from “My questionnaires”."), "success")
    elif response.completed_at is None and missing:  # the form asks for every activity; say which, next to each
        return _form(response, number, answers, missing, status=422)
    return redirect(target)


def _after_saving(response: QuestionnaireResponse, number: int, missing: set[int], *, stop: bool) -> str:
    """Where a saved page leads (and where the same page sent again links to): the end, the list after "Stop
    for now", this page while an answer is missing, the next page, or back to an earlier page with a gap."""
    if response.completed_at is not None:
        return url_for("portal.questionnaires_done", response_id=response.id)
    if stop:
        return url_for("portal.questionnaires")
    if missing:
        return url_for("portal.answer", response_id=response.id, page=number)
    if number + 1 < questionnaire_records.pages(instruments()[response.instrument]):
        return url_for("portal.answer", response_id=response.id, page=number + 1)
    return url_for("portal.answer", response_id=response.id)


@bp.get("/questionnaires/<int:response_id>/done")
def questionnaires_done(response_id: int):  # type: ignore[no-untyped-def]
    response = _own(response_id)
    if response.completed_at is None:
        return redirect(url_for("portal.answer", response_id=response.id))
    return page("portal/questionnaire_done.html", response=response,
                text=instruments()[response.instrument].text(g.patient_language))
