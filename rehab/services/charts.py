"""Progress charts as SVG, drawn by pygal (a maintained charting library), so the same chart serves the web
page and the printed progress report."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pygal
from pygal.style import Style

from rehab.translation import N_

NPRS_IMPORTANT_CHANGE = 2  # points (Farrar 2001)

_STYLE = dict(
    background="white", plot_background="white", foreground="#1d2a33", foreground_strong="#1d2a33",
    foreground_subtle="#e3e9ee", opacity="1", opacity_hover="1", transition="none",
    font_family="DejaVu Sans, Verdana, sans-serif", label_font_size=13, major_label_font_size=13,
    legend_font_size=13, title_font_size=15, value_font_size=12, tooltip_font_size=12,
    guide_stroke_color="#e3e9ee", major_guide_stroke_color="#d8e0e6",
)
COLORS = {"before": "#6b7a86", "worst": "#b3261e", "after": "#c77700", "minutes": "#0f6e6e", "band": "#1a5fd0",
          "phase": "#4a5a66"}


@dataclass(frozen=True)
class ChartLabels:
    """The words a chart draws. Therapists read ``THERAPIST_LABELS`` (English); the patient's chart is drawn with
    ``PATIENT_LABELS`` passed through the patient's translations (shorter, so they fit a phone's legend)."""

    before: str
    worst: str
    after: str
    minutes: str
    band: str  # the important-change lines, with {points}
    phase: str
    no_data: str

    def translated(self, gettext: Callable[[str], str]) -> ChartLabels:
        return ChartLabels(**{name: gettext(text) for name, text in asdict(self).items()})


THERAPIST_LABELS = ChartLabels(before="Pain before", worst="Worst pain during", after="Pain after",
                               minutes="Minutes (right axis)", band="Important change (±{points})",
                               phase="Phase change", no_data="No visits yet")
PATIENT_LABELS = ChartLabels(before=N_("Pain before"), worst=N_("Worst pain"), after=N_("Pain after"),
                             minutes=N_("Minutes (right)"), band=N_("±{points} points"), phase=N_("New stage"),
                             no_data=N_("No sessions yet"))


def _day_month(moment: datetime) -> str:
    return moment.strftime("%d %b")


@dataclass(frozen=True)
class ChartPoint:
    at: datetime
    pain_before: int | None
    pain_worst: int
    pain_after: int | None
    minutes: float | None


def pain_and_minutes_svg(points: Sequence[ChartPoint], *, phase_changes: Sequence[datetime] = (),
                         zone: str = "UTC", title: str = "Pain and backward-walking minutes",
                         width: int = 860, height: int = 380, labels: ChartLabels = THERAPIST_LABELS,
                         day_label: Callable[[datetime], str] = _day_month) -> str:
    """Pain before, worst and after (0-10, left axis) and minutes (right axis) over time; phase changes as
    dotted verticals; the important-change band as dashed lines 2 points either side of the first worst pain.

    ``labels`` and ``day_label`` (the x axis's "01 Dec") let a page draw it in the reader's language."""
    tz = ZoneInfo(zone)
    local = [(point.at.astimezone(tz).replace(tzinfo=None), point) for point in points]
    max_minutes = max((point.minutes or 0 for point in points), default=10)
    # pygal colours series by position, primaries first and then the right-axis ones: collect them first.
    primary: list[tuple[str | None, list[Any], dict[str, Any], str]] = []
    secondary: list[tuple[str | None, list[Any], dict[str, Any], str]] = []
    if local:
        primary.append((labels.before, [(at, p.pain_before) for at, p in local if p.pain_before is not None], {},
                        COLORS["before"]))
        primary.append((labels.worst, [(at, p.pain_worst) for at, p in local], {}, COLORS["worst"]))
        primary.append((labels.after, [(at, p.pain_after) for at, p in local if p.pain_after is not None], {},
                        COLORS["after"]))
        secondary.append((labels.minutes, [(at, p.minutes) for at, p in local if p.minutes is not None],
                          {"secondary": True, "stroke_style": {"width": 4}}, COLORS["minutes"]))
        first, last = local[0][0], local[-1][0]
        baseline = local[0][1].pain_worst
        if first != last:
            dashed = {"show_dots": False, "stroke_style": {"width": 1.5, "dasharray": "7,5"}}
            upper, lower = min(10, baseline + NPRS_IMPORTANT_CHANGE), max(0, baseline - NPRS_IMPORTANT_CHANGE)
            primary.append((labels.band.format(points=NPRS_IMPORTANT_CHANGE), [(first, upper), (last, upper)], dashed,
                            COLORS["band"]))
            primary.append((None, [(first, lower), (last, lower)], dashed, COLORS["band"]))
        verticals: list[tuple[datetime, int] | None] = []
        for moment in phase_changes:
            at = moment.astimezone(tz).replace(tzinfo=None)
            if first <= at <= last:
                verticals += [(at, 0), (at, 10), None]
        if verticals:
            primary.append((labels.phase, verticals[:-1],
                            {"show_dots": False, "stroke_style": {"width": 2, "dasharray": "2,4"}}, COLORS["phase"]))
    style = Style(colors=tuple(color for *_, color in primary + secondary) or ("#b3261e",), **_STYLE)
    chart = pygal.DateTimeLine(
        style=style, width=width, height=height, js=[], title=title, show_dots=True, dots_size=3.5,
        stroke_style={"width": 2.5}, range=(0, 10), secondary_range=(0, max(10, _ceil_to(max_minutes, 5))),
        x_value_formatter=day_label, legend_at_bottom=True,
        legend_at_bottom_columns=3, allow_interruptions=True, truncate_legend=-1, truncate_label=-1,
        x_label_rotation=0, show_minor_x_labels=False, x_labels_major_count=8, y_labels=list(range(0, 11)),
        margin_bottom=6, spacing=14, disable_xml_declaration=True, no_data_text=labels.no_data,
        print_values=False,
    )
    for title_text, values, options, _ in primary + secondary:
        chart.add(title_text, values, **options)
    if not local:
        chart.add(labels.worst, [])
    svg: str = chart.render(is_unicode=True)  # pygal is untyped
    return svg


def style_hashes(svg: str) -> list[str]:
    """CSP source expressions for the chart's own <style> blocks, so the image can be served with a policy
    that allows exactly those styles and nothing inline besides."""
    return ["'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
            for block in re.findall(r"<style[^>]*>(.*?)</style>", svg, flags=re.S)]


def _ceil_to(value: float, step: int) -> int:
    return int(-(-value // step) * step)



def changes_svg(changes: Sequence[float], *, title: str, unit: str) -> str:
    """Each patient's change at 6 weeks as one bar, smallest first, so a clinic sees the spread and not only
    the mean (the page's table gives the numbers and the important change)."""
    chart = pygal.Bar(style=Style(**_STYLE, colors=(COLORS["minutes"],)), width=760, height=340, title=title,
                      show_legend=False, show_x_labels=False, y_title=f"change ({unit})", js=[], margin=16)
    chart.add("Each patient's change", sorted(changes))
    svg: str = chart.render(is_unicode=True)  # pygal is untyped
    return svg
