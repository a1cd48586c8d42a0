"""What a progress report for the referring physician shows: a snapshot of plain values, and its options.

The report is a letter: addressed to the patient's referring physician, with the course of care, clinic and
home sessions, red flags and falls with what was done, advice decisions and safety overrides with their
reasons, notes, measures against their important-change thresholds, and the assessment and plan the
therapist types at print time. A print keeps the snapshot (``ReportPrint``), so a reprint is the letter as it
was printed even after visits were corrected or the patient's details changed.

Values are kept as stored (dates in the clinic's time zone as ISO text, vocabulary codes, numbers); the
template words them in the report's language. No Flask here: a session and rows in, JSON-ready values out.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from sqlmodel import Session, col, select

from rehab.models import Clinic, HomeLog, Patient, Protocol, ProtocolVersion, Visit
from rehab.services import protocol_records
from rehab.services import visits as visit_service
from rehab.services.adherence_records import patient_adherence
from rehab.services.advice.decisions import clearances_of, decision_history
from rehab.services.baseline_change import summarize_progress
from rehab.services.charts import (
    REPORT_CHART,
    REPORT_SCORE_CHART,
    THERAPIST_LABELS,
    ScoreLabels,
    pain_and_minutes_svg,
    scores_svg,
)
from rehab.services.dose import dose_sentence, dose_summary, speed_text
from rehab.services.home_logs import home_logs_of
from rehab.services.patient_page import chart_points, measure_rows
from rehab.services.protocol_content import number
from rehab.services.questionnaire_records import (
    ScoreSummary,
    responses_of,
    score_series,
    summarize,
    unvalidated_languages,
)
from rehab.services.shapes import too_long_message
from rehab.translation import gettext
from rehab.vocabulary import LANGUAGE_LABELS, PAPER_SIZE_LABELS, Language, PaperSize, RedFlag

# Bump when the report's layout changes, so cached PDFs of the old layout are not served again.
REPORT_LAYOUT_VERSION = "2"  # 2: the questionnaire score charts
# A page of typed text each: enough for an assessment or a plan, short enough to stay a letter.
ASSESSMENT_MAX = PLAN_MAX = 3000
DECISIONS_SHOWN = 200  # every decision of a long course of care; a report is not paged


@dataclass(frozen=True)
class ReportOptions:
    paper: str = PaperSize.LETTER  # vocabulary.PaperSize
    language: str = Language.EN  # vocabulary.Language

    @classmethod
    def parse(cls, values: Any, *, default_paper: str, default_language: str) -> ReportOptions:
        paper = values.get("paper") if values.get("paper") in PAPER_SIZE_LABELS else default_paper
        language = values.get("language") if values.get("language") in LANGUAGE_LABELS else default_language
        return cls(paper=paper, language=language)


@dataclass(frozen=True)
class LetterText:
    """The assessment and plan as typed (line ends kept, surrounding blanks dropped)."""

    assessment: str
    plan: str


def letter_text(values: Any) -> tuple[LetterText, dict[str, str]]:
    """The typed assessment and plan, and a message per field that is missing or too long. Nothing is cut: a
    text over its limit is refused with its length, and the form shows it again as typed."""
    # A browser sends each line end as CRLF; the counter on the page counts one character for it, and so do we.
    typed = {name: str(values.get(name, "")).replace("\r\n", "\n").strip() for name in ("assessment", "plan")}
    text = LetterText(assessment=typed["assessment"], plan=typed["plan"])
    errors: dict[str, str] = {}
    for name, limit, missing in (
            ("assessment", ASSESSMENT_MAX, "Write your assessment: the physician reads it first."),
            ("plan", PLAN_MAX, "Write the plan: what happens next and what you ask of the physician.")):
        value = getattr(text, name)
        if not value:
            errors[name] = missing
        elif len(value) > limit:
            errors[name] = f"{too_long_message(len(value), limit)} Nothing was printed."
    return text, errors


def _day(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).date().isoformat() if moment is not None else None


def _flags(row: Visit | HomeLog) -> list[str]:
    return [flag.value for flag in RedFlag if getattr(row, flag.value)]


def _visit(visit: Visit, zone: ZoneInfo, speed_unit: str) -> dict[str, Any]:
    return {"date": _day(visit.occurred_at, zone), "pain_before": visit.pain_before, "pain_worst": visit.pain_worst,
            "pain_after": visit.pain_after, "minutes": number(visit.minutes),
            "speed": speed_text(visit.speed_kmh, speed_unit) if visit.speed_kmh else "",
            "incline": number(visit.incline_pct), "soreness": visit.soreness, "effusion": visit.effusion,
            "red_flags": _flags(visit), "falls": visit.falls, "stumbles": visit.stumbles, "note": visit.note}


def _home(log: HomeLog) -> dict[str, Any]:
    return {"date": log.session_date.isoformat(), "minutes": number(log.minutes), "pain_worst": log.pain_worst,
            "pain_next_morning": log.pain_next_morning, "soreness": log.soreness, "red_flags": _flags(log),
            "falls": int(log.fell), "stumbles": int(log.stumbled), "note": log.note}


def _protocols(db: Session, patient: Patient, zone: ZoneInfo, speed_unit: str, language: str
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[datetime]]:
    """Each protocol (oldest first) with its phase moves, the safety warnings gone past (each once, in the
    version its reason was first given) and the moments of every phase move, for the chart."""
    protocols: list[dict[str, Any]] = []
    overrides: list[dict[str, Any]] = []
    moments: list[datetime] = []
    for protocol in reversed(protocol_records.protocols_of(db, patient_id=patient.id)):
        protocols.append(_protocol(db, protocol, zone, speed_unit, language, moments))
        seen: set[str] = set()
        versions = db.exec(select(ProtocolVersion).where(ProtocolVersion.protocol_id == protocol.id)
                           .order_by(col(ProtocolVersion.number)))
        for version in versions:
            for item in json.loads(version.safety_overrides):
                key = item.get("fingerprint") or f"{item.get('rule')}|{item.get('where')}|{item.get('reason')}"
                if key in seen:
                    continue
                seen.add(key)
                overrides.append({"date": _day(version.created_at, zone), "protocol": protocol.title,
                                  "version": item.get("given_in") or version.number, "where": item.get("where", ""),
                                  "message": item.get("message", ""), "reason": item.get("reason", "")})
    return protocols, overrides, moments


def _protocol(db: Session, protocol: Protocol, zone: ZoneInfo, speed_unit: str, language: str,
              moments: list[datetime]) -> dict[str, Any]:
    version = protocol_records.latest_version(db, protocol)
    content = protocol_records.load_content(version)
    phase = content.phases[protocol.current_phase]
    moves = list(reversed(protocol_records.phase_changes(db, protocol_id=protocol.id)))
    moments += [change.at for change, _ in moves]
    return {"title": protocol.title, "started": _day(protocol.created_at, zone), "status": protocol.status,
            "ended": _day(protocol.ended_at, zone), "end_reason": protocol.end_reason,
            "version": protocol.latest_version, "phase_number": protocol.current_phase + 1,
            "phase_count": len(content.phases), "phase_name": phase.name,
            # The therapist's short form in English; in another language the sentence the sheets print.
            "dose": [dose_summary(rx, speed_unit=speed_unit) if language == "en" else
                     dose_sentence(rx, language=language, speed_unit=speed_unit) for rx in phase.prescriptions],
            "moves": [{"date": _day(change.at, zone), "from": change.from_phase + 1, "to": change.to_phase + 1,
                       "reason": change.reason, "by": author} for change, author in moves]}


def _decisions(db: Session, patient_id: int, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Every decision on the advice, oldest first; one undone the same day is kept and marked."""
    rows = reversed(decision_history(db, patient_id, limit=DECISIONS_SHOWN))
    return [{"date": _day(row.at, zone), "advice": row.advice, "decision": row.decision, "reason": row.reason,
             "phase": row.phase, "by": row.by, "applied": row.applied, "undone": row.undone_at is not None}
            for row in rows]


def _events(visits: list[dict[str, Any]], home: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every session that reported a red flag or a fall, clinic and home, in date order."""
    events = [{"date": row["date"], "where": where, "red_flags": row["red_flags"], "falls": row["falls"],
               "note": row["note"]}
              for where, rows in (("clinic", visits), ("home", home)) for row in rows
              if row["red_flags"] or row["falls"]]
    return sorted(events, key=lambda event: event["date"])


def _measures(db: Session, patient_id: int) -> list[dict[str, Any]]:
    return [{"key": item.spec.key, "label": item.spec.label, "text": item.text, "threshold": item.threshold_text,
             "important": item.important, "improved": item.improved}
            for item in summarize_progress(measure_rows(db, patient_id=patient_id))]


def _questionnaires(summaries: list[ScoreSummary], language: str) -> list[dict[str, Any]]:
    found = []
    for summary in summaries:
        if summary.baseline is None or summary.latest is None or summary.change is None:
            continue
        found.append({"name": summary.instrument.text(language).name, "baseline": number(summary.baseline),
                      "latest": number(summary.latest), "change": number(round(summary.change, 2)),
                      "threshold": summary.instrument.threshold_text, "verdict": summary.verdict,
                      "unvalidated": bool(unvalidated_languages(summary))})
    return found


def _score_charts(summaries: list[ScoreSummary], zone: str, language: str) -> list[str]:
    """Each questionnaire with a finished score as its own chart, drawn at the printed width like the pain chart."""
    words = lambda text: gettext(language, text)  # noqa: E731 (the chart's words in the letter's language)
    return [scores_svg(score_series(summary, language=language, gettext=words), zone=zone,
                       width=REPORT_SCORE_CHART.width, height=REPORT_SCORE_CHART.height,
                       text_scale=REPORT_SCORE_CHART.text_scale, labels=ScoreLabels().translated(words),
                       day_label=lambda moment: format_date(moment, "d MMM", locale=language),
                       moment_label=lambda moment: format_datetime(moment, "d MMM HH:mm", locale=language))
            for summary in summaries if summary.scores]


def _adherence(db: Session, patient_id: int, zone: str, now: datetime) -> list[dict[str, Any]]:
    """Sessions planned and done each week of the whole course of care, oldest first."""
    weeks = patient_adherence(db, patient_id=patient_id, zone=zone, now=now, weeks=None).weeks
    return [{"start": week.start.isoformat(), "end": week.end.isoformat(), "planned_clinic": week.planned_clinic,
             "planned_home": week.planned_home, "clinic_done": week.clinic_done, "home_done": week.home_done,
             "percent": week.percent, "under_half": week.under_half, "in_progress": week.in_progress,
             "stopped_days": week.stopped_days, "partial": week.partial} for week in weeks]


def build_report_snapshot(db: Session, patient: Patient, *, clinic: Clinic, therapist_name: str,
                          options: ReportOptions, letter: LetterText, now: datetime) -> dict[str, Any]:
    """Every value the letter shows, JSON-ready, as of ``now``."""
    zone = ZoneInfo(clinic.timezone)
    printed_on = now.astimezone(zone).date()
    patient_visits = visit_service.visits_of(db, patient_id=patient.id)
    visits = [_visit(visit, zone, clinic.speed_unit) for visit in patient_visits]
    home = [_home(log) for log in reversed(home_logs_of(db, patient_id=patient.id))]
    protocols, overrides, moves = _protocols(db, patient, zone, clinic.speed_unit, options.language)
    dates = sorted(row["date"] for row in visits + home)
    summaries = summarize(responses_of(db, patient_id=patient.id))
    chart = None
    if patient_visits:
        language = options.language
        chart = pain_and_minutes_svg(
            chart_points(patient_visits), phase_changes=moves, zone=clinic.timezone,
            # Drawn at its printed width (the text width, about 180 mm), so its text prints at its own size:
            # legend 12 pt, axes 11 pt (at 900 px wide it printed at 7 pt).
            width=REPORT_CHART.width, height=REPORT_CHART.height, text_scale=REPORT_CHART.text_scale,
            title=gettext(language, "Pain and backward-walking minutes"),
            labels=THERAPIST_LABELS.translated(lambda text: gettext(language, text)),
            day_label=lambda moment: format_date(moment, "d MMM", locale=language),
            moment_label=lambda moment: format_datetime(moment, "d MMM HH:mm", locale=language))
    return {
        "layout": REPORT_LAYOUT_VERSION, "options": asdict(options), "printed_on": printed_on.isoformat(),
        "clinic": {"name": clinic.name, "address": clinic.address, "phone": clinic.phone},
        "therapist_name": therapist_name,
        "addressee": {"name": patient.referring_physician, "practice": patient.referring_practice,
                      "address": patient.referring_address, "fax": patient.referring_fax},
        "patient": {"name": patient.full_name, "date_of_birth": patient.date_of_birth.isoformat(),
                    "chart_number": patient.chart_number or "", "condition": patient.condition,
                    "condition_other": patient.condition_other, "knee": patient.affected_knee,
                    "surgery_date": patient.surgery_date.isoformat() if patient.surgery_date else None},
        "course": {"first": dates[0] if dates else None, "last": dates[-1] if dates else None,
                   "clinic_sessions": len(visits), "home_sessions": len(home)},
        "adherence": _adherence(db, patient.id, clinic.timezone, now),
        "protocols": protocols, "overrides": overrides, "visits": visits, "home": home,
        "events": _events(visits, home),
        "clearances": [{"date": _day(entry.at, zone), "action": entry.action, "cleared": entry.cleared,
                        "covers": entry.covers, "note": entry.note, "by": entry.by}
                       for entry in reversed(clearances_of(db, patient_id=patient.id, limit=None))],
        "decisions": _decisions(db, patient.id, zone),
        "measures": _measures(db, patient.id), "questionnaires": _questionnaires(summaries, options.language),
        "chart": chart, "score_charts": _score_charts(summaries, clinic.timezone, options.language),
        "assessment": letter.assessment, "plan": letter.plan,
    }
