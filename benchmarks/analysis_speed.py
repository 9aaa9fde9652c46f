"""Benchmark: the metrics-and-checks rebuild and the nightly increment (issue #4).

A DuckDB warehouse with 10,000 accounts x 3 years of daily counts (about 11 million rows,
2% of days missing) is analysed by the product's own code, each run in a child process so
its peak memory (VmHWM, which a new process starts afresh) is its own:
  compute      the transforms alone on the whole history, no I/O: every metric, margin,
               flag and anomaly (the metrics are handed to a sink that drops them)
  full         every day recomputed: load from DuckDB, compute, write back, commit
  incremental  one new day for every account, the nightly case
each with the margins deciding the flags, then the full rebuild and the increment again with
the Great Expectations suites (what `audience run` uses). The analysis reports where its time
went; "compute" there is what writing the metrics did not hide (the scoring threads go on
while a chunk is written). Then, on the same 1,000 accounts, the transforms against a
straightforward pandas implementation of the same metrics (groupby + rolling), timed in this
run; and the fixed start-up costs (imports) that only some commands pay.

Run: ./scripts/uv.sh run --locked python -m benchmarks.analysis_speed [--accounts 10000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from core.detection import DetectionSettings
from pipeline.analyse import analyse
from transforms.compute import compute
from transforms.judging import Checker, MarginChecker
from transforms.series import Observations
from warehouse.db import open_warehouse
from warehouse.query import registered

START = date(2022, 1, 1)
DAYS = 1096


def history(accounts: int, days: int = DAYS, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rate = rng.lognormal(2, 1.5, accounts)
    gains = rng.poisson(np.repeat(rate, days).reshape(accounts, days))
    followers = (rng.integers(100, 10**6, accounts)[:, None] + np.cumsum(gains, axis=1)).ravel()
    platforms = np.array(["mastodon", "bluesky", "github", "x"])
    frame = pl.DataFrame(
        {
            "platform": np.repeat(platforms[np.arange(accounts) % 4], days),
            "handle": np.repeat(np.array([f"acct{i}" for i in range(accounts)]), days),
            "day": pl.Series(
                np.tile(np.arange(days, dtype=np.int32), accounts) + (START - date(1970, 1, 1)).days
            ).cast(pl.Date),
            "followers": followers.astype(np.int64),
            "following": np.tile(np.arange(days) % 7, accounts).astype(np.int64) + 300,
            "posts": np.tile(np.arange(days) // 2, accounts).astype(np.int64),
        }
    )
    keep = (
        (pl.int_range(pl.len()) % 50 != 7)
        | (pl.col("day") == START)
        | (pl.col("day") == START + timedelta(days=days - 1))
    )
    return frame.filter(keep)


def build(path: Path, accounts: int, days: int = DAYS) -> int:
    frame = history(accounts, days)
    with open_warehouse(path) as con, registered(con, "h", frame):
        con.execute(
            "INSERT INTO snapshots (platform, handle, day, followers, following, posts, observed_at, source) "
            "SELECT platform, handle, day, followers, following, posts, day::TIMESTAMPTZ, 'import:bench' FROM h"
        )
        con.execute(
            "INSERT INTO accounts (platform, handle) SELECT DISTINCT platform, handle FROM h"
        )
    return frame.height


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def checker(name: str) -> Checker:
    if name == "gx":
        from checks.suites import GXChecker

        return GXChecker()
    return MarginChecker()


def child(mode: str, path: Path, checks: str) -> None:
    """Runs in its own process: one analysis, timed, with its peak memory."""
    t = DetectionSettings()
    chosen = checker(checks)
    started_import = time.perf_counter()
    if checks == "gx":
        from checks.suites import _context

        _context()  # GX's import and context: a fixed cost, reported apart
    fixed = time.perf_counter() - started_import
    with open_warehouse(path) as con:
        last = con.execute("SELECT max(day) FROM snapshots").fetchall()[0][0]
        if mode == "incremental":
            new_day = last + timedelta(days=1)
            con.execute(
                "INSERT INTO snapshots (platform, handle, day, followers, following, posts, observed_at, source) "
                "SELECT platform, handle, day + 1, followers + 3, following, posts, now(), 'api:bench' "
                "FROM snapshots WHERE day = ?",
                [last],
            )
            last = new_day
        con.execute("BEGIN TRANSACTION")
        started = time.perf_counter()
        summary = analyse(con, t, last, full=(mode == "full"), checker=chosen)
        elapsed = time.perf_counter() - started
        started = time.perf_counter()
        con.execute("COMMIT")
        commit = time.perf_counter() - started
    print(
        json.dumps(
            {
                "mode": summary.mode,
                "seconds": elapsed,
                "commit": commit,
                "steps": summary.seconds,
                "fixed": fixed,
                "days_written": summary.days_written,
                "peak_mb": peak_mb(),
            }
        )
    )


def compute_only(frame: pl.DataFrame, repeat: int = 1) -> list[dict[str, float]]:
    """Seconds and peak MB of the pure compute, each run in a fresh child process, no DuckDB.

    The child reads what the analysis loads from the warehouse: (account id, day, counts)
    sorted by account and day, and the accounts' names apart.
    """
    names = frame.select("platform", "handle").unique().sort("platform", "handle")
    names = names.with_row_index("aid").with_columns(pl.col("aid").cast(pl.Int32))
    numbers = (
        frame.join(names, on=["platform", "handle"])
        .select("aid", "day", "followers", "following", "posts")
        .sort("aid", "day")
    )
    child = [sys.executable, "-m", "benchmarks.analysis_speed", "--child", "compute", "--path"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        numbers.write_parquet(Path(tmp) / "snapshots.parquet")
        names.write_parquet(Path(tmp) / "names.parquet")
        for _ in range(repeat):
            out = subprocess.run([*child, tmp], capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def child_compute(folder: Path) -> None:
    """The transforms on the whole history: observations and names in, anomalies out."""
    names = pl.read_parquet(folder / "names.parquet")
    obs = Observations.from_frame(pl.read_parquet(folder / "snapshots.parquet"))
    rows = {"days": 0}

    def drop(metrics: dict[str, np.ndarray]) -> None:
        rows["days"] += int(metrics["keep"].sum())

    before = peak_mb()
    started = time.perf_counter()
    anomalies = compute(
        obs, date(2030, 1, 1), DetectionSettings(), names=names, sink=drop
    ).anomalies
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "rows": rows["days"],
                "anomalies": anomalies.height,
                "input_peak_mb": before,
                "peak_mb": peak_mb(),
            }
        )
    )


def pandas_metrics(frame: pd.DataFrame, t: DetectionSettings) -> pd.DataFrame:
    """The same metrics written the straightforward pandas way: groupby, resample, rolling."""
    out = []
    for (_platform, _handle), g in frame.groupby(["platform", "handle"], sort=False):
        g = g.set_index("day").sort_index()
        g = g.reindex(pd.date_range(g.index.min(), g.index.max(), freq="D"))
        g["observed"] = g["followers"].notna()
        for c in ("followers", "following", "posts"):
            g[c] = g[c].astype(float).interpolate()
        g["daily_gain"] = g["followers"].diff()
        for w in (1, 7, 28, 90):
            g[f"growth_abs_{w}"] = g["followers"] - g["followers"].shift(w)
            g[f"growth_rel_{w}"] = g[f"growth_abs_{w}"] / g["followers"].shift(w)
        prior = g["daily_gain"].shift(1).rolling(t.baseline_days, min_periods=t.min_history_days)
        g["baseline_median"] = prior.median()
        iqr = prior.quantile(0.75) - prior.quantile(0.25)
        g["baseline_sigma"] = np.maximum(
            np.maximum(iqr / 1.349, np.sqrt(g["baseline_median"].clip(lower=0))), 1.0
        )
        g["robust_z"] = (g["daily_gain"] - g["baseline_median"]) / g["baseline_sigma"]
        up = g["daily_gain"] - g["baseline_median"].clip(lower=0)
        prev = g["followers"].shift(1)
        g["spike_margin"] = np.minimum.reduce(
            [
                up / g["baseline_sigma"] / t.spike_z,
                up / (prev * t.spike_min_relative),
                up / t.spike_min_absolute,
            ]
        )
        w = t.drip_window_days
        lagged = g["baseline_median"].shift(w - 1).clip(lower=0)
        g["drip_excess"] = g["daily_gain"].rolling(w).sum() - w * lagged
        g["retention_30"] = (g["followers"].shift(-30) - prev - 31 * g["baseline_median"]) / (
            g["daily_gain"] - g["baseline_median"]
        )
        out.append(g)
    return pd.concat(out)


def import_seconds(module: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - started


def run_child(mode: str, path: Path, checks: str) -> dict[str, object]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.analysis_speed",
            *("--child", mode, "--path", str(path), "--checks", checks),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def describe(mode: str, checks: str, r: dict[str, object]) -> str:
    steps = r["steps"]
    assert isinstance(steps, dict)
    parts = ", ".join(f"{k} {v:.2f}" for k, v in steps.items())
    fixed = f"; GX import and context {r['fixed']:.1f} s apart" if checks == "gx" else ""
    return (
        f"{mode:11s} checks by {checks:7s}: {r['seconds']:6.2f} s + commit {r['commit']:.2f} s, "
        f"{r['days_written']:,} days written, peak memory {r['peak_mb']:,.0f} MB\n"
        f"{'':13s}({parts}){fixed}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--compare-accounts", type=int, default=1_000)
    parser.add_argument("--child")
    parser.add_argument("--path", type=Path)
    parser.add_argument("--checks", default="margins", choices=["margins", "gx"])
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes for compute only")
    args = parser.parse_args()
    if args.child == "compute":
        child_compute(args.path)
        return
    if args.child:
        child(args.child, args.path, args.checks)
        return
    full = history(args.accounts)
    runs = compute_only(full, args.repeat)
    seconds = sorted(r["seconds"] for r in runs)
    r = runs[0]
    print(
        f"compute only, {args.accounts:,} accounts ({full.height:,} snapshots, {r['rows']:,.0f} days), "
        f"{args.repeat} fresh processes: median {seconds[len(seconds) // 2]:.2f} s "
        f"(fastest {seconds[0]:.2f}, slowest {seconds[-1]:.2f}), {r['anomalies']:.0f} anomalies, "
        f"peak memory {max(x['peak_mb'] for x in runs):,.0f} MB "
        f"(the input arrays and libraries alone {r['input_peak_mb']:,.0f} MB)"
    )
    del full
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        t0 = time.perf_counter()
        rows = build(path, args.accounts)
        print(
            f"warehouse: {args.accounts:,} accounts x {DAYS} days = {rows:,} snapshots (built in {time.perf_counter() - t0:.0f} s)"
        )
        pristine = Path(tmp) / "pristine.duckdb"
        shutil.copy(path, pristine)
        for checks in ("margins", "gx"):
            shutil.copy(pristine, path)  # every first analysis of a warehouse is a full one
            for mode in ("full", "incremental"):
                print(describe(mode, checks, run_child(mode, path, checks)))
    subset = history(args.compare_accounts, seed=1)
    ours = compute_only(subset)[0]["seconds"]
    t = DetectionSettings()
    frame = subset.to_pandas()
    started = time.perf_counter()
    pandas_metrics(frame, t)
    seconds_pd = time.perf_counter() - started
    print(
        f"same {args.compare_accounts:,} accounts ({subset.height:,} rows): the transforms {ours:.2f} s "
        f"(all metrics, margins and anomalies) vs straightforward pandas {seconds_pd:.2f} s (a subset of the metrics): "
        f"{seconds_pd / ours:.1f}x"
    )
    for module in ("polars", "duckdb", "audience.cli", "prefect", "great_expectations"):
        print(f"start-up: import {module:20s} {import_seconds(module):5.2f} s (fresh process)")


if __name__ == "__main__":
    main()
