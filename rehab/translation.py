"""The gettext catalogs in ``rehab/translations``, read without Flask: the one place patient-facing Spanish lives.

Pages translate with Flask-Babel's ``_()`` (the patient's language, see ``rehab/i18n.py``). Code that renders
for a language it is given, outside a request or in a service (a dose sentence, the progress chart, a
vocabulary label), calls ``gettext(language, message)`` here: the same catalogs, no request needed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

CATALOGS = Path(__file__).resolve().parent / "translations"


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name, found by `pybabel extract`)
    """Mark an English msgid for translation where it is defined; the code that shows it translates it."""
    return message


@cache
def catalog(language: str) -> NullTranslations:
    """The catalog of a language (a locale's identifier, e.g. "es"), loaded once per worker; English has none."""
    if language == "en":
        return NullTranslations()
    return Translations.load(str(CATALOGS), [language], domain="messages")


def gettext(language: str, message: str) -> str:
    """``message`` (an English msgid) in ``language``; English when there is no translation."""
    return catalog(language).gettext(message)


def ngettext(language: str, singular: str, plural: str, count: int) -> str:
    """``singular`` or ``plural`` (English msgids) by ``count``, in ``language``."""
    return catalog(language).ngettext(singular, plural, count)


def has_translation(language: str, message: str) -> bool:
    """Whether the catalog of ``language`` translates ``message`` (tests check every label has one)."""
    found = catalog(language)
    return isinstance(found, Translations) and message in found._catalog  # noqa: SLF001 (babel keeps it there)
