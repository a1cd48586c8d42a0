"""Questionnaires in the database: sending (or the schedule), answering page by page, licensed totals, the
scores a patient page shows.

Answers are saved after every page, so a patient can stop and come back; a save merges into what is stored
with a version check, so two open tabs each keep their answers instead of one overwriting the other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from rehab.models import Patient, Protocol, QuestionnaireResponse
from rehab.services.charts import ScoreSeries
from rehab.services.edits import rows_changed
from rehab.services.questionnaires import (
    Instrument,
    Verdict,
    answerable,
    check_answer,
    check_total,
    instruments,
    licensed_totals,
    score,
    verdict,
)
from rehab.translation import N_

PAGE_SIZE = 5  # items per portal page: few enough to read on a phone in large text
# Scheduled: at the start of a protocol and every two weeks after (the "every two weeks"), expert opinion.
SCHEDULE_EVERY = timedelta(days=14)
SCHEDULED_INSTRUMENTS = ("lefs", "nprs")


class SaveConflict(RuntimeError):
    """The row kept changing under us (many saves at once); the patient is asked to save again."""


def answers_of(response: QuestionnaireResponse) -> dict[int, int]:
    return {int(item): int(value) for item, value in json.loads(response.answers or "{}").items()}


def pages(instrument: Instrument) -> int:
    return max(1, -(-instrument.item_count // PAGE_SIZE))


def page_items(instrument: Instrument, page: int) -> range:
    """The item numbers (1-based) shown on a page (0-based)."""
    return range(page * PAGE_SIZE + 1, min((page + 1) * PAGE_SIZE, instrument.item_count) + 1)


def resume_page(instrument: Instrument, answers: dict[int, int]) -> int:
    """The first page with an unanswered item: where a patient who left comes back to."""
    for number in range(1, instrument.item_count + 1):
        if number not in answers:
            return (number - 1) // PAGE_SIZE
    return pages(instrument) - 1


def send(session: Session, *, patient_id: int, clinic_id: int, protocol_id: int | None, instrument: str,
         now: datetime, user_id: int | None, occasion: str = "sent") -> tuple[QuestionnaireResponse, bool]:
    """Send a questionnaire; one already waiting for the same instrument is reused (a double click sends one).

    Returns the response and whether it is new."""
    if instruments()[instrument].kind != "items":
        raise ValueError(f"{instrument} has no items to answer")
    _one_sender_at_a_time(session, patient_id)
    waiting = session.exec(select(QuestionnaireResponse).where(
        QuestionnaireResponse.patient_id == patient_id, QuestionnaireResponse.instrument == instrument,
        col(QuestionnaireResponse.completed_at).is_(None))).first()
    if waiting is not None:
        return waiting, False
    response = QuestionnaireResponse(patient_id=patient_id, clinic_id=clinic_id, protocol_id=protocol_id,
                                     instrument=instrument, occasion=occasion, sent_at=now, sent_by_id=user_id)
    session.add(response)
    session.flush()
    return response, True


def _one_sender_at_a_time(session: Session, patient_id: int) -> None:
    """Lock the patient's row until the caller commits: two requests sending at once (two taps on "My
    questionnaires", a therapist's click at the same moment) would each see nothing waiting and both send.
    The second now waits and then finds the first's. PostgreSQL; SQLite's write lock already serialises them."""
    session.exec(select(Patient.id).where(Patient.id == patient_id).with_for_update()).first()


def due_scheduled(*, protocol_started: datetime, now: datetime, last_sent: datetime | None) -> bool:
    """A scheduled questionnaire is due at the start and again once two weeks have passed since the last one."""
    if last_sent is None or last_sent < protocol_started:
        return True
    return now - last_sent >= SCHEDULE_EVERY


def send_scheduled(session: Session, *, protocol: Protocol, now: datetime) -> list[QuestionnaireResponse]:
    """Create the scheduled questionnaires that are due for the patient's active protocol (one query to look)."""
    _one_sender_at_a_time(session, protocol.patient_id)  # before reading what was sent, so a twin sees it
    rows = session.exec(select(QuestionnaireResponse.instrument, QuestionnaireResponse.sent_at).where(
        QuestionnaireResponse.patient_id == protocol.patient_id,
        col(QuestionnaireResponse.instrument).in_(SCHEDULED_INSTRUMENTS))).all()
    last: dict[str, datetime] = {}
    for instrument, sent_at in rows:
        last[instrument] = max(sent_at, last.get(instrument, sent_at))
    created = []
    for instrument in SCHEDULED_INSTRUMENTS:
        if due_scheduled(protocol_started=protocol.created_at, now=now, last_sent=last.get(instrument)):
            response, new = send(session, patient_id=protocol.patient_id, clinic_id=protocol.clinic_id,
                                 protocol_id=protocol.id, instrument=instrument, now=now, user_id=None,
                                 occasion="start" if instrument not in last else "scheduled")
            if new:
                created.append(response)
    return created


def send_at_discharge(session: Session, *, protocol: Protocol, now: datetime,
                      user_id: int) -> list[tuple[QuestionnaireResponse, bool]]:
    """The scheduled questionnaires once more at discharge ("at the start, every two weeks, at discharge").

    One still waiting and not yet started becomes the discharge one (sent now), so the patient answers one LEFS,
    not two; one already started is left for the patient to finish (its answers describe when they were given,
    and mixing them with answers given at discharge would make a total of neither). Returns each with whether
    it is new."""
    sent = []
    for instrument in SCHEDULED_INSTRUMENTS:
        response, new = send(session, patient_id=protocol.patient_id, clinic_id=protocol.clinic_id,
                             protocol_id=protocol.id, instrument=instrument, now=now, user_id=user_id,
                             occasion="discharge")
        if not new and not answers_of(response):
            response.occasion, response.protocol_id, response.sent_at = "discharge", protocol.id, now
            response.sent_by_id = user_id
            session.add(response)
        sent.append((response, new))
    session.flush()
    return sent


def open_for(session: Session, *, patient_id: int) -> list[QuestionnaireResponse]:
    return list(session.exec(select(QuestionnaireResponse).where(
        QuestionnaireResponse.patient_id == patient_id, col(QuestionnaireResponse.completed_at).is_(None),
        QuestionnaireResponse.occasion != "clinic_entry").order_by(col(QuestionnaireResponse.sent_at))))


def get_own(session: Session, *, patient_id: int, response_id: int) -> QuestionnaireResponse | None:
    """Through the patient, so another patient's id is simply not found."""
    return session.exec(select(QuestionnaireResponse).where(
        QuestionnaireResponse.id == response_id, QuestionnaireResponse.patient_id == patient_id)).first()


def save_answers(session: Session, *, response: QuestionnaireResponse, new: dict[int, int], language: str,
                 now: datetime) -> QuestionnaireResponse:
    """Merge a page of answers into the stored ones; score and finish once every item is answered.

    Every value is checked first (AnswerError: nothing saved). A finished questionnaire is not changed."""
    instrument = instruments()[response.instrument]
    for item, value in new.items():
        check_answer(instrument, item, value)
    for _attempt in range(5):
        session.refresh(response)
        if response.completed_at is not None:
            return response
        merged = {**answers_of(response), **new}
        total = score(instrument, merged)
        values = {"answers": json.dumps({str(item): value for item, value in sorted(merged.items())}),
                  "version": response.version + 1, "language": language,
                  "started_at": response.started_at or now,
                  "completed_at": now if total is not None else None, "score": total}
        result = session.execute(update(QuestionnaireResponse).where(
            col(QuestionnaireResponse.id) == response.id, col(QuestionnaireResponse.version) == response.version,
        ).values(**values))
        if rows_changed(result) == 1:
            session.refresh(response)
            return response
    raise SaveConflict("The answers changed while saving.")


def record_total(session: Session, *, patient_id: int, clinic_id: int, protocol_id: int | None, instrument: str,
                 total: float, taken_at: datetime, user_id: int) -> QuestionnaireResponse:
    """A licensed total (WOMAC, Oxford Knee Score) typed by the clinic; off the scale raises AnswerError."""
    check_total(instruments()[instrument], total)
    response = QuestionnaireResponse(patient_id=patient_id, clinic_id=clinic_id, protocol_id=protocol_id,
                                     instrument=instrument, occasion="clinic_entry", sent_at=taken_at,
                                     sent_by_id=user_id, started_at=taken_at, completed_at=taken_at, score=total)
    session.add(response)
    session.flush()
    return response


def responses_of(session: Session, *, patient_id: int) -> list[QuestionnaireResponse]:
    """All of a patient's questionnaires, oldest first, in one query."""
    return list(session.exec(select(QuestionnaireResponse).where(QuestionnaireResponse.patient_id == patient_id)
                             .order_by(col(QuestionnaireResponse.sent_at), col(QuestionnaireResponse.id))))


@dataclass(frozen=True)
class ScoreSummary:
    instrument: Instrument
    scores: tuple[tuple[datetime, float], ...]  # (completed at, score), oldest first
    waiting: int  # sent and not finished
    languages: frozenset[str] = frozenset()  # the languages the finished scores were answered in

    @property
    def baseline(self) -> float | None:
        return self.scores[0][1] if self.scores else None

    @property
    def latest(self) -> float | None:
        return self.scores[-1][1] if self.scores else None

    @property
    def change(self) -> float | None:
        return self.scores[-1][1] - self.scores[0][1] if len(self.scores) >= 2 else None

    @property
    def verdict(self) -> Verdict | None:
        if len(self.scores) < 2:
            return None
        return verdict(self.instrument, self.scores[0][1], self.scores[-1][1])


def summarize(responses: list[QuestionnaireResponse]) -> list[ScoreSummary]:
    """First against latest finished score per instrument, in the content file's order."""
    summaries = []
    for key, instrument in instruments().items():
        own = [response for response in responses if response.instrument == key]
        finished = tuple((response.completed_at, response.score) for response in own
                         if response.completed_at is not None and response.score is not None)
        waiting = sum(response.completed_at is None for response in own)
        languages = frozenset(response.language for response in own
                              if response.completed_at is not None and response.occasion != "clinic_entry")
        if finished or waiting:
            summaries.append(ScoreSummary(instrument, finished, waiting, languages))
    return summaries


VERDICT_WORDS = {"improved": N_("improved"), "no change": N_("no change"), "worse": N_("worse")}
# The Spanish LEFS is this app's own translation, not the validated one (docs/clinical.md): said wherever a
# Spanish LEFS score is shown.
UNVALIDATED_TRANSLATIONS = {("lefs", "es")}


def unvalidated_languages(summary: ScoreSummary) -> list[str]:
    """The languages this summary's scores were answered in whose form is not a validated translation."""
    return sorted(language for language in summary.languages
                  if (summary.instrument.key, language) in UNVALIDATED_TRANSLATIONS)


def score_reading(summary: ScoreSummary, gettext: Callable[[str], str] = str) -> str:
    """First against latest in words, for a chart's title: "50 → 58 (+8): no change; important change 9 points"."""
    if summary.baseline is None:
        return gettext("no finished questionnaire yet")
    if summary.change is None:
        return gettext("first score %(score)s; a second one shows the change") % {"score": f"{summary.baseline:g}"}
    text = f"{summary.baseline:g} → {summary.latest:g} ({summary.change:+g})"
    if summary.verdict is None:
        return text + ": " + gettext("no important-change threshold shipped")
    return (f"{text}: {gettext(VERDICT_WORDS[summary.verdict])}; "
            + gettext("important change %(threshold)s") % {"threshold": gettext(summary.instrument.threshold_text)})


def score_series(summary: ScoreSummary, *, language: str = "en", gettext: Callable[[str], str] = str) -> ScoreSeries:
    """What the score chart draws for one instrument."""
    instrument = summary.instrument
    return ScoreSeries(name=instrument.text(language).name,
                       minimum=instrument.minimum, maximum=instrument.maximum, points=instrument.important_change,
                       share=instrument.important_change_pct, scores=summary.scores,
                       reading=score_reading(summary, gettext))


@dataclass(frozen=True)
class QuestionnaireSection:
    """What the patient page's "Questionnaires" section shows: scores, what can be sent or typed, every response."""

    summaries: list[ScoreSummary]
    answerable: list[Instrument]
    licensed: list[Instrument]
    responses: list[QuestionnaireResponse]  # newest first
    instruments: dict[str, Instrument]


def questionnaire_section(session: Session, *, patient_id: int) -> QuestionnaireSection:
    """The section's values in one query."""
    responses = responses_of(session, patient_id=patient_id)
    return QuestionnaireSection(summaries=summarize(responses), answerable=answerable(), licensed=licensed_totals(),
                                responses=list(reversed(responses)), instruments=instruments())
