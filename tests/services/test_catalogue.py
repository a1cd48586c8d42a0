"""The exercise catalogue as input: a prescription and a visit name only the catalogue's exercises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rehab.services.protocol_content import Prescription
from rehab.services.shapes import validate
from rehab.services.visits import VisitInput

PRESCRIPTION = {"setting": "clinic", "minutes": 10, "sessions_per_week": 3, "speed_kmh": 1.2, "incline_pct": 0,
                "support": "both_rails", "pain_ceiling": 5}
VISIT = {"occurred_at": datetime.now(UTC) - timedelta(hours=1), "pain_before": 1, "pain_worst": 2, "pain_after": 1,
         "minutes": 5, "support": "both_rails"}


@pytest.mark.parametrize(("shape", "fields"), [(Prescription, PRESCRIPTION), (VisitInput, VISIT)])
def test_an_exercise_outside_the_catalogue_is_refused_beside_the_field(shape, fields):  # type: ignore[no-untyped-def]
    made, errors = validate(shape, {**fields, "exercise": "moonwalk"})
    assert made is None and errors == {"exercise": "Choose an exercise from the list."}
    made, errors = validate(shape, {**fields, "exercise": "treadmill_rails"})
    assert errors == {} and made.exercise == "treadmill_rails"  # type: ignore[union-attr]
