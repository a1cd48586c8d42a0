"""One home for each closed list of words: every value is labelled, in English and in Spanish."""

from __future__ import annotations

import pytest

from rehab import vocabulary
from rehab.translation import gettext, has_translation
from rehab.vocabulary import LANGUAGE_OWN_NAMES, VOCABULARIES

WORDINGS = [(enum, wording) for enum, wordings in VOCABULARIES.items() for wording in wordings]


def _name(value: object) -> str:
    return getattr(value, "__name__", "")


def test_every_vocabulary_in_the_module_is_listed():
    """A list added to rehab/vocabulary.py but not to VOCABULARIES would escape the checks below."""
    enums = {value for value in vars(vocabulary).values()
             if isinstance(value, type) and issubclass(value, vocabulary.StrEnum) and value is not vocabulary.StrEnum}
    assert enums == set(VOCABULARIES)


@pytest.mark.parametrize(("enum", "wording"), WORDINGS, ids=[_name(enum) for enum, _ in WORDINGS])
def test_each_value_has_a_label(enum, wording):
    assert set(wording) == {member.value for member in enum}
    assert all(label.strip() for label in wording.values())


@pytest.mark.parametrize(("enum", "wording"), WORDINGS, ids=[_name(enum) for enum, _ in WORDINGS])
def test_each_label_has_its_spanish_in_the_catalog(enum, wording):
    """Spanish lives in the gettext catalog only; a label without an entry would show English to a Spanish
    reader. Own names (the language picker's "Español") are never translated."""
    if wording is LANGUAGE_OWN_NAMES:
        assert LANGUAGE_OWN_NAMES == {"en": "English", "es": "Español"}
        return
    missing = [label for label in wording.values() if not has_translation("es", label)]
    assert missing == []


def test_labels_read_in_spanish_without_a_request():
    """Services and sheets translate a label for a language they are given, outside any request."""
    assert gettext("es", vocabulary.CONDITION_LABELS["knee_oa"]) == "Artrosis de rodilla"
    assert gettext("es", vocabulary.SORENESS_PATIENT["none"]) == "Sin molestias"
    assert gettext("en", vocabulary.CONDITION_LABELS["knee_oa"]) == "Knee osteoarthritis"


def test_orders_that_rules_rely_on():
    """The effusion rules compare grades by order, and support is weaned from most to least."""
    assert vocabulary.EFFUSION_GRADES == ("0", "trace", "1+", "2+", "3+")
    assert vocabulary.effusion_at_least("2+", "1+") and not vocabulary.effusion_at_least("trace", "1+")
    assert not vocabulary.effusion_at_least("unknown", "0")
    assert tuple(vocabulary.Support) == ("both_rails", "one_rail", "light_touch", "partner", "none")
