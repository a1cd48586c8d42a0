"""Attack batteries (SECURITY.md 12-13): markup and template payloads in every free-text field come out as
inert text on pages and in PDFs, and payloads that point at the network or the disk fetch nothing."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlmodel import select

from rehab.models import ClinicTemplate, ProtocolVersion, utcnow
from rehab.services.catalogue import templates
from rehab.services.protocol_content import content_from_template
from rehab.services.protocol_records import create_protocol
from tests.conftest import submit
from tests.test_handouts import pdf_text, print_report
from tests.test_visits import visit_form

pytestmark = pytest.mark.db

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "{{7*7}}{% raw %}",
    "javascript:alert(1)",
    "<a href='javascript:alert(1)'>x</a>",
]


class _Listener(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        _Listener.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


@pytest.fixture
def listener():  # type: ignore[no-untyped-def]
    server = HTTPServer(("127.0.0.1", 0), _Listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Listener.hits = []
    yield server.server_port
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_in_free_text_fields_is_escaped_on_every_page(app, therapist_client, clinic, make_patient, db,
                                                             payload):
    patient = make_patient(clinic, notes=f"note {payload}", precaution_other=f"other {payload}")
    content = content_from_template(templates()["knee_oa"])
    content.title = f"title {payload}"
    content.phases[0].name = f"phase {payload}"
    content.phases[0].goal = f"goal {payload}"
    content.phases[0].advance_text = f"advance {payload}"
    content.phases[0].prescriptions[0].cues = f"cue {payload}"
    protocol = create_protocol(db, patient=patient, content=content, user_id=None,
                               now=utcnow() - timedelta(days=9), overrides=[])
    db.add(ClinicTemplate(clinic_id=clinic.id, name=f"template {payload}", content=content.model_dump_json()))
    db.commit()
    submit(therapist_client, f"/patients/{patient.id}/visits/new", visit_form(note=f"visit {payload}"))
    pages = [f"/patients/{patient.id}", f"/patients/{patient.id}/protocols/{protocol.id}",
             f"/patients/{patient.id}/protocols/{protocol.id}/edit", f"/patients/{patient.id}/protocols/new",
             f"/patients/{patient.id}/protocols/{protocol.id}/history", "/dashboard"]
    markup = any(char in payload for char in "<>\"'")
    for url in pages:
        html = therapist_client.get(url).get_data(as_text=True)
        if markup:
            assert payload not in html, url  # never the raw markup, only its escaped text
        elif url != "/dashboard":  # the dashboard shows none of these fields
            assert payload in html, url  # plain text shown as typed: no template evaluation...
            assert "49" not in html.split(payload)[0][-20:], url
        assert 'href="javascript:' not in html and "href='javascript:" not in html, url  # ...and no live link


def test_network_and_disk_payloads_in_every_field_reaching_a_pdf_fetch_nothing(app, tmp_path, therapist_client,
                                                                               clinic, make_patient, therapist,
                                                                               db, listener):
    app.config["SHEET_CACHE_DIR"] = str(tmp_path / "sheets")
    here = f"http://127.0.0.1:{listener}"
    payloads = [f'<img src="{here}/img">', f'<link rel=stylesheet href="{here}/css">', '<img src="file:///etc/passwd">',
                f'<iframe src="{here}/frame"></iframe>', f"<style>@import url({here}/import);</style>"]
    text = " ".join(payloads)
    patient = make_patient(clinic, first_name="Ruth", last_name="Abernathy")
    clinic.name, clinic.address, clinic.phone = "Riverside", f"Road {text}", "555"
    therapist.name = f"PT {payloads[0]}"
    content = content_from_template(templates()["knee_oa"])
    content.phases[0].goal = f"goal {text}"
    content.phases[0].prescriptions[0].cues = f"cue {text}"
    content.phases[1].name = f"next {payloads[1]}"
    db.add_all([clinic, therapist])
    create_protocol(db, patient=patient, content=content, user_id=therapist.id, now=utcnow() - timedelta(days=9),
                    overrides=[])
    db.commit()
    submit(therapist_client, f"/patients/{patient.id}/visits/new", visit_form(note=f"visit {text}"))
    sheet = submit(therapist_client, f"/patients/{patient.id}/sheet", {"paper": "letter", "language": "en",
                                                                        "include_next": "1"}, follow_redirects=True)
    report = print_report(therapist_client, patient, assessment=f"assessment {text}", plan=f"plan {text}")
    for pdf in (sheet.data, report.data):
        assert pdf.startswith(b"%PDF")
        assert "root:x:0" not in pdf_text(pdf)[0]
    assert "".join(f"{here}/img".split()) in "".join(pdf_text(sheet.data)[0].split())  # shown as text
    assert _Listener.hits == []
    version = db.exec(select(ProtocolVersion)).one()
    assert json.loads(version.content)["phases"][0]["goal"].startswith("goal <img")  # stored as typed
