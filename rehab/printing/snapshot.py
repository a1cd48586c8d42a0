"""The printed home-exercise sheet: what goes on it (a snapshot of plain values) and turning HTML into a PDF.

``build_sheet_snapshot`` collects everything the sheet shows as JSON-ready values; a print keeps that
snapshot, so reprinting shows the same sheet even after the protocol or the clinic's details changed.
``html_to_pdf`` renders with WeasyPrint through a URL fetcher that serves only the app's own static files
and ``data:`` URLs: user text can never make the renderer reach the network or the disk (SECURITY.md 13).
"""

from __future__ import annotations

import gc
import hashlib
import json
import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from rehab.services.catalogue import exercises, illustration_svg
from rehab.services.dose import dose_sentence, speed_text
from rehab.services.home_plan import prescribed_for_home
from rehab.services.patient_text import phase_text
from rehab.services.protocol_content import ProtocolContent

# Bump when the sheet's layout changes, so cached PDFs of the old layout are not served again.
SHEET_LAYOUT_VERSION = "2"
# Sheets of earlier layouts told a backward walker to face the treadmill's console and put chest pain under
# "call the clinic": they are kept as the record of what was handed out, never handed out again.
OLDEST_REPRINTABLE_LAYOUT = 2


def reprintable(snapshot: dict[str, Any]) -> bool:
    layout = str(snapshot.get("layout", "1"))
    return layout.isdigit() and int(layout) >= OLDEST_REPRINTABLE_LAYOUT
STATIC_HOST = "https://rehab.invalid"  # never resolves; our fetcher answers for it from the static folder
LOG_ROWS_MIN, LOG_ROWS_MAX = 8, 14


@dataclass(frozen=True)
class SheetOptions:
    paper: str = "letter"  # letter | a4
    large_print: bool = False
    language: str = "en"  # en | es
    include_next: bool = True

    @classmethod
    def parse(cls, values: dict[str, Any], *, default_paper: str, default_language: str) -> SheetOptions:
        paper = values.get("paper") if values.get("paper") in ("letter", "a4") else default_paper
        language = values.get("language") if values.get("language") in ("en", "es") else default_language
        return cls(paper=paper, language=language, large_print=bool(values.get("large_print")),  # type: ignore[arg-type]
                   include_next=bool(values.get("include_next")))


def build_sheet_snapshot(*, patient_name: str, clinic: dict[str, str], therapist_name: str, protocol_title: str,
                         version_number: int, content: ProtocolContent, phase_index: int, options: SheetOptions,
                         printed_on: date, speed_unit: str, anticoagulants: bool = False) -> dict[str, Any]:
    """Every value the sheet shows, JSON-ready. Exercise text and illustrations are copied in, so the sheet
    stays the same when the catalogue is edited later. ``home_prescribed`` is false when every exercise is
    clinic-only: the sheet then says "not on your own yet" and has no log. ``anticoagulants`` adds a falls
    warning (a fall can bleed)."""
    language = options.language
    phase = content.phases[phase_index]
    catalogue = exercises()
    items = []
    for rx in phase.prescriptions:
        exercise = catalogue[rx.exercise]
        text = exercise.text(language)
        items.append({
            "key": rx.exercise, "name": text.name,
            "sentence": dose_sentence(rx, language=language, speed_unit=speed_unit),
            "purpose": text.purpose, "steps": list(text.steps), "cues": list(text.cues), "safety": list(text.safety),
            "therapist_cues": rx.cues, "illustration": illustration_svg(rx.exercise), "pain_ceiling": rx.pain_ceiling,
            "at_home": rx.setting != "clinic", "setting": rx.setting,
        })
    next_phase = None
    if options.include_next and phase_index + 1 < len(content.phases):
        upcoming = content.phases[phase_index + 1]
        next_phase = {**phase_text(upcoming, template_key=content.template_key, language=language),
                      "sessions": phase.advance_after_sessions, "no_stumbles": phase.no_stumbles,
                      "sentences": [dose_sentence(rx, language=language, speed_unit=speed_unit)
                                    for rx in upcoming.prescriptions]}
    sessions_per_week = max(rx.sessions_per_week for rx in phase.prescriptions)
    return {
        "layout": SHEET_LAYOUT_VERSION, "options": asdict(options), "patient_name": patient_name, "clinic": clinic,
        "therapist_name": therapist_name, "protocol_title": protocol_title, "version_number": version_number,
        "phase_number": phase_index + 1, "phase_count": len(content.phases),
        "phase": phase_text(phase, template_key=content.template_key, language=language), "exercises": items,
        "next_phase": next_phase,
        "pain_ceiling": min(rx.pain_ceiling for rx in phase.prescriptions),
        "log_rows": max(LOG_ROWS_MIN, min(LOG_ROWS_MAX, sessions_per_week * 2)),
        "printed_on": printed_on.isoformat(), "speed_example": speed_text(1.2, speed_unit),
        "home_prescribed": prescribed_for_home(phase), "anticoagulants": anticoagulants,
    }


def snapshot_digest(snapshot: dict[str, Any]) -> str:
    """The cache key of a sheet: the same snapshot always renders the same PDF."""
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def sheet_filename(printed_on: date | datetime, kind: str = "home-exercises") -> str:
    """``home-exercises-2026-11-25.pdf``: a date, never the patient's name."""
    day = printed_on.date() if isinstance(printed_on, datetime) else printed_on
    return f"{kind}-{day.isoformat()}.pdf"


# --------------------------------------------------------------------------------------------------- render


class StaticOnlyFetcher(URLFetcher):
    """Serves the app's own static files and ``data:`` URLs; refuses everything else (network, ``file:``,
    other hosts). Redirects cannot happen: nothing is fetched over the network."""

    def __init__(self, static_root: Path) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False)
        self._root = static_root.resolve()

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            return super().fetch(url, headers)
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != STATIC_HOST or not parts.path.startswith("/static/"):
            raise ValueError(f"blocked: only the app's static files may be loaded ({parts.scheme} URL)")
        target = (self._root / unquote(parts.path.removeprefix("/static/"))).resolve()
        if not target.is_relative_to(self._root) or not target.is_file():
            raise ValueError("blocked: not one of the app's static files")
        mime_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, target.read_bytes(), {"Content-Type": mime_type})


@cache
def _font_configuration() -> FontConfiguration:
    """One font configuration per process: faster renders and much less memory kept per render."""
    return FontConfiguration()


@lru_cache(maxsize=32)
def _stylesheet(css: str, static_root: Path) -> CSS:
    """A stylesheet parsed once per process and reused by every render that passes the same text: parsing the
    sheet's CSS took about a twentieth of a render, and it has only 8 variants (paper, print size, language)."""
    return CSS(string=css, base_url=f"{STATIC_HOST}/", url_fetcher=StaticOnlyFetcher(static_root),
               font_config=_font_configuration())


def warm_stylesheet(css: str, *, static_root: Path) -> None:
    """Parse ``css`` now (it is kept for the renders that pass the same text)."""
    _stylesheet(css, static_root)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while WeasyPrint works, then collect the young objects once.

    A sheet leaves about 15,000 objects in reference cycles. With the collector on, some 30 young passes, two
    or three older ones and, every few renders, a pass over the whole process interrupt the render (about
    30 ms a sheet in a worker, measured); one young pass afterwards frees the same garbage in half that
    time, and no render pays for a full pass. Whoever paused the collector turns it back on, so overlapping
    renders in threads leave it on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect(0)


def html_to_pdf(html: str, *, static_root: Path, css: str | None = None) -> bytes:
    """Render trusted, already-escaped HTML to PDF bytes with the static-only fetcher.

    ``css``: a stylesheet for the page, given apart from the HTML so it is parsed once per process."""
    stylesheets = [_stylesheet(css, static_root)] if css else None
    with _collector_paused():
        document = HTML(string=html, base_url=f"{STATIC_HOST}/", url_fetcher=StaticOnlyFetcher(static_root))
        return document.write_pdf(font_config=_font_configuration(), stylesheets=stylesheets)


def merge_pdfs(pages: list[tuple[str, str | None]], *, static_root: Path) -> bytes:
    """Several sheets as one PDF, each keeping its own "page 1 of 2" (rendered apart, pages joined).

    ``pages``: each sheet's HTML and its CSS (as for ``html_to_pdf``)."""
    fetcher = StaticOnlyFetcher(static_root)
    with _collector_paused():
        documents = [HTML(string=html, base_url=f"{STATIC_HOST}/", url_fetcher=fetcher)
                     .render(font_config=_font_configuration(),
                             stylesheets=[_stylesheet(css, static_root)] if css else None)
                     for html, css in pages]
        return documents[0].copy([page for document in documents for page in document.pages]).write_pdf()


def qr_data_uri(url: str) -> str:
    """The QR code of ``url`` as a PNG ``data:`` URL. A PNG, not SVG: WeasyPrint draws the hundreds of path
    segments of an SVG code one by one (about a twentieth of a render). The page shows it unsmoothed
    (``image-rendering: pixelated``); 4 pixels a module keep it sharp in viewers that smooth anyway."""
    import segno  # only sheets with a patient link need it

    return segno.make(url, error="m").png_data_uri(scale=4)
