"""Analysis run: snapshots -> daily metrics -> checks -> anomalies, incrementally.

A nightly run recomputes a trailing window long enough for every look-back (growth over
90 days, the baseline, the drip window) and the 30-day retention look-forward, and rewrites
only the last RETENTION_DAYS + new days. Any snapshot written since the last analysis for an
older day (an import) triggers a full rebuild. Either way the stored result equals a
computation from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import duckdb
import polars as pl

from audience.config import DetectionSettings, Settings
from transforms.anomalies import ANOMALY_SCHEMA, candidates, finalize
from transforms.growth import WINDOWS
from transforms.layout import with_account_ids
from transforms.quality import WINDOW_DAYS, account_summary
from transforms.series import daily_series
from transforms.signals import (
    RULES,
    co_movement_counts,
    co_movement_events,
    flags_from_margins,
    score_signals,
)
from warehouse.db import open_warehouse
from warehouse.query import fetch_one
from warehouse.runs import finish_run, start_run

RETENTION_DAYS = 30
CHUNK_ACCOUNTS = 1_000  # accounts analysed together: bounds memory, keeps Polars' work large


class Checker(Protocol):
    """Turns margins into flags, and checks snapshot quality (GX in runs: checks.suites.GXChecker)."""

    name: str
    validates_snapshots: bool

    def flag(
        self, scored: pl.DataFrame, new_rows: pl.Expr
    ) -> tuple[pl.DataFrame, dict[str, Any]]: ...

    def snapshots(self, snapshots: pl.DataFrame, as_of: date) -> dict[str, Any]: ...

    def check_name(self, rule: str) -> str: ...


class MarginChecker:
    """Flags by the margins alone (the same verdicts as the GX suite, without GX's import cost)."""

    name = "margins"
    validates_snapshots = False

    def flag(self, scored: pl.DataFrame, new_rows: pl.Expr) -> tuple[pl.DataFrame, dict[str, Any]]:
        return flags_from_margins(scored), {}

    def snapshots(self, snapshots: pl.DataFrame, as_of: date) -> dict[str, Any]:
        return {}

    def check_name(self, rule: str) -> str:
        return f"{rule}_margin > 1"


METRIC_COLUMNS = [
    "platform",
    "handle",
    "day",
    "followers",
    "following",
    "posts",
    "observed",
    "spread_days",
    "daily_gain",
    *[f"growth_{k}_{w}" for w in WINDOWS for k in ("abs", "rel")],
    "avg_daily_gain_28",
    "baseline_median",
    "baseline_sigma",
    "robust_z",
    "spike_margin",
    "drop_margin",
    "drip_excess",
    "drip_z",
    "drip_margin",
    "churn_gross",
    "churn_net",
    "following_churn_margin",
    "posts_3d",
    "posts_usual_3d",
]


@dataclass(frozen=True)
class AnalysisSummary:
    as_of: date
    mode: str  # "full", "incremental" or "empty"
    accounts: int
    days_written: int
    anomalies: int
    new_anomalies: int
    suspected_purchases: int
    checks: dict[str, Any] = field(default_factory=dict)


def context_days(t: DetectionSettings) -> int:
    """Days of history needed before the first day written, so windows see what a full run sees."""
    return max(WINDOWS) + t.baseline_days + t.drip_window_days + max(t.churn_window_days, 3) + 2


def _state(con: duckdb.DuckDBPyConnection) -> tuple[date, datetime] | None:
    row = fetch_one(con, "SELECT analysed_through, written_watermark FROM analysis_state")
    return (row[0], row[1]) if row else None


def _plan(
    con: duckdb.DuckDBPyConnection, as_of: date, t: DetectionSettings, full: bool
) -> date | None:
    """First day to rewrite, or None for a full rebuild."""
    state = _state(con)
    if full or state is None:
        return None
    analysed_through, watermark = state
    if as_of < analysed_through:
        return None
    row = fetch_one(
        con, "SELECT min(day) FROM snapshots WHERE written_at > ? AND day <= ?", [watermark, as_of]
    )
    changed = row[0] if row and row[0] is not None else None
    first_new = min(d for d in (changed, analysed_through + timedelta(days=1)) if d is not None)
    write_from = first_new - timedelta(days=RETENTION_DAYS + 1)
    if changed is not None and changed < analysed_through - timedelta(days=RETENTION_DAYS):
        return None  # history changed further back than a nightly window covers: rebuild
    return write_from


def _load(con: duckdb.DuckDBPyConnection, as_of: date, load_from: date | None) -> pl.DataFrame:
    """Snapshots to analyse, sorted by account and day, with an integer account id (aid)."""
    columns = "platform, handle, day, followers, following, posts"
    if load_from is None:
        rows = f"SELECT {columns} FROM snapshots WHERE day <= DATE '{as_of}'"
    else:
        # plus each account's last observation before the window, so gaps interpolate as in a full run
        rows = f"""
            SELECT {columns} FROM snapshots WHERE day BETWEEN DATE '{load_from}' AND DATE '{as_of}'
            UNION ALL
            SELECT {columns} FROM snapshots WHERE day < DATE '{load_from}'
            QUALIFY row_number() OVER (PARTITION BY platform, handle ORDER BY day DESC) = 1
        """
    frame: pl.DataFrame = con.sql(
        f"""
        SELECT (dense_rank() OVER (ORDER BY platform, handle) - 1)::INTEGER AS aid, *
        FROM ({rows}) ORDER BY platform, handle, day
        """
    ).pl()
    return frame


def compute(
    snapshots: pl.DataFrame,
    as_of: date,
    t: DetectionSettings,
    checker: Checker | None = None,
    new_rows: pl.Expr | None = None,
    *,
    sink: Callable[[pl.DataFrame], None] | None = None,
    chunk_accounts: int = CHUNK_ACCOUNTS,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Pure but for the checker: snapshots -> (daily metrics with flags, anomalies, check summary).

    Accounts are processed `chunk_accounts` at a time, which bounds memory; with a `sink`, each
    chunk's metrics go there and the returned metrics frame is empty. Platform events are
    counted over all chunks before any anomaly is attributed.
    """
    checker = checker or MarginChecker()
    rows = new_rows if new_rows is not None else pl.lit(True)
    ordered = with_account_ids(snapshots)
    aid = ordered.get_column("aid")
    parts, found, counts, checks = [], [], [], []
    if ordered.height:
        ids = aid.unique(maintain_order=True)
        for first in range(0, ids.len(), chunk_accounts):
            chunk_ids = ids.slice(first, chunk_accounts)
            start = int(aid.search_sorted(chunk_ids[0], side="left"))
            end = int(aid.search_sorted(chunk_ids[-1], side="right"))
            scored = score_signals(daily_series(ordered.slice(start, end - start), as_of), t)
            flagged, summary = checker.flag(scored, rows)
            counts.append(co_movement_counts(flagged, t))
            found.append(candidates(flagged, t))
            checks.append(summary)
            if sink is not None:
                sink(flagged)
            else:
                parts.append(flagged)
    if counts:
        events = co_movement_events(pl.concat(counts), t)
        anomalies = finalize(pl.concat(found, how="diagonal_relaxed"), events, t, datetime.now(UTC))
    else:
        anomalies = pl.DataFrame(schema=ANOMALY_SCHEMA)
    anomalies = anomalies.with_columns(
        pl.col("kind")
        .replace_strict({r: checker.check_name(r) for r in RULES}, return_dtype=pl.String)
        .alias("check_name")
    )
    metrics = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()
    return metrics, anomalies, merge_checks(checks)


def merge_checks(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """One suite summary from the summaries of several chunks."""
    summaries = [s for s in summaries if s]
    if not summaries:
        return {}
    failed: dict[tuple[str, str], dict[str, Any]] = {}
    for summary in summaries:
        for f in summary["failed"]:
            key = (f["expectation"], str(f["kwargs"].get("column")))
            if key in failed:
                total = (failed[key]["unexpected_count"] or 0) + (f["unexpected_count"] or 0)
                failed[key]["unexpected_count"] = total
            else:
                failed[key] = dict(f)
    return {
        "suite": summaries[0]["suite"],
        "success": all(s["success"] for s in summaries),
        "evaluated": max(s["evaluated"] for s in summaries),
        "failed": list(failed.values()),
    }


def analyze(
    con: duckdb.DuckDBPyConnection,
    t: DetectionSettings,
    as_of: date,
    *,
    full: bool = False,
    checker: Checker | None = None,
) -> AnalysisSummary:
    """Bring daily_metrics and anomalies up to `as_of`; the caller owns the transaction."""
    checker = checker or MarginChecker()
    state = _state(con)
    write_from = _plan(con, as_of, t, full)
    load_from = None if write_from is None else write_from - timedelta(days=context_days(t))
    snapshots = _load(con, as_of, load_from)
    watermark = fetch_one(con, "SELECT coalesce(max(written_at), now()) FROM snapshots")
    new_rows = pl.lit(True) if write_from is None else pl.col("day") >= write_from
    since = "" if write_from is None else f"WHERE day >= DATE '{write_from}'"
    con.execute(f"DELETE FROM daily_metrics {since}")
    now = datetime.now(UTC)
    written = {"days": 0}
    accounts: set[int] = set()

    def write(chunk: pl.DataFrame) -> None:
        rows = chunk if write_from is None else chunk.filter(pl.col("day") >= write_from)
        con.register(
            "_metrics", rows.select(METRIC_COLUMNS).with_columns(pl.lit(now).alias("computed_at"))
        )
        try:
            con.execute("INSERT INTO daily_metrics BY NAME SELECT * FROM _metrics")
        finally:
            con.unregister("_metrics")
        written["days"] += rows.height
        accounts.update(rows.get_column("aid").unique().to_list())

    _, anomalies, checks = compute(snapshots, as_of, t, checker, new_rows, sink=write)
    quality = (
        checker.snapshots(_new_snapshots(con, as_of, state[1] if state else None), as_of)
        if checker.validates_snapshots
        else {}
    )
    if write_from is not None:
        anomalies = anomalies.filter(pl.col("day") >= write_from)
    existing = (
        con.sql(f"SELECT platform, handle, day, kind, detected_at FROM anomalies {since}")
        .pl()
        .with_columns(pl.col("detected_at").dt.convert_time_zone("UTC"))
    )
    keys = ["platform", "handle", "day", "kind"]
    anomalies = (
        anomalies.join(existing, on=keys, how="left", suffix="_old")
        .with_columns(pl.coalesce("detected_at_old", "detected_at").alias("detected_at"))
        .drop("detected_at_old")
    )
    new = anomalies.height - existing.join(anomalies.select(keys), on=keys).height
    con.execute(f"DELETE FROM anomalies {since}")
    con.register("_anomalies", anomalies)
    try:
        con.execute("INSERT INTO anomalies BY NAME SELECT * FROM _anomalies")
    finally:
        con.unregister("_anomalies")
    _write_account_metrics(con, as_of)
    con.execute(
        "INSERT OR REPLACE INTO analysis_state VALUES (1, ?, ?, ?)",
        [as_of, watermark[0] if watermark else now, now],
    )
    suspected = int(anomalies.get_column("suspected_purchase").sum()) if anomalies.height else 0
    return AnalysisSummary(
        as_of=as_of,
        mode="full" if write_from is None else "incremental",
        accounts=len(accounts),
        days_written=written["days"],
        anomalies=anomalies.height,
        new_anomalies=new,
        suspected_purchases=suspected,
        checks={"checker": checker.name, "growth": checks, "snapshots": quality},
    )


def _write_account_metrics(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Recompute every account's standing from the last 91 days (small: one row each)."""
    since = as_of - timedelta(days=WINDOW_DAYS + 1)
    metrics = con.sql(
        f"SELECT * FROM daily_metrics WHERE day > DATE '{since}' AND day <= DATE '{as_of}'"
    ).pl()
    anomalies = con.sql(
        f"SELECT * FROM anomalies WHERE day > DATE '{since}' AND day <= DATE '{as_of}'"
    ).pl()
    con.execute("DELETE FROM account_metrics")
    summary = account_summary(metrics, anomalies, as_of)
    if summary.height:
        con.register("_summary", summary)
        try:
            con.execute("INSERT INTO account_metrics BY NAME SELECT * FROM _summary")
        finally:
            con.unregister("_summary")


def _new_snapshots(
    con: duckdb.DuckDBPyConnection, as_of: date, since: datetime | None
) -> pl.DataFrame:
    """Snapshots written since the last analysis (all of them the first time): what is new."""
    after = "" if since is None else "AND written_at > ?"
    frame: pl.DataFrame = con.sql(
        f"SELECT platform, handle, day, followers, following, posts, observed_at FROM snapshots "
        f"WHERE day <= DATE '{as_of}' {after}",
        params=[since] if since is not None else None,
    ).pl()
    return frame


def run_analysis(
    warehouse: Path,
    settings: Settings,
    as_of: date | None = None,
    *,
    full: bool = False,
    checker: Checker | None = None,
    lock_timeout_s: float = 10.0,
) -> dict[str, Any]:
    """One recorded analysis run in one transaction; `as_of` defaults to the newest snapshot."""
    with open_warehouse(warehouse, timeout_s=lock_timeout_s) as con:
        if as_of is None:
            row = fetch_one(con, "SELECT max(day) FROM snapshots")
            as_of = row[0] if row and isinstance(row[0], date) else datetime.now(UTC).date()
        con.execute("BEGIN TRANSACTION")
        try:
            run_id = start_run(con, "analyze", as_of)
            summary = analyze(con, settings.detection, as_of, full=full, checker=checker)
            result = {"run_id": run_id, **summary.__dict__}
            finish_run(con, run_id, "ok", result)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return result
