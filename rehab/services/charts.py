"""Progress charts as SVG, drawn by pygal (a maintained charting library), so the same chart serves the web
page, the patient's portal and the printed progress report.

The chart must not mislead: the x axis is time (a session's place follows its date and time of day, and the
date labels sit on days that had sessions), equal values stay visible (each series has its own marker and
dash, painted so none hides another), and two sessions on one day stay two marks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pygal
from pygal.style import Style

from rehab.services.chart_marks import LegendFit, SeriesLook, finish
from rehab.translation import N_

NPRS_IMPORTANT_CHANGE = 2  # points (Farrar 2001)

# Okabe-Ito hues (safe for the common colour-vision deficiencies), darkened where needed so each keeps at least
# 4.5:1 contrast on white; shape and dash tell the series apart too, so colour is never the only cue.
LOOKS = {
    "before": SeriesLook("#0072B2", 2, "8,4", "square", 5.5, hollow=True),
    "worst": SeriesLook("#C44E00", 3, "", "circle", 4.5),
    "after": SeriesLook("#AA3377", 2.5, "2,3", "diamond", 8, hollow=True),
    "minutes": SeriesLook("#007A5E", 6, "", "triangle", 10, hollow=True),
    "band": SeriesLook("#5F6B73", 1.5, "10,6"),
    "phase": SeriesLook("#1D2A33", 2, "2,4"),
}


@dataclass(frozen=True)
class ChartSize:
    """A chart's drawn size (px), how much its text grows, and its legend's columns."""

    width: int
    height: int
    text_scale: float = 1.0
    legend_columns: int = 2


# The printed report's chart is drawn at its printed width (180 mm, A4 or Letter between 15 mm margins, is 680
# CSS px), so its text prints at its own size: legend 16 px = 12 pt, axes 15 px = 11 pt, never under 10 pt. A
# report printing it narrower keeps that by scaling text_scale by 680 / its printed width in px.
REPORT_CHART = ChartSize(width=680, height=400, text_scale=1.15)
# The therapist's chart in three widths: the page picks one per screen width (a <picture>), so its text stays
# about 13 px on screen from a desktop to a phone instead of shrinking with the image.
SCREEN_CHARTS = {"wide": ChartSize(860, 420), "medium": ChartSize(640, 440),
                 "narrow": ChartSize(400, 580, text_scale=1.1, legend_columns=1)}
# A questionnaire's score chart, shorter than the pain chart (one series), in the same three widths.
SCORE_CHARTS = {"wide": ChartSize(860, 300), "medium": ChartSize(640, 320),
                "narrow": ChartSize(400, 400, text_scale=1.1, legend_columns=1)}
REPORT_SCORE_CHART = ChartSize(width=680, height=320, text_scale=1.15)
_FONT = "DejaVu Sans, Verdana, sans-serif"
_MIN_GAP_PX = 12  # two sessions closer than this on the x axis are drawn this far apart (the tooltip says when)
_DATE_LABEL_PX = 78  # room for one date label at the base text size, gap included


def _style(colors: Sequence[str], scale: float) -> Style:
    def px(size: float) -> int:
        return round(size * scale)
    return Style(background="white", plot_background="white", foreground="#1d2a33", foreground_strong="#1d2a33",
                 foreground_subtle="#e3e9ee", opacity="1", opacity_hover="1", transition="none", font_family=_FONT,
                 label_font_size=px(13), major_label_font_size=px(13), legend_font_size=px(14),
                 title_font_size=px(15), value_font_size=px(12), tooltip_font_size=px(12), no_data_font_size=px(20),
                 guide_stroke_color="#e3e9ee", major_guide_stroke_color="#d8e0e6", colors=tuple(colors))


@dataclass(frozen=True)
class ChartLabels:
    """The words a chart draws. Therapists read ``THERAPIST_LABELS`` (English); the patient's chart is drawn with
    ``PATIENT_LABELS`` passed through the patient's translations (plain words, short enough for a phone)."""

    before: str
    worst: str
    after: str
    minutes: str
    band: str  # the important-change lines, with {points}
    phase: str
    no_data: str
    point: str  # one point's tooltip, with {when}, {series} and {value}

    def translated(self, gettext: Callable[[str], str]) -> ChartLabels:
        return ChartLabels(**{name: gettext(text) for name, text in asdict(self).items()})


THERAPIST_LABELS = ChartLabels(before="Pain before", worst="Worst pain during", after="Pain after",
                               minutes="Minutes (right axis)", band="Important change (first worst pain ± {points})",
                               phase="Phase change", no_data="No visits yet", point="{when}: {series} {value}")
PATIENT_LABELS = ChartLabels(before=N_("Pain before"), worst=N_("Worst pain"), after=N_("Pain after"),
                             minutes=N_("Minutes walked (right side)"), band=N_("{points} points from your first pain"),
                             phase=N_("New stage"), no_data=N_("No sessions yet"), point=N_("{when}: {series} {value}"))


def _day_month(moment: datetime) -> str:
    return moment.strftime("%d %b")


def _day_month_time(moment: datetime) -> str:
    return moment.strftime("%d %b %H:%M")


@dataclass(frozen=True)
class ChartPoint:
    at: datetime
    pain_before: int | None
    pain_worst: int
    pain_after: int | None
    minutes: float | None


def spread_close_moments(moments: Sequence[datetime], min_gap: timedelta) -> list[datetime]:
    """Where each session is drawn: at its own time, except that one closer than ``min_gap`` to the one before
    moves right to ``min_gap`` after it (two sessions at the same minute stay two marks; order is kept)."""
    placed: list[datetime] = []
    for moment in moments:
        placed.append(max(moment, placed[-1] + min_gap) if placed else moment)
    return placed


def day_ticks(days: Sequence[date], *, first: datetime, last: datetime, plot_px: float,
              label_px: float) -> list[date]:
    """The session days that get a date label: the first, the last, and in between each day at least
    ``label_px`` from the labels beside it (a label sits at its day's noon, so it stands over that day's
    sessions)."""
    span = max((last - first).total_seconds(), 1.0)

    def x(day: date) -> float:
        return (datetime.combine(day, time(12)) - first).total_seconds() / span * plot_px

    chosen: list[date] = []
    for day in sorted(set(days)):
        if not chosen or x(day) - x(chosen[-1]) >= label_px:
            chosen.append(day)
    if len(chosen) > 1 and days and max(days) not in chosen:
        if x(max(days)) - x(chosen[-1]) < label_px:
            chosen.pop()
        chosen.append(max(days))
    return chosen


def pain_and_minutes_svg(points: Sequence[ChartPoint], *, phase_changes: Sequence[datetime] = (),
                         zone: str = "UTC", title: str = "Pain and backward-walking minutes",
                         width: int = 860, height: int = 420, labels: ChartLabels = THERAPIST_LABELS,
                         day_label: Callable[[datetime], str] = _day_month,
                         moment_label: Callable[[datetime], str] = _day_month_time, text_scale: float = 1.0,
                         legend_columns: int = 2) -> str:
    """Pain before, worst and after (0-10, left axis) and minutes (right axis) over time; phase changes as
    dotted verticals; the important-change band as dashed lines 2 points either side of the first worst pain.

    ``labels``, ``day_label`` (the axis's "01 Dec") and ``moment_label`` (a tooltip's "01 Dec 10:30") draw it in
    the reader's language; ``text_scale`` grows every text (large print, or a chart printed smaller than its
    ``width``); ``legend_columns`` fits the legend to a narrow chart."""
    tz = ZoneInfo(zone)
    ordered = sorted(points, key=lambda point: point.at)
    local = [point.at.astimezone(tz).replace(tzinfo=None) for point in ordered]
    plot_px = max(width - 120 * text_scale, 100)
    if local:
        first_day, last_day = local[0].date(), local[-1].date()
        start = datetime.combine(first_day, time(0))
        end = datetime.combine(last_day, time(0)) + timedelta(days=1)
        gap = (end - start) * (_MIN_GAP_PX / plot_px)
        placed = spread_close_moments(local, gap)
        end = max(end, placed[-1] + gap)
        ticks = day_ticks([moment.date() for moment in local], first=start, last=end, plot_px=plot_px,
                          label_px=_DATE_LABEL_PX * text_scale)
    looks: list[SeriesLook] = []
    tooltips: list[list[str]] = []
    series: list[tuple[str | None, list[Any], dict[str, Any]]] = []

    def add(key: str, title_text: str | None, values: list[Any], tips: list[str], **options: Any) -> None:
        looks.append(LOOKS[key])
        tooltips.append(tips)
        series.append((title_text, values, options))

    def measured(name: str, text: str, unit: str) -> None:
        chosen = [(at, shown, getattr(point, name)) for at, shown, point in zip(local, placed, ordered, strict=True)
                  if getattr(point, name) is not None]
        add(name.removeprefix("pain_"), text, [(shown, value) for _, shown, value in chosen],
            [labels.point.format(when=moment_label(at), series=text, value=f"{value:g}{unit}")
             for at, _, value in chosen], dots_size=4)

    if local:
        measured("pain_before", labels.before, "/10")
        measured("pain_worst", labels.worst, "/10")
        measured("pain_after", labels.after, "/10")
        baseline = ordered[0].pain_worst
        upper, lower = min(10, baseline + NPRS_IMPORTANT_CHANGE), max(0, baseline - NPRS_IMPORTANT_CHANGE)
        band_text = labels.band.format(points=NPRS_IMPORTANT_CHANGE)
        add("band", band_text, [(start, upper), (end, upper)], [], show_dots=False)
        add("band", None, [(start, lower), (end, lower)], [], show_dots=False)
        verticals: list[tuple[datetime, int] | None] = []
        for moment in phase_changes:
            at = moment.astimezone(tz).replace(tzinfo=None)
            if start <= at <= end:
                verticals += [(at, 0), (at, 10), None]
        if verticals:
            add("phase", labels.phase, verticals[:-1], [], show_dots=False)
        measured("minutes", labels.minutes, "")
        minutes_index = len(series) - 1
        series[minutes_index][2]["secondary"] = True
    max_minutes = max((point.minutes or 0 for point in points), default=10)
    box, spacing = round(15 * text_scale), round(10 * text_scale)
    # pygal colours series by position, primaries first and then the right-axis one: minutes is added last.
    chart = pygal.DateTimeLine(
        style=_style([look.color for look in looks] or [LOOKS["worst"].color], text_scale), width=width,
        height=height, js=[], title=title, show_dots=True, stroke_style={"width": 2.5}, range=(0, 10),
        secondary_range=(0, max(10, _ceil_to(max_minutes, 5))), x_value_formatter=day_label,
        legend_at_bottom=True, legend_at_bottom_columns=legend_columns, legend_box_size=box,
        allow_interruptions=True, truncate_legend=-1, truncate_label=-1, x_label_rotation=0,
        y_labels=list(range(0, 11)), spacing=spacing, disable_xml_declaration=True,
        margin_bottom=6 + _legend_overcount(series, legend_columns, max(box, round(14 * text_scale)), spacing),
        no_data_text=labels.no_data, print_values=False, show_x_guides=True,
    )
    # pygal scopes its styles under the chart's id, by default a random one: a fixed id keeps the same chart the
    # same bytes (and its CSP hash stable). Unscoped, pygal writes rules without a selector, which WeasyPrint
    # rejects with the whole stylesheet.
    chart.uuid = "progress"
    if local:
        chart.config(xrange=(start, end), x_labels=[
            {"value": datetime.combine(day, time(12)), "label": day_label(datetime.combine(day, time(12)))}
            for day in ticks])
    for title_text, values, options in series:
        chart.add(title_text, values, **options)
    if not local:
        chart.add(labels.worst, [])
    description = _describe(ordered, local, labels, moment_label)
    # The legend starts at the plot's left edge and may run to the image's right edge.
    fit = LegendFit(font_px=round(14 * text_scale), column_px=(width - 60 * text_scale - 10) / legend_columns,
                    columns=legend_columns)
    chart.add_xml_filter(lambda root: finish(root, looks, tooltips, paint_first=[minutes_index] if local else [],
                                             description=description, legend=fit))
    svg: str = chart.render(is_unicode=True)  # pygal is untyped
    return svg


def _legend_overcount(series: Sequence[tuple[str | None, list[Any], dict[str, Any]]], columns: int, row: int,
                      spacing: int) -> int:
    """How much less room the legend needs than pygal reserves (as a negative margin). pygal reserves rows for
    every series, titled or not, once for each axis; the legend draws one row per ``columns`` titled series,
    1.5 rows apart (pygal's Graph._compute_margin and _legend)."""
    if not series:
        return 0
    axes = 1 + any(options.get("secondary") for *_, options in series)
    reserved = axes * (spacing + row * round(len(series) // columns - 1) * 1.5 + row)
    rows = -(-sum(title is not None for title, *_ in series) // columns)
    needed = spacing + row * 1.5 * (rows - 1) + row
    return round(needed - reserved)


def _describe(points: Sequence[ChartPoint], local: Sequence[datetime], labels: ChartLabels,
              moment_label: Callable[[datetime], str]) -> str:
    """The chart in words, for a screen reader opening the image on its own: every session, oldest first."""
    if not points:
        return labels.no_data
    parts = []
    for at, point in zip(local, points, strict=True):
        values = [f"{text} {value:g}" for text, value in ((labels.before, point.pain_before),
                                                            (labels.worst, point.pain_worst),
                                                            (labels.after, point.pain_after),
                                                            (labels.minutes, point.minutes)) if value is not None]
        parts.append(f"{moment_label(at)}: " + ", ".join(values))
    return "; ".join(parts) + "."


def _ceil_to(value: float, step: int) -> int:
    return int(-(-value // step) * step)


def changes_svg(changes: Sequence[float], *, title: str, unit: str) -> str:
    """Each patient's change at 6 weeks as one bar, smallest first, so a clinic sees the spread and not only
    the mean (the page's table gives the numbers and the important change)."""
    chart = pygal.Bar(style=_style((LOOKS["minutes"].color,), 1.0), width=760, height=340, title=title,
                      no_data_text="No patient with both values yet",
                      show_legend=False, show_x_labels=False, y_title=f"change ({unit})", js=[], margin=16,
                      disable_xml_declaration=True)
    chart.uuid = "outcomes"
    chart.add("Each patient's change", sorted(changes))
    chart.add_xml_filter(lambda root: finish(root, [], [], paint_first=[], description=(
        f"{len(changes)} patients' changes, smallest first: " + ", ".join(f"{change:g}" for change in sorted(changes))
        if changes else "No patients")))
    svg: str = chart.render(is_unicode=True)  # pygal is untyped
    return svg



@dataclass(frozen=True)
class ScoreSeries:
    """One questionnaire's finished scores for its chart: the scale, which way is better, the important change
    (points, or a share of the first score, whichever is reached first) and the reading of first against latest."""

    name: str
    minimum: float
    maximum: float
    points: float | None
    share: float | None
    scores: tuple[tuple[datetime, float], ...]  # oldest first
    reading: str  # "50 → 58 (+8): no change; important change 9 points", in the reader's language


@dataclass(frozen=True)
class ScoreLabels:
    """The words a score chart draws, English; the report words them in its language."""

    score: str = N_("Score")
    band: str = N_("Important change (first score ± {points})")
    no_data: str = N_("No finished questionnaire yet")
    point: str = N_("{when}: {value}")

    def translated(self, gettext: Callable[[str], str]) -> ScoreLabels:
        return ScoreLabels(**{name: gettext(text) for name, text in asdict(self).items()})


def important_band(first: float, points: float | None, share: float | None) -> float | None:
    """How far from the first score a change becomes important: the points, or the share of the first score if
    that is smaller (either counts, services/baseline_change.is_important); None without a threshold."""
    if points is None:
        return None
    if share is not None and first > 0:
        return min(points, share * first)
    return points


def scores_svg(series: ScoreSeries, *, zone: str = "UTC", width: int = 860, height: int = 300,
               labels: ScoreLabels = ScoreLabels(), day_label: Callable[[datetime], str] = _day_month,
               moment_label: Callable[[datetime], str] = _day_month_time, text_scale: float = 1.0,
               legend_columns: int = 2) -> str:
    """A questionnaire's scores over time on the instrument's whole scale (never rescaled onto the pain axis),
    with the important change drawn as dashed lines either side of the first score, as the pain chart draws its
    band, and the reading (first → latest, improved / no change / worse) in the title."""
    tz = ZoneInfo(zone)
    local = [at.astimezone(tz).replace(tzinfo=None) for at, _ in series.scores]
    values = [value for _, value in series.scores]
    looks = [LOOKS["worst"]]
    tips = [[labels.point.format(when=moment_label(at), value=f"{value:g}") for at, value in zip(local, values,
                                                                                                strict=True)]]
    chart = pygal.DateTimeLine(
        style=_style([LOOKS["worst"].color, LOOKS["band"].color, LOOKS["band"].color], text_scale), width=width,
        height=height, js=[], title=f"{series.name}: {series.reading}", show_dots=True,
        range=(series.minimum, series.maximum), y_labels=axis_labels(series.minimum, series.maximum),
        x_value_formatter=day_label, legend_at_bottom=True,
        legend_at_bottom_columns=legend_columns, legend_box_size=round(15 * text_scale), truncate_legend=-1,
        truncate_label=-1,
        x_label_rotation=0, spacing=round(10 * text_scale), disable_xml_declaration=True, print_values=False,
        no_data_text=labels.no_data, show_x_guides=True, allow_interruptions=True)
    chart.uuid = "scores"
    if local:
        start = datetime.combine(local[0].date(), time(0))
        end = max(datetime.combine(local[-1].date(), time(0)) + timedelta(days=1), start + timedelta(days=7))
        placed = spread_close_moments(local, (end - start) * (_MIN_GAP_PX / max(width - 120 * text_scale, 100)))
        ticks = day_ticks([moment.date() for moment in local], first=start, last=end,
                          plot_px=max(width - 120 * text_scale, 100), label_px=_DATE_LABEL_PX * text_scale)
        chart.config(xrange=(start, end), x_labels=[
            {"value": datetime.combine(day, time(12)), "label": day_label(datetime.combine(day, time(12)))}
            for day in ticks])
        chart.add(labels.score, list(zip(placed, values, strict=True)), dots_size=4)
        band = important_band(values[0], series.points, series.share)
        if band is not None:
            looks += [LOOKS["band"], LOOKS["band"]]
            tips += [[], []]
            upper, lower = min(series.maximum, values[0] + band), max(series.minimum, values[0] - band)
            chart.add(labels.band.format(points=f"{band:g}"), [(start, upper), (end, upper)], show_dots=False)
            chart.add(None, [(start, lower), (end, lower)], show_dots=False)
    else:
        chart.add(labels.score, [])
    description = (f"{series.name}: {series.reading}. " + "; ".join(tips[0])) if local else labels.no_data
    fit = LegendFit(font_px=round(14 * text_scale), column_px=(width - 60 * text_scale - 10) / legend_columns,
                    columns=legend_columns)
    chart.add_xml_filter(lambda root: finish(root, looks, tips, paint_first=[], description=description,
                                             legend=fit))
    svg: str = chart.render(is_unicode=True)  # pygal is untyped
    return svg


def axis_labels(minimum: float, maximum: float, most: int = 6) -> list[float]:
    """Round values for a scale's axis, at most ``most`` of them (a 0-10 scale every 2, 0-80 every 20), so the
    labels stay apart on a short chart."""
    span = maximum - minimum
    step = next(step for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500) if span / step <= most - 1)
    return [minimum + step * index for index in range(int(span // step) + 1)]
