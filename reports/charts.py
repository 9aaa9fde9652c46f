"""The charts of the report and the audit page, as Social Blade draws them: the audience line
over dated axes, the daily gains as bars beneath it (days in a collection gap drawn as gaps),
the usual range of daily change as a band, each flagged day marked by its verdict (colour and
letter, core.verdict_marks) and the 30 days after a jump shaded with how much of it stayed.

This module computes the geometry; `templates/chart.html` draws it as inline SVG (no script, no
network) with a title and a description for screen readers, and every mark carries its verdict
in `data-verdict` and in its own `<title>`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

from core.verdict_marks import VERDICT_MARKS, verdict_mark
from transforms.verdicts import verdict_words

WIDTH, LEFT, RIGHT = 960, 68, 16
LINE_TOP, LINE_BOTTOM = 26, 196  # the audience panel
BARS_TOP, BARS_BOTTOM = 222, 290  # the daily gains panel
HEIGHT = 312  # the dates under it
RETENTION_DAYS = 30
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


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


def compact(value: float) -> str:
    """12,345 as "12.3k", 2,500,000 as "2.5M"."""
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            text = f"{value / limit:.1f}".removesuffix(".0")
            return text + suffix
    return f"{value:,.0f}"


def _nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round values spanning low..high (about `count` of them)."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _date_ticks(first: date, last: date) -> list[date]:
    """Month starts (every 1, 2, 3 or 6 months to keep about eight), or weeks for a short span."""
    days = (last - first).days
    if days <= 45:
        step = 7 if days > 14 else 2
        return [first + timedelta(days=d) for d in range(0, days + 1, step)]
    months = (last.year - first.year) * 12 + last.month - first.month
    every = next(n for n in (1, 2, 3, 6, 12, 24, 60) if months / n <= 8)
    out: list[date] = []
    year, month = first.year, first.month
    while True:
        month += 1
        if month > 12:
            year, month = year + 1, 1
        tick = date(year, month, 1)
        if tick > last:
            return out
        if (month - 1) % every == 0:
            out.append(tick)


def _date_label(day: date, short: bool) -> str:
    if short:
        return f"{_MONTHS[day.month - 1]} {day.day}"
    return f"{_MONTHS[day.month - 1]} {day.year}"


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


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
    span_days = max((last - first).days, 1)
    plot = WIDTH - RIGHT - LEFT
    slot = plot / (span_days + 1)

    def x(day: date) -> float:
        return LEFT + ((day - first).days + 0.5) * slot

    values = [float(r["followers"]) for r in rows]  # type: ignore[arg-type]
    y_values = _nice_ticks(min(values), max(values))
    low = min(min(values), y_values[0])
    high = max(max(values), y_values[-1])
    span = (high - low) or 1.0

    def y(value: float) -> float:
        return LINE_BOTTOM - (value - low) / span * (LINE_BOTTOM - LINE_TOP)

    by_day = {r["day"]: r for r in rows}
    lines: list[str] = []
    bridges: list[str] = []
    gaps: list[tuple[float, float]] = []
    run: list[str] = []
    bridge: list[str] | None = None
    for r in rows:
        day = r["day"]
        assert isinstance(day, date)
        point = f"{x(day):.1f},{y(float(r['followers'])):.1f}"  # type: ignore[arg-type]
        if r.get("observed") is False:  # interpolated across a collection gap
            gaps.append((x(day) - slot / 2, slot))
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

    # daily gains: a bar on each day observed after an observed day; a day that ends a gap
    # carries the change of the whole gap (spread over it) and is drawn as part of the gap
    gains = []
    for r in rows:
        gain = _number(r.get("daily_gain"))
        spread = _number(r.get("spread_days")) or 1
        if gain is None or r.get("observed") is False:
            continue
        if spread > 1:
            gaps.append((x(r["day"]) - slot / 2, slot))  # type: ignore[arg-type]
            continue
        gains.append((r["day"], gain))
    medians = [
        (r["day"], _number(r.get("baseline_median")), _number(r.get("baseline_sigma")))
        for r in rows
    ]
    band_rows = [(d, m, s) for d, m, s in medians if m is not None and s is not None]
    gain_values = [g for _, g in gains] + [m + s for _, m, s in band_rows] + [0.0]
    gain_values += [m - s for _, m, s in band_rows]
    g_low, g_high = min(gain_values), max(gain_values)
    g_ticks = _nice_ticks(g_low, g_high, 2)
    g_low, g_high = min(g_low, g_ticks[0]), max(g_high, g_ticks[-1])
    g_span = (g_high - g_low) or 1.0

    def gy(value: float) -> float:
        return BARS_BOTTOM - (value - g_low) / g_span * (BARS_BOTTOM - BARS_TOP)

    zero = gy(0.0)
    bar_width = max(slot * 0.8, 0.6)
    bars = [
        Bar(
            x(d) - bar_width / 2,  # type: ignore[arg-type]
            min(gy(g), zero),
            bar_width,
            max(abs(gy(g) - zero), 0.5),
            g < 0,
        )
        for d, g in gains
    ]
    band = ""
    if band_rows:
        upper = [f"{x(d):.1f},{gy(m + s):.1f}" for d, m, s in band_rows]  # type: ignore[arg-type]
        lower = [f"{x(d):.1f},{gy(m - s):.1f}" for d, m, s in reversed(band_rows)]  # type: ignore[arg-type]
        band = " ".join(upper + lower)

    markers, shades, marked = [], [], []
    for f in flagged:
        row = by_day.get(f.day)
        if row is None:
            continue
        mark = verdict_mark(f.verdict)
        words = verdict_words(f.verdict)
        markers.append(
            Marker(
                x(f.day),
                y(float(row["followers"])),  # type: ignore[arg-type]
                f.verdict,
                mark.colour,
                mark.letter,
                f"{f.day} {f.kind}: {words} ({f.confidence} confidence)",
            )
        )
        marked.append(f.verdict)
        kept = f.retention_30 if f.retention_30 is not None else f.retention_7
        if f.kind in ("spike", "drip") and kept is not None:
            after = 30 if f.retention_30 is not None else 7
            end = min(f.day + timedelta(days=after), last)
            shades.append(
                Shade(
                    x(f.day),
                    max(x(end) - x(f.day), slot),
                    f"{kept:.0%} kept after {after} days",
                )
            )
    short = span_days <= 45
    x_ticks = [Tick(x(d), _date_label(d, short)) for d in _date_ticks(first, last)]
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
        lines=lines,
        bridges=bridges,
        bars=bars,
        gaps=_merge(gaps),
        band=band,
        zero=zero,
        x_ticks=x_ticks,
        y_ticks=[Tick(y(v), compact(v)) for v in y_values],
        gain_ticks=[Tick(gy(v), f"{'+' if v > 0 else ''}{compact(v)}") for v in g_ticks],
        markers=markers,
        shades=shades,
        verdicts=sorted(set(marked)),
    )


def _merge(gaps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Adjacent gap days as one span."""
    out: list[tuple[float, float]] = []
    for start, width in sorted(gaps):
        if out and start <= out[-1][0] + out[-1][1] + 0.01:
            last_start, last_width = out[-1]
            out[-1] = (last_start, max(last_width, start + width - last_start))
        else:
            out.append((start, width))
    return out
