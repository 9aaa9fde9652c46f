"""Rendering the report: the accounts that need attention first (ranked by their verdict and the
share of their audience involved, each with its chart), the platform events, then one compact
table of every account; the other top accounts' charts follow it.

Everything comes from the warehouse (`warehouse/report_reads.py`), read once and grouped once
by account; only the charted accounts' days are read. The templates, the charts and the
writing are shared with the audit page (`reports/pages.py`, `reports/charts.py`,
`reports/audit_page.py`).
"""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from core.platforms import audience_word
from reports.audit_page import write_audit
from reports.charts import LEGEND, Chart, chart
from reports.pages import PAGES, percentile_text, write_page
from transforms.explanation import platform_event_text
from transforms.verdicts import ACCOUNT_VERDICTS
from warehouse.audit_reads import FlaggedDay
from warehouse.report_reads import (
    AccountLine,
    account_lines,
    anomalies_through,
    chart_days,
)

__all__ = [
    "CHART_DAYS",
    "TOP_CHARTS",
    "render",
    "write_audit",
    "write_report",
    "write_report_if_changed",
]

CHART_DAYS = 365
TOP_CHARTS = 50  # the ranked top accounts drawn; every account is in the table
ATTENTION = ("bought_audience_likely", "unusual_growth_to_review")
_FLAGGED_COLUMNS = [f.name for f in fields(FlaggedDay)]


@dataclass(frozen=True)
class AccountSection:
    """An account's line and section: its verdict in words, its chart and its flagged days."""

    row: AccountLine
    verdict: str
    confidence: str
    bought: int
    ever: int
    share: float | None  # of its audience, what its flagged days involve
    percentile: str
    chart: Chart | None
    flagged: list[FlaggedDay]
    queued: dict[date, str]  # a flagged day's queued follower sample: how far it got

    @property
    def key(self) -> str:
        return f"{self.row.platform}:{self.row.handle}"

    @property
    def audience(self) -> str:
        """The platform's word for its audience: stars, subscribers, followers."""
        return audience_word(self.row.platform, self.row.handle)


@dataclass(frozen=True)
class EventLine:
    """A platform event: one line per platform, day and direction, with the accounts it moved."""

    platform: str
    day: date
    text: str
    handles: list[str]


def _flagged_by_account(anomalies: pl.DataFrame) -> dict[tuple[str, str], list[FlaggedDay]]:
    """Every account's flagged days, the frame grouped once (not filtered once per account)."""
    if anomalies.is_empty():
        return {}
    parts = anomalies.select("platform", "handle", *_FLAGGED_COLUMNS).partition_by(
        ["platform", "handle"], as_dict=True, maintain_order=True
    )
    return {
        (str(key[0]), str(key[1])): [
            FlaggedDay(*row) for row in part.select(_FLAGGED_COLUMNS).iter_rows()
        ]
        for key, part in parts.items()
    }


def _queued_samples(anomalies: pl.DataFrame) -> dict[tuple[str, str], dict[date, str]]:
    """Every account's flagged days whose follower sample is queued, with how far it got."""
    if anomalies.is_empty():
        return {}
    found: dict[tuple[str, str], dict[date, str]] = {}
    queued = anomalies.filter(pl.col("sample_queued").is_not_null())
    for r in queued.select("platform", "handle", "day", "sample_queued").iter_rows():
        found.setdefault((r[0], r[1]), {})[r[2]] = r[3]
    return found


def _section(
    r: AccountLine,
    flagged: list[FlaggedDay],
    days: pl.DataFrame | None,
    queued: dict[date, str] | None = None,
) -> AccountSection:
    key = f"{r.platform}:{r.handle}"
    drawn = None
    if days is not None:
        drawn = chart(days.to_dicts(), flagged, f"Audience of {key} by day, with its flagged days")
    return AccountSection(
        row=r,
        verdict=ACCOUNT_VERDICTS.get(r.account_verdict or "", "not analysed"),
        confidence=r.account_confidence or "none",
        bought=r.suspected_purchases_90 or 0,
        ever=r.suspected_purchases_all or 0,
        share=r.involved / r.followers if r.followers else None,
        percentile=percentile_text(r.growth_percentile, r.platform, r.size_tier, r.peer_group),
        chart=drawn,
        flagged=flagged,
        queued=queued or {},
    )


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
    """Everything the report shows, read from the warehouse: the accounts' lines (ranked), the
    anomalies, and the days of the ranked top accounts' charts."""

    as_of: date
    lines: list[AccountLine]
    anomalies: pl.DataFrame
    days: dict[tuple[str, str], pl.DataFrame]

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, as_of: date) -> _Inputs:
        lines = account_lines(con, as_of)
        top = [(r.platform, r.handle) for r in lines[:TOP_CHARTS]]
        days = chart_days(con, as_of - timedelta(days=CHART_DAYS), as_of, top)
        return cls(as_of, lines, anomalies_through(con, as_of), days)

    def render(self) -> str:
        lines, anomalies = self.lines, self.anomalies
        flagged, queued = _flagged_by_account(anomalies), _queued_samples(anomalies)
        charted = [
            _section(
                r,
                flagged.get((r.platform, r.handle), []),
                self.days.get((r.platform, r.handle)),
                queued.get((r.platform, r.handle)),
            )
            for r in lines[:TOP_CHARTS]
        ]
        table = charted + [
            _section(r, flagged.get((r.platform, r.handle), []), None) for r in lines[TOP_CHARTS:]
        ]
        return PAGES.get_template("report.html").render(
            as_of=self.as_of,
            accounts=table,
            attention=[a for a in charted if a.row.account_verdict in ATTENTION],
            attention_total=sum(1 for r in lines if r.account_verdict in ATTENTION),
            others=[a for a in charted if a.row.account_verdict not in ATTENTION],
            top_charts=TOP_CHARTS,
            legend_items=LEGEND,
            anomalies=anomalies.height,
            suspected=anomalies.filter(pl.col("suspected_purchase")).height,
            events=_events(anomalies),
        )

    def digest(self) -> str:
        """Of the inputs and of what turns them into a page (templates, this code, Polars's
        row hashing, which is stable within one version only)."""
        h = hashlib.sha256(f"{self.as_of} polars {pl.__version__}\n".encode())
        for source in _SOURCES:
            if source.is_file():
                h.update(source.name.encode() + b"\0" + source.read_bytes())
        h.update(repr(self.lines).encode())
        frames = [self.anomalies]
        for key in sorted(self.days):
            h.update(repr(key).encode())
            frames.append(self.days[key])
        for frame in frames:
            # whatever order the rows came in (the page does not depend on it): a sum and an
            # exclusive or of the rows' hashes
            rows = frame.hash_rows(seed=0).to_numpy() if frame.height else np.zeros(0, np.uint64)
            total = np.add.reduce(rows, dtype=np.uint64) if rows.size else np.uint64(0)
            mixed = np.bitwise_xor.reduce(rows) if rows.size else np.uint64(0)
            h.update(f"{frame.schema!r} {frame.height} {int(total)} {int(mixed)}\n".encode())
        return h.hexdigest()


_HERE = Path(__file__).resolve().parent
_SOURCES = [*sorted((_HERE / "templates").rglob("*")), *sorted(_HERE.glob("*.py"))]


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
    write_page(path, text, written_before=stamp.is_file())
    # atomically too, and as private as the page (an operator's chmod of the page holds)
    write_page(
        stamp,
        f"{wanted} {hashlib.sha256(text.encode('utf-8')).hexdigest()}\n",
        written_before=True,
        mode=stat.S_IMODE(path.stat().st_mode),
    )
    return path, False
