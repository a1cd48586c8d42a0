"""The clinic's records as NDJSON files, one resource type per file, as the FHIR Bulk Data format has them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from fhir.resources.R4B.resource import Resource

from rehab.services.fhir.common import as_json


def write_ndjson(resources: Iterable[Resource], folder: Path) -> dict[str, int]:
    """Write ``Patient.ndjson``, ``Observation.ndjson``... into ``folder``; returns the count per type.

    A resource that appears twice (an ActivityDefinition several patients' plans use) is written once. Each
    file is written under a temporary name and renamed, so a reader never sees half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    seen: set[tuple[str, str]] = set()
    handles = {}
    counts: dict[str, int] = {}
    try:
        for resource in resources:
            kind = resource.get_resource_type()
            key = (kind, resource.id or "")
            if key in seen:
                continue
            seen.add(key)
            if kind not in handles:
                handles[kind] = (folder / f"{kind}.ndjson.tmp").open("w", encoding="utf-8")
            handles[kind].write(json.dumps(as_json(resource), ensure_ascii=False, separators=(",", ":")) + "\n")
            counts[kind] = counts.get(kind, 0) + 1
    finally:
        for handle in handles.values():
            handle.close()
    for kind in handles:
        (folder / f"{kind}.ndjson.tmp").replace(folder / f"{kind}.ndjson")
    return dict(sorted(counts.items()))
