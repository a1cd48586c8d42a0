"""Printing from the pages: sheets, reprints, batches and the progress report, read back from real PDFs (the
renderer itself, its cache and its warm-up: tests/test_printing.py)."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
import textstat
from pypdf import PdfReader
from sqlmodel import col, select

from rehab.models import HandoutPrint, PortalLink, Protocol, ProtocolVersion, utcnow
from rehab.printing import sheets
from rehab.services.catalogue import exercises
from tests import factories
from tests.conftest import count_rows, submit

pytestmark = pytest.mark.db


def print_report(client, patient, **fields):  # type: ignore[no-untyped-def]
    """Print the progress report from its page (an assessment and plan typed) and follow it to its PDF."""
    return submit(client, f"/patients/{patient.id}/report",
                  {"assessment": "Improving as expected.", "plan": "Continue the program.", "paper": "letter",
                   "language": "en", **fields}, follow_redirects=True)


def pdf_text(data: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


@pytest.fixture
def patient(clinic, make_patient, db):  # type: ignore[no-untyped-def]
    clinic.address, clinic.phone = "210 River Road", "(555) 010-2030"
    db.add(clinic)
    db.commit()
    return make_patient(clinic, first_name="Dorothy", last_name="Whitfield")


@pytest.fixture
def protocol(db, patient, therapist):  # type: ignore[no-untyped-def]
    return factories.protocol(db, patient, days_ago=3, user_id=therapist.id, home=True)


def print_sheet(client, patient, **options):  # type: ignore[no-untyped-def]
    form = {"paper": "letter", "language": "en", "include_next": "1", **options}
    return submit(client, f"/patients/{patient.id}/sheet", form, follow_redirects=True)


def test_the_sheet_has_name_dose_safety_next_step_and_log(app_config, therapist_client, patient, protocol, db):
    response = print_sheet(therapist_client, patient)
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == \
        f'inline; filename="home-exercises-{utcnow().date().isoformat()}.pdf"'  # a date, never the name
    text, pages = pdf_text(response.data)
    flat = " ".join(text.split())
    assert "Dorothy Whitfield" in flat and "Pat Therapist" in flat and "(555) 010-2030" in flat
    assert "Walk backward on the treadmill for 5 minutes, 3 times a week, at 1.2 km/h (0.7 mph), holding both rails." \
        in flat
    assert "Stop and call the clinic if:" in flat and "above 5 out of 10" in flat
    assert "What comes next" in flat and "Load" in flat
    assert "Your log for the next 2 weeks" in flat and "Pain next day" in flat
    assert f"Page 1 of {pages}" in flat and f"Page {pages} of {pages}" in flat
    assert flat.count("Dorothy Whitfield") >= pages  # the name in every footer
    assert 2 <= pages <= 4
    record = db.exec(select(HandoutPrint)).one()
    assert (record.protocol_version, record.phase_index, record.printed_by_id) == (1, 0, protocol.created_by_id)
    assert json.loads(record.options) == {"paper": "letter", "large_print": False, "language": "en",
                                          "include_next": True}


def test_fonts_are_embedded_as_subsets(app_config, therapist_client, patient, protocol):
    reader = PdfReader(io.BytesIO(print_sheet(therapist_client, patient).data))
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    assert fonts and all("+" in name and "DejaVu" in name for name in fonts)  # ABCDEF+DejaVu-Sans: a subset


def test_spanish_sheet(app_config, therapist_client, patient, protocol):
    flat = " ".join(pdf_text(print_sheet(therapist_client, patient, language="es").data)[0].split())
    assert "Camine hacia atrás en la caminadora durante 5 minutos, 3 veces por semana" in flat
    assert "Caminar hacia atrás en la caminadora" in flat and "Aprender" in flat  # exercise and phase names
    assert "Sus ejercicios de caminar hacia atrás" in flat or "Pare y llame" in flat  # the sheet's own words
    assert "Su registro para las próximas 2 semanas" in flat and "Página 1 de" in flat
    assert "Stop and call" not in flat and "Your log" not in flat


def test_paper_sizes_and_large_print(app_config, therapist_client, patient, protocol):
    letter = PdfReader(io.BytesIO(print_sheet(therapist_client, patient).data))
    a4 = PdfReader(io.BytesIO(print_sheet(therapist_client, patient, paper="a4").data))
    large = PdfReader(io.BytesIO(print_sheet(therapist_client, patient, large_print="1").data))
    assert [round(float(v)) for v in letter.pages[0].mediabox[2:]] == [612, 792]
    assert [round(float(v)) for v in a4.pages[0].mediabox[2:]] == [595, 842]
    assert len(large.pages) > len(letter.pages)  # bigger text, more pages


def test_default_options_come_from_the_clinic_and_the_patient(app_config, therapist_client, patient, protocol,
                                                              clinic, db):
    clinic.paper_size = "a4"
    patient.language = "es"
    db.add_all([clinic, patient])
    db.commit()
    page = therapist_client.get(f"/patients/{patient.id}/sheet").get_data(as_text=True)
    assert '<option value="a4" selected>' in page and '<option value="es" selected>' in page


def test_reprint_gives_the_same_sheet_after_changes_and_is_recorded(app_config, therapist_client, patient, protocol,
                                                                    clinic, db):
    first = pdf_text(print_sheet(therapist_client, patient).data)[0]
    record = db.exec(select(HandoutPrint)).one()
    clinic.phone = "(555) 999-0000"  # the clinic moves; the protocol changes
    db.add(clinic)
    version = db.exec(select(ProtocolVersion)).one()
    content = json.loads(version.content)
    content["phases"][0]["prescriptions"][0]["minutes"] = 9
    version.content = json.dumps(content)
    db.add(version)
    db.commit()
    again = submit(therapist_client, f"/patients/{patient.id}/sheets/{record.id}", {},
                   form_page=f"/patients/{patient.id}/sheet", follow_redirects=True)
    assert pdf_text(again.data)[0] == first
    assert count_rows(db, HandoutPrint) == 2
    fresh = " ".join(pdf_text(print_sheet(therapist_client, patient).data)[0].split())
    assert "(555) 999-0000" in fresh and "for 9 minutes" in fresh


def test_an_unchanged_sheet_is_served_from_the_cache(app_config, therapist_client, patient, protocol, monkeypatch):
    # Printing redirects to the PDF's own address; downloading it again is served from the cache.
    response = submit(therapist_client, f"/patients/{patient.id}/sheet", {"paper": "letter", "language": "en"})
    assert response.status_code == 303
    pdf_url = response.headers["Location"]
    assert therapist_client.get(pdf_url).data.startswith(b"%PDF")
    renders = []
    monkeypatch.setattr(sheets, "sheet_pdf", lambda *a, **k: renders.append(1) or b"%PDF-never")
    again = therapist_client.get(pdf_url)
    second = print_sheet(therapist_client, patient, include_next="")  # a new print of the same sheet: cached too
    assert renders == [] and again.data.startswith(b"%PDF") and second.data.startswith(b"%PDF")


def test_batch_prints_everyone_seen_today_in_one_pdf(app_config, therapist_client, patient, protocol, clinic,
                                                     make_patient, db):
    other = make_patient(clinic, first_name="Harold", last_name="Kowalski")
    other_protocol = factories.protocol(db, other, "pfp", days_ago=2)
    not_seen = make_patient(clinic, first_name="Ruth", last_name="Abernathy")
    factories.protocol(db, not_seen, "pfp", days_ago=2)
    for who, which in ((patient, protocol), (other, other_protocol)):
        factories.visit(db, who, which)
    job_page = submit(therapist_client, "/dashboard/sheets", {}, form_page="/dashboard", follow_redirects=True)
    assert "2 of 2 printed" in job_page.get_data(as_text=True)
    progress = therapist_client.get(f"{job_page.request.path}/progress").get_json()
    response = therapist_client.get(progress["pdf_url"])
    text, pages = pdf_text(response.data)
    assert "Dorothy Whitfield" in text and "Harold Kowalski" in text and "Ruth Abernathy" not in text
    assert text.count("Page 1 of") == 2  # each sheet keeps its own page numbers
    assert count_rows(db, HandoutPrint) == 2


def test_progress_report_summarises_the_course_of_care(app_config, therapist_client, patient, protocol, clinic, db):
    for days, pain, tug in ((20, 6, 14.0), (10, 4, None), (1, 3, 12.5)):
        factories.visit(db, patient, protocol, at=utcnow() - timedelta(days=days), pain_before=pain - 2,
                        pain_worst=pain, pain_after=pain - 1, tug_s=tug)
    response = print_report(therapist_client, patient)
    flat = " ".join(pdf_text(response.data)[0].split())
    assert response.headers["Content-Disposition"].endswith(f'progress-report-{utcnow().date().isoformat()}.pdf"')
    assert "Dorothy Whitfield" in flat and "Knee osteoarthritis" in flat and "active, phase 1 of 3" in flat
    assert "Timed Up and Go" in flat and "14 → 12.5 s (-1.5)" in flat and "Important improvement" in flat
    assert "Signature" in flat


XSS = '<img src=x onerror=alert(1)>{{7*7}}'


def test_payloads_in_every_field_reaching_the_sheet_come_out_as_text(app_config, therapist_client, patient, protocol,
                                                                     clinic, therapist, db):
    patient.first_name = XSS
    clinic.name, clinic.address, clinic.phone = f"Clinic {XSS}", f"Road {XSS}", f"555 {XSS}"
    therapist.name = f"PT {XSS}"
    version = db.exec(select(ProtocolVersion)).one()
    content = json.loads(version.content)
    content["phases"][0]["name"] = f"Phase {XSS}"
    content["phases"][0]["goal"] = f"Goal {XSS}"
    content["phases"][0]["prescriptions"][0]["cues"] = f'Cue <img src="file:///etc/passwd"> {XSS}'
    version.content = json.dumps(content)
    db.add_all([patient, clinic, therapist, version])
    db.commit()
    text = " ".join(pdf_text(print_sheet(therapist_client, patient).data)[0].split())
    assert text.count("{{7*7}}") >= 6 and "49" not in text  # template syntax is not evaluated
    assert text.count("onerror=alert(1)") >= 6  # markup is shown as text, never parsed
    squeezed = "".join(text.split())  # long words wrap across lines in the PDF
    assert 'Cue<imgsrc="file:///etc/passwd">' in squeezed and "root:" not in text


def test_patient_facing_english_is_plain_language(app_config, therapist_client, patient, protocol):
    """Health-literacy guidance: patient materials at or below a US 6th-grade reading level."""
    sheet = pdf_text(print_sheet(therapist_client, patient).data)[0]
    assert textstat.flesch_kincaid_grade(sheet) <= 6
    for key, exercise in exercises().items():
        text = exercise.text("en")
        body = " ".join([text.purpose, *text.steps, *text.cues, *text.safety])
        assert textstat.flesch_kincaid_grade(body) <= 6, key


def test_no_sheet_without_a_protocol_and_not_for_another_clinic(app_config, therapist_client, clinic, make_patient,
                                                                make_clinic, db):
    lonely = make_patient(clinic, first_name="Ruth")
    response = therapist_client.get(f"/patients/{lonely.id}/sheet", follow_redirects=True)
    assert "Start a protocol before printing" in response.get_data(as_text=True)
    stranger = make_patient(make_clinic("Elsewhere"))
    factories.protocol(db, stranger, "pfp", days_ago=0)
    assert therapist_client.get(f"/patients/{stranger.id}/sheet").status_code == 404
    assert therapist_client.get(f"/patients/{stranger.id}/report").status_code == 404
    assert count_rows(db, Protocol) == 1


def test_a_downloaded_sheet_carries_the_patients_current_link(app_config, therapist_client, patient, protocol, db):
    """The QR code and the short code on the sheet are the live link's, re-derived at each download: a rotated
    link replaces the old one on the same print, and a turned-off link leaves the sheet without one."""
    response = submit(therapist_client, f"/patients/{patient.id}/sheet", {"paper": "letter", "language": "en"})
    pdf_url = response.headers["Location"]
    assert "/p/" not in pdf_text(therapist_client.get(pdf_url).data)[0]  # no link shared yet

    def shared_code(action: str) -> str:
        live = db.exec(select(PortalLink.id).where(col(PortalLink.revoked_at).is_(None))).first()
        db.rollback()
        submit(therapist_client, f"/patients/{patient.id}/portal/{action}", {"link_id": str(live)},
               form_page=f"/patients/{patient.id}")
        page = therapist_client.get(f"/patients/{patient.id}/portal/shared").get_data(as_text=True)
        return page.split('class="share-code-value"', 1)[1].split(">", 1)[1].split("<", 1)[0]

    first = shared_code("share")
    text = pdf_text(therapist_client.get(pdf_url).data)[0].replace("\n", "")
    assert first in text and "localhost/p/code" in text
    second = shared_code("rotate")
    text = pdf_text(therapist_client.get(pdf_url).data)[0].replace("\n", "")
    assert second in text and first not in text
    submit(therapist_client, f"/patients/{patient.id}/portal/revoke", {}, form_page=f"/patients/{patient.id}")
    text = pdf_text(therapist_client.get(pdf_url).data)[0]
    assert second not in text.replace("\n", "") and "/p/" not in text


def test_list_numbers_and_bullets_are_written_into_the_text(app_config, therapist_client, patient, protocol):
    """The steps and tips carry their own "1." and "•" (cheaper for WeasyPrint than list markers), so they
    read in order (the CSS a browser printing the page itself gets: tests/test_printing.py)."""
    flat = " ".join(pdf_text(print_sheet(therapist_client, patient).data)[0].replace("\xa0", " ").split())
    steps = exercises()["treadmill_rails"].text("en").steps
    assert all(f"{number}. {step.split()[0]}" in flat for number, step in enumerate(steps, start=1))
    assert "• Use a clear, flat path" in flat


def test_the_printed_qr_code_is_the_links_code_drawn_sharp(app_config, therapist_client, patient, protocol):
    import segno
    from pypdf.generic import BooleanObject

    submit(therapist_client, f"/patients/{patient.id}/portal/share", {}, form_page=f"/patients/{patient.id}")
    shared = therapist_client.get(f"/patients/{patient.id}/portal/shared").get_data(as_text=True)
    link = shared.split('id="portal-url" type="text" value="', 1)[1].split('"', 1)[0]
    reader = PdfReader(io.BytesIO(print_sheet(therapist_client, patient).data))
    (image,) = {image.name: image for page in reader.pages for image in page.images}.values()  # pages share it
    assert image.indirect_reference.get_object()["/Interpolate"] == BooleanObject(False)  # sharp modules
    modules = [[bool(dark) for dark in row] for row in segno.make(link, error="m").matrix_iter(scale=1, border=4)]
    pixels = image.image.convert("L")
    scale = pixels.width // len(modules)
    assert [[pixels.getpixel((x * scale + scale // 2, y * scale + scale // 2)) < 128 for x in range(len(row))]
            for y, row in enumerate(modules)] == modules


def flat_text(response) -> str:  # type: ignore[no-untyped-def]
    return " ".join(pdf_text(response.data)[0].split())


def download_from_portal(app, db, patient, **preferences):  # type: ignore[no-untyped-def]
    """The patient opens their link on a phone and downloads their own sheet."""
    from tests.conftest import csrf_from

    phone = app.test_client()
    assert phone.get(f"/p/{factories.portal_link(db, patient)}").status_code == 302
    for path, field, value in (("/p/text-size", "size", preferences.get("size")),
                               ("/p/language", "language", preferences.get("language"))):
        if value:
            submit(phone, path, {field: value}, form_page="/p/home")
    token = csrf_from(phone.get("/p/home").get_data(as_text=True))
    return phone.post("/p/sheet", data={"csrf_token": token}, follow_redirects=True)


def test_every_sheet_names_the_patients_own_therapist(app, app_config, therapist_client, patient, protocol, clinic,
                                                     make_user, db):
    """Printed by a colleague, in today's batch, or downloaded by the patient from the portal (no one signed
    in), the sheet names the therapist who looks after the patient: the one the patient will ask for."""
    ana = make_user("ana.ruiz@clinic.example", clinics=[clinic], name="Ana Ruiz")
    patient.therapist_id = ana.id
    db.add(patient)
    db.commit()
    assert "Therapist: Ana Ruiz" in flat_text(print_sheet(therapist_client, patient))  # Pat prints it
    factories.visit(db, patient, protocol)  # seen today: the dashboard offers today's sheets
    batch = submit(therapist_client, "/dashboard/sheets", {"patient_id": str(patient.id)},
                   form_page="/dashboard?scope=clinic", follow_redirects=True)  # Ana's patient: the whole clinic
    batch = therapist_client.get(therapist_client.get(f"{batch.request.path}/progress").get_json()["pdf_url"])
    assert batch.mimetype == "application/pdf"
    assert "Therapist: Ana Ruiz" in flat_text(batch) and "Pat Therapist" not in flat_text(batch)
    own = download_from_portal(app, db, patient)
    assert own.mimetype == "application/pdf" and "Therapist: Ana Ruiz" in flat_text(own)
    sources = [record.source for record in db.exec(select(HandoutPrint).order_by(col(HandoutPrint.id)))]
    assert sources == ["clinic", "batch", "portal"]


def test_an_unassigned_patients_own_sheet_names_who_wrote_the_protocol(app, app_config, patient, protocol, clinic,
                                                                      make_user, therapist, db):
    """Nobody assigned (or the assigned therapist left): a therapist's print names who prints it, the patient's
    own download the protocol's author while they work in the clinic."""
    assert patient.therapist_id is None and protocol.created_by_id == therapist.id
    own = download_from_portal(app, db, patient, size="large", language="es")
    text = flat_text(own)
    assert "Terapeuta: Pat Therapist" in text and "Sus ejercicios" in text
    record = db.exec(select(HandoutPrint)).one()
    assert json.loads(record.options)["large_print"] is True  # Large text on the phone, large print on paper
    gone = make_user("gone@clinic.example", clinics=[clinic], name="Gone Away")
    gone.is_active = False
    patient.therapist_id = gone.id
    db.add_all([gone, patient])
    db.commit()
    assert "Gone Away" not in flat_text(download_from_portal(app, db, patient))


def test_a_reprint_of_a_sheet_printed_without_a_name_stays_as_printed(app_config, therapist_client, patient,
                                                                     protocol, db):
    """Sheets the patient downloaded before the sheet named the therapist kept an empty name: their reprint
    keeps that snapshot as it is and shows no empty "Therapist:" label."""
    from rehab.printing.snapshot import snapshot_digest

    print_sheet(therapist_client, patient)
    record = db.exec(select(HandoutPrint)).one()
    old = {**json.loads(record.snapshot), "therapist_name": ""}
    record.snapshot, record.digest, record.source, record.printed_by_id = (json.dumps(old), snapshot_digest(old),
                                                                           "portal", None)
    db.add(record)
    db.commit()
    again = submit(therapist_client, f"/patients/{patient.id}/sheets/{record.id}", {},
                   form_page=f"/patients/{patient.id}/sheet", follow_redirects=True)
    text = flat_text(again)
    assert "Dorothy Whitfield" in text and "Therapist" not in text and "Pat Therapist" not in text
    reprinted = db.exec(select(HandoutPrint).where(HandoutPrint.source == "reprint")).one()
    assert json.loads(reprinted.snapshot) == old
