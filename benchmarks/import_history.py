"""Benchmark: importing one million history rows (issue #2).

Makes a 1,000,000-row CSV (10,000 accounts x 100 days, all platforms), then measures in the
same run:
  1. `audience import` as the product does it (validate everything, one transaction);
  2. a re-import of the same file (nothing changes);
  3. for comparison, a straightforward row-by-row baseline: the stdlib csv module with the
     same per-row checks in Python, then DuckDB executemany for the inserts (timed on a
     slice and scaled, it is that slow).

Run: ./scripts/uv.sh run --locked python -m benchmarks.import_history [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import re
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from core.platforms import PLATFORMS, canonical_handle
from pipeline.import_history import import_history
from simulator.histories import write_bulk_history

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_COUNT = re.compile(r"^[0-9]+$")


def baseline(path: Path, limit: int) -> tuple[float, int]:
    """Row-by-row: csv module, the same checks in Python, executemany inserts."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE s (platform VARCHAR, handle VARCHAR, day DATE, followers BIGINT, "
        "following BIGINT, posts BIGINT, PRIMARY KEY (platform, handle, day))"
    )
    started = time.perf_counter()
    batch = []
    with path.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for n, row in enumerate(reader):
            if n >= limit:
                break
            if row["platform"] not in PLATFORMS:
                raise ValueError(n)
            handle_ok = canonical_handle(row["platform"], row["handle"])
            if not _DATE.match(row["date"]):
                raise ValueError(n)
            day = date.fromisoformat(row["date"])
            counts = []
            for c in ("followers", "following", "posts"):
                if row[c] and not _COUNT.match(row[c]):
                    raise ValueError(n)
                counts.append(int(row[c]) if row[c] else None)
            batch.append((row["platform"], handle_ok, day, *counts))
    con.executemany("INSERT INTO s VALUES (?, ?, ?, ?, ?, ?)", batch)
    return time.perf_counter() - started, len(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "history.csv"
        t0 = time.perf_counter()
        write_bulk_history(csv_path, args.rows)
        print(
            f"generated {args.rows:,} rows ({csv_path.stat().st_size / 2**20:.1f} MiB) in {time.perf_counter() - t0:.1f} s"
        )
        warehouse = Path(tmp) / "bench.duckdb"
        t0 = time.perf_counter()
        summary = import_history([csv_path], warehouse, date(2026, 11, 22))
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = import_history([csv_path], warehouse, date(2026, 11, 22))
        second = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        base_time, base_rows = baseline(csv_path, args.baseline_rows)
        per_row = base_time / base_rows
        print(
            f"audience import, first time : {first:6.2f} s  ({summary.rows / first:,.0f} rows/s, {summary.written.inserted:,} inserted)"
        )
        print(
            f"audience import, again      : {second:6.2f} s  ({again.written.unchanged:,} unchanged)"
        )
        print(
            f"row-by-row baseline         : {base_time:6.2f} s for {base_rows:,} rows -> {per_row * summary.rows:6.1f} s projected for {summary.rows:,}"
        )
        print(f"speed-up over the baseline  : {per_row * summary.rows / first:6.1f}x")
        print(f"peak resident memory        : {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
