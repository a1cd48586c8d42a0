"""A patient's whole record as FHIR resources ($everything, the patient page's download, the bulk export),
and the searches the API answers (Patient by identifier, Observation by patient, code and date)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from fhir.resources.R4B.resource import Resource
from sqlalchemy import func
from sqlmodel import Session, col, select

from rehab.models import AdviceDecision, Alert, Clinic, HandoutPrint, HomeLog, Patient, ProtocolVersion, User
from rehab.services import protocol_records, visits
from rehab.services.fhir import care, documents, patients
from rehab.services.fhir import visits as visit_resources
from rehab.services.fhir.common import Context

SheetRenderer = Callable[[HandoutPrint], bytes]
ReportRenderer = Callable[[Patient], bytes | None]


def patient_resources(session: Session, context: Context, patient: Patient, clinic: Clinic, *,
                      render_sheet: SheetRenderer | None = None, render_report: ReportRenderer | None = None,
                      now: datetime) -> list[Resource]:
    """Everything about one patient, each resource validated. PDFs are attached when renderers are given."""
    resources = patients.record_resources(context, patient, clinic)
    patient_id: int = patient.id
    contents = []
    for protocol in reversed(protocol_records.protocols_of(session, patient_id=patient_id)):
        versions = session.exec(select(ProtocolVersion).where(ProtocolVersion.protocol_id == protocol.id)
                                .order_by(col(ProtocolVersion.number))).all()
        loaded = [(version, protocol_records.load_content(version)) for version in versions]
        contents += [content for _, content in loaded]
        resources += care.protocol_resources(context, protocol, loaded, speed_unit=clinic.speed_unit)
    resources += care.definitions(context, contents)
    open_alerts = session.exec(select(Alert.visit_id, Alert.home_log_id).where(
        Alert.patient_id == patient_id, col(Alert.acknowledged_at).is_(None))).all()
    open_visits = {visit_id for visit_id, _ in open_alerts if visit_id}
    open_logs = {log_id for _, log_id in open_alerts if log_id}
    for visit in visits.visits_of(session, patient_id=patient_id):
        resources += visit_resources.visit_resources(visit, open_alert_visits=open_visits)
    for log in session.exec(select(HomeLog).where(HomeLog.patient_id == patient_id)
                            .order_by(col(HomeLog.session_date), col(HomeLog.id))):
        resources += visit_resources.home_log_resources(log, open_alert_logs=open_logs)
    for decision, name in session.exec(
            select(AdviceDecision, User.name).outerjoin(User, col(User.id) == AdviceDecision.user_id)
            .where(AdviceDecision.patient_id == patient_id).order_by(col(AdviceDecision.at))):
        resources += _decisions(context, decision, name)
    if render_sheet is not None:
        for record in session.exec(select(HandoutPrint).where(HandoutPrint.patient_id == patient_id)
                                   .order_by(col(HandoutPrint.printed_at))):
            resources.append(documents.sheet_document(record, render_sheet(record)))
    if render_report is not None:
        pdf = render_report(patient)
        if pdf is not None:
            resources.append(documents.report_document(patient_id, now, pdf))
    return resources


def _decisions(context: Context, decision: AdviceDecision, therapist_name: str | None) -> list[Resource]:
    return visit_resources.decision_resources(decision, therapist_name=therapist_name,
                                              module_url=f"{context.base_url}/progression-rules")


# ----------------------------------------------------------------------------------------------- searching


class SearchError(ValueError):
    """A search parameter the server cannot use; ``parameter`` names it for the OperationOutcome."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int


def search_patients(session: Session, context: Context, *, clinic_id: int, identifier: str | None, offset: int,
                    count: int) -> Page:
    """The clinic's patients, or those with this chart number (``value`` or ``system|value``)."""
    conditions: list[Any] = [Patient.clinic_id == clinic_id]
    if identifier is not None:
        system, _, value = identifier.rpartition("|")
        if not value:
            raise SearchError("identifier", "Give a chart number, as value or system|value.")
        if system and system != context.identifier_system:
            return Page([], 0)  # a system this server does not keep
        conditions.append(Patient.chart_number == value)
    total = session.exec(select(func.count()).select_from(Patient).where(*conditions)).one()
    rows = session.exec(select(Patient).where(*conditions).order_by(col(Patient.id)).offset(offset).limit(count)).all()
    return Page(list(rows), total)


_PREFIXES = ("eq", "ne", "ge", "le", "gt", "lt")


def _parse_date(text: str) -> tuple[str, date | datetime]:
    prefix = text[:2] if text[:2] in _PREFIXES else "eq"
    value = text[2:] if text[:2] in _PREFIXES else text
    try:
        if len(value) == 10:
            return prefix, date.fromisoformat(value)
        return prefix, datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SearchError("date", f"Use a date like 2026-11-25 or ge2026-11-01 (got {text!r}).") from None


def _effective(observation: Any) -> datetime:
    value = observation.effectiveDateTime
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min)


def _matches_date(observation: Any, prefix: str, wanted: date | datetime) -> bool:
    effective = _effective(observation)
    left: Any = effective.date() if not isinstance(wanted, datetime) else effective
    if isinstance(wanted, datetime) and wanted.tzinfo is None:
        left = left.replace(tzinfo=None)
    matches: bool = {"eq": left == wanted, "ne": left != wanted, "ge": left >= wanted, "le": left <= wanted,
                     "gt": left > wanted, "lt": left < wanted}[prefix]
    return matches


def _matches_code(observation: Any, token: str) -> bool:
    system, has_bar, code = token.rpartition("|")
    for item in observation.code.coding or []:
        if item.code == code and (not has_bar or not system or item.system == system):
            return True
    return False


def filter_observations(resources: list[Resource], *, codes: list[str], dates: list[str]) -> list[Resource]:
    """The Observations among ``resources`` that match every ``date`` and any of the ``code`` tokens."""
    date_filters = [_parse_date(text) for text in dates]
    tokens = [token for value in codes for token in value.split(",") if token]
    if codes and not tokens:
        raise SearchError("code", "Give a code, as code or system|code.")
    matches = []
    for resource in resources:
        if resource.get_resource_type() != "Observation":
            continue
        if tokens and not any(_matches_code(resource, token) for token in tokens):
            continue
        if all(_matches_date(resource, prefix, wanted) for prefix, wanted in date_filters):
            matches.append(resource)
    return matches


def observation_resources(session: Session, context: Context, patient: Patient, clinic: Clinic, *,
                          now: datetime) -> list[Resource]:
    """The patient's resources without the PDFs (Observation searches never need them)."""
    return patient_resources(session, context, patient, clinic, now=now)
