"""The frame of a chart (reports/charts.py): the panels' places in the SVG, the scales that put
a day or a value there, and the ticks and labels along them."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import date, timedelta

WIDTH, LEFT, RIGHT = 960, 68, 16
LINE_TOP, LINE_BOTTOM = 26, 196  # the audience panel
BARS_TOP, BARS_BOTTOM = 222, 290  # the daily gains panel
HEIGHT = 312  # the dates under it
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class DayAxis:
    """Days from `first` across the plot, one slot each, a day at the middle of its slot."""

    first: date
    slot: float

    def x(self, day: date) -> float:
        return LEFT + ((day - self.first).days + 0.5) * self.slot


@dataclass(frozen=True)
class ValueAxis:
    """Values from `low` (at `bottom`) over `span` (up to `top`) in one panel."""

    low: float
    span: float
    top: int
    bottom: int

    def y(self, value: float) -> float:
        return self.bottom - (value - self.low) / self.span * (self.bottom - self.top)


def day_axis(first: date, last: date) -> DayAxis:
    """The days from `first` to `last` across the plot's width."""
    span_days = max((last - first).days, 1)
    plot = WIDTH - RIGHT - LEFT
    return DayAxis(first, plot / (span_days + 1))


def value_axis(
    values: list[float], top: int, bottom: int, count: int = 4
) -> tuple[ValueAxis, list[float]]:
    """A panel's scale over `values` widened to round ticks, and the ticks (about `count`)."""
    ticks = nice_ticks(min(values), max(values), count)
    low = min(min(values), ticks[0])
    high = max(max(values), ticks[-1])
    return ValueAxis(low, (high - low) or 1.0, top, bottom), ticks


_UNITS = ((1e9, "B"), (1e6, "M"), (1e3, "k"))
LABEL_CHAR = 7.0  # px: a generous width of a character of the axes' 11px system-ui labels


def compact(value: float) -> str:
    """12,345 as "12.3k", 2,500,000 as "2.5M"."""
    size = abs(value)
    for limit, suffix in _UNITS:
        if size >= limit:
            text = f"{value / limit:.1f}".removesuffix(".0")
            return text + suffix
    return f"{value:,.0f}"


def tick_labels(ticks: list[float], signed: bool = False) -> list[str]:
    """Each tick's value, compact ("1.25M", "1.5k", "800") but exact: as many decimals as it
    needs at the ticks' step (1.25M is never "1.2M"), none when it is whole; "+" before a
    positive value when `signed`."""
    steps = [b - a for a, b in itertools.pairwise(ticks)]
    step = min(steps) if steps else abs(ticks[0]) if ticks else 0.0
    tolerance = (step or 1.0) * 1e-6  # the ticks are sums of floats
    labels = []
    for value in ticks:
        limit, suffix = next(((lim, suf) for lim, suf in _UNITS if abs(value) >= lim), (1.0, ""))
        scaled = value / limit
        places = next(
            (d for d in range(10) if abs(round(scaled, d) * limit - value) <= tolerance), 9
        )
        text = f"{round(scaled, places):,.{places}f}"
        if text.strip("-0.,") == "":
            text = "0"  # never "-0"
        labels.append(("+" if signed and value > 0 else "") + text + suffix)
    return labels


def label_centre(at: float, label: str) -> float:
    """Where a label centred on `at` goes so that it stays whole inside the chart's width."""
    half = len(label) * LABEL_CHAR / 2
    return min(max(at, half + 1), WIDTH - half - 1)


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round values spanning low..high (about `count` of them)."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def date_ticks(first: date, last: date) -> list[date]:
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


def date_label(day: date, short: bool) -> str:
    if short:
        return f"{_MONTHS[day.month - 1]} {day.day}"
    return f"{_MONTHS[day.month - 1]} {day.year}"
