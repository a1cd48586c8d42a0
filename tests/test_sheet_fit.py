"""Home sheets that fill their pages: real sheets rendered (WeasyPrint) in every print size, language and paper,
for a short protocol and a long one, measured page by page (rehab.printing.fit), their PDFs read back."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from rehab.printing import fit, sheets
from rehab.printing.sheets import PrintedLink
from rehab.printing.snapshot import SheetOptions, build_sheet_snapshot
from rehab.services.catalogue import templates
from rehab.services.protocol_content import ProtocolContent, content_from_template
from tests.factories import home_treadmill

LINK = PrintedLink("https://clinic.example/p/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd", "K7QM-3XPA",
                   "https://clinic.example/p/code")
# A therapist's note as long as the builder allows (500 characters).
LONG_NOTE = ("Keep the walk slow for the first two minutes and look over your shoulder before each step. If the knee "
             "feels warm afterwards, put a cold pack on it for fifteen minutes and raise the leg. ") * 3


def long_content() -> ProtocolContent:
    """The longest sheet the builder allows, near enough: 12 phases, long goals, four exercises a phase, each
    with a 500-character note."""
    base = content_from_template(templates()["knee_oa"]).model_dump()
    prescription = base["phases"][2]["prescriptions"][0]
    phases = []
    for number in range(1, 13):
        phases.append({**base["phases"][min(number - 1, 2)], "key": "", "name": f"Phase {number}",
                       "goal": (("Walk backward a little longer each week while the knee stays calm, and keep the "
                                "pain within your limit during and after each walk. ") * 4)[:500],
                       "prescriptions": [{**prescription, "exercise": exercise, "setting": "home_alone",
                                          "cues": LONG_NOTE[:500]}
                                         for exercise in ("treadmill_rails", "incline_treadmill",
                                                          "overground_partner", "forward_walk_segments")]})
    return ProtocolContent.model_validate({**base, "template_key": "", "phases": phases})


def snapshot(length: str, **options):  # type: ignore[no-untyped-def]
    content = {"short": home_treadmill, "long": long_content,
               "clinic-only": lambda: content_from_template(templates()["knee_oa"])}[length]()
    return build_sheet_snapshot(
        patient_name="Dorothy Whitfield", therapist_name="Pat Therapist", protocol_title="Knee", version_number=3,
        clinic={"name": "Riverside Physical Therapy", "address": "210 River Road, Springfield",
                "phone": "(555) 010-2030", "emergency_number": "911"},
        content=content, phase_index=0, options=SheetOptions(**options), printed_on=date(2026, 12, 2),
        speed_unit="kmh", anticoagulants=length == "long")


VARIANTS = [pytest.param(length, paper, language, large,
                         id=f"{length}-{paper}-{language}-{'large' if large else 'normal'}")
            for length in ("short", "long") for paper in ("letter", "a4") for language in ("en", "es")
            for large in (False, True)] + [
    pytest.param("clinic-only", "letter", "en", large, id=f"clinic-only-letter-en-{'large' if large else 'normal'}")
    for large in (False, True)]


@pytest.mark.parametrize(("length", "paper", "language", "large"), VARIANTS)
def test_every_page_is_filled_and_no_box_is_cut(app, length, paper, language, large):  # type: ignore[no-untyped-def]
    with app.app_context():
        document, found = sheets.fitted_document(snapshot(length, paper=paper, language=language, large_print=large),
                                                 link=LINK)
        again = fit.measure(document, long=found.long)  # what was measured is what is printed
        reader = PdfReader(io.BytesIO(document.write_pdf()))
    assert again.fills == found.fills and len(reader.pages) == len(found.fills)
    assert found.sparse_pages() == [], f"pages under a third full: {found.fills}"
    assert found.split() == [], "a box that fits on a page was cut"
    exercises = [name for name in found.pages_of if name.startswith("exercise")]
    assert len(exercises) == (4 if length == "long" else 1) and {"safety", "portal"} <= set(found.pages_of)
    # An exercise continues on the next page only when it cannot fit on one: alone on a sheet, it still spans two.
    if found.long:
        first_long = min(found.long, key=lambda name: int(name.split("-")[1]))
        alone = snapshot(length, paper=paper, language=language, large_print=large)
        alone["exercises"] = [alone["exercises"][int(first_long.split("-")[1]) - 1]]
        with app.app_context():
            by_itself = fit.measure(sheets.pdf.render_document(sheets.sheet_html(alone, inline_css=False),
                                                               static_root=sheets.static_root(),
                                                               css=sheets.sheet_css(alone)))
        assert len(set(by_itself.pages_of["exercise-1"])) > 1
    texts = [" ".join(page.extract_text().split()) for page in reader.pages]
    continued = "(continuación)" if language == "es" else "(continued)"
    turn = "Sigue en la página siguiente" if language == "es" else "Continued on the next page"
    for name in found.long:  # allowed to continue; where one does, both pages say so
        first, *rest = sorted(set(found.pages_of[name]))
        assert all(continued in texts[page] for page in rest) and (not rest or turn in texts[first])
    if length == "long" and large:
        assert any(len(set(found.pages_of[name])) > 1 for name in found.long)  # the labels were seen at work
    for number, text in enumerate(texts):
        if not any(number in found.pages_of[name][1:] for name in found.long):
            assert continued not in text  # no label where nothing continues
    if length != "long":
        assert len(texts) <= (5 if large else 3)


def test_large_print_is_at_least_16_pt_and_normal_print_13(app):
    with app.app_context():
        large = sheets.sheet_css(snapshot("short", large_print=True))
        normal = sheets.sheet_css(snapshot("short"))
    assert "font-size: 17pt" in large and "font-size: 13pt" in normal


def _inked_rows(png: Path) -> float:
    """The lowest row with ink on a page picture, over the page's content area (its margins cut off). The
    sides of a box that continues on the next page run down to the page's foot: only ink inside the boxes'
    sides counts (18 mm in from the edges: the 15 mm margin and the box's padding)."""
    from PIL import Image

    image = Image.open(png).convert("L")
    dpi = 60
    top, bottom = round(16 / 25.4 * dpi), image.height - round(20 / 25.4 * dpi)
    inside = round(18 / 25.4 * dpi)
    lowest = top
    for y in range(top, bottom):
        if image.crop((inside, y, image.width - inside, y + 1)).getextrema()[0] < 200:
            lowest = y
    return (lowest - top) / (bottom - top)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
@pytest.mark.parametrize(("length", "large"), [("short", False), ("long", True)])
def test_the_measure_agrees_with_the_ink_on_the_printed_pages(app, tmp_path, length, large):  # type: ignore[no-untyped-def]
    """The fill measured on WeasyPrint's boxes is where the ink ends on the page pictures (within 3 %)."""
    with app.app_context():
        document, found = sheets.fitted_document(snapshot(length, large_print=large), link=LINK)
    (tmp_path / "sheet.pdf").write_bytes(document.write_pdf())
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(tmp_path / "sheet.pdf"), str(tmp_path / "page")], check=True)
    inked = [_inked_rows(png) for png in sorted(tmp_path.glob("page-*.png"))]
    assert len(inked) == len(found.fills)
    assert all(abs(ink - fill) < 0.03 for ink, fill in zip(inked, found.fills, strict=True)), (inked, found.fills)
