"""How well a rendered sheet fills its pages, and the layout that fills them best.

A sheet's length varies tenfold (one exercise or six, a line of the therapist's notes or five hundred
characters, normal or large print, Letter or A4, English or the longer Spanish), so no single set of page
breaks suits every sheet: a block that does not fit at the bottom of a page moves whole to the next one and
can leave the page behind it nearly empty. ``best_layout`` renders a sheet in a few arrangements, in order of
preference, and keeps the first that leaves no page but the last under a third full and cuts no block that
fits on a page (an exercise taller than a page is marked ``long`` and continues on the next, labelled).

The measures read WeasyPrint's laid-out pages (``HTML(...).render()``): a page's fill is the lowest inked box
(text, a picture, a border or a background) below the top of the page's content area, over that area's height.
Plain functions, no Flask; the tests measure real sheets with them too (tests/test_sheet_fit.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from weasyprint.formatting_structure import boxes

# No page but the last may be less full than this.
MIN_FILL = 1 / 3
# A last page holding only this much (the QR box alone, a few lines) is worth another arrangement.
SMALL_LAST_PAGE = 0.25
# An arrangement whose pages (the last excepted) are all at least this full is kept at once; otherwise a few
# more are tried and the best kept.
GOOD_FILL = 0.5
# Blocks that must not be cut by a page break carry ``data-fit="kind-n"``; only an exercise may be ``long``.
FIT_ATTRIBUTE = "data-fit"


@dataclass(frozen=True)
class Layout:
    """An arrangement of the sheet (classes and order in handouts/sheet.html)."""

    # The log starts on a page of its own (easy to keep on the fridge); otherwise it follows on.
    log_own_page: bool = True
    # "Stay safe" comes before the exercises (where an exercise is nearly a page, it fills page 1 beside the
    # title); otherwise it shares the safety box with "Stop and call the clinic".
    safe_first: bool = False
    # A little less space between things (never smaller type).
    compact: bool = False
    # The QR code and address come before the log's page rather than under the log.
    portal_before_log: bool = False
    # Exercises taller than a page (their ``data-fit`` names): they continue on the next page, labelled.
    long: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Measure:
    fills: list[float]  # per page, 0 to 1
    pages_of: dict[str, list[int]]  # each block's pages (0-based)
    heights: dict[str, float]  # each block's height, all its pieces together (CSS px)
    page_height: float  # the content area's height (CSS px)
    long: frozenset[str] = field(default=frozenset())

    @property
    def oversize(self) -> frozenset[str]:
        """Exercises that cannot fit on any page."""
        return frozenset(name for name, height in self.heights.items()
                         if name.startswith("exercise") and height > self.page_height * 0.99)

    def split(self) -> list[str]:
        """Blocks cut by a page break although they fit on a page."""
        return [name for name, pages in self.pages_of.items() if len(set(pages)) > 1 and name not in self.long]

    def sparse_pages(self) -> list[int]:
        """Pages (1-based) under ``MIN_FILL``, the last excepted."""
        return [number for number, fill in enumerate(self.fills[:-1], start=1) if fill < MIN_FILL]

    def problems(self) -> list[str]:
        return ([f"page {number} is {self.fills[number - 1]:.0%} full" for number in self.sparse_pages()]
                + [f"{name} is cut across pages" for name in self.split()])

    def score(self) -> tuple[int, int, int, float]:
        """Lower is better: problems, then a last page with next to nothing on it, then pages, then the emptiest
        page (the last excepted)."""
        return (len(self.problems()), int(self.fills[-1] < SMALL_LAST_PAGE), len(self.fills),
                -round(min(self.fills[:-1], default=1.0), 2))

    def good(self) -> bool:
        return self.score()[:2] == (0, 0) and min(self.fills[:-1], default=1.0) >= GOOD_FILL


def _descendants(box: Any) -> Iterator[Any]:
    yield box
    for child in box.all_children() if hasattr(box, "all_children") else ():
        yield from _descendants(child)


def _inked_bottom(box: Any) -> float | None:
    """The bottom of what a box draws on paper, or None for a box that draws nothing (CSS px)."""
    if isinstance(box, boxes.TextBox):
        return float(box.position_y + box.margin_height()) if box.text.strip() else None
    if isinstance(box, (boxes.ReplacedBox, boxes.TableCellBox, boxes.BlockBox, boxes.TableBox, boxes.InlineBlockBox)):
        # The used bottom border: a box that continues on the next page has none here, so its sides drawn down
        # to the foot of the page count for nothing (what fills a page is what is in the box).
        drawn = (isinstance(box, boxes.ReplacedBox) or box.border_bottom_width > 0
                 or box.style["background_color"].alpha > 0)
        if drawn:
            return float(box.border_box_y() + box.border_height())
    return None


def measure(document: Any, *, long: frozenset[str] = frozenset()) -> Measure:
    """Each page's fill and each block's pages and height, read from a rendered ``weasyprint.Document``."""
    fills: list[float] = []
    pages_of: dict[str, list[int]] = {}
    heights: dict[str, float] = {}
    page_height = 0.0
    for index, page in enumerate(document.pages):
        page_box = page._page_box  # WeasyPrint's laid-out page: the only way to its boxes
        top, page_height = page_box.content_box_y(), page_box.height
        lowest = top
        # Each block's outermost box on this page (the anonymous boxes inside it share its element).
        on_page: dict[str, float] = {}
        for root in page_box.children:
            if isinstance(root, boxes.MarginBox):  # the footers are on every page and count for nothing
                continue
            for box in _descendants(root):
                bottom = _inked_bottom(box)
                if bottom is not None:
                    lowest = max(lowest, bottom)
                element = getattr(box, "element", None)
                if element is None or not hasattr(element, "get"):
                    continue
                name = element.get(FIT_ATTRIBUTE)
                if name and box.element_tag == element.tag:
                    on_page[name] = max(on_page.get(name, 0.0), float(box.border_height()))
        for name, height in on_page.items():
            pages_of.setdefault(name, []).append(index)
            heights[name] = heights.get(name, 0.0) + height
        fills.append(min(1.0, max(0.0, (lowest - top) / page_height)))
    return Measure(fills, pages_of, heights, float(page_height), long)


def best_layout(render: Callable[[Layout], Any], *, large_print: bool) -> tuple[Any, Measure]:
    """The rendered document (and its measure) of the first arrangement that fills its pages, else the best.

    Tries, in order: the standard arrangement (the log on a page of its own, the QR code under it), the log
    following on where it fits whole, a compact one, the QR code before the log's page; then the same with
    "Stay safe" (or "not on your own yet") first. Large print starts with those first (an exercise there takes
    about a page). An exercise too tall for any page is marked long at once and every later arrangement keeps
    it so. Usually the first render is kept."""
    follows, portal_first = Layout(log_own_page=False), Layout(portal_before_log=True)
    standard = [Layout(), follows, Layout(compact=True), replace(follows, compact=True), portal_first]
    safe_first = [replace(layout, safe_first=True) for layout in
                  (Layout(), follows, portal_first, Layout(compact=True), replace(portal_first, compact=True))]
    candidates = safe_first + standard if large_print else standard + safe_first
    best: tuple[Any, Measure] | None = None
    long: frozenset[str] = frozenset()
    for candidate in candidates:
        layout = replace(candidate, long=long)
        document = render(layout)
        found = measure(document, long=long)
        if found.oversize - long:  # an exercise no page can hold: let it continue, labelled, and look again
            long = long | found.oversize
            layout = replace(layout, long=long)
            document = render(layout)
            found = measure(document, long=long)
        if best is None or found.score() < best[1].score():
            best = (document, found)
        if found.good():
            break
    assert best is not None
    return best
