"""Rendering the report: an overview, each account's growth with its flagged days, platform events.

Everything comes from the warehouse (`warehouse/report_reads.py`); the templates, the charts and
the writing are shared with the audit page (`reports/pages.py`, `reports/audit_page.py`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from reports.audit_page import write_audit
from reports.pages import PAGES, Chart, chart, write_page
from transforms.anomalies import platform_event_text
from transforms.verdicts import ACCOUNT_VERDICTS
from warehouse.audit_reads import FlaggedDay
from warehouse.report_reads import (
    AccountLine,
    account_lines,
    anomalies_through,
    followers_between_days,
)

__all__ = ["CHART_DAYS", "render", "write_audit", "write_report", "write_report_if_changed"]

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


@dataclass(frozen=True)
class _Inputs:
    """Everything the report shows, read from the warehouse."""

    as_of: date
    accounts: list[AccountLine]
    anomalies: pl.DataFrame
    series: pl.DataFrame

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, as_of: date) -> _Inputs:
        return cls(
            as_of,
            account_lines(con),
            anomalies_through(con, as_of),
            followers_between_days(con, as_of - timedelta(days=CHART_DAYS), as_of),
        )

    def render(self) -> str:
        return PAGES.get_template("report.html").render(
            as_of=self.as_of,
            accounts=_accounts(self.accounts, self.anomalies, self.series),
            anomalies=self.anomalies.height,
            suspected=self.anomalies.filter(pl.col("suspected_purchase")).height,
            events=_events(self.anomalies),
        )

    def digest(self) -> str:
        """Of the inputs and of what turns them into a page (templates, this code, Polars's
        row hashing, which is stable within one version only)."""
        h = hashlib.sha256(f"{self.as_of} polars {pl.__version__}\n".encode())
        for source in _SOURCES:
            if source.is_file():
                h.update(source.name.encode() + b"\0" + source.read_bytes())
        h.update(repr(self.accounts).encode())
        for frame in (self.anomalies, self.series):
            # whatever order the rows came in (their reads order by day only; the page does
            # not depend on it): a sum and an exclusive or of the rows' hashes
            rows = frame.hash_rows(seed=0).to_numpy() if frame.height else np.zeros(0, np.uint64)
            total = np.add.reduce(rows, dtype=np.uint64) if rows.size else np.uint64(0)
            mixed = np.bitwise_xor.reduce(rows) if rows.size else np.uint64(0)
            h.update(f"{frame.schema!r} {frame.height} {int(total)} {int(mixed)}\n".encode())
        return h.hexdigest()


_HERE = Path(__file__).resolve().parent
_SOURCES = [*sorted((_HERE / "templates").rglob("*")), _HERE / "render.py", _HERE / "pages.py"]


def render(con: duckdb.DuckDBPyConnection, as_of: date) -> str:
    """The whole report as one HTML document."""
    return _Inputs.read(con, as_of).render()


def write_report(con: duckdb.DuckDBPyConnection, as_of: date, path: Path) -> Path:
    """Write the report."""
    return write_page(path, render(con, as_of))


def digest_path(path: Path) -> Path:
    """Beside the report: the digest of what it was written from, and of the page itself."""
    return path.with_name(path.name + ".digest")


def write_report_if_changed(
    con: duckdb.DuckDBPyConnection, as_of: date, path: Path
) -> tuple[Path, bool]:
    """Write the report unless the page at `path` was written from the same inputs (and is
    untouched since); True when it was kept as it is."""
    inputs = _Inputs.read(con, as_of)
    wanted = inputs.digest()
    stamp = digest_path(path)
    try:
        written, page = stamp.read_text(encoding="utf-8").split()
        if written == wanted and hashlib.sha256(path.read_bytes()).hexdigest() == page:
            return path, True
    except (OSError, ValueError):
        pass
    text = inputs.render()
    write_page(path, text)
    stamp.write_text(
        f"{wanted} {hashlib.sha256(text.encode('utf-8')).hexdigest()}\n", encoding="utf-8"
    )
    return path, False
