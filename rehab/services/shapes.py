"""What every input shape shares: validation into one readable message per field, and the checks several
shapes apply (plain text, a recorded moment).

An input shape is a table's base class (``PatientBase`` in ``rehab/models``, which holds each field and its
limits once) plus the rules of input, in the service that saves it (``services.patients.PatientInput``). The
request's edge (``rehab.forms.parse_form``) and the FHIR import both validate through ``validate`` here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from rehab.services.protocol_content import kmh_to_mph

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
        return too_long_message(len(str(error.get("input", ""))), int(ctx["max_length"]))
    if kind == "string_too_short":
        return "This field is required." if ctx.get("min_length") == 1 else str(error["msg"])
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"Enter a value {'of at least' if kind == 'greater_than_equal' else 'of at most'} " \
               f"{ctx.get('ge', ctx.get('le'))}."
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return _MESSAGES.get(kind, str(error["msg"]))


def too_long_message(length: int, limit: int) -> str:
    """What a text over its limit is answered with: how long it is, the limit and how much to cut. Text is
    never shortened for the user: the form comes back with all of it, and they choose what goes."""
    over = length - limit
    return (f"This text is {length:,} characters; the limit is {limit:,}. Shorten it by {over:,} "
            f"character{'' if over == 1 else 's'}.")


def _limit(value: float) -> str:
    return f"{value:g}"


@cache
def range_messages(shape: type[BaseModel]) -> dict[str, str]:
    """The message for a number out of range, per field: a shape's ``RANGE_WORDS`` ("pain from {ge} to {le}")
    filled with the limits its fields declare, so a limit is written once (on the table's base class) and the
    message always states it. "or leave it empty" is added where the field is optional."""
    messages: dict[str, str] = dict(getattr(shape, "RANGE_MESSAGES", {}))
    for field, words in getattr(shape, "RANGE_WORDS", {}).items():
        info = shape.model_fields[field]
        ge = next(item.ge for item in info.metadata if hasattr(item, "ge"))
        le = next(item.le for item in info.metadata if hasattr(item, "le"))
        text = words.format(ge=_limit(ge), le=_limit(le), ge_mph=_limit(round(kmh_to_mph(ge), 1)),
                            le_mph=_limit(round(kmh_to_mph(le), 1)))
        optional = not info.is_required() and info.default is None
        messages[field] = f"Enter {text}{', or leave it empty' if optional else ''}."
    return messages


def validate(shape: type[Shape], data: Mapping[str, Any]) -> tuple[Shape | None, dict[str, str]]:
    """Validate plain data against a shape: the shape, or None and one readable message per field."""
    try:
        return shape.model_validate(data), {}
    except ValidationError as exc:
        ranges = range_messages(shape)
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "__all__"
            errors.setdefault(field, _message(error, ranges))
        return None, errors


def plain_text(value: str) -> str:
    """Names and similar short fields never need angle brackets; notes may (they are escaped on output)."""
    if "<" in value or ">" in value:
        raise ValueError("Use letters, numbers and punctuation only (no < or >).")
    return value



# Allow a little clock skew between the tablet and the server before calling a time "in the future".
FUTURE_TOLERANCE = timedelta(minutes=10)


def recorded_moment(value: datetime, what: str) -> datetime:
    """When a visit or an assessment happened: not in the future, not before the year 2000 (a typo)."""
    if value > datetime.now(UTC) + FUTURE_TOLERANCE:
        raise ValueError(f"The {what} date cannot be in the future.")
    if value.year < 2000:
        raise ValueError(f"Check the year of the {what} date.")
    return value

