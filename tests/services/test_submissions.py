"""One-time form ids without the app: the database lets a form's id be claimed once, whoever asks first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session, SQLModel, func, select

from rehab.db import make_engine
from rehab.models import FormSubmission, utcnow
from rehab.services import submissions
from rehab.services.submissions import AlreadySubmitted


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """The app's engine rather than the services' plain one: its SQLite connections leave BEGIN to SQLAlchemy,
    as in the app (pysqlite's own handling would commit before each INSERT's transaction ends otherwise)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'forms.sqlite3'}")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _claim(session: Session, form_id: str, **sender: int | None) -> FormSubmission:
    values = {"clinic_id": None, "user_id": None, "patient_id": None, **sender}
    return submissions.claim(session, form_id=form_id, action="visit.create", now=utcnow(), **values)


def test_a_form_id_is_claimed_once_and_the_repeat_finds_the_first(engine):
    form_id = submissions.new_form_id()
    with Session(engine) as first:
        row = _claim(first, form_id)
        row.result = "/patients/1#advice"
        first.commit()
    with Session(engine) as second:
        with pytest.raises(AlreadySubmitted) as repeat:
            _claim(second, form_id)
        assert repeat.value.earlier.result == "/patients/1#advice"
        assert not second.new  # rolled back: nothing of the repeat is left to write
        assert second.exec(select(func.count()).select_from(FormSubmission)).one() == 1


def test_an_uncommitted_claim_leaves_the_id_free(engine):
    form_id = submissions.new_form_id()
    with Session(engine) as failed:
        _claim(failed, form_id)
        failed.rollback()  # the form was refused (bad input): it can be sent again
    with Session(engine) as retry:
        _claim(retry, form_id)
        retry.commit()


def test_form_ids_are_random_and_shaped():
    ids = {submissions.new_form_id() for _ in range(100)}
    assert len(ids) == 100 and all(submissions.is_form_id(value) for value in ids)
    for bad in ("", "short", "x" * 65, "a" * 20 + "/", "a" * 20 + "\n", None, 12345678901234567890):
        assert not submissions.is_form_id(bad)


def test_only_the_sender_is_shown_what_the_first_post_did():
    therapist = FormSubmission(form_id="x" * 22, action="visit.create", clinic_id=1, user_id=5, patient_id=9)
    assert submissions.same_sender(therapist, clinic_id=1, user_id=5, patient_id=None)
    assert not submissions.same_sender(therapist, clinic_id=1, user_id=6, patient_id=None)
    assert not submissions.same_sender(therapist, clinic_id=2, user_id=5, patient_id=None)
    assert not submissions.same_sender(therapist, clinic_id=1, user_id=None, patient_id=9)  # the patient
    patient = FormSubmission(form_id="y" * 22, action="portal.log.create", clinic_id=1, user_id=None, patient_id=9)
    assert submissions.same_sender(patient, clinic_id=1, user_id=None, patient_id=9)
    assert not submissions.same_sender(patient, clinic_id=1, user_id=None, patient_id=10)
    assert not submissions.same_sender(patient, clinic_id=1, user_id=5, patient_id=None)


def _applied(session: Session, *, days_ago: float, row_id: int | None = None) -> str:
    form_id = submissions.new_form_id()
    session.add(FormSubmission(id=row_id, form_id=form_id, action="visit.create",
                               at=utcnow() - timedelta(days=days_ago)))
    session.commit()
    return form_id


def test_forms_older_than_the_retention_are_pruned_and_yesterdays_are_still_recognised(session):
    old, recent = _applied(session, days_ago=31), _applied(session, days_ago=29)
    yesterday = _applied(session, days_ago=1)
    assert submissions.RETENTION == timedelta(days=30)
    assert submissions.prune(session, now=utcnow()) == 1
    session.commit()
    assert submissions.find(session, form_id=old) is None
    with pytest.raises(AlreadySubmitted):  # sent again a day later: still "Already saved"
        _claim(session, yesterday)
    assert submissions.find(session, form_id=recent) is not None


def test_one_claim_in_prune_every_prunes_and_the_others_only_insert(session, engine):
    old = _applied(session, days_ago=45, row_id=submissions.PRUNE_EVERY - 2)
    statements: list[str] = []
    # Every statement, by its first word: the claim is one INSERT (no SAVEPOINT around it).
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2].split()[0]))
    _claim(session, submissions.new_form_id())  # id PRUNE_EVERY - 1: an INSERT and nothing else
    session.commit()
    assert statements == ["INSERT"] and submissions.find(session, form_id=old) is not None
    statements.clear()
    _claim(session, submissions.new_form_id())  # id PRUNE_EVERY: the one that prunes, in the same transaction
    session.commit()
    assert statements == ["INSERT", "DELETE"]
    assert submissions.find(session, form_id=old) is None
