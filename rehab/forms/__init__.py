"""Form shapes: SQLModel (pydantic) classes that validate ``request.form`` so each rule is written once.

``parse_form`` turns a submitted form into a shape or into one readable message per field, which the
templates show beside the field. Nothing is saved unless the whole form is valid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ValidationError, ValidationInfo, field_validator
from sqlmodel import Field, SQLModel

from rehab.services.passwords import password_problem
from rehab.vocabulary import (
    Condition,
    Effusion,
    Knee,
    Language,
    OneOf,
    PaperSize,
    Precaution,
    RedFlag,
    Soreness,
    SpeedUnit,
    Support,
)

Shape = TypeVar("Shape", bound=BaseModel)

_MESSAGES = {
    "missing": "This field is required.",
    "date_from_datetime_parsing": "Enter a date (YYYY-MM-DD).",
    "date_parsing": "Enter a date (YYYY-MM-DD).",
    "date_type": "Enter a date (YYYY-MM-DD).",
    "date_from_datetime_inexact": "Enter a date (YYYY-MM-DD).",
    "literal_error": "Choose one of the options.",
    "int_parsing": "Enter a whole number.",
    "int_from_float": "Enter a whole number.",
    "float_parsing": "Enter a number.",
    "finite_number": "Enter a number.",
    "bool_parsing": "Choose yes or no.",
    "too_short": "Add at least one.",
}
# Errors about a number's value or format; a shape's RANGE_MESSAGES replace them with the allowed range.
_NUMBER_ERRORS = {"greater_than_equal", "less_than_equal", "greater_than", "less_than", "int_parsing",
                  "int_from_float", "float_parsing", "finite_number"}


def _message(error: Mapping[str, Any], range_messages: Mapping[str, str]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    field = str(error["loc"][0]) if error["loc"] else ""
    if kind in _NUMBER_ERRORS and field in range_messages:
        return range_messages[field]
    if kind == "string_too_long":
        return f"Use at most {ctx['max_length']} characters."
    if kind == "string_too_short":
        return "This field is required." if ctx.get("min_length") == 1 else error["msg"]
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"Enter a value {'of at least' if kind == 'greater_than_equal' else 'of at most'} " \
               f"{ctx.get('ge', ctx.get('le'))}."
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return _MESSAGES.get(kind, error["msg"])


def validate(shape: type[Shape], data: Mapping[str, Any]) -> tuple[Shape | None, dict[str, str]]:
    """Validate plain data against a shape: the shape, or None and one readable message per field."""
    try:
        return shape.model_validate(data), {}
    except ValidationError as exc:
        range_messages = getattr(shape, "RANGE_MESSAGES", {})
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "__all__"
            errors.setdefault(field, _message(error, range_messages))
        return None, errors


def parse_form(shape: type[Shape], form: Mapping[str, Any], *, checkboxes: tuple[str, ...] = (),
               extra: Mapping[str, Any] | None = None) -> tuple[Shape | None, dict[str, str]]:
    """Validate a submitted form. Empty strings become "not given"; ticked boxes become True.

    ``extra`` supplies fields that are not typed in the form (nested lists, ids). Returns the shape and no
    errors, or None and {field: message}."""
    data: dict[str, Any] = dict(extra or {})
    for name, field in shape.model_fields.items():
        if name in data:
            continue
        if name in checkboxes:
            data[name] = name in form and form[name] not in ("", "0", None, False)
        else:
            value = str(form.get(name, "")).strip()
            # Keep "" for text fields (so their validators run); drop it where it means "not given".
            if value != "" or field.default == "":
                data[name] = value
    return validate(shape, data)


def _no_markup(value: str) -> str:
    """Names and similar short fields never need angle brackets; notes may (they are escaped on output)."""
    if "<" in value or ">" in value:
        raise ValueError("Use letters, numbers and punctuation only (no < or >).")
    return value


class PatientForm(SQLModel):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date
    chart_number: str | None = Field(default=None, max_length=40)
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=254)
    affected_knee: Annotated[str, OneOf(Knee)]
    condition: Annotated[str, OneOf(Condition)]
    condition_other: str = Field(default="", max_length=200)
    surgery_date: date | None = None
    uses_walker: bool = False
    vestibular_disorder: bool = False
    peripheral_neuropathy: bool = False
    anticoagulants: bool = False
    cognitive_impairment: bool = False
    precaution_other: str = Field(default="", max_length=200)
    language: Annotated[str, OneOf(Language)] = Language.EN
    notes: str = Field(default="", max_length=5000)

    CHECKBOXES: ClassVar[tuple[str, ...]] = tuple(Precaution)

    @field_validator("first_name", "last_name", "chart_number", "phone")
    @classmethod
    def _plain_text(cls, value: str | None) -> str | None:
        return _no_markup(value) if value else value

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
        return _no_markup(value) if value else value

    @field_validator("surgery_date")
    @classmethod
    def _surgery_date(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value and value > date.today():
            raise ValueError("The surgery date cannot be in the future.")
        birth = info.data.get("date_of_birth")
        if value and birth and value < birth:
            raise ValueError("The surgery date is before the date of birth.")
        return value


EMERGENCY_NUMBER = re.compile(r"^[0-9][0-9 ]{1,9}$")


class ClinicForm(SQLModel):
    name: str = Field(min_length=1, max_length=120)
    address: str = Field(default="", max_length=300)
    phone: str = Field(default="", max_length=40)
    emergency_number: str = Field(default="911", max_length=20)
    paper_size: Annotated[str, OneOf(PaperSize)] = PaperSize.LETTER
    speed_unit: Annotated[str, OneOf(SpeedUnit)] = SpeedUnit.KMH
    timezone: str = Field(default="UTC", max_length=64)

    @field_validator("name", "address")
    @classmethod
    def _plain_text(cls, value: str) -> str:
        return _no_markup(value) if value else value

    @field_validator("phone")
    @classmethod
    def _phone_given(cls, value: str) -> str:
        # Every sheet and patient page says "stop and call the clinic": without a number that is no instruction.
        if not value.strip():
            raise ValueError("Enter the clinic's phone number: sheets and the patient's page tell patients to call it.")
        return _no_markup(value)

    @field_validator("emergency_number")
    @classmethod
    def _emergency_number(cls, value: str) -> str:
        if not EMERGENCY_NUMBER.match(value.strip()):
            raise ValueError("Enter the emergency number patients call, in digits, for example 911, 112 or 999.")
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError("Choose a time zone from the list, for example America/Chicago.")
        return value


class UserForm(SQLModel):
    name: str = Field(min_length=1, max_length=120)
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=128)
    is_admin: bool = False

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return _no_markup(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip().lower()
        if "@" not in value or " " in value or "<" in value or value.startswith("@") or value.endswith("@"):
            raise ValueError("Enter an email address like name@example.com.")
        return value

    @field_validator("password")
    @classmethod
    def _policy(cls, value: str, info: ValidationInfo) -> str:
        problem = password_problem(value, email=info.data.get("email", ""), name=info.data.get("name", ""))
        if problem:
            raise ValueError(problem)
        return value


class NewClinicForm(SQLModel):
    """A clinic added by an admin; its address, paper and time zone are set under Clinic settings."""

    name: str = Field(min_length=1, max_length=120)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return _no_markup(value)


class MemberForm(SQLModel):
    """An existing account added to a clinic, by its email."""

    email: str = Field(min_length=1, max_length=254)
    is_admin: bool = False

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return UserForm._email(value)


def local_to_utc(text: str, zone: str) -> datetime | None:
    """A ``datetime-local`` form value, entered in the clinic's time zone, as aware UTC; None if unreadable."""
    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    try:
        return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    except (ZoneInfoNotFoundError, ValueError):
        return naive.replace(tzinfo=UTC)


# Allow a little clock skew between the tablet and the server before calling a time "in the future".
FUTURE_TOLERANCE = timedelta(minutes=10)


def recorded_moment(value: datetime, what: str) -> datetime:
    """When a visit or an assessment happened: not in the future, not before the year 2000 (a typo)."""
    if value > datetime.now(UTC) + FUTURE_TOLERANCE:
        raise ValueError(f"The {what} date cannot be in the future.")
    if value.year < 2000:
        raise ValueError(f"Check the year of the {what} date.")
    return value


class AssessmentForm(SQLModel):
    """A baseline (or later) fall-risk screen: at least one of the three measures."""

    RANGE_MESSAGES: ClassVar[dict[str, str]] = {
        "backward_walk_3m_s": "Enter 1 to 120 seconds, or leave it empty.",
        "tug_s": "Enter 1 to 300 seconds, or leave it empty.",
        "gait_speed_ms": "Enter 0.05 to 3 m/s, or leave it empty.",
    }

    occurred_at: datetime
    backward_walk_3m_s: float | None = Field(default=None, ge=1, le=120)
    tug_s: float | None = Field(default=None, ge=1, le=300)
    gait_speed_ms: float | None = Field(default=None, ge=0.05, le=3)
    note: str = Field(default="", max_length=1000)

    @field_validator("occurred_at")
    @classmethod
    def _not_in_future(cls, value: datetime) -> datetime:
        return recorded_moment(value, "assessment")

    @property
    def measured(self) -> bool:
        return any(value is not None for value in (self.backward_walk_3m_s, self.tug_s, self.gait_speed_ms))


class VisitForm(SQLModel):
    """One visit as the therapist records it. Speeds arrive in km/h (the view converts mph)."""

    RANGE_MESSAGES: ClassVar[dict[str, str]] = {
        "pain_before": "Enter pain from 0 to 10.",
        "pain_worst": "Enter pain from 0 to 10.",
        "pain_after": "Enter pain from 0 to 10.",
        "pain_next_morning": "Enter pain from 0 to 10, or leave it empty.",
        "minutes": "Enter minutes between 0.5 and 120.",
        "speed_kmh": "Enter a speed between 0.1 and 8 km/h (0.1 to 5 mph), or leave it empty.",
        "incline_pct": "Enter an incline between 0 and 20 %.",
        "stumbles": "Enter a number of stumbles from 0 to 50.",
        "falls": "Enter a number of falls from 0 to 20.",
        "backward_walk_3m_s": "Enter 1 to 120 seconds, or leave it empty.",
        "tug_s": "Enter 1 to 300 seconds, or leave it empty.",
        "gait_speed_ms": "Enter 0.05 to 3 m/s, or leave it empty.",
        "six_minute_walk_m": "Enter 1 to 1000 metres, or leave it empty.",
        "knee_flexion_deg": "Enter 0 to 160 degrees, or leave it empty.",
        "knee_extension_deg": "Enter -30 to 40 degrees, or leave it empty.",
    }
    CHECKBOXES: ClassVar[tuple[str, ...]] = tuple(RedFlag)

    occurred_at: datetime
    pain_before: int = Field(ge=0, le=10)
    pain_worst: int = Field(ge=0, le=10)
    pain_after: int = Field(ge=0, le=10)
    pain_next_morning: int | None = Field(default=None, ge=0, le=10)
    soreness: Annotated[str, OneOf(Soreness)] = Soreness.NONE
    effusion: Annotated[str, OneOf(Effusion)] = Effusion.ZERO
    exercise: str = Field(min_length=1, max_length=40)
    minutes: float = Field(ge=0.5, le=120)
    speed_kmh: float | None = Field(default=None, ge=0.1, le=8)
    incline_pct: float = Field(default=0, ge=0, le=20)
    support: Annotated[str, OneOf(Support)]
    stumbles: int = Field(default=0, ge=0, le=50)
    falls: int = Field(default=0, ge=0, le=20)
    flag_calf: bool = False
    flag_chest: bool = False
    flag_infection: bool = False
    flag_locking: bool = False
    flag_sudden_pain: bool = False
    backward_walk_3m_s: float | None = Field(default=None, ge=1, le=120)
    tug_s: float | None = Field(default=None, ge=1, le=300)
    gait_speed_ms: float | None = Field(default=None, ge=0.05, le=3)
    six_minute_walk_m: float | None = Field(default=None, ge=1, le=1000)
    knee_flexion_deg: float | None = Field(default=None, ge=0, le=160)
    knee_extension_deg: float | None = Field(default=None, ge=-30, le=40)
    note: str = Field(default="", max_length=2000)

    @field_validator("occurred_at")
    @classmethod
    def _not_in_future(cls, value: datetime) -> datetime:
        return recorded_moment(value, "visit")

    @field_validator("exercise")
    @classmethod
    def _known_exercise(cls, value: str) -> str:
        from rehab.services.catalogue import exercises

        if value not in exercises():
            raise ValueError("Choose an exercise from the list.")
        return value
