"""One home for each closed list of words: every value is labelled, in English and in Spanish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import SQLModel, select

from rehab import models, vocabulary
from rehab.translation import gettext, has_translation
from rehab.vocabulary import LANGUAGE_OWN_NAMES, VOCABULARIES, OneOf
from tests import factories
from tests.conftest import submit

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


# ------------------------------------------------------------------------------ stored values, in the database

def vocabulary_columns() -> list[tuple[type[SQLModel], str, type[vocabulary.StrEnum]]]:
    """Every table column whose values are one vocabulary (marked ``Annotated[str, OneOf(...)]``)."""
    found = []
    for name in models.__all__:
        table = getattr(models, name)
        if isinstance(table, type) and hasattr(table, "__table__"):
            for field, info in table.model_fields.items():
                found += [(table, field, mark.vocabulary) for mark in info.metadata if isinstance(mark, OneOf)]
    return found


def test_each_choice_column_names_its_vocabulary_and_fits_its_longest_value():
    columns = {(table.__name__, field): enum for table, field, enum in vocabulary_columns()}
    assert columns == {
        ("Patient", "affected_knee"): vocabulary.Knee, ("Patient", "condition"): vocabulary.Condition,
        ("Patient", "language"): vocabulary.Language, ("Visit", "soreness"): vocabulary.Soreness,
        ("Visit", "effusion"): vocabulary.Effusion, ("Visit", "support"): vocabulary.Support,
        ("AdviceDecision", "decision"): vocabulary.Decision,
        ("HomeLog", "soreness"): vocabulary.Soreness, ("Alert", "kind"): vocabulary.AlertKind,
        ("RedFlagClearance", "action"): vocabulary.ClearanceAction, ("Clinic", "paper_size"): vocabulary.PaperSize,
        ("Clinic", "speed_unit"): vocabulary.SpeedUnit, ("QuestionnaireResponse", "language"): vocabulary.Language,
        ("PrintJob", "kind"): vocabulary.PrintJobKind, ("PrintJob", "status"): vocabulary.PrintJobStatus,
        ("PrintJobItem", "status"): vocabulary.PrintItemStatus,
    }
    for table, field, enum in vocabulary_columns():
        assert table.__table__.c[field].type.length >= max(len(value) for value in enum), (table, field)


def test_yes_no_vocabularies_are_columns_of_their_tables():
    """Red flags and precautions are stored as one yes/no column each, named by the value."""
    for table in (models.Visit, models.HomeLog):
        assert {str(flag) for flag in vocabulary.RedFlag} <= set(table.__table__.c.keys())
    assert {str(item) for item in vocabulary.Precaution} <= set(models.Patient.__table__.c.keys())


@pytest.mark.db
def test_every_value_the_app_stores_is_one_of_its_vocabulary(app, runner, db, therapist_client, clinic):
    """The demo clinic, a patient added and a visit with a red flag recorded through the pages: every choice
    column holds only vocabulary values; a value from outside is refused beside its field and nothing is saved."""
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    page = submit(therapist_client, "/patients/new", {
        "first_name": "Rosa", "last_name": "Díaz", "date_of_birth": "1950-02-03", "affected_knee": "both",
        "condition": "post_tka", "language": "es"}, form_page="/patients/new")
    assert page.status_code == 302
    patient = db.exec(select(models.Patient).where(models.Patient.last_name == "Díaz")).one()
    factories.protocol(db, patient)
    db.commit()
    moment = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    visit = {"occurred_at": moment, "pain_before": "1", "pain_worst": "2", "pain_after": "1", "soreness": "late",
             "effusion": "trace", "exercise": "treadmill_rails", "minutes": "5", "speed": "1.2", "incline_pct": "0",
             "support": "one_rail", "stumbles": "0", "falls": "0", "flag_calf": "1"}
    assert submit(therapist_client, f"/patients/{patient.id}/visits/new", visit).status_code == 302

    refused = submit(therapist_client, "/patients/new", {
        "first_name": "Ana", "last_name": "Ruiz", "date_of_birth": "1950-02-03", "affected_knee": "left",
        "condition": "knee_replacement", "language": "fr"}, form_page="/patients/new")
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert 'id="condition-error"' in text and 'id="language-error"' in text and "Choose one of the options." in text
    assert db.exec(select(models.Patient).where(models.Patient.last_name == "Ruiz")).first() is None

    stored_kinds = set()
    for table, field, enum in vocabulary_columns():
        values = set(db.exec(select(getattr(table, field)).distinct()))
        assert values <= {member.value for member in enum}, (table.__name__, field, values)
        if table is models.Alert:
            stored_kinds = values
    assert "red_flag" in stored_kinds  # the flagged visit raised its alert, under its vocabulary name


@pytest.mark.parametrize(("enum", "prefix"), [
    (vocabulary.Support, "support-"), (vocabulary.Setting, "setting-"), (vocabulary.Effusion, "effusion-"),
    (vocabulary.Soreness, "soreness-"), (vocabulary.Condition, "condition-"), (vocabulary.Knee, "knee-"),
    (vocabulary.Precaution, "precaution-"),
])
def test_each_value_has_its_code_in_the_fhir_code_system(enum, prefix):
    """The FHIR code system keeps its own displays (a published interface changes only on purpose), but a value
    added to a vocabulary must get its code: records systems would otherwise receive a code nobody defined."""
    from rehab.services.fhir.codes import LOCAL_CONCEPTS

    assert [value for value in enum if prefix + value not in LOCAL_CONCEPTS] == []


@pytest.mark.db
def test_the_patient_page_words_soreness_by_its_label(therapist_client, db, patient, protocol):
    factories.home_log(db, patient, protocol, soreness="warmup_gone")
    db.commit()
    page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Sore during warm-up, went away" in page and "warmup" not in page
