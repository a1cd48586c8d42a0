"""Patient-facing language (English, Spanish) through Flask-Babel catalogs in ``rehab/translations``.

Therapist pages are English. Patient-facing text (the home sheet, the portal) is marked with ``_()`` and
rendered in the patient's language: the sheet under ``force_locale``, the portal from the patient's choice.
"""

from __future__ import annotations

from flask import Flask, g
from flask_babel import Babel

from rehab.vocabulary import LANGUAGE_OWN_NAMES

# The portal's language picker: each language named in itself.
LANGUAGES = LANGUAGE_OWN_NAMES
babel = Babel()


def _select_locale() -> str:
    return g.get("patient_language") or "en"


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=_select_locale)
