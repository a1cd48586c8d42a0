"""The request's edge: a submitted form into a service's input shape, or one readable message per field.

The shapes are the services' (``services.patients.PatientInput``, ``services.visits.VisitInput``...), each a
table's base class plus its rules of input, so a field and its limits are written once. ``parse_form`` reads
``request.form`` into one; the templates show each message beside its field. Nothing is saved unless the whole
form is valid. Account and clinic forms are in ``forms.accounts``, the protocol builder's in ``forms.protocol``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

from rehab.services.shapes import Shape, validate


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


@dataclass(frozen=True)
class Limits:
    """A field's limits as its shape declares them, for the page's ``maxlength``, ``min`` and ``max``, so the
    browser offers what the server accepts and nothing is written a second time in a template."""

    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None


def field_limits(shape: type[BaseModel]) -> dict[str, Limits]:
    found: dict[str, Limits] = {}
    for name, info in shape.model_fields.items():
        values = {key: getattr(item, attr) for item in info.metadata
                  for key, attr in (("max_length", "max_length"), ("minimum", "ge"), ("maximum", "le"))
                  if getattr(item, attr, None) is not None}
        found[name] = Limits(**values)
    return found
