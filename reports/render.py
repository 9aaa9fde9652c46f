"""Rendering the report: an overview, each account's growth with its flagged days, platform events.

Everything comes from the warehouse (`warehouse/report_reads.py`); the templates, the charts and
the writing are shared with the audit page (`reports/pages.py`, `reports/audit_page.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from reports.audit_page import write_audit
from reports.pages import PAGES, Chart, chart, write_page
from transforms.explanation import platform_event_text
from transforms.verdicts import ACCOUNT_VERDICTS
from warehouse.audit_reads import FlaggedDay
from warehouse.report_reads import (
    AccountLine,
    account_lines,
    anomalies_through,
    followers_between_days,
)

__all__ = ["CHART_DAYS", "render", "write_audit", "write_report"]

CHART_DAYS = 365
_FLAGGED_COLUMNS = [f.name for f in fields(FlaggedDay)]


@dataclass(frozen=True)
class AccountSection:
    """An account's line and section: its verdict in words, its chart and its flagged days."""

    row: AccountLine
    verdict: str
    confidence: str
    bought: int
    ever: int
    chart: Chart | None
    flagged: list[FlaggedDay]


@dataclass(frozen=True)
class EventLine:
    """A platform event: one line per platform, day and direction, with the accounts it moved."""

    platform: str
    day: date
    text: str
    handles: list[str]


def _accounts(
    accounts: list[AccountLine], anomalies: pl.DataFrame, series: pl.DataFrame
) -> list[AccountSection]:
    """Each account's row with its verdict in words, its chart and its flagged days."""
    out = []
    for r in accounts:
        mine = (pl.col("platform") == r.platform) & (pl.col("handle") == r.handle)
        own = anomalies.filter(mine)
        points = series.filter(mine).select("day", "followers")
        out.append(
            AccountSection(
                row=r,
                verdict=ACCOUNT_VERDICTS.get(r.account_verdict or "", "not analysed"),
                confidence=r.account_confidence or "none",
                bought=r.suspected_purchases_90 or 0,
                ever=r.suspected_purchases_all or 0,
                chart=chart(list(points.iter_rows()), set(own.get_column("day"))),
                flagged=[FlaggedDay(*row) for row in own.select(_FLAGGED_COLUMNS).iter_rows()],
            )
        )
    return out


def _events(anomalies: pl.DataFrame) -> list[EventLine]:
    """Platform events, one line per platform, day and direction, with the accounts they moved."""
    grouped = (
        anomalies.filter(pl.col("attribution") == "platform_event")
        .group_by("platform", "day", "kind")
        .agg(pl.col("handle"), pl.col("thresholds").first())
        .sort("day", "platform", "kind")
    )
    return [
        EventLine(r["platform"], r["day"], platform_event_text(r), sorted(r["handle"])[:8])
        for r in grouped.iter_rows(named=True)
    ]


def render(con: duckdb.DuckDBPyConnection, as_of: date) -> str:
    """The whole report as one HTML document."""
    anomalies = anomalies_through(con, as_of)
    series = followers_between_days(con, as_of - timedelta(days=CHART_DAYS), as_of)
    return PAGES.get_template("report.html").render(
        as_of=as_of,
        accounts=_accounts(account_lines(con), anomalies, series),
        anomalies=anomalies.height,
        suspected=anomalies.filter(pl.col("suspected_purchase")).height,
        events=_events(anomalies),
    )


def write_report(con: duckdb.DuckDBPyConnection, as_of: date, path: Path) -> Path:
    """Write the report."""
    return write_page(path, render(con, as_of))
