"""Every portal page in Spanish, with no English message id left: the portal blueprint's GET routes are walked from
the URL map (so a page added later is covered without editing this file), each rendered for a patient with every
kind of record and Spanish chosen, and the visible text searched for every catalog msgid whose Spanish differs.
The home sheet downloaded in Spanish, the calendar in Spanish and every "you cannot go on" message are read too.

Visible means what a person or a screen reader meets: text outside tags, and the alt, title, aria-label and
placeholder attributes; text inside an element marked with another language (the "English" button of the
language picker) is the exception it should be."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter, Rule

from rehab import printing
from rehab.models import HandoutPrint, utcnow
from rehab.printing.snapshot import SheetOptions
from rehab.services import questionnaire_records
from tests import factories
from tests.conftest import SECRET, submit
from tests.test_access import GET_RULES

pytestmark = pytest.mark.db

CATALOG = Path(__file__).resolve().parents[1] / "rehab" / "translations" / "es" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}|%[sd]")
PORTAL_GET_RULES = [rule for rule in GET_RULES if rule.endpoint.startswith("portal.")]
# Routes that are not a page for the patient's phone to read: the link itself (a redirect), the calendar (read
# below as a calendar), the sheet's PDF (read below as a PDF), the sheet's state (the JSON its waiting page polls)
# and the service worker (a script).
NOT_PAGES = {"portal.open", "portal.calendar", "portal.sheet_pdf", "portal.sheet_state", "portal.service_worker"}
# Words that are the same in both languages, or names, and so prove nothing.
SAME_IN_BOTH = {"Normal", "min", "A4", "No", "Total"}


def english_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Each msgid whose Spanish differs, as a pattern of its words (placeholders match anything short)."""
    with CATALOG.open("rb") as source:
        catalog = read_po(source)
    found: list[tuple[str, re.Pattern[str]]] = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid in ids:
            if msgid in strings or msgid in SAME_IN_BOTH or not any(strings):
                continue
            literal = PLACEHOLDER.sub(" ", msgid)
            if len(re.sub(r"[^A-Za-z]", "", literal)) < 4:  # "1+", "%(num)s/10": nothing English to find
                continue
            parts = [re.escape(" ".join(part.split())) for part in PLACEHOLDER.split(msgid)]
            body = r".{1,80}?".join(part for part in parts)
            found.append((msgid, re.compile(rf"(?<![\w-]){body}(?![\w-])")))
    return found


ENGLISH = english_patterns()


class _Visible(HTMLParser):
    """Text a reader meets, leaving out scripts, styles and elements in another language than ``language``."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, language: str) -> None:
        super().__init__(convert_charrefs=True)
        self.language = language
        self.parts: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # (tag, hidden)

    @property
    def _hidden(self) -> bool:
        return bool(self._stack) and self._stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        lang = found.get("lang", "")
        hidden = self._hidden or tag in ("script", "style") or (bool(lang) and not lang.startswith(self.language))
        if not hidden:
            self.parts.extend(found[name] for name in ("alt", "title", "aria-label", "placeholder") if found.get(name))
        if tag not in self.VOID:
            self._stack.append((tag, hidden))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self._stack:
            self._stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                del self._stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible(markup: str, language: str = "es") -> str:
    parser = _Visible(language)
    parser.feed(markup)
    return " ".join(" ".join(parser.parts).split())


def english_in(text: str) -> list[str]:
    return [msgid for msgid, pattern in ENGLISH if pattern.search(text)]


def test_the_check_finds_english_where_there_is_some():
    """The check itself: an English sentence of the catalog is found, its Spanish is not, nor another language."""
    assert english_in(visible("<p>Hola. Log a session</p>")) == ["Log a session"]
    assert english_in(visible("<p>Anotar una sesión</p>")) == []
    assert english_in(visible('<button lang="en">English</button>')) == []
    assert "Your reminders are set for %(time)s." in english_in(visible("<p>Your reminders are set for 18:30.</p>"))


# ------------------------------------------------------------------------------------------------- the walk


def seed_portal_records(db, clinic, therapist, patient) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A record of every kind a portal page shows: a protocol with home walking, a visit, home sessions (one still
    correctable), a pain rating waiting (its page is a 0-10 scale), a LEFS answered and a sheet the patient
    printed. Returns the ids a portal route takes, by its argument's name, and the link's token."""
    from rehab.services.questionnaires import instruments

    protocol = factories.protocol(db, patient, user_id=therapist.id, home=True, days_ago=10)
    factories.visit(db, patient, protocol, at=utcnow() - timedelta(days=5), created_by_id=therapist.id)
    factories.home_log(db, patient, protocol, day=(utcnow() - timedelta(days=3)).date(),
                       recorded=utcnow() - timedelta(days=3), soreness="warmup_gone")
    recent = factories.home_log(db, patient, protocol, soreness="late", note="Todo bien")
    waiting, _ = questionnaire_records.send(db, patient_id=patient.id, clinic_id=clinic.id, protocol_id=protocol.id,
                                            instrument="nprs", now=utcnow(), user_id=therapist.id)
    done, _ = questionnaire_records.send(db, patient_id=patient.id, clinic_id=clinic.id, protocol_id=protocol.id,
                                         instrument="lefs", now=utcnow(), user_id=therapist.id)
    lefs = instruments()["lefs"]
    questionnaire_records.save_answers(db, response=done, language="es", now=utcnow(),
                                       new={item: lefs.option_values[0] for item in range(1, lefs.item_count + 1)})
    sheet = printing.record_print(db, patient, protocol, printing.new_snapshot(
        db, patient, protocol, SheetOptions(paper=clinic.paper_size, language="es"), clinic=clinic,
        printed_by_name=None), source="portal", printed_by_id=None)
    db.commit()
    assert done.completed_at is not None
    return {"log_id": recent.id, "response_id": waiting.id, "done_id": done.id, "print_id": sheet.id,
            "protocol": protocol, "patient": patient, "token": factories.portal_link(db, patient)}


@pytest.fixture
def spanish_phone(app: Flask, db, clinic, therapist, patient) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Margaret's phone with Spanish chosen, every kind of record behind it, a printed sheet and a calendar."""
    world = seed_portal_records(db, clinic, therapist, patient)
    phone = app.test_client()
    assert phone.get(f"/p/{world['token']}").status_code == 302
    submit(phone, "/p/language", {"language": "es", "back": "/p/home"}, form_page="/p/home")
    submit(phone, "/p/reminders", {"reminder_time": "18:30"})
    sheet = phone.post("/p/sheet", data={"csrf_token": _csrf(phone)})
    print_id = int(re.search(r"/p/sheet/(\d+)\.pdf", sheet.headers["Location"]).group(1))  # type: ignore[union-attr]
    return {**world, "phone": phone, "print_id": print_id}


def _csrf(phone: FlaskClient) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"',  # type: ignore[union-attr]
                     phone.get("/p/home").get_data(as_text=True)).group(1)


def portal_url(app: Flask, rule: Rule, world: dict[str, Any]) -> str:
    """A real address for a portal route: each id names the patient's own record of its kind."""
    values: dict[str, Any] = {}
    for name in rule.arguments:
        if isinstance(rule._converters[name], IntegerConverter):
            key = "done_id" if rule.endpoint == "portal.questionnaires_done" else name
            if key not in world:
                pytest.fail(f"{rule.rule}: name a record for its {name!r} in spanish_phone and portal_url")
            values[name] = world[key]
        else:
            pytest.fail(f"{rule.rule}: no test value for {name!r}: add one here or to NOT_PAGES with a reason")
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def test_every_portal_page_in_spanish_has_no_english_message(app, spanish_phone):
    phone: FlaskClient = spanish_phone["phone"]
    problems: dict[str, list[str]] = {}
    walked = 0
    for rule in PORTAL_GET_RULES:
        if rule.endpoint in NOT_PAGES or rule.endpoint in ("portal.closed", "portal.check"):
            continue  # the closed and date-of-birth pages end the session: walked below with phones of their own
        url = portal_url(app, rule, spanish_phone)
        response = phone.get(url, follow_redirects=True)
        assert response.status_code == 200, (url, response.status_code)
        walked += 1
        markup = response.get_data(as_text=True)
        if response.mimetype == "text/html":
            assert '<html lang="es"' in markup, url
        found = english_in(visible(markup))
        if found:
            problems[url] = found
    # The form with its messages, the stop page after a red flag, the entry of a fall.
    invalid = submit(phone, "/p/log", {"minutes": "abc"})
    assert invalid.status_code == 422
    for name, response in (("log with errors", invalid),):
        found = english_in(visible(response.get_data(as_text=True)))
        if found:
            problems[name] = found
    assert walked >= 8
    assert not problems, problems


def test_the_stop_page_and_a_falls_entry_are_spanish(app, db, spanish_phone):
    phone: FlaskClient = spanish_phone["phone"]
    fall = factories.home_log(db, spanish_phone["patient"], spanish_phone["protocol"], fell=True, flag_calf=True)
    pages = {"/p/home": "Pare: llame a la clínica", f"/p/log/{fall.id}": "Pare y llame a la clínica"}
    for url, word in pages.items():
        text = visible(phone.get(url).get_data(as_text=True))
        assert word in text and english_in(text) == [], (url, english_in(text))


def test_the_pages_without_a_session_are_spanish(app, db, patient):
    factories.protocol(db, patient, home=True)
    token = factories.portal_link(db, patient, require_birth_date=True)
    phone = app.test_client()
    phone.get(f"/p/{token}")
    submit(phone, "/p/language", {"language": "es", "back": "/p/check"}, form_page="/p/check")
    check = phone.get("/p/check").get_data(as_text=True)
    assert '<html lang="es"' in check and english_in(visible(check)) == []
    wrong = submit(phone, "/p/check", {"day": "1", "month": "1", "year": "1990"}).get_data(as_text=True)
    assert "no coincide" in wrong and english_in(visible(wrong)) == []
    closed = phone.get("/p/closed").get_data(as_text=True)
    assert english_in(visible(closed)) == []
    unknown = app.test_client().get("/p/" + "q" * 43, headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="es"' in unknown and english_in(visible(unknown)) == []


@pytest.mark.parametrize("kind", ["unknown", "expired", "revoked", "locked", "closed", "throttled", "too_late",
                                  "form_expired", "already_saved", "form_used", "not_found",
                                  "bad_request", "server_error"])
def test_every_message_page_is_spanish(app, kind):
    from flask import g

    from rehab.views.portal.layout import page

    with app.test_request_context("/p/home"):
        g.patient_language, g.text_size = "es", "normal"
        markup = page("portal/message.html", kind=kind, minutes=15, result="/p/home", phone="555-0100",
                      error_id="1a2b3c4d")
    assert '<html lang="es"' in markup and english_in(visible(markup)) == [], english_in(visible(markup))


def test_the_sheet_being_prepared_is_spanish_and_says_printing_is_not_running(app, spanish_phone, tmp_path):
    """The walk above meets the waiting page as it is once the sheet is made (tests render in the request): here
    the sheet waits for a render worker that is not running."""
    app.config["RENDER_QUEUE"] = f"sqlite:///{tmp_path / 'render-queue.sqlite3'}"
    app.config["SHEET_CACHE_DIR"] = str(tmp_path / "sheets")
    phone: FlaskClient = spanish_phone["phone"]
    first = phone.get(f"/p/sheet/{spanish_phone['print_id']}.pdf")
    assert first.status_code == 303 and first.headers["Location"].endswith("/waiting")
    markup = phone.get(first.headers["Location"]).get_data(as_text=True)
    text = visible(markup)
    assert '<html lang="es"' in markup and "Estamos preparando su hoja…" in text
    assert "Ahora no se pueden hacer hojas" in text and "data-print-stopped hidden" not in markup
    assert english_in(text) == [], english_in(text)


def test_the_spanish_sheet_and_calendar_have_no_english_message(app, db, spanish_phone):
    from tests.test_handouts import pdf_text

    phone: FlaskClient = spanish_phone["phone"]
    pdf = phone.get(f"/p/sheet/{spanish_phone['print_id']}.pdf")
    assert pdf.mimetype == "application/pdf"
    text = " ".join(pdf_text(pdf.data)[0].split())
    assert "Recordatorios en el calendario de su teléfono" in text
    printed = db.get(HandoutPrint, spanish_phone["print_id"])
    assert printed is not None
    therapist = json.loads(printed.snapshot)["therapist_name"]  # "Pat Therapist": a name, not an English word
    assert therapist and therapist in text
    text = text.replace(therapist, "")
    assert english_in(text) == [], english_in(text)
    page = phone.get("/p/reminders").get_data(as_text=True)
    address = re.search(r'id="calendar-address" type="url" readonly value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    calendar = app.test_client().get(address.removeprefix("http://localhost")).get_data(as_text=True)
    unfolded = calendar.replace("\r\n ", "")
    values = [line.split(":", 1)[1].replace("\\n", "\n").replace("\\,", ",").replace("\\;", ";")
              for line in unfolded.split("\r\n")
              if line.split(":", 1)[0].split(";")[0] in ("SUMMARY", "DESCRIPTION", "X-WR-CALNAME", "X-WR-CALDESC")]
    assert any("Caminar hacia atrás" in value for value in values)
    found = english_in(" ".join(" ".join(values).split()))
    assert found == [], found
    assert SECRET not in calendar


def test_the_catalog_says_each_message_once():
    """A message written twice in the catalog has two translations and the compiler keeps only one of them
    (GNU msgfmt refuses the file): the Spanish a patient reads would depend on the tool that built it."""
    text = CATALOG.read_text(encoding="utf-8")
    entries = re.findall(r'^(?:msgctxt "((?:[^"\\]|\\.)*)"\n)?msgid "((?:[^"\\]|\\.)*)"\n((?:"(?:[^"\\]|\\.)*"\n)*)',
                         text, re.MULTILINE)
    ids = [(context, first + "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', rest))) for context, first, rest in entries]
    repeated = sorted({message for message in ids if ids.count(message) > 1})
    assert len(ids) > 500 and repeated == []
