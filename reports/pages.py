"""What the report and the audit page share: the templates, the chart's coordinates, the writing.

The pages are jinja2 templates (`reports/templates/`) with autoescape on, and everything an
account supplies also goes through the `clean` filter (no control or direction-override
characters, bounded). Charts are inline SVG drawn by the template `chart.html` from the
coordinates computed here, so a page opens anywhere with no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import PackageLoader

from transforms.wording import html_templates


def _num(value: float | None, pattern: str = "{:,.0f}") -> str:
    return "" if value is None else pattern.format(value)


PAGES = html_templates(PackageLoader("reports", "templates"), limit=2000)
PAGES.filters["num"] = _num


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    day: date


@dataclass(frozen=True)
class Chart:
    """What `chart.html` draws: a line through `points` ("x,y x,y ..."), a dot on each flagged day."""

    first: date
    last: date
    low: float
    high: float
    points: str
    marks: list[Mark]
    width: int = 640
    height: int = 120
    pad: int = 8


def chart(series: list[tuple[date, float]], flagged: set[date]) -> Chart | None:
    """The chart's coordinates, or None when there is not enough history to draw."""
    if len(series) < 2:
        return None
    width, height, pad = Chart.width, Chart.height, Chart.pad
    values = [v for _, v in series]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    first, last = series[0][0], series[-1][0]
    days = max((last - first).days, 1)

    def xy(d: date, v: float) -> tuple[float, float]:
        return (
            pad + (d - first).days / days * (width - 2 * pad),
            height - pad - (v - low) / span * (height - 2 * pad),
        )

    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(d, v) for d, v in series))
    marks = [Mark(*xy(d, v), day=d) for d, v in series if d in flagged]
    return Chart(first, last, low, high, points, marks)


def write_page(path: Path, text: str) -> Path:
    """Write atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path
