"""What every portal page shows (the clinic's phone, the patient's language and text size). The portal's own
answers to errors, in plain words for patients, are in ``guard``."""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request, session, url_for

from rehab.i18n import LANGUAGES
from rehab.models import Patient
from rehab.services import home_plan
from rehab.services.portal_links import LinkState
from rehab.views.portal.current import phase_of

TEXT_SIZES = ("normal", "large")


def apply_preferences(patient: Patient | None) -> None:
    """The patient's language (their choice, else the clinic's record, else the browser's) and text size."""
    language = session.get("portal_language")
    if language not in LANGUAGES:
        language = patient.language if patient is not None and patient.language in LANGUAGES else None
    if language is None:
        language = request.accept_languages.best_match(list(LANGUAGES)) or "en"
    g.patient_language = language
    g.text_size = session.get("portal_text_size") if session.get("portal_text_size") in TEXT_SIZES else "normal"


def page(template: str, **context: Any) -> str:
    """Render a portal page with what every portal page shows (clinic phone, language, text size)."""
    if "patient_language" not in g:  # an error raised before the guard ran (e.g. an expired form)
        apply_preferences(None)
    state: LinkState | None = g.get("portal")
    clinic = context.pop("clinic", None)
    clinic = state.clinic if state is not None else clinic
    # Whether the current phase has anything for home: without it the pages offer no "Log a session".
    home_prescribed = True
    if state is not None and state.protocol is not None:
        content, index = phase_of(state)
        home_prescribed = home_plan.prescribed_for_home(content.phases[index])
    return render_template(template, portal=state, clinic=clinic, lang=g.patient_language,
                           text_size=g.get("text_size", "normal"), languages=LANGUAGES,
                           sheet_url=url_for("portal.sheet") if state is not None else None,
                           pending=bool(session.get("portal_pending")), home_prescribed=home_prescribed,
                           offer_remember=_offer_remember(state), **context)


def _offer_remember(state: LinkState | None) -> bool:
    """Whether the patient's first page offers "Remember this phone": not when it is remembered already, nor
    after the patient said no in this session."""
    return state is not None and not isinstance(session.get("portal_device_id"), int) \
        and not session.get("portal_remember_declined")
