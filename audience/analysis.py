"""Analysis run: snapshots -> daily metrics -> checks -> anomalies, incrementally.

A nightly run recomputes a trailing window long enough for every look-back (growth over
90 days, the baseline, the drip window) and the 30-day retention look-forward, and rewrites
only the last RETENTION_DAYS + new days. Any snapshot written since the last analysis for an
older day (an import) triggers a full rebuild. Either way the stored result equals a
computation from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import duckdb
import polars as pl

from audience.config import DetectionSettings, Settings
from transforms.anomalies import build_anomalies
from transforms.growth import WINDOWS, add_growth
from transforms.quality import WINDOW_DAYS, account_summary
from transforms.series import daily_series
from transforms.signals import RULES, flags_from_margins, score_signals
from warehouse.db import open_warehouse
from warehouse.query import fetch_one
from warehouse.runs import finish_run, start_run

RETENTION_DAYS = 30


class Checker(Protocol):
    """Turns margins into flags, and checks snapshot quality (GX in runs: checks.suites.GXChecker)."""

    name: str

    def flag(
        self, scored: pl.DataFrame, new_rows: pl.Expr
    ) -> tuple[pl.DataFrame, dict[str, Any]]: ...

    def snapshots(self, snapshots: pl.DataFrame, as_of: date) -> dict[str, Any]: ...

    def check_name(self, rule: str) -> str: ...


class MarginChecker:
    """Flags by the margins alone (the same verdicts as the GX suite, without GX's import cost)."""

    name = "margins"

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
    columns = "platform, handle, day, followers, following, posts"
    frame: pl.DataFrame
    if load_from is None:
        frame = con.sql(f"SELECT {columns} FROM snapshots WHERE day <= DATE '{as_of}'").pl()
        return frame
    # plus each account's last observation before the window, so gaps interpolate as in a full run
    frame = con.sql(
        f"""
        SELECT {columns} FROM snapshots WHERE day BETWEEN DATE '{load_from}' AND DATE '{as_of}'
        UNION ALL
        SELECT {columns} FROM snapshots WHERE day < DATE '{load_from}'
        QUALIFY row_number() OVER (PARTITION BY platform, handle ORDER BY day DESC) = 1
        """
    ).pl()
    return frame


def compute(
    snapshots: pl.DataFrame,
    as_of: date,
    t: DetectionSettings,
    checker: Checker | None = None,
    new_rows: pl.Expr | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Pure but for the checker: snapshots -> (daily metrics with flags, anomalies, check summary)."""
    checker = checker or MarginChecker()
    scored = score_signals(add_growth(daily_series(snapshots, as_of)), t)
    flagged, summary = checker.flag(scored, new_rows if new_rows is not None else pl.lit(True))
    anomalies = build_anomalies(flagged, t, datetime.now(UTC)).with_columns(
        pl.col("kind")
        .replace_strict({r: checker.check_name(r) for r in RULES}, return_dtype=pl.String)
        .alias("check_name")
    )
    return flagged, anomalies, summary


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
    write_from = _plan(con, as_of, t, full)
    load_from = None if write_from is None else write_from - timedelta(days=context_days(t))
    snapshots = _load(con, as_of, load_from)
    watermark = fetch_one(con, "SELECT coalesce(max(written_at), now()) FROM snapshots")
    new_rows = pl.lit(True) if write_from is None else pl.col("day") >= write_from
    metrics, anomalies, checks = compute(snapshots, as_of, t, checker, new_rows)
    quality = checker.snapshots(_new_snapshots(con, as_of, write_from), as_of)
    if write_from is not None:
        metrics = metrics.filter(pl.col("day") >= write_from)
        anomalies = anomalies.filter(pl.col("day") >= write_from)
    since = "" if write_from is None else f"WHERE day >= DATE '{write_from}'"
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
    con.execute(f"DELETE FROM daily_metrics {since}")
    con.execute(f"DELETE FROM anomalies {since}")
    now = datetime.now(UTC)
    con.register(
        "_metrics", metrics.select(METRIC_COLUMNS).with_columns(pl.lit(now).alias("computed_at"))
    )
    con.register("_anomalies", anomalies)
    try:
        con.execute("INSERT INTO daily_metrics BY NAME SELECT * FROM _metrics")
        con.execute("INSERT INTO anomalies BY NAME SELECT * FROM _anomalies")
    finally:
        con.unregister("_metrics")
        con.unregister("_anomalies")
    _write_account_metrics(con, as_of)
    con.execute(
        "INSERT OR REPLACE INTO analysis_state VALUES (1, ?, ?, ?)",
        [as_of, watermark[0] if watermark else now, now],
    )
    return AnalysisSummary(
        as_of=as_of,
        mode="full" if write_from is None else "incremental",
        accounts=metrics.select("platform", "handle").n_unique() if metrics.height else 0,
        days_written=metrics.height,
        anomalies=anomalies.height,
        new_anomalies=new,
        suspected_purchases=int(anomalies.get_column("suspected_purchase").sum())
        if anomalies.height
        else 0,
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
    con: duckdb.DuckDBPyConnection, as_of: date, write_from: date | None
) -> pl.DataFrame:
    since = "" if write_from is None else f"AND day >= DATE '{write_from}'"
    frame: pl.DataFrame = con.sql(
        f"SELECT platform, handle, day, followers, following, posts, observed_at FROM snapshots "
        f"WHERE day <= DATE '{as_of}' {since}"
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
