"""What every FHIR module shares: validating a resource, references, times, bundles and OperationOutcome."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode

from fhir.resources.R4B.resource import Resource

from rehab.services.fhir.codes import LOCAL, all_concepts

FHIR_JSON = "application/fhir+json"
# R4's version: every element we write exists in R4 and in R4B (whose models validate them), see docs/fhir.md.
FHIR_VERSION = "4.0.1"
# FHIR ids: 1-64 letters, digits, "-" and ".".
MAX_COUNT = 200
DEFAULT_COUNT = 50


@dataclass(frozen=True)
class Context:
    """What the mapping needs from outside: where the API is (for fullUrl and canonical URLs) and the
    identifier system chart numbers are written under (REHAB_FHIR_IDENTIFIER_SYSTEM)."""

    base_url: str  # e.g. http://127.0.0.1:5000/fhir, no trailing slash
    identifier_system: str = "urn:rehab:chart-number"

    def url(self, resource_type: str, resource_id: str) -> str:
        return f"{self.base_url}/{resource_type}/{resource_id}"


@cache
def model(resource_type: str) -> type[Resource]:
    """The R4B model class of a resource type ("Patient" -> fhir.resources.R4B.patient.Patient)."""
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    found: type[Resource] = getattr(module, resource_type)
    return found


def validated(data: dict[str, Any]) -> Resource:
    """Validate a resource we built with its R4B model: a mapping bug fails here, never at the receiver."""
    return model(data["resourceType"]).model_validate(data)


def as_json(resource: Resource) -> dict[str, Any]:
    """The resource as JSON-ready values (empty elements left out, as FHIR requires)."""
    return resource.model_dump(mode="json", exclude_none=True)


def ref(resource_type: str, resource_id: str | int, display: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        value["display"] = display
    return value


def instant(moment: datetime) -> str:
    """An aware UTC time as FHIR dateTime/instant text."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def day(value: date) -> str:
    return value.isoformat()


def outcome(issues: list[tuple[str, str, str | None]]) -> Resource:
    """An OperationOutcome: each issue is (code, message, FHIRPath expression of the field or None)."""
    return validated({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message,
                   **({"expression": [expression]} if expression else {})} for code, message, expression in issues],
    })


def entry(context: Context, resource: Resource, *, mode: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"fullUrl": context.url(resource.get_resource_type(), resource.id),  # type: ignore[arg-type]  # built with an id
                            "resource": as_json(resource)}
    if mode:
        item["search"] = {"mode": mode}
    return item


def searchset(context: Context, *, path: str, params: list[tuple[str, str]], resources: list[Resource],
              total: int, offset: int, count: int, now: datetime) -> Resource:
    """A page of search results with self, first, previous and next links (``_count`` and ``_offset``)."""
    def link(relation: str, at: int) -> dict[str, str]:
        query = urlencode([*params, ("_count", str(count)), ("_offset", str(at))])
        return {"relation": relation, "url": f"{context.base_url}/{path}?{query}"}

    links = [link("self", offset), link("first", 0)]
    if offset > 0:
        links.append(link("previous", max(0, offset - count)))
    if offset + count < total:
        links.append(link("next", offset + count))
    return validated({"resourceType": "Bundle", "type": "searchset", "total": total, "timestamp": instant(now),
                      "link": links, "entry": [entry(context, item, mode="match") for item in resources]})


def collection(context: Context, resources: list[Resource], *, now: datetime) -> Resource:
    """A collection Bundle (the patient page's download)."""
    return validated({"resourceType": "Bundle", "type": "collection", "timestamp": instant(now),
                      "entry": [entry(context, item) for item in resources]})


def code_system() -> Resource:
    """The local code system as a CodeSystem resource, served at /fhir/CodeSystem/rehab."""
    return validated({
        "resourceType": "CodeSystem", "id": "rehab", "url": LOCAL, "name": "RehabLocalCodes",
        "title": "rehab local codes", "status": "active", "content": "complete", "caseSensitive": True,
        "description": "Concepts of backward-walking knee rehabilitation that no standard code covers.",
        "count": len(all_concepts()),
        "concept": [{"code": code, "display": display} for code, display in all_concepts().items()],
    })
