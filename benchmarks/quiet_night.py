"""Benchmark: a night with nothing new (issue 17), what `audience run --skip-collect` does
after a night that already analysed everything, step by step, in fresh processes.

The warehouse of `benchmarks.analysis_speed` (N accounts x 3 years, 2% of days missing) is
built once and analysed in full (the checks `--checks` names). Then each night is one fresh
process doing what the command does on such a night: open the warehouse as a writer (the
whole-file check a process pays once, `warehouse.db`), the analysis step as the nightly flow
calls it (`run_analysis(..., through_newest=True)`), and the report step (reused when nothing
it shows changed; the first night writes it). No collection, no alert recipients. Wall seconds
of each part, and the analysis's mode.

Run: ./scripts/uv.sh run --locked python -m benchmarks.quiet_night [--accounts 10000]
     [--path FILE: keep or reuse the analysed warehouse] [--nights 3] [--checks gx]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.analysis_speed import build, checker, peak_mb


def child_night(path: Path, checks: str, report: Path) -> None:
    """One night in this (fresh) process: open, analyse, report."""
    from core.settings import load_settings
    from pipeline.analyse import run_analysis
    from reports.render import write_report_if_changed
    from warehouse.db import open_warehouse

    settings = load_settings(None, environ={})
    chosen = checker(checks)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with open_warehouse(path):  # what `audience run` does before Prefect starts
        pass
    seconds["open (whole-file check)"] = time.perf_counter() - started
    started = time.perf_counter()
    summary = run_analysis(path, settings, checker=chosen, through_newest=True)
    seconds["analyse"] = time.perf_counter() - started
    started = time.perf_counter()
    with open_warehouse(path, read_only=True) as con:
        _, reused = write_report_if_changed(con, summary.as_of, report)
    seconds["report"] = time.perf_counter() - started
    print(
        json.dumps(
            {
                "mode": summary.mode,
                "seconds": seconds,
                "steps": summary.seconds,
                "report_reused": reused,
                "peak_mb": peak_mb(),
            }
        )
    )


def child_full(path: Path, checks: str) -> None:
    from core.settings import load_settings
    from pipeline.analyse import run_analysis

    started = time.perf_counter()
    summary = run_analysis(path, load_settings(None, environ={}), checker=checker(checks))
    print(json.dumps({"mode": summary.mode, "seconds": time.perf_counter() - started}))


def _child(*args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.quiet_night", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--nights", type=int, default=3)
    parser.add_argument("--checks", default="gx", choices=["margins", "gx"])
    parser.add_argument("--path", type=Path, help="the warehouse: built and analysed if absent")
    parser.add_argument("--child")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    if args.child == "night":
        child_night(args.path, args.checks, args.report)
        return
    if args.child == "full":
        child_full(args.path, args.checks)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = args.path or Path(tmp) / "bench.duckdb"
        if not path.exists():
            started = time.perf_counter()
            rows = build(path, args.accounts)
            print(
                f"built {args.accounts:,} accounts, {rows:,} snapshots in {time.perf_counter() - started:.0f} s"
            )
            full = _child("--child", "full", "--path", str(path), "--checks", args.checks)
            print(
                f"first analysis ({full['mode']}, checks by {args.checks}): {full['seconds']:.1f} s"
            )
        print(f"warehouse {path}: {path.stat().st_size / 2**20:,.0f} MB")
        report = Path(tmp) / "report.html"
        for night in range(1, args.nights + 1):
            r = _child(
                *("--child", "night", "--path", str(path), "--checks", args.checks),
                *("--report", str(report)),
            )
            seconds = r["seconds"]
            assert isinstance(seconds, dict)
            parts = ", ".join(f"{k} {v:.2f} s" for k, v in seconds.items())
            print(
                f"night {night}: analysis {r['mode']}, report {'kept' if r['report_reused'] else 'written'}: "
                f"{parts}; peak {r['peak_mb']:,.0f} MB\n    analysis steps: {r['steps']}"
            )


if __name__ == "__main__":
    main()
