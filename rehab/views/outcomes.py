"""The clinic outcomes page (therapists and admins of the clinic): each template's results at 6 weeks
beside the trials, with filters, a plot of each patient's change and a CSV export."""

from __future__ import annotations

import csv
import io
from datetime import date
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, g, render_template, request
from flask.typing import ResponseReturnValue

from rehab import security
from rehab.db import get_session
from rehab.models import utcnow
from rehab.services import outcome_records, outcomes
from rehab.services.audit_trail import safe_cell
from rehab.services.catalogue import templates
from rehab.services.charts import changes_svg
from rehab.services.protocol_records import DISCHARGE_REASONS
from rehab.views import svg_response
from rehab.vocabulary import CONDITION_LABELS

bp = Blueprint("outcomes", __name__, url_prefix="/outcomes")


def _zone() -> ZoneInfo:
    try:
        return ZoneInfo(g.clinic.timezone)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _filters() -> tuple[outcome_records.Filters, dict[str, str]]:
    """The filters from the query string; a bad value is named beside its field and ignored."""
    errors: dict[str, str] = {}
    dates: dict[str, date | None] = {}
    for name in ("started_from", "started_to"):
        raw = request.args.get(name, "")
        try:
            dates[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            errors[name] = "Use a date like 2026-09-01."
            dates[name] = None
    therapist = request.args.get("therapist", "")
    condition = request.args.get("condition", "")
    if condition and condition not in CONDITION_LABELS:
        errors["condition"] = "Choose a condition from the list."
        condition = ""
    return outcome_records.Filters(dates["started_from"], dates["started_to"],
                                   int(therapist) if therapist.isdigit() else None, condition), errors


def _results() -> tuple[outcome_records.Filters, dict[str, str], list[outcomes.TemplateResult], int]:
    filters, errors = _filters()
    episodes, observations = outcome_records.load(get_session(), clinic_id=g.clinic.id, filters=filters,
                                                  zone=_zone())
    return filters, errors, outcomes.summarize(episodes, observations, now=utcnow()), len(episodes)


def template_name(key: str) -> str:
    """A template in words: a built-in one by its name; protocols from a clinic's own template or from scratch
    share one group (the outcome rows keep no clinic-template name)."""
    built_in = templates().get(key)
    if built_in and built_in.text("name"):
        return built_in.text("name")
    return "Clinic templates and protocols built from scratch" if key == "custom" else "Other protocols"


@bp.get("/")
def index() -> ResponseReturnValue:
    filters, errors, results, total = _results()
    security.record_read("outcomes.view", object_type="outcomes")
    return render_template("outcomes/index.html", results=results, total=total, filters=filters, errors=errors,
                           therapists=outcome_records.therapists(get_session(), clinic_id=g.clinic.id),
                           conditions=CONDITION_LABELS, discharge_reasons=DISCHARGE_REASONS,
                           trials=outcomes.TRIAL_COMPARISON,
                           template_name=template_name, small=outcomes.SMALL_NUMBER, args=request.args)


# The export's columns in words, as the page names them (the values are words too; dates stay ISO, sortable).
CSV_HEADER = ("Template", "Protocol number", "Therapist who started it", "Condition", "Started", "Status",
              "Discharge reason", "Patient archived", "Measure", "Baseline", "At 6 weeks", "Change at 6 weeks",
              "Counted as")


@bp.get("/export.csv")
def export() -> ResponseReturnValue:
    """One row per protocol and measure: no names, the protocol number links back for the clinic only."""
    _, _, results, _ = _results()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for result in results:
        for measure in result.measures:
            for row in measure.rows:
                episode = row.episode
                status = ("Active" if episode.status == "active" else
                          "Discharged" if episode.discharge_reason else "Ended")
                writer.writerow([safe_cell(value) for value in (
                    template_name(result.template), episode.protocol_id, episode.therapist,
                    CONDITION_LABELS.get(episode.condition, "Other"),
                    episode.started_at.astimezone(_zone()).date().isoformat(), status,
                    DISCHARGE_REASONS.get(episode.discharge_reason, ""), "yes" if episode.archived else "no",
                    measure.measure.label, "" if row.baseline is None else f"{row.baseline:g}",
                    "" if row.six_weeks is None else f"{row.six_weeks:g}",
                    "" if row.change is None else f"{row.change:g}",
                    "change" if row.change is not None else "missing")])
    security.record_read("outcomes.export", object_type="outcomes")
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=outcomes-6-weeks.csv"})


@bp.get("/chart.svg")
def chart() -> ResponseReturnValue:
    """Each patient's change for one template and measure (same filters as the page), titled in words."""
    measure = outcomes.MEASURE_BY_KEY.get(request.args.get("measure", "pain_before"))
    if measure is None:
        abort(404)
    _, _, results, _ = _results()
    template = request.args.get("template", "")
    changes: tuple[float, ...] = ()
    for result in results:
        for found in result.measures:
            if result.template == template and found.measure.key == measure.key:
                changes = found.changes
    svg = changes_svg(changes, title=f"{template_name(template)}: {measure.label}, change at 6 weeks",
                      unit=measure.unit)
    return svg_response(svg)
