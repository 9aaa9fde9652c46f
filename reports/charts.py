"""The charts of the report and the audit page, as Social Blade draws them: the audience line
over dated axes, the daily gains as bars beneath it (days in a collection gap drawn as gaps),
the usual range of daily change as a band, each flagged day marked by its verdict (colour and
letter, core.verdict_marks) and the 30 days after a jump shaded with how much of it stayed.

This module computes the geometry (its frame, the scales and ticks: reports/chart_axes.py);
`templates/chart.html` draws it as inline SVG (no script, no network) with a title and a
description for screen readers, and every mark carries its verdict in `data-verdict` and in its
own `<title>`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

from core.verdict_marks import VERDICT_MARKS, verdict_mark
from reports.chart_axes import (
    BARS_BOTTOM,
    BARS_TOP,
    HEIGHT,
    LEFT,
    LINE_BOTTOM,
    LINE_TOP,
    RIGHT,
    WIDTH,
    DayAxis,
    ValueAxis,
    compact,
    date_label,
    date_ticks,
    day_axis,
    label_centre,
    tick_labels,
    value_axis,
)
from transforms.verdicts import verdict_words

RETENTION_DAYS = 30


class FlagLike(Protocol):
    """What a chart needs of a flagged day (warehouse.audit_reads.FlaggedDay has it)."""

    @property
    def day(self) -> date: ...
    @property
    def kind(self) -> str: ...
    @property
    def verdict(self) -> str: ...
    @property
    def confidence(self) -> str: ...
    @property
    def retention_7(self) -> float | None: ...
    @property
    def retention_30(self) -> float | None: ...


@dataclass(frozen=True)
class Tick:
    at: float  # x or y in the SVG
    label: str
    text_at: float = 0.0  # on the date axis, the label's centre (kept inside the chart's width)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    negative: bool


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    verdict: str  # a code of transforms.verdicts.VERDICTS
    colour: str
    letter: str
    title: str  # "2024-08-30 spike: suspected purchase (high confidence)"


@dataclass(frozen=True)
class Shade:
    """The days after a jump, with how much of it stayed."""

    x: float
    width: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    description: str
    first: date
    last: date
    lines: list[str]  # "x,y x,y ...": the observed runs of the audience line
    bridges: list[str]  # dashed across a collection gap (interpolated, not observed)
    bars: list[Bar]
    gaps: list[tuple[float, float]]  # x, width of the days with no figure of their own
    band: str  # the usual range of daily change, as polygon points ("" when unknown)
    zero: float  # y of no change in the bars panel
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    gain_ticks: list[Tick]
    markers: list[Marker]
    shades: list[Shade]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    line_top: int = LINE_TOP
    line_bottom: int = LINE_BOTTOM
    bars_top: int = BARS_TOP
    bars_bottom: int = BARS_BOTTOM
    verdicts: list[str] = field(default_factory=list)  # those marked, for the legend


@dataclass(frozen=True)
class LegendItem:
    verdict: str
    words: str
    colour: str
    letter: str


LEGEND = [LegendItem(v, verdict_words(v), m.colour, m.letter) for v, m in VERDICT_MARKS.items()]


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


Gap = tuple[float, float]  # x, width of a day with no figure of its own


def chart(
    days: Sequence[Mapping[str, object]],
    flagged: Iterable[FlagLike],
    title: str,
) -> Chart | None:
    """The chart of one account's `days` (rows with the columns of
    warehouse.report_reads.CHART_DAY_COLUMNS, by day) and its `flagged` days; None when there
    are fewer than two days with a figure."""
    rows = [r for r in days if _number(r.get("followers")) is not None]
    if len(rows) < 2:
        return None
    first, last = rows[0]["day"], rows[-1]["day"]
    assert isinstance(first, date)
    assert isinstance(last, date)
    axis = day_axis(first, last)
    values = [float(r["followers"]) for r in rows]  # type: ignore[arg-type]
    line, y_values = value_axis(values, LINE_TOP, LINE_BOTTOM)
    lines, bridges, gaps = _audience_line(rows, axis, line)
    gains, gap_ends = _daily_gains(rows, axis)
    panel = _gains_panel(rows, gains, axis)
    markers, shades = _marks(flagged, {r["day"]: r for r in rows}, axis, line, last)
    short = (last - first).days <= 45
    x_ticks = [
        Tick(axis.x(d), label, label_centre(axis.x(d), label))
        for d in date_ticks(first, last)
        for label in [date_label(d, short)]
    ]
    flagged_words = ", ".join(m.title for m in markers) or "no flagged days"
    description = (
        f"Followers from {compact(values[0])} on {first} to {compact(values[-1])} on {last}, "
        f"between {compact(min(values))} and {compact(max(values))}. Flagged days: {flagged_words}."
    )
    return Chart(
        title=title,
        description=description,
        first=first,
        last=last,
        bars=panel.bars,
        lines=lines,
        bridges=bridges,
        gaps=_merge(gaps + gap_ends),
        band=panel.band,
        zero=panel.zero,
        x_ticks=x_ticks,
        y_ticks=[Tick(line.y(v), t) for v, t in zip(y_values, tick_labels(y_values), strict=True)],
        gain_ticks=panel.ticks,
        markers=markers,
        shades=shades,
        verdicts=sorted({m.verdict for m in markers}),
    )


def _audience_line(
    rows: Sequence[Mapping[str, object]], axis: DayAxis, line: ValueAxis
) -> tuple[list[str], list[str], list[Gap]]:
    """The observed runs of the audience line, the dashed bridges across collection gaps
    (interpolated days), and those days."""
    lines: list[str] = []
    bridges: list[str] = []
    gaps: list[Gap] = []
    run: list[str] = []
    bridge: list[str] | None = None
    for r in rows:
        day = r["day"]
        assert isinstance(day, date)
        point = f"{axis.x(day):.1f},{line.y(float(r['followers'])):.1f}"  # type: ignore[arg-type]
        if r.get("observed") is False:  # interpolated across a collection gap
            gaps.append((axis.x(day) - axis.slot / 2, axis.slot))
            if bridge is None:
                bridge = run[-1:]
                if run:
                    lines.append(" ".join(run))
                run = []
            bridge.append(point)
            continue
        if bridge is not None:
            bridges.append(" ".join([*bridge, point]))
            bridge = None
        run.append(point)
    if run:
        lines.append(" ".join(run))
    if bridge and len(bridge) > 1:
        bridges.append(" ".join(bridge))
    return lines, bridges, gaps


def _daily_gains(
    rows: Sequence[Mapping[str, object]], axis: DayAxis
) -> tuple[list[tuple[date, float]], list[Gap]]:
    """A gain on each day observed after an observed day; a day that ends a gap carries the
    change of the whole gap (spread over it) and is drawn as part of the gap instead."""
    gains: list[tuple[date, float]] = []
    gap_ends: list[Gap] = []
    for r in rows:
        gain = _number(r.get("daily_gain"))
        spread = _number(r.get("spread_days")) or 1
        if gain is None or r.get("observed") is False:
            continue
        if spread > 1:
            gap_ends.append((axis.x(r["day"]) - axis.slot / 2, axis.slot))  # type: ignore[arg-type]
            continue
        gains.append((r["day"], gain))  # type: ignore[arg-type]
    return gains, gap_ends


@dataclass(frozen=True)
class _GainsPanel:
    bars: list[Bar]
    band: str
    zero: float
    ticks: list[Tick]


def _gains_panel(
    rows: Sequence[Mapping[str, object]], gains: list[tuple[date, float]], axis: DayAxis
) -> _GainsPanel:
    """The daily gains as bars, the usual range of daily change as a band, on one scale."""
    medians = [
        (r["day"], _number(r.get("baseline_median")), _number(r.get("baseline_sigma")))
        for r in rows
    ]
    band_rows = [(d, m, s) for d, m, s in medians if m is not None and s is not None]
    gain_values = [g for _, g in gains] + [m + s for _, m, s in band_rows] + [0.0]
    gain_values += [m - s for _, m, s in band_rows]
    scale, g_ticks = value_axis(gain_values, BARS_TOP, BARS_BOTTOM, 2)
    zero = scale.y(0.0)
    bar_width = max(axis.slot * 0.8, 0.6)
    bars = [
        Bar(
            axis.x(d) - bar_width / 2,
            min(scale.y(g), zero),
            bar_width,
            max(abs(scale.y(g) - zero), 0.5),
            g < 0,
        )
        for d, g in gains
    ]
    band = ""
    if band_rows:
        upper = [f"{axis.x(d):.1f},{scale.y(m + s):.1f}" for d, m, s in band_rows]  # type: ignore[arg-type]
        lower = [f"{axis.x(d):.1f},{scale.y(m - s):.1f}" for d, m, s in reversed(band_rows)]  # type: ignore[arg-type]
        band = " ".join(upper + lower)
    labels = tick_labels(g_ticks, signed=True)
    ticks = [Tick(scale.y(v), t) for v, t in zip(g_ticks, labels, strict=True)]
    return _GainsPanel(bars, band, zero, ticks)


def _marks(
    flagged: Iterable[FlagLike],
    by_day: Mapping[object, Mapping[str, object]],
    axis: DayAxis,
    line: ValueAxis,
    last: date,
) -> tuple[list[Marker], list[Shade]]:
    """Each flagged day's mark on the audience line, and the days after a jump shaded with
    how much of it stayed."""
    markers: list[Marker] = []
    shades: list[Shade] = []
    for f in flagged:
        row = by_day.get(f.day)
        if row is None:
            continue
        mark = verdict_mark(f.verdict)
        words = verdict_words(f.verdict)
        markers.append(
            Marker(
                axis.x(f.day),
                line.y(float(row["followers"])),  # type: ignore[arg-type]
                f.verdict,
                mark.colour,
                mark.letter,
                f"{f.day} {f.kind}: {words} ({f.confidence} confidence)",
            )
        )
        kept = f.retention_30 if f.retention_30 is not None else f.retention_7
        if f.kind in ("spike", "drip") and kept is not None:
            after = 30 if f.retention_30 is not None else 7
            end = min(f.day + timedelta(days=after), last)
            shades.append(
                Shade(
                    axis.x(f.day),
                    max(axis.x(end) - axis.x(f.day), axis.slot),
                    f"{kept:.0%} kept after {after} days",
                )
            )
    return markers, shades


def _merge(gaps: list[Gap]) -> list[Gap]:
    """Adjacent gap days as one span."""
    out: list[Gap] = []
    for start, width in sorted(gaps):
        if out and start <= out[-1][0] + out[-1][1] + 0.01:
            last_start, last_width = out[-1]
            out[-1] = (last_start, max(last_width, start + width - last_start))
        else:
            out.append((start, width))
    return out
