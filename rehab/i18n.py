"""Patient-facing language (English, Spanish) through Flask-Babel catalogs in ``rehab/translations``.

Therapist pages are English. Patient-facing text (the home sheet, the portal) is marked with ``_()`` and
rendered in the patient's language: the sheet under ``force_locale``, the portal from the patient's choice.
"""

from __future__ import annotations

from functools import cache

from babel import Locale
from babel.support import NullTranslations
from flask import Flask, g
from flask_babel import Babel, get_locale

from rehab import translation
from rehab.vocabulary import LANGUAGE_OWN_NAMES

# The portal's language picker: each language named in itself.
LANGUAGES = LANGUAGE_OWN_NAMES
babel = Babel()


@cache
def _locale(language: str) -> Locale:
    """One parsed Locale per language and worker (Flask-Babel parses the selector's string on every request)."""
    return Locale.parse(language)


def _select_locale() -> Locale:
    return _locale(g.get("patient_language") or "en")


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=_select_locale)
    # Templates translate through the catalogs of rehab/translation.py, chosen by Flask-Babel's locale (so
    # ``force_locale`` still applies): the same .mo files Flask-Babel loads, without its three look-ups of the
    # request context on every call (a portal page makes fifty of them).
    app.jinja_env.install_gettext_callables(gettext=_gettext, ngettext=_ngettext, newstyle=True)  # type: ignore[attr-defined]  # added by jinja2.ext.i18n


def _page_catalog() -> NullTranslations:
    locale = get_locale()
    return translation.catalog(str(locale) if locale is not None else "en")


def _gettext(message: str) -> str:
    return _page_catalog().gettext(message)


def _ngettext(singular: str, plural: str, count: int) -> str:
    return _page_catalog().ngettext(singular, plural, count)
