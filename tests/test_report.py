"""The progress report for the referring physician, read back from the real PDF: a letter addressed to the
patient's physician with clinic and home sessions, red flags and falls with what was done, advice decisions and
safety overrides with their reasons, notes, measures against their thresholds, and the assessment and plan
typed at print time, kept with the print so that a reprint is the letter as printed."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlmodel import select

from rehab.models import AdviceDecision, ProtocolVersion, RedFlagClearance, ReportPrint, utcnow
from rehab.printing.report import report_pdf_of
from rehab.printing.report_snapshot import ASSESSMENT_MAX
from rehab.services.charts import REPORT_CHART
from tests import factories
from tests.conftest import count_rows, form_fields, submit

pytestmark = pytest.mark.db

ASSESSMENT = "Pain settled from 6 to 3 at worst; walks 12 minutes backward without rails."
PLAN = "Continue phase 2 for three weeks; please review the calf ultrasound result."


def pages(data: bytes) -> list[str]:
    """Each page's text, with runs of white space made one space."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def flat(data: bytes) -> str:
    return " ".join(pages(data))


@pytest.fixture
def course(db, patient, protocol, therapist):  # type: ignore[no-untyped-def]
    """Three weeks of care: visits with notes and a TUG that improved, a home session with calf pain that the
    therapist referred, an overridden advice and a safety warning gone past with its reason."""
    patient.referring_physician, patient.referring_practice = "Dr. Ana Ruiz", "Northside Orthopaedics"
    patient.referring_fax = "555-0199"
    db.add(patient)
    now = utcnow()
    for days, pain, tug, note in ((20, 6, 14.0, "First session: guarded gait"), (10, 4, None, ""),
                                  (2, 3, 12.5, "Knee felt stable on the treadmill")):
        factories.visit(db, patient, protocol, at=now - timedelta(days=days), pain_before=pain - 2,
                        pain_worst=pain, pain_after=pain - 1, tug_s=tug, note=note)
    factories.home_log(db, patient, protocol, day=(now - timedelta(days=5)).date(), flag_calf=True,
                       note="Calf tight after the walk")
    db.add(RedFlagClearance(patient_id=patient.id, clinic_id=patient.clinic_id, action="referred",
                            note="Sent for a calf ultrasound: DVT ruled out", user_id=therapist.id,
                            covers=json.dumps(["home session: calf pain or swelling"]), at=now - timedelta(days=4)))
    db.add(AdviceDecision(patient_id=patient.id, protocol_id=protocol.id, protocol_version=1, phase_index=0,
                          advice="advance", rules="[]", decision="overridden", reason="Flare-up after gardening",
                          user_id=therapist.id, at=now - timedelta(days=2)))
    version = db.exec(select(ProtocolVersion)).one()
    version.safety_overrides = json.dumps([{"rule": "balance_outside_clinic", "where": "Phase 1",
                                            "message": "Vestibular disorder outside the clinic without rails.",
                                            "reason": "Daughter supervises every home session", "fingerprint": "f1"}])
    db.add(version)
    db.commit()
    return patient


def print_report(client, patient, **fields):  # type: ignore[no-untyped-def]
    return submit(client, f"/patients/{patient.id}/report",
                  {"assessment": ASSESSMENT, "plan": PLAN, "paper": "letter", "language": "en", **fields})


def test_the_report_is_a_letter_with_every_section_a_surgeon_acts_on(app_config, therapist_client, course, db):
    response = print_report(therapist_client, course)
    assert response.status_code == 303
    pdf = therapist_client.get(response.headers["Location"])
    assert pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"].endswith(f'progress-report-{utcnow().date().isoformat()}.pdf"')
    text = flat(pdf.data)
    # Addressed to the referring physician.
    assert "Dr. Ana Ruiz Northside Orthopaedics Fax 555-0199" in text and "Dear Dr. Ana Ruiz," in text
    assert "Re: Margaret Okafor" in text
    # Clinic and home sessions, the home session's red flag and what was done about it.
    assert "we saw your patient for 3 clinic sessions. They logged 1 session at home." in text
    # Adherence per week, clinic and home (the knee-OA template's first phase plans 3 clinic sessions a week).
    assert "Sessions planned and done each week" in text and re.search(r"\d+ / 3 0 / 0", text)
    assert "1 session reported a red flag or a fall." in text
    assert "Home session calf pain or swelling Calf tight after the walk" in text
    assert "Referred to the physician or emergency care (Pat Therapist)" in text
    assert "Sent for a calf ultrasound: DVT ruled out" in text
    # Advice decisions and safety overrides, each with its reason.
    assert "Advance (phase 1) Overridden (Pat Therapist) Flare-up after gardening" in text
    assert "Vestibular disorder outside the clinic without rails." in text
    assert "Daughter supervises every home session" in text
    # Notes, measures against their thresholds, the typed assessment and plan, the signature line.
    assert "Note: First session: guarded gait" in text and "Note: Knee felt stable on the treadmill" in text
    assert "Timed Up and Go 14 → 12.5 s (-1.5)" in text and "Important improvement" in text
    assert "1.1 s, the minimal detectable change in knee OA" in text
    assert ASSESSMENT in text and PLAN in text
    assert "Yours sincerely, Signature Date Pat Therapist, physical therapist, Riverside PT" in text
    record = db.exec(select(ReportPrint)).one()
    assert (record.assessment, record.plan, record.source) == (ASSESSMENT, PLAN, "clinic")


def test_a_reprint_is_the_letter_as_printed_with_its_assessment(app_config, therapist_client, course, db):
    first = therapist_client.get(print_report(therapist_client, course).headers["Location"]).data
    # Afterwards the physician changes and another visit is recorded: the earlier letter stays as it was.
    course.referring_physician = "Dr. Someone Else"
    db.add(course)
    db.commit()
    earlier = db.exec(select(ReportPrint)).one()
    page = therapist_client.get(f"/patients/{course.id}/report", follow_redirects=True).get_data(as_text=True)
    assert "Reports printed before" in page and "Print again as printed" in page and ASSESSMENT[:40] in page
    reprint = therapist_client.post(f"/patients/{course.id}/reports/{earlier.id}", data=form_fields(page))
    assert reprint.status_code == 303
    again = therapist_client.get(reprint.headers["Location"]).data
    text = flat(again)
    assert ASSESSMENT in text and PLAN in text and "Dear Dr. Ana Ruiz," in text and "Someone Else" not in text
    assert again == first  # the same letter, from the cache
    records = db.exec(select(ReportPrint).order_by(ReportPrint.id)).all()
    assert [record.source for record in records] == ["clinic", "reprint"]
    assert records[0].digest == records[1].digest and records[1].assessment == ASSESSMENT


def test_a_long_assessment_is_refused_with_its_length_and_kept_as_typed(therapist_client, course, db):
    pasted = "x" * (ASSESSMENT_MAX + 500)
    response = print_report(therapist_client, course, assessment=pasted)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This text is 3,500 characters; the limit is 3,000. Shorten it by 500 characters." in html
    assert "Nothing was printed." in html
    assert 'id="assessment-error"' in html and pasted in html  # beside the field, nothing cut
    assert 'data-limit="3000"' in html and 'data-counter="assessment-count"' in html and "maxlength" not in html
    assert count_rows(db, ReportPrint) == 0
    # Line ends count once, as the page's counter counts them.
    exactly = "a\r\n" * (ASSESSMENT_MAX // 2)
    assert print_report(therapist_client, course, assessment=exactly.strip()).status_code == 303


def test_the_assessment_and_plan_are_asked_for(therapist_client, course, db):
    response = print_report(therapist_client, course, assessment=" ", plan="")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Write your assessment" in html and "Write the plan" in html and count_rows(db, ReportPrint) == 0


def test_without_a_referring_physician_the_page_says_how_it_is_addressed(app_config, therapist_client, patient,
                                                                         protocol, db):
    factories.visit(db, patient, protocol)
    page = therapist_client.get(f"/patients/{patient.id}/report", follow_redirects=True).get_data(as_text=True)
    assert "No referring physician is recorded" in page and "Change the referring physician" in page
    text = flat(therapist_client.get(print_report(therapist_client, patient).headers["Location"]).data)
    assert "To the referring physician" in text and "Dear colleague," in text


def test_the_letter_in_spanish(app_config, therapist_client, course):
    text = flat(therapist_client.get(print_report(therapist_client, course, language="es").headers["Location"]).data)
    assert "Evaluación" in text and "Plan" in text and ASSESSMENT in text
    assert "Sesiones en casa" in text and "dolor o hinchazón en la pantorrilla" in text
    assert "Estimada/o Dr. Ana Ruiz," in text and "Atentamente," in text
    assert "both rails" not in text  # the dose in Spanish words, not the therapist's English short form


def test_the_outcome_table_is_never_split_across_pages(app_config, therapist_client, course, db):
    """However far the typed assessment pushes it down, the outcome table (its header and every row) stays on
    one page (without "break-inside: avoid" it splits at about 30 lines)."""
    print_report(therapist_client, course)
    snapshot = json.loads(db.exec(select(ReportPrint)).one().snapshot)
    parts = ("Measure", "Pain at rest", "Worst pain during backward walking", "Timed Up and Go")
    with app_config.app_context():
        for lines in range(18, 48, 3):
            snapshot["assessment"] = "\n".join(f"Line {n} of the assessment." for n in range(lines))
            texts = pages(report_pdf_of(snapshot))
            holding = {n for n, text in enumerate(texts) for part in parts if part in text}
            assert len(holding) == 1, (lines, holding)
            page = texts[min(holding)]
            assert all(part in page for part in parts)


def test_the_chart_legend_prints_at_10_pt_or_more(app_config, therapist_client, course, db):
    """The chart is printed across the text width: its legend's size in print follows from the SVG's own width."""
    print_report(therapist_client, course)
    svg = json.loads(db.exec(select(ReportPrint)).one().snapshot)["chart"]
    legend_px = [float(size) for size in re.findall(r"\.legend text\{[^}]*font-size:([\d.]+)px", svg)]
    width_px = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))  # type: ignore[union-attr]
    assert legend_px and width_px == REPORT_CHART.width
    text_width_pt = (215.9 - 30) / 25.4 * 72  # Letter less its 15 mm margins (A4's text is 6 mm narrower)
    a4_text_width_pt = (210 - 30) / 25.4 * 72
    assert min(legend_px) * min(text_width_pt, a4_text_width_pt) / width_px >= 10


def test_a_report_of_another_clinics_patient_is_not_found(therapist_client, make_clinic, make_patient, db):
    stranger = make_patient(make_clinic("Elsewhere"))
    assert therapist_client.get(f"/patients/{stranger.id}/report").status_code == 404
    assert therapist_client.get(f"/patients/{stranger.id}/reports/1.pdf").status_code == 404
