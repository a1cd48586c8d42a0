"""The renderer (rehab.printing) without a page: plain arguments inside the app, the disk cache, the
static-only fetcher, the warm-up."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from flask import has_request_context
from pypdf import PdfReader
from sqlmodel import select

from rehab import printing
from rehab.models import HandoutPrint, Visit, utcnow
from rehab.printing import cache, pdf, sheets
from rehab.printing.snapshot import SheetOptions, build_sheet_snapshot, snapshot_digest
from rehab.services.catalogue import templates
from rehab.services.protocol_content import content_from_template
from rehab.services.protocol_records import create_protocol

STATIC = Path(__file__).resolve().parents[1] / "rehab" / "static"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _sample_snapshot(**options):  # type: ignore[no-untyped-def]
    return build_sheet_snapshot(
        patient_name="Dorothy Whitfield", clinic={"name": "Riverside PT", "address": "", "phone": "555"},
        therapist_name="Pat", protocol_title="Knee", version_number=1,
        content=content_from_template(templates()["knee_oa"]), phase_index=0,
        options=SheetOptions(**options), printed_on=utcnow().date(), speed_unit="kmh")


def _no_render(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise AssertionError("rendered again: the cache was not used")


@pytest.mark.db
def test_a_sheet_is_printed_recorded_and_rendered_with_no_request(app, db, clinic, therapist, make_patient,
                                                                 monkeypatch):
    """What a render worker will do: the app, a session and plain values; no request, no ``g.user``."""
    clinic.phone = "(555) 010-2030"
    db.add(clinic)
    patient = make_patient(clinic, first_name="Dorothy", last_name="Whitfield")
    protocol = create_protocol(db, patient=patient, content=content_from_template(templates()["knee_oa"]),
                               user_id=therapist.id, now=utcnow() - timedelta(days=3), overrides=[])
    db.add(Visit(patient_id=patient.id, clinic_id=clinic.id, protocol_id=protocol.id, protocol_version=1,
                 phase_index=0, occurred_at=utcnow() - timedelta(days=1), pain_before=1, pain_worst=3, pain_after=2,
                 exercise="treadmill_rails", minutes=5, support="both_rails"))
    db.commit()
    with app.app_context():
        assert not has_request_context()
        snapshot = printing.new_snapshot(db, patient, protocol, SheetOptions(language="es"), clinic=clinic,
                                         printed_by_name="Pat Therapist")
        record = printing.record_print(db, patient, protocol, snapshot, source="batch", printed_by_id=therapist.id)
        db.commit()
        link = printing.PrintedLink("https://clinic.example/p/abc", "K7QM-3XPA", "https://clinic.example/p/code")
        sheet = printing.render_sheet(lambda: printing.stored_snapshot(db, print_id=record.id),  # type: ignore[arg-type]
                                    digest=record.digest, link=link)
        report = printing.report_pdf(db, patient, clinic=clinic, therapist_name="Pat Therapist")
        monkeypatch.setattr(sheets, "sheet_pdf", _no_render)
        again = printing.render_sheet(_no_render, digest=record.digest, link=link)  # type: ignore[arg-type]
    text = " ".join(pdf_text(sheet).split())
    assert "Dorothy Whitfield" in text and "(555) 010-2030" in text and "clinic.example/p/code" in text
    assert "K7QM-3XPA" in text
    assert "Sus ejercicios de caminar hacia atrás" in text  # the sheet's language, with no request to ask
    assert again == sheet
    stored = db.exec(select(HandoutPrint)).one()
    assert (stored.source, stored.printed_by_id, stored.digest) == ("batch", therapist.id, snapshot_digest(
        json.loads(stored.snapshot)))
    assert "Dorothy Whitfield" in pdf_text(report) and "Pat Therapist" in pdf_text(report)


@pytest.mark.db
def test_the_exports_report_renders_once_until_the_record_changes(app, db, clinic, therapist, make_patient,
                                                                 monkeypatch):
    """A FHIR export attaches a report made now; asking again the same day with nothing changed reads it from
    the cache instead of rendering a letter in the page worker again, and a new visit makes a new letter."""
    patient = make_patient(clinic, first_name="Dorothy", last_name="Whitfield")
    protocol = create_protocol(db, patient=patient, content=content_from_template(templates()["knee_oa"]),
                               user_id=therapist.id, now=utcnow() - timedelta(days=3), overrides=[])

    def visit(days_ago: int, pain: int) -> None:
        db.add(Visit(patient_id=patient.id, clinic_id=clinic.id, protocol_id=protocol.id, protocol_version=1,
                     phase_index=0, occurred_at=utcnow() - timedelta(days=days_ago), pain_before=1,
                     pain_worst=pain, pain_after=1, exercise="treadmill_rails", minutes=5, support="both_rails"))
        db.commit()

    visit(2, 3)
    renders: list[int] = []
    real = printing.report.report_pdf_of
    monkeypatch.setattr(printing.report, "report_pdf_of", lambda snapshot: renders.append(1) or real(snapshot))
    with app.app_context():
        first = printing.report_pdf(db, patient, clinic=clinic, therapist_name="Pat Therapist")
        again = printing.report_pdf(db, patient, clinic=clinic, therapist_name="Pat Therapist")
        assert (len(renders), again) == (1, first)
        visit(1, 5)
        changed = printing.report_pdf(db, patient, clinic=clinic, therapist_name="Pat Therapist")
    assert len(renders) == 2 and changed != first


def test_sheets_cached_before_are_found_under_the_same_keys(app, monkeypatch):
    """The cache keys are the snapshot's digest, and with a link the digest of the digest and the link: PDFs
    cached by an earlier version of the app are served, never rendered again with another link. A link with a
    short code has a key of its own (the code and its page are printed too)."""
    with_link = hashlib.sha256(b'{"digest":"abc123","portal_url":"https://clinic.example/p/t"}').hexdigest()
    monkeypatch.setattr(sheets, "sheet_pdf", _no_render)
    with app.app_context():
        (cache.folder() / "abc123.pdf").write_bytes(b"%PDF-without-link")
        (cache.folder() / f"{with_link}.pdf").write_bytes(b"%PDF-with-link")
        assert printing.render_sheet(_no_render, digest="abc123") == b"%PDF-without-link"  # type: ignore[arg-type]
        assert printing.render_sheet(_no_render, digest="abc123",  # type: ignore[arg-type]
                                     link=printing.PrintedLink("https://clinic.example/p/t")) == b"%PDF-with-link"
        with_code = printing.PrintedLink("https://clinic.example/p/t", "K7QM-3XPA", "https://clinic.example/p/code")
        with pytest.raises(AssertionError, match="rendered again"):  # not the sheet cached without the code
            printing.render_sheet(_no_render, digest="abc123", link=with_code)  # type: ignore[arg-type]


def test_the_sheet_carries_its_css_for_a_browser_and_apart_for_the_renderer(app):
    with app.app_context():
        snapshot = _sample_snapshot(large_print=True, paper="a4")
        page = printing.sheet_html(snapshot)
        bare, css = printing.sheet_html(snapshot, inline_css=False), printing.sheet_css(snapshot)
    assert "<style>" in page and "size: A4" in page and "<style>" not in bare
    assert "size: A4" in css and "font-size: 17pt" in css


class _Listener(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        _Listener.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


def test_the_renderer_never_reaches_the_network_or_the_disk():
    server = HTTPServer(("127.0.0.1", 0), _Listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_port
    try:
        html = f"""<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/style.css">
            <link rel="stylesheet" href="file:///etc/passwd"></head><body>
            <img src="http://127.0.0.1:{port}/pixel.png"><img src="file:///etc/passwd">
            <img src="https://rehab.invalid/static/../../../../etc/passwd">
            <iframe src="http://127.0.0.1:{port}/frame"></iframe>
            <p style="background: url(http://127.0.0.1:{port}/bg.png)">visible text</p>
            <img src="https://rehab.invalid/static/favicon.svg" alt="own icon"></body></html>"""
        rendered = pdf.html_to_pdf(html, static_root=STATIC)
    finally:
        server.shutdown()
        server.server_close()
    text = pdf_text(rendered)
    assert "visible text" in text and "root:" not in text
    assert _Listener.hits == []


def test_the_fetcher_serves_only_static_files_and_data_urls():
    fetcher = pdf.StaticOnlyFetcher(STATIC)
    assert fetcher.fetch("https://rehab.invalid/static/favicon.svg").read().startswith(b"<svg")
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"
    for url in ("file:///etc/passwd", "http://127.0.0.1:9/x", "https://example.com/static/favicon.svg",
                "https://rehab.invalid/static/../../rehab/__init__.py", "https://rehab.invalid/other/x",
                "ftp://rehab.invalid/static/favicon.svg"):
        with pytest.raises(ValueError, match="blocked|disallowed"):
            fetcher.fetch(url)


def test_two_first_downloads_of_one_sheet_at_once_both_succeed(app, monkeypatch):
    """Two workers rendering the same new sheet at once (a double click) each write a temporary file of their
    own: with one shared name, the second rename found the file gone and that download failed."""
    both_written = threading.Barrier(2, timeout=10)
    rename = Path.replace

    def rename_together(self, target):  # type: ignore[no-untyped-def]
        if self.suffix == ".tmp":
            both_written.wait()
        return rename(self, target)

    monkeypatch.setattr(Path, "replace", rename_together)
    monkeypatch.setattr(sheets, "sheet_pdf", lambda *args, **kwargs: b"%PDF-sheet")
    snapshot, results = _sample_snapshot(), []

    def download() -> None:
        with app.app_context():
            try:
                results.append(printing.render_sheet(snapshot, digest="one-sheet"))
            except Exception as error:  # noqa: BLE001 (the failure is what the test looks for)
                results.append(error)

    threads = [threading.Thread(target=download) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [b"%PDF-sheet", b"%PDF-sheet"]
    with app.app_context():
        assert [path.name for path in cache.folder().iterdir()] == ["one-sheet.pdf"]


def test_a_stylesheet_is_parsed_once_for_every_render_that_uses_it(monkeypatch):
    parsed = []

    class CountingCSS(pdf.CSS):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            parsed.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(pdf, "CSS", CountingCSS)
    css = f"@page {{ size: A5 }} /* {threading.get_ident()} {id(parsed)} */"  # text no earlier test parsed
    pdfs = [pdf.html_to_pdf(f"<p>sheet {n}</p>", static_root=STATIC, css=css) for n in range(2)]
    assert parsed == [1]
    for rendered in pdfs:
        assert [round(float(v)) for v in PdfReader(io.BytesIO(rendered)).pages[0].mediabox[2:]] == [420, 595]


def test_rendering_leaves_the_garbage_collector_on(monkeypatch):
    import gc

    pdf.html_to_pdf("<p>fine</p>", static_root=STATIC)
    assert gc.isenabled()

    class Broken:
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise ValueError("cannot render")

    monkeypatch.setattr(pdf, "HTML", Broken)
    with pytest.raises(ValueError, match="cannot render"):
        pdf.html_to_pdf("<p>broken</p>", static_root=STATIC)
    assert gc.isenabled()


def test_the_warm_up_renders_without_the_database(tmp_path):
    from rehab import create_app
    from tests.conftest import base_config

    # The folder does not exist: any query would fail. gunicorn runs the warm-up before forking its workers,
    # where a connection would be shared by every worker.
    printing.warm_up(create_app(base_config(f"sqlite:///{tmp_path}/missing/rehab.sqlite3")))
