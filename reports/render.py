"""Rendering the report: an overview, each account's growth with its flagged days, platform events.

Everything comes from the warehouse. The pages are jinja2 templates (`reports/templates/`) with
autoescape on, and everything an account supplies also goes through the `clean` filter (no
control or direction-override characters, bounded). Charts are inline SVG drawn by the template
`chart.html` from the coordinates computed here, so the file opens anywhere with no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from alerts.message import html_templates
from transforms.anomalies import platform_event_text
from transforms.verdicts import ACCOUNT_VERDICTS

if TYPE_CHECKING:
    from audience.audit import Audit

CHART_DAYS = 365


def _num(value: Any, pattern: str = "{:,.0f}") -> str:
    return "" if value is None else pattern.format(value)


PAGES = html_templates("reports", limit=2000)
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


def _accounts(
    accounts: pl.DataFrame, anomalies: pl.DataFrame, series: pl.DataFrame
) -> list[dict[str, Any]]:
    """Each account's row with its verdict in words, its chart and its flagged days."""
    out = []
    for r in accounts.iter_rows(named=True):
        mine = (pl.col("platform") == r["platform"]) & (pl.col("handle") == r["handle"])
        own = anomalies.filter(mine)
        points = series.filter(mine).select("day", "followers")
        out.append(
            {
                "row": r,
                "verdict": ACCOUNT_VERDICTS.get(r.get("account_verdict") or "", "not analysed"),
                "confidence": r.get("account_confidence") or "none",
                "bought": r["suspected_purchases_90"] or 0,
                "ever": r.get("suspected_purchases_all") or 0,
                "chart": chart(list(points.iter_rows()), set(own.get_column("day"))),
                "flagged": own.to_dicts(),
            }
        )
    return out


def _events(anomalies: pl.DataFrame) -> list[dict[str, Any]]:
    """Platform events, one line per platform, day and direction, with the accounts they moved."""
    grouped = (
        anomalies.filter(pl.col("attribution") == "platform_event")
        .group_by("platform", "day", "kind")
        .agg(pl.col("handle"), pl.col("thresholds").first())
        .sort("day", "platform", "kind")
    )
    return [
        r | {"text": platform_event_text(r), "handles": sorted(r["handle"])[:8]}
        for r in grouped.iter_rows(named=True)
    ]


def render(con: duckdb.DuckDBPyConnection, as_of: date) -> str:
    """The whole report as one HTML document."""
    accounts = con.sql(
        """
        SELECT m.*, a.display_name, a.status FROM account_metrics m
        LEFT JOIN accounts a USING (platform, handle)
        ORDER BY CASE m.account_verdict WHEN 'bought_audience_likely' THEN 0
                 WHEN 'unusual_growth_to_review' THEN 1 WHEN 'not_enough_history' THEN 3 ELSE 2 END,
                 m.platform, m.handle
        """
    ).pl()
    anomalies = con.sql("SELECT * FROM anomalies WHERE day <= ? ORDER BY day", params=[as_of]).pl()
    since = as_of - timedelta(days=CHART_DAYS)
    series = con.sql(
        "SELECT platform, handle, day, followers FROM daily_metrics WHERE day > ? AND day <= ? ORDER BY day",
        params=[since, as_of],
    ).pl()
    return PAGES.get_template("report.html").render(
        as_of=as_of,
        accounts=_accounts(accounts, anomalies, series),
        anomalies=anomalies.height,
        suspected=anomalies.filter(pl.col("suspected_purchase")).height,
        events=_events(anomalies),
    )


def _write(path: Path, text: str) -> Path:
    """Write atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path


def write_report(con: duckdb.DuckDBPyConnection, as_of: date, path: Path) -> Path:
    """Write the report."""
    return _write(path, render(con, as_of))


def render_audit(audit: Audit) -> str:
    """The audit of one account as one HTML page: its sections, and its chart with flagged days."""
    from audience.audit import sections, title

    return PAGES.get_template("audit.html").render(
        title=title(audit),
        chart_of_account=chart(audit.series, {row["day"] for row in audit.flagged}),
        sections=[
            (heading, [line.strip().removeprefix("- ") for line in lines])
            for heading, lines in sections(audit)
        ],
    )


def write_audit(audit: Audit, path: Path) -> Path:
    return _write(path, render_audit(audit))
