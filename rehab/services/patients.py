"""The caseload: search, create, edit with history, archive. Every function is scoped to one clinic."""

from __future__ import annotations

import contextlib
import json
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, ClassVar, Literal, cast

from pydantic import ValidationInfo, field_validator
from sqlalchemy import ColumnElement, bindparam, case, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from rehab.models import EditRecord, Patient, User
from rehab.models.patients import PatientBase, search_text
from rehab.services.assignment import assigned_name
from rehab.services.caseload import open_alert_summary
from rehab.services.edits import StaleEdit, apply_changes, claim_version, jsonable
from rehab.services.shapes import plain_text
from rehab.services.surgery import PLANNED_AHEAD_DAYS
from rehab.vocabulary import ALERT_URGENCY, Condition, Precaution

Status = Literal["active", "archived", "all"]


class PatientInput(PatientBase):
    """A patient as the therapist types it (add and edit) or a records system sends it (FHIR): the table's fields
    and limits (``PatientBase``), and the rules of input."""

    CHECKBOXES: ClassVar[tuple[str, ...]] = tuple(Precaution)

    @field_validator("first_name", "last_name", "chart_number", "phone", "referring_physician", "referring_practice",
                     "referring_address", "referring_fax")
    @classmethod
    def _plain_text(cls, value: str | None) -> str | None:
        return plain_text(value) if value else value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and ("@" not in value or " " in value or "<" in value):
            raise ValueError("Enter an email address like name@example.com.")
        return value.lower()

    @field_validator("date_of_birth")
    @classmethod
    def _birth_date(cls, value: date) -> date:
        today = date.today()
        if value > today:
            raise ValueError("The date of birth cannot be in the future.")
        if value < today.replace(year=today.year - 120):
            raise ValueError("The date of birth is more than 120 years ago. Check the year.")
        return value

    @field_validator("condition_other")
    @classmethod
    def _other_needs_text(cls, value: str, info: ValidationInfo) -> str:
        # Field validators run in declaration order, so `condition` is already in info.data.
        if info.data.get("condition") == Condition.OTHER and not value:
            raise ValueError("Describe the condition when you choose Other.")
        return plain_text(value) if value else value

    @field_validator("surgery_date")
    @classmethod
    def _surgery_date(cls, value: date | None, info: ValidationInfo) -> date | None:
        # A planned date is allowed (prehabilitation before the surgery); years ahead is a mistyped year.
        if value and (value - date.today()).days > PLANNED_AHEAD_DAYS:
            raise ValueError("A planned surgery date is at most two years ahead. Check the year.")
        birth = info.data.get("date_of_birth")
        if value and birth and value < birth:
            raise ValueError("The surgery date is before the date of birth.")
        return value


class PatientRow(typing.Protocol):
    """What a caseload row shows (a plain row, not a loaded patient object)."""

    id: int
    first_name: str
    last_name: str
    chart_number: str | None
    date_of_birth: date
    condition: str
    condition_other: str
    affected_knee: str
    archived_at: datetime | None
    last_session_at: datetime | None
    therapist_name: str | None  # None: unassigned (nobody, or a therapist who left)


@dataclass(frozen=True)
class PatientPage:
    patients: list[PatientRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


_ROW_COLUMNS: tuple[Any, ...] = (
    Patient.id, Patient.first_name, Patient.last_name, Patient.chart_number, Patient.date_of_birth, Patient.condition,
    Patient.condition_other, Patient.affected_knee, Patient.archived_at, Patient.last_session_at,
    col(User.name).label("therapist_name"))
# The list's orders: by name; the longest since a session first (never seen first of all); the most urgent open
# alerts first (then the most of them). Each then by name.
Sort = Literal["name", "last_session", "alerts"]
SORTS: tuple[Sort, ...] = ("name", "last_session", "alerts")


def _search_terms(query: str) -> list[str]:
    """The LIKE patterns of a name or chart-number search: each word (up to five) of the folded query, with % and
    _ typed by the user escaped, not wildcards."""
    return ["%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            for term in search_text(query).split()[:5]]


def name_search(query: str) -> list[ColumnElement[bool]]:
    """The conditions a name or chart-number search puts on Patient: each word (up to five) must appear in the
    folded "last first chart" key, case and accents ignored (the caseload's search, the audit trail's filter).
    Bound parameters only (SECURITY.md 15); % and _ typed by the user are escaped, not wildcards."""
    return [col(Patient.search_key).like(pattern, escape="\\") for pattern in _search_terms(query)]


def search_patients(session: Session, *, clinic_id: int, query: str = "", condition: str = "",
                    status: Status = "active", page: int = 1, per_page: int = 25, sort: Sort = "name"
                    ) -> PatientPage:
    """One page of the clinic's patients matching a name or chart-number search, in name order (or ``sort``).

    The clinic's search index holds every column the filter reads: the count reads the index alone, and the
    page walks it in name order, reading from the table only the rows shown. (A window count in the page query
    would be one query fewer but reads every match: 7 ms instead of 1 for a clinic of 2,000.) The other orders
    sort the matches (the open alerts joined as one grouped subquery)."""
    terms = _search_terms(query)
    count, rows_statement = _search_statements(status, bool(condition), len(terms), sort)
    params: dict[str, Any] = {"clinic_id": clinic_id, "condition": condition,
                              **{f"term_{index}": term for index, term in enumerate(terms)}}
    total = session.exec(count, params=params).one()
    page = max(1, min(page, max(1, -(-total // per_page))))
    # A row of these columns has them as attributes: it is a PatientRow.
    rows = cast(list[PatientRow], list(session.exec(
        rows_statement, params={**params, "offset": (page - 1) * per_page, "limit": per_page})))
    return PatientPage(rows, total, page, per_page)


@cache  # at most 3 statuses x 2 x 6 term counts x 3 orders
def _search_statements(status: Status, by_condition: bool, terms: int, sort: Sort) -> tuple[Any, Any]:
    """The search's count and page statements for one shape of search, built once per shape: building them cost
    more than running them. Every value (clinic, condition, words, offset, limit) is a bound parameter."""
    conditions = [col(Patient.clinic_id) == bindparam("clinic_id")]
    if status == "active":
        conditions.append(col(Patient.archived_at).is_(None))
    elif status == "archived":
        conditions.append(col(Patient.archived_at).is_not(None))
    if by_condition:
        conditions.append(col(Patient.condition) == bindparam("condition"))
    conditions += [col(Patient.search_key).like(bindparam(f"term_{index}"), escape="\\") for index in range(terms)]
    count = select(func.count()).select_from(Patient).where(*conditions)
    statement = select(*_ROW_COLUMNS).outerjoin(User, assigned_name()).where(*conditions)
    by_name = (col(Patient.search_key), col(Patient.id))
    if sort == "last_session":
        never = case((col(Patient.last_session_at).is_(None), 0), else_=1)
        statement = statement.order_by(never, col(Patient.last_session_at), *by_name)
    elif sort == "alerts":
        alerts = open_alert_summary(bindparam("clinic_id"))  # type: ignore[arg-type]  # bound per request
        statement = (statement.outerjoin(alerts, alerts.c.patient_id == Patient.id)
                     .order_by(func.coalesce(alerts.c.urgency, len(ALERT_URGENCY) + 1), alerts.c.count.desc(),
                               *by_name))
    else:
        statement = statement.order_by(*by_name)
    return count, statement.offset(bindparam("offset")).limit(bindparam("limit"))


# Nearly every patient page runs this; built once, bound per request.
_PATIENT_OF_CLINIC = select(Patient).where(Patient.id == bindparam("patient_id"),
                                           Patient.clinic_id == bindparam("clinic_id"))


def get_patient(session: Session, *, clinic_id: int, patient_id: int) -> Patient | None:
    """The patient if it belongs to this clinic; another clinic's patient is simply not found."""
    return session.exec(_PATIENT_OF_CLINIC, params={"patient_id": patient_id, "clinic_id": clinic_id}).first()


def chart_number_taken(session: Session, *, clinic_id: int, chart_number: str | None,
                       exclude_id: int | None = None) -> bool:
    if not chart_number:
        return False
    statement = select(Patient.id).where(Patient.clinic_id == clinic_id, Patient.chart_number == chart_number)
    if exclude_id is not None:
        statement = statement.where(Patient.id != exclude_id)
    return session.exec(statement).first() is not None


CHART_NUMBER_CONSTRAINT = "uq_patient_clinic_chart"


def is_chart_number_clash(error: IntegrityError) -> bool:
    """The insert or update lost a race for a chart number (two saves passed ``chart_number_taken`` at once):
    PostgreSQL names the constraint, SQLite names its columns."""
    original = error.orig
    constraint = getattr(getattr(original, "diag", None), "constraint_name", None)
    if constraint is not None:
        return bool(constraint == CHART_NUMBER_CONSTRAINT)
    return "patient.clinic_id, patient.chart_number" in str(original)


class ChartNumberTaken(Exception):
    """Another patient of the clinic got this chart number first (two saves passed ``chart_number_taken`` at
    once); nothing of this save was written."""


@contextlib.contextmanager
def _unique_chart_number(session: Session) -> Iterator[None]:
    """The writes inside, in a SAVEPOINT: a chart number clash undoes them alone and raises ChartNumberTaken,
    and the caller's transaction stays usable (PostgreSQL refuses every statement after an error otherwise)."""
    try:
        with session.begin_nested():
            yield
    except IntegrityError as error:
        if not is_chart_number_clash(error):
            raise
        raise ChartNumberTaken from None


def create_patient(session: Session, *, clinic_id: int, form: PatientInput, user_id: int | None, now: datetime,
                   therapist_id: int | None = None) -> Patient:
    """Add a patient, looked after by ``therapist_id`` (None: unassigned, as a records system adds them);
    raises ChartNumberTaken when another save took the chart number first."""
    patient = Patient(clinic_id=clinic_id, created_at=now, updated_at=now, updated_by_id=user_id,
                      therapist_id=therapist_id, **form.model_dump())
    with _unique_chart_number(session):
        session.add(patient)
    return patient


def _account_name(session: Session, user_id: int | None) -> str | None:
    """A therapist's name as the history keeps it (the name then, readable even after the account goes)."""
    user = session.get(User, user_id) if user_id is not None else None
    return user.name if user is not None else None


def update_patient(session: Session, *, patient: Patient, form: PatientInput, seen_version: int, user_id: int,
                   now: datetime, therapist_id: int | None) -> dict[str, list[Any]]:
    """Apply an edit and keep its history. Returns {field: [old, new]} (empty when nothing changed); a new
    therapist is kept as {"therapist": [old name, new name]} (None: unassigned).

    Raises StaleEdit when someone saved the patient after this form was opened (SECURITY.md 21), and
    ChartNumberTaken when another save took the new chart number first; either way ``patient`` is as saved."""
    if patient.version != seen_version:
        raise StaleEdit
    # A version claimed by someone else meanwhile undoes the changes applied to ``patient`` (and expires it).
    with _unique_chart_number(session):
        # The names are read before any field changes, so the reads flush nothing ahead of the version claim.
        names = ([_account_name(session, patient.therapist_id), _account_name(session, therapist_id)]
                 if therapist_id != patient.therapist_id else None)
        changes = apply_changes(patient, form.model_dump())
        if names is not None:
            changes["therapist"] = names
            patient.therapist_id = therapist_id
        if changes:
            patient.updated_at = now
            patient.updated_by_id = user_id
            claim_version(session, patient, column="version", seen=seen_version)
            session.add(EditRecord(entity="patient", entity_id=patient.id, patient_id=patient.id, user_id=user_id,
                                   at=now, changes=json.dumps(changes)))
            session.flush()
    return changes


def set_archived(session: Session, *, patient: Patient, archived: bool, user_id: int, now: datetime) -> None:
    """Archive or bring back a patient; there is no hard delete."""
    old = patient.archived_at
    patient.archived_at = now if archived else None
    patient.updated_at = now
    patient.updated_by_id = user_id
    session.add(EditRecord(entity="patient", entity_id=patient.id, patient_id=patient.id, user_id=user_id,
                           at=now, changes=json.dumps({"archived_at": [jsonable(old),
                                                                       jsonable(patient.archived_at)]})))
    session.flush()


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    author: str
    changes: dict[str, list[Any]]


HISTORY_ENTITY = "patient"  # EditRecord rows of the patient record itself
_PATIENT_EDITS = (select(EditRecord, User.name).outerjoin(User, col(User.id) == EditRecord.user_id)
                  .where(col(EditRecord.patient_id) == bindparam("patient_id"),
                         col(EditRecord.entity) == HISTORY_ENTITY)
                  .order_by(col(EditRecord.at).desc(), col(EditRecord.id).desc()))


def patient_history(session: Session, *, patient_id: int, limit: int = 50) -> list[HistoryEntry]:
    """The latest edits of a patient record, newest first, with who made them."""
    return history_entries(session.exec(_PATIENT_EDITS.limit(limit), params={"patient_id": patient_id}))


def history_entries(rows: Iterable[tuple[EditRecord, str | None]]) -> list[HistoryEntry]:
    """(edit of the patient record, its author's name) rows as the history lists them."""
    return [HistoryEntry(record.at, name or "Unknown", json.loads(record.changes)) for record, name in rows]
