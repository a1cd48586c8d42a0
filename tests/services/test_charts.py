"""The progress chart tells the truth: sessions sit where their dates put them, date labels stand on session
days, two sessions on one day stay two marks, equal values stay visible, and the words are a patient's."""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from rehab.services.chart_marks import image_policy, style_hashes
from rehab.services.charts import (
    LOOKS,
    PATIENT_LABELS,
    REPORT_CHART,
    ChartPoint,
    ScoreSeries,
    changes_svg,
    day_ticks,
    important_band,
    pain_and_minutes_svg,
    scores_svg,
    spread_close_moments,
)
from rehab.translation import gettext

START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def point(days: float, worst: int = 5, *, before: int | None = 3, after: int | None = 4,
          minutes: float | None = 8, hour: int = 10) -> ChartPoint:
    return ChartPoint(START + timedelta(days=days, hours=hour - 10), before, worst, after, minutes)


def tree(svg: str) -> ET.Element:
    """The chart's tree with plain tag names (the SVG namespace taken off)."""
    root = ET.fromstring(svg)  # noqa: S314  # the app's own chart
    for element in root.iter():
        if isinstance(element.tag, str):
            element.tag = element.tag.rsplit("}", 1)[-1]
    return root


def markers(svg: str, key: str) -> list[tuple[float, float, ET.Element]]:
    """The (x, y) of each marker of one series, read from the drawn paths (each starts at its centre)."""
    root = tree(svg)
    found = []
    for element in root.iter("path"):
        if element.get("class") == "marker" and element.get("stroke") == LOOKS[key].color:
            x, y = map(float, re.match(r"M([-\d.]+) ([-\d.]+)", element.get("d", "")).groups())
            found.append((x, y, element))
    # Plot markers only: the legend's sample sits below the plot, in the legend group; it is drawn last.
    return found[:-1]


def tooltips(svg: str) -> list[str]:
    return [element.text or "" for element in tree(svg).iter("title")][1:]


def test_x_positions_follow_the_dates_not_the_order():
    svg = pain_and_minutes_svg([point(0), point(1), point(10)])
    xs = [x for x, _, _ in markers(svg, "worst")]
    assert len(xs) == 3 and xs[0] < xs[1] < xs[2]
    assert (xs[2] - xs[1]) / (xs[1] - xs[0]) == pytest.approx(9, rel=0.02)


def test_date_labels_stand_on_session_days():
    """Each date label sits on the day it names, over that day's session (a label at noon, the session at 10:00
    is within the day's width of it), and names a day that had a session."""
    svg = pain_and_minutes_svg([point(0), point(3), point(7)], width=860)
    root = tree(svg)
    axis = next(element for element in root.iter("g") if element.get("class", "").startswith("axis x"))
    labels = [(float(text.get("x", 0)), text.text) for text in axis.iter("text")]
    assert [text for _, text in labels] == ["02 Nov", "05 Nov", "09 Nov"]
    day_px = (labels[1][0] - labels[0][0]) / 3
    xs = [x for x, _, _ in markers(svg, "worst")]
    for (label_x, _), session_x in zip(labels, xs, strict=True):
        assert label_x - day_px / 2 < session_x <= label_x  # 10:00 is a little before the day's noon


def test_date_labels_thin_out_without_leaving_the_session_days():
    days = [START.date() + timedelta(days=offset) for offset in range(0, 60, 2)]
    first = datetime.combine(days[0], datetime.min.time())
    chosen = day_ticks(days, first=first, last=first + timedelta(days=61), plot_px=700, label_px=78)
    assert 5 <= len(chosen) <= 9 and set(chosen) <= set(days)
    assert chosen[0] == days[0] and chosen[-1] == days[-1]


def test_two_sessions_on_one_day_stay_two_marks_with_their_own_times():
    morning, evening = point(2, worst=4, hour=9), point(2, worst=6, hour=17)
    svg = pain_and_minutes_svg([point(0), morning, evening])
    xs = [x for x, _, _ in markers(svg, "worst")]
    assert len(xs) == 3 and xs[2] - xs[1] >= 10
    texts = tooltips(svg)
    assert any("04 Nov 09:00" in text and "4/10" in text for text in texts)
    assert any("04 Nov 17:00" in text and "6/10" in text for text in texts)


def test_sessions_at_the_same_minute_are_drawn_apart_in_order():
    same = START
    placed = spread_close_moments([same, same, same + timedelta(days=5)], timedelta(hours=3))
    assert placed == [same, same + timedelta(hours=3), same + timedelta(days=5)]
    svg = pain_and_minutes_svg([point(0), point(0), point(30)])
    xs = [x for x, _, _ in markers(svg, "worst")]
    assert xs[1] - xs[0] >= 10


def test_equal_values_stay_visible_one_inside_the_other():
    """Worst pain, pain after and minutes all at 5 (minutes on the right axis, 0-10): every series keeps a
    marker at the same spot, and whichever is painted over another is an outline, or wider, so the one under it
    shows."""
    svg = pain_and_minutes_svg([point(0, worst=5, before=5, after=5, minutes=5), point(4, 5, before=5, after=5,
                                                                                         minutes=5)])
    drawn = {key: markers(svg, key) for key in ("before", "worst", "after", "minutes")}
    assert all(len(found) == 2 for found in drawn.values())
    spots = {(round(x), round(y)) for found in drawn.values() for x, y, _ in found}
    assert len(spots) == 2  # four series on each of two spots
    root = tree(svg)
    order = [element for element in root.iter("path") if element.get("class") == "marker"]
    at_first = [element for element in order if element.get("d", "").startswith(f"M{drawn['worst'][0][0]:.2f}")]
    assert len(at_first) == 4
    for lower, upper in zip(at_first, at_first[1:], strict=False):
        assert upper.get("fill") == "none" or LOOKS_BY_COLOR[upper.get("stroke")].size < LOOKS_BY_COLOR[
            lower.get("stroke")].size
    # Shapes differ (a circle, a square, a diamond, a triangle), and so do the line dashes.
    assert len({look.marker for key, look in LOOKS.items() if look.marker}) == 4
    assert len({look.dash for key, look in LOOKS.items() if key in ("before", "worst", "after")}) == 3


LOOKS_BY_COLOR = {look.color: look for look in LOOKS.values()}


def test_minutes_are_painted_under_the_pain_lines():
    svg = pain_and_minutes_svg([point(0), point(3)])
    root = tree(svg)
    plot = next(element for element in root.iter("g") if element.get("class") == "plot")
    first_series = next(child for child in plot if "series" in child.get("class", ""))
    line = next(element for element in first_series.iter("path") if "line" in element.get("class", ""))
    assert line.get("stroke-width") == f"{LOOKS['minutes'].width:g}"


def test_the_palette_keeps_three_to_one_contrast_on_white():
    def luminance(color: str) -> float:
        channels = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    for look in LOOKS.values():
        assert 1.05 / (luminance(look.color) + 0.05) >= 4.5


def test_the_legend_shows_each_series_line_and_marker():
    svg = pain_and_minutes_svg([point(0), point(3)])
    root = tree(svg)
    legends = [element for element in root.iter("g") if "legend" in element.get("class", "").split()]
    samples = [next(child for child in legend if child.get("class") == "legend-line") for legend in legends]
    assert {sample.get("stroke-dasharray") for sample in samples} >= {"8,4", "none", "2,3", "10,6"}
    assert not any(child.tag == "rect" for legend in legends for child in legend)


def test_patient_words_in_english_and_spanish_say_no_symbols():
    for language in ("en", "es"):
        labels = PATIENT_LABELS.translated(lambda text, language=language: gettext(language, text))
        svg = pain_and_minutes_svg([point(0), point(3)], labels=labels)
        assert "±" not in svg
        assert labels.band.format(points=2) in svg
    spanish = PATIENT_LABELS.translated(lambda text: gettext("es", text))
    assert spanish.band.format(points=2) == "2 puntos desde su primer dolor" and spanish.worst == "Peor dolor"


def test_a_screen_reader_gets_every_session_in_words():
    svg = pain_and_minutes_svg([point(0, worst=6), point(3, worst=4, minutes=12)])
    desc = tree(svg).find("desc")
    assert desc is not None and "02 Nov 10:00: Pain before 3, Worst pain during 6" in (desc.text or "")
    assert "05 Nov 10:00" in (desc.text or "") and "Minutes (right axis) 12" in (desc.text or "")
    assert tree(svg).get("role") == "img"


def font_sizes(svg: str) -> dict[str, float]:
    style = "".join(next(element for element in tree(svg).iter("style")).itertext())
    return {name: float(re.search(rf"{selector}\{{[^}}]*font-size:([\d.]+)px", style).group(1))
            for name, selector in (("legend", r"\.legends \.legend text"), ("axis", r"\.axis text"))}


def test_text_grows_with_the_text_scale_and_the_report_prints_it_at_ten_points_or_more():
    normal, large = font_sizes(pain_and_minutes_svg([point(0)])), font_sizes(
        pain_and_minutes_svg([point(0)], text_scale=1.375))
    assert large["legend"] >= normal["legend"] * 1.3 and large["axis"] >= normal["axis"] * 1.3
    report = font_sizes(pain_and_minutes_svg([point(0), point(5)], width=REPORT_CHART.width,
                                             height=REPORT_CHART.height, text_scale=REPORT_CHART.text_scale))
    # Printed 180 mm wide (A4 between 15 mm margins; Letter is wider): px on the page = px in the chart * this.
    printed = (180 / 25.4 * 96) / REPORT_CHART.width
    assert report["legend"] * printed * 0.75 >= 10 and report["axis"] * printed * 0.75 >= 10


def test_the_policy_hashes_the_style_as_the_browser_reads_it():
    """A browser hashes the style text with entities decoded: pygal's ``&gt;`` is hashed as ``>``."""
    svg = pain_and_minutes_svg([point(0), point(2)])
    raw = re.search(r"<style[^>]*>(.*?)</style>", svg, flags=re.S).group(1)
    assert "&gt;" in raw
    decoded = raw.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")
    expected = "'sha256-" + base64.b64encode(hashlib.sha256(decoded.encode()).digest()).decode() + "'"
    assert style_hashes(svg) == [expected]
    assert image_policy(svg) == f"default-src 'none'; script-src 'none'; style-src {expected}; frame-ancestors 'none'"


@pytest.mark.parametrize("svg", [pain_and_minutes_svg([point(0), point(2)]), pain_and_minutes_svg([]),
                                 changes_svg([1.5, -2, 3], title="Knee OA: pain, change at 6 weeks", unit="points")])
def test_no_chart_needs_a_script_or_an_inline_style_attribute(svg):
    assert "<script" not in svg and " style=" not in svg


def test_a_legend_entry_too_long_for_a_phone_wraps_and_the_image_grows_to_hold_it():
    spanish = PATIENT_LABELS.translated(lambda text: gettext("es", text))
    short = pain_and_minutes_svg([point(0), point(3)], width=440, height=640, labels=spanish, legend_columns=1)
    large = pain_and_minutes_svg([point(0), point(3)], width=440, height=640, labels=spanish, legend_columns=1,
                                 text_scale=1.65)
    lines = [span.text for span in tree(large).iter("tspan")]
    assert "Minutos caminados" in " ".join(lines) and len(lines) >= 4  # two entries, two lines each
    assert all(len(line) * 14 * 1.65 * 0.62 <= 440 - 60 * 1.65 for line in lines)
    height = float(tree(large).get("viewBox").split()[3])
    assert height > 640 and float(tree(short).get("viewBox").split()[3]) == 640


# ------------------------------------------------------------------------------------- questionnaire scores


def lefs_series(*scores: float) -> ScoreSeries:
    return ScoreSeries(name="LEFS", minimum=0, maximum=80, points=9, share=None,
                       scores=tuple((START + timedelta(days=14 * index), score) for index, score in enumerate(scores)),
                       reading="50 → 58 (+8): no change; important change 9 points")


def band_heights(svg: str) -> list[float]:
    """The y of each dashed important-change line (the band's look), read from its path."""
    found = []
    for element in tree(svg).iter("path"):
        if element.get("stroke-dasharray") == LOOKS["band"].dash and "line" in element.get("class", "").split():
            numbers = [float(value) for value in re.findall(r"-?\d+(?:\.\d+)?", element.get("d", ""))]
            found.append(numbers[1])
    return sorted(found)


def test_scores_sit_on_their_own_scale_with_the_important_change_around_the_first():
    svg = scores_svg(lefs_series(50, 58))
    (x50, y50, _), (x58, y58, _) = markers(svg, "worst")
    assert x50 < x58 and y58 < y50  # higher is drawn higher, later to the right
    per_point = (y50 - y58) / 8
    top, bottom = band_heights(svg)
    # 9 points either side of the first score (59 and 41), on the LEFS's own 0-80 axis.
    assert top == pytest.approx(y50 - 9 * per_point, abs=0.6) and bottom == pytest.approx(y50 + 9 * per_point,
                                                                                           abs=0.6)
    assert "LEFS: 50 → 58 (+8): no change; important change 9 points" in svg


def test_the_pain_ratings_band_is_30_percent_of_a_low_first_score():
    assert important_band(5, 2, 0.30) == pytest.approx(1.5)  # 30 % of 5 is reached before 2 points
    assert important_band(8, 2, 0.30) == 2
    assert important_band(40, None, None) is None  # a licensed total: no threshold shipped, no band


def test_a_score_chart_without_a_threshold_draws_no_band_and_says_so():
    series = ScoreSeries(name="WOMAC", minimum=0, maximum=96, points=None, share=None,
                         scores=((START, 40.0), (START + timedelta(days=30), 30.0)),
                         reading="40 → 30 (-10): no important-change threshold shipped")
    svg = scores_svg(series)
    assert band_heights(svg) == [] and "no important-change threshold shipped" in svg
    assert "<script" not in svg and " style=" not in svg
