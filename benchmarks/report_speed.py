"""Benchmark: the HTML report of 10,000 accounts (issue #16).

Builds a warehouse the way a user would: a generated CSV in the import format (N accounts x
365 days on four platforms; 3% of the accounts with a bought burst that partly decays, 3% with
a viral spike that stays, 2% with a collection gap of 3-6 days) through the product's own
`import`, then the product's analysis (margins; the GX suites decide the same flags). Then it
times `write_report` on it, each run on a fresh read-only connection: the reads (every account's
line, every anomaly, the charted accounts' days), the grouping, the charts of the ranked top
accounts and the table of every account, and the atomic write of one self-contained file.

Run: ./scripts/uv.sh run --locked python -m benchmarks.report_speed [--accounts 10000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from core.settings import load_settings
from pipeline.analyse import run_analysis
from pipeline.import_history import import_history
from reports.render import TOP_CHARTS, write_report

PLATFORMS = ("mastodon", "bluesky", "github", "x")
HANDLES = {
    "mastodon": "user{}@example.social",
    "bluesky": "user{}.bsky.social",
    "github": "user{}",
    "x": "user{}",
}


def history_csv(path: Path, accounts: int, days: int, last: date, seed: int = 0) -> Path:
    """`accounts` x `days` rows in the import format, through `last`."""
    rng = np.random.default_rng(seed)
    rate = rng.lognormal(2, 1.2, accounts)
    gains = rng.poisson(np.repeat(rate, days).reshape(accounts, days)).astype(np.int64)
    start = rng.integers(200, 200_000, accounts)
    kind = rng.random(accounts)
    jump_day = rng.integers(days // 3, max(days - 40, days // 3 + 1), accounts)
    for a in np.flatnonzero(kind < 0.06):
        size = int(start[a] * rng.uniform(0.1, 0.4)) + 500
        d = jump_day[a]
        gains[a, d] += size
        if kind[a] < 0.03:  # bought: a third to two thirds of it goes again over 30 days
            lost = int(size * rng.uniform(0.3, 0.7))
            gains[a, d + 1 : d + 31] -= lost // 30
        else:  # viral: it stays and the next days are busier
            gains[a, d + 1 : d + 8] += size // 20
    followers = np.maximum(start[:, None] + np.cumsum(gains, axis=1), 0)
    first = last - timedelta(days=days - 1)
    keep = np.ones((accounts, days), dtype=bool)
    for a in np.flatnonzero((kind > 0.06) & (kind < 0.08)):
        d = rng.integers(30, days - 10)
        keep[a, d : d + rng.integers(3, 7)] = False
    platform = np.array(PLATFORMS)[np.arange(accounts) % len(PLATFORMS)]
    handle = np.array([HANDLES[platform[a]].format(a) for a in range(accounts)])
    frame = pl.DataFrame(
        {
            "platform": np.repeat(platform, days),
            "handle": np.repeat(handle, days),
            "date": pl.Series(np.tile(np.arange(days, dtype=np.int32), accounts))
            .cast(pl.Date)
            .dt.offset_by(f"{(first - date(1970, 1, 1)).days}d"),
            "followers": followers.ravel(),
            "following": np.repeat(rng.integers(10, 2_000, accounts), days),
            "posts": (np.arange(days)[None, :] // 2 + rng.integers(10, 500, accounts)[:, None])
            .ravel()
            .astype(np.int64),
        }
    ).filter(pl.Series(keep.ravel()))
    frame.write_csv(path, date_format="%Y-%m-%d")
    return path


def build(folder: Path, accounts: int, days: int, last: date) -> Path:
    """A warehouse of `accounts` simulated accounts, imported and analysed through `last`."""
    warehouse = folder / "report.duckdb"
    csv = history_csv(folder / "history.csv", accounts, days, last)
    import_history([csv], warehouse, last)
    run_analysis(warehouse, load_settings(None, environ={}), last)
    return warehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    last = date(2025, 12, 31)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        warehouse = build(Path(folder), args.accounts, args.days, last)
        print(
            f"warehouse: {args.accounts:,} accounts x {args.days} days, imported and analysed "
            f"in {time.perf_counter() - started:.1f} s"
        )
        times = []
        for _ in range(args.runs):
            with duckdb.connect(str(warehouse), read_only=True) as con:
                started = time.perf_counter()
                path = write_report(con, last, Path(folder) / "report.html")
                times.append(time.perf_counter() - started)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            (anomalies,) = con.execute("SELECT count(*) FROM anomalies").fetchone() or (0,)
            (attention,) = con.execute(
                "SELECT count(*) FROM account_metrics WHERE account_verdict IN "
                "('bought_audience_likely', 'unusual_growth_to_review')"
            ).fetchone() or (0,)
        page = path.read_text(encoding="utf-8")
        print(
            f"report: median {statistics.median(times):.2f} s ({min(times):.2f}-{max(times):.2f}) "
            f"over {args.runs} runs; {len(page) / 1e6:.1f} MB, one file; "
            f"{page.count('<svg'):,} charts (the top {TOP_CHARTS}), "
            f"{page.count('<tr>') - 1:,} table rows; {anomalies:,} anomalies, "
            f"{attention:,} accounts needing attention"
        )


if __name__ == "__main__":
    main()
