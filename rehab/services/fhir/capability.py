"""The CapabilityStatement served at /fhir/metadata: what this server reads, searches and creates."""

from __future__ import annotations

from datetime import datetime

from fhir.resources.R4B.resource import Resource

from rehab.services.fhir.common import FHIR_JSON, FHIR_VERSION, Context, instant, validated

_READ_ONLY = ("CodeSystem", "PlanDefinition", "ActivityDefinition")


def capability_statement(context: Context, *, now: datetime) -> Resource:
    resources = [
        {"type": "Patient", "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}],
         "searchParam": [{"name": "identifier", "type": "token",
                          "documentation": f"The chart number, as value or {context.identifier_system}|value."}],
         "operation": [{"name": "everything",
                        "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]},
        {"type": "Observation", "interaction": [{"code": "search-type"}],
         "searchParam": [{"name": "patient", "type": "reference", "documentation": "Required."},
                         {"name": "code", "type": "token"}, {"name": "date", "type": "date"}]},
        *({"type": kind, "interaction": [{"code": "read"}]} for kind in _READ_ONLY),
    ]
    return validated({
        "resourceType": "CapabilityStatement", "status": "active", "date": instant(now), "kind": "instance",
        "software": {"name": "rehab"}, "implementation": {"description": "rehab FHIR API", "url": context.base_url},
        "fhirVersion": FHIR_VERSION, "format": [FHIR_JSON, "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Every request but this one needs an API client's token: Authorization: Bearer "
                             "<token>. Search pages with _count (at most 200) and _offset.",
            "security": {"description": "Bearer tokens of API clients an admin creates for one clinic, read or "
                                        "read-write."},
            "resource": resources,
        }],
    })
