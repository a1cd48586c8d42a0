"""What pygal cannot draw itself, added to its SVG tree: a marker shape per series (so equal values stay visible
one inside the other), the same shape and dash in the legend, each point's own words as a native tooltip, a
text description for screen readers, and the order in which series are painted.

pygal draws every dot as a circle of one size, in the order the series were added, with a colour square in the
legend: two series with equal values then hide each other and the legend cannot say which line is which."""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SeriesLook:
    """How one series is drawn: colour, line width and dash, and its marker (none for guide lines)."""

    color: str
    width: float
    dash: str = ""
    marker: str = ""  # "circle", "square", "diamond", "triangle" or "" for no marker
    size: float = 0.0  # the marker's half-width in px
    hollow: bool = False  # an outline only, so a marker under it still shows through


_SAMPLE_LENGTH = 2.4  # a legend sample is this many legend boxes long, so its dash shows


def marker_path(shape: str, x: float, y: float, size: float) -> str:
    """The SVG path of a marker centred on (x, y). Every path starts with ``M x y`` (an empty sub-path, drawing
    nothing) so the point's position reads back from the markup."""
    s = size
    start = f"M{x:.2f} {y:.2f}"
    if shape == "square":
        return f"{start} m{-s:.2f} {-s:.2f} h{2 * s:.2f} v{2 * s:.2f} h{-2 * s:.2f} z"
    if shape == "diamond":
        return f"{start} m0 {-s:.2f} l{s:.2f} {s:.2f} l{-s:.2f} {s:.2f} l{-s:.2f} {-s:.2f} z"
    if shape == "triangle":
        return f"{start} m0 {-s:.2f} l{0.87 * s:.2f} {1.5 * s:.2f} h{-1.74 * s:.2f} z"
    return f"{start} m{-s:.2f} 0 a{s:.2f} {s:.2f} 0 1 0 {2 * s:.2f} 0 a{s:.2f} {s:.2f} 0 1 0 {-2 * s:.2f} 0 z"


def _classes(element: ET.Element) -> list[str]:
    return element.get("class", "").split()


def _tag(element: ET.Element) -> str:
    """The element's name without a namespace ("" for a comment, whose tag is a function)."""
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _series_index(element: ET.Element) -> int | None:
    for name in _classes(element):
        if name.startswith("serie-") and name[6:].isdigit():
            return int(name[6:])
    return None


def _marker(look: SeriesLook, x: float, y: float, size: float) -> ET.Element:
    # Presentation attributes, never a style attribute: the image is served under a CSP without inline styles.
    return ET.Element("path", {
        "d": marker_path(look.marker, x, y, size), "class": "marker", "stroke": look.color,
        "stroke-width": "2.2" if look.hollow else "1", "fill": "none" if look.hollow else look.color,
        "stroke-dasharray": "none"})


@dataclass(frozen=True)
class LegendFit:
    """What the legend's words must fit: their size, the width of one column, the number of columns."""

    font_px: float
    column_px: float
    columns: int


def finish(root: ET.Element, looks: Sequence[SeriesLook], tooltips: Sequence[Sequence[str]],
           paint_first: Sequence[int], description: str, legend: LegendFit | None = None) -> ET.Element:
    """Give each series its marker, dash and legend sample, each point its tooltip, and paint the series listed
    in ``paint_first`` under the others (a thick minutes line under the pain lines, never over them)."""
    parents = {child: parent for parent in root.iter() for child in parent}
    for element in list(root.iter()):
        if ("tooltip" in _classes(element) and _tag(element) == "g") or _tag(element) == "script":
            parents[element].remove(element)  # pygal's tooltip box and its settings need JavaScript, never served
            continue
        element.attrib.pop("style", None)
        if "reactive" in _classes(element):
            # pygal's hover classes carry a stroke width and opacity that would override each series' own.
            element.set("class", " ".join(name for name in _classes(element) if name != "reactive"))
    for element in list(root.iter()):
        index = _series_index(element)
        if index is None or index >= len(looks) or "series" not in _classes(element):
            continue
        look = looks[index]
        for line in element.iter():
            if "line" in _classes(line):
                line.set("stroke-width", f"{look.width:g}")
                line.set("stroke-dasharray", look.dash or "none")
        dots = [group for group in element if "dots" in _classes(group)]
        for number, group in enumerate(dots):
            circle = next((child for child in group if _tag(child) == "circle"), None)
            if circle is None:
                continue
            group.remove(circle)
            if look.marker:
                group.insert(0, _marker(look, float(circle.get("cx", 0)), float(circle.get("cy", 0)), look.size))
            texts = tooltips[index] if index < len(tooltips) else ()
            if number < len(texts):
                ET.SubElement(group, "title").text = texts[number]
    for parent in [element for element in root.iter() if "plot" in _classes(element)]:
        # Painted first among the series, still over the plot's background and grid.
        first = [child for child in parent if _series_index(child) in paint_first]
        for child in first:
            parent.remove(child)
        start = next((position for position, child in enumerate(parent) if "series" in _classes(child)), len(parent))
        for position, child in enumerate(first):
            parent.insert(start + position, child)
    _legend_samples(root, looks)
    if legend is not None:
        _wrap_legend(root, legend)
    title = root.find("title")
    desc = ET.Element("desc")
    desc.text = description
    root.insert(list(root).index(title) + 1 if title is not None else 0, desc)
    root.set("role", "img")
    return root


def _legend_samples(root: ET.Element, looks: Sequence[SeriesLook]) -> None:
    """Each legend entry shows a piece of its line with its marker in place of pygal's colour square."""
    for legend in [element for element in root.iter() if "legend" in _classes(element)]:
        box = next((child for child in legend if _tag(child) == "rect"), None)
        number = legend.get("id", "").removeprefix("activate-serie-")
        index = int(number) if number.isdigit() else None
        if box is None or index is None or index >= len(looks):
            continue
        look = looks[index]
        x, y, side = float(box.get("x", 0)), float(box.get("y", 0)), float(box.get("width", 12))
        length, middle = side * _SAMPLE_LENGTH, y + side / 2
        legend.remove(box)
        for text in (child for child in legend if _tag(child) == "text"):
            text.set("x", f"{float(text.get('x', 0)) + length - side:.2f}")  # room for the longer sample
        sample = ET.Element("path", {"d": f"M{x:.2f} {middle:.2f} h{length:.2f}", "stroke": look.color,
                                      "stroke-width": f"{look.width:g}", "stroke-dasharray": look.dash or "none",
                                      "fill": "none", "class": "legend-line"})
        legend.insert(0, sample)
        if look.marker:
            legend.insert(1, _marker(look, x + length / 2, middle, min(look.size, side / 2)))


_CHAR_EM = 0.62  # DejaVu Sans's average letter width, in em: how long a legend line will be


def _wrap_legend(root: ET.Element, fit: LegendFit) -> None:
    """A legend entry too long for its column (large text, a longer translation) goes on two or more lines; the
    rows under it and the image itself grow to make room, so nothing is cut off or overlaps."""
    line_px = fit.font_px * 1.2
    entries = [element for element in root.iter() if "legend" in _classes(element)]
    extra_by_row: dict[int, float] = {}
    for number, entry in enumerate(entries):
        text = next((child for child in entry if _tag(child) == "text"), None)
        if text is None or not text.text:
            continue
        sample = next((child for child in entry if "legend-line" in _classes(child)), None)
        column_start = float(sample.get("d", "M0").split()[0][1:]) if sample is not None else 0.0
        room = fit.column_px - (float(text.get("x", 0)) - column_start)
        lines = _wrap(text.text, max(int(room / (fit.font_px * _CHAR_EM)), 8))
        if len(lines) == 1:
            continue
        text.text = None
        for position, words in enumerate(lines):
            ET.SubElement(text, "tspan", {"x": text.get("x", "0"), "dy": "0" if position == 0 else f"{line_px:.1f}"}
                          ).text = words
        row = number // fit.columns
        extra_by_row[row] = max(extra_by_row.get(row, 0), line_px * (len(lines) - 1))
    if not extra_by_row:
        return
    for number, entry in enumerate(entries):
        shift = sum(extra for row, extra in extra_by_row.items() if row < number // fit.columns)
        if shift:
            entry.set("transform", f"translate(0 {shift:.1f})")
    grow = sum(extra_by_row.values())
    x, y, width, height = (float(part) for part in root.get("viewBox", "0 0 0 0").split())
    root.set("viewBox", f"{x:g} {y:g} {width:g} {height + grow:g}")
    background = next((element for element in root.iter() if "background" in _classes(element)), None)
    if background is not None:
        background.set("height", f"{float(background.get('height', 0)) + grow:g}")


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def style_hashes(svg: str) -> list[str]:
    """CSP source expressions for the image's own <style> blocks, so it can be served with a policy that allows
    exactly those styles and nothing inline besides.

    A browser hashes a style element's text as the XML parser hands it over, with entities decoded (pygal writes
    ``.graph > .background`` as ``&gt;``): hash that text, never the raw markup between the tags."""
    root = ET.fromstring(svg)  # noqa: S314  # our own chart, drawn by pygal a moment ago, not outside input
    return ["'sha256-" + base64.b64encode(hashlib.sha256("".join(element.itertext()).encode()).digest()).decode()
            + "'" for element in root.iter() if _tag(element) == "style"]


def image_policy(svg: str) -> str:
    """The Content-Security-Policy for an SVG served on its own: nothing loads, no script runs, and only the
    image's own style blocks apply."""
    styles = " ".join(style_hashes(svg)) or "'none'"
    return f"default-src 'none'; script-src 'none'; style-src {styles}; frame-ancestors 'none'"
