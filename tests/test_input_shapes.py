"""Input shapes derive from the tables' base classes: a field and its limits are written once, and the pages,
the server's checks and the database all use them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rehab.forms import field_limits
from rehab.models import Assessment, HomeLog, Patient, Visit
from rehab.models.patients import PatientBase
from rehab.models.portal import HomeLogBase
from rehab.models.visits import AssessmentBase, VisitBase
from rehab.services.assessments import AssessmentInput
from rehab.services.home_logs import HomeLogInput
from rehab.services.patients import PatientInput
from rehab.services.shapes import validate
from rehab.services.visits import VisitInput

ROOT = Path(__file__).resolve().parents[1]
PAIRS = [(PatientBase, Patient, PatientInput), (VisitBase, Visit, VisitInput),
         (AssessmentBase, Assessment, AssessmentInput), (HomeLogBase, HomeLog, HomeLogInput)]


@pytest.mark.parametrize(("base", "table", "shape"), PAIRS, ids=[shape.__name__ for _, _, shape in PAIRS])
def test_the_table_and_its_input_shape_share_each_field_of_the_base(base, table, shape):
    assert issubclass(table, base) and issubclass(shape, base)
    for name in base.model_fields:
        assert name in table.__table__.c, name
        # The shape may ask more (a required yes/no), never allow more: same limits as the base.
        assert field_limits(shape)[name] == field_limits(base)[name], name


@pytest.mark.parametrize(("base", "table", "shape"), PAIRS, ids=[shape.__name__ for _, _, shape in PAIRS])
def test_a_text_column_holds_what_its_shape_accepts(base, table, shape):
    for name, limits in field_limits(base).items():
        length = getattr(table.__table__.c[name].type, "length", None)
        if limits.max_length is not None and length is not None:
            assert limits.max_length <= length, name


def test_a_limit_change_reaches_the_message():
    """Range messages are filled from the limits, so they always state what is accepted."""
    _, errors = validate(VisitInput, {"pain_worst": "11", "minutes": "500"})
    assert errors["pain_worst"] == "Enter pain from 0 to 10."
    assert errors["minutes"] == "Enter minutes between 0.5 and 120."
    _, errors = validate(AssessmentInput, {"occurred_at": "2026-01-01T10:00:00Z", "tug_s": "0"})
    assert errors["tug_s"] == "Enter 1 to 300 seconds, or leave it empty."


def test_services_never_import_the_forms():
    """Forms (the request's edge) may import services; services never import forms."""
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "rehab" / "services").rglob("*.py")
                 if re.search(r"^\s*(from rehab\.forms|import rehab\.forms|from rehab import forms)", path.read_text(),
                              re.MULTILINE)]
    assert offenders == []


def _control(page: str, name: str) -> str:
    """The <input> or <textarea> tag of the field called ``name``."""
    match = re.search(rf'<(?:input|textarea)\b[^>]*\bname="{name}"[^>]*>', page)
    assert match, name
    return match[0]


@pytest.mark.db
def test_the_pages_offer_the_limits_the_shapes_declare(therapist_client, patient, protocol):
    form = therapist_client.get("/patients/new", follow_redirects=True).get_data(as_text=True)
    for name in ("first_name", "chart_number", "email", "condition_other", "notes"):
        # data-limit, not maxlength: a maxlength attribute would cut a pasted text without a word
        assert f'data-limit="{field_limits(PatientInput)[name].max_length}"' in _control(form, name)
    assert "Up to 5,000 characters." in form
    visit = therapist_client.get(f"/patients/{patient.id}/visits/new", follow_redirects=True).get_data(as_text=True)
    for name in ("minutes", "knee_extension_deg", "gait_speed_ms"):
        limits = field_limits(VisitInput)[name]
        tag = _control(visit, name)
        assert f'min="{limits.minimum:g}"' in tag and f'max="{limits.maximum:g}"' in tag, tag

