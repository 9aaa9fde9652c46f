"""Reliability: faults, hard crashes, concurrent runs and readers, secrets, alert delivery.

    python -m benchmarks.reliability [--accounts 5000] [--crashes 30]

Prints figures for each part (the README's "Reliability" section quotes them). The drills
themselves live in drills/; the same functions run, with smaller counts, in
tests/test_reliability.py.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

from drills.concurrency import concurrent_imports
from drills.crashes import CrashResult, crash_runs
from drills.faults import FaultResult, run_faults
from simulator.histories import write_history


def _print_faults(r: FaultResult) -> None:
    print(
        f"faults: {r.accounts:,} accounts, {r.requests:,} requests, {r.injected:,} answered with an injected "
        f"fault ({r.injected / max(r.requests, 1):.1%}: 5xx, 429 storms, timeouts, malformed, truncated, resets); "
        f"{r.seconds:.1f} s"
    )
    print(
        f"  outcomes {dict(r.outcomes)}; collection_log {r.logged:,} rows for {r.logged_distinct:,} accounts; "
        f"snapshots {r.snapshots:,}, duplicates {r.duplicates}, failures without a reason {r.without_reason}, "
        f"stored counts differing from those served {r.stored_differs}"
    )


def _print_crash(r: CrashResult) -> None:
    print(
        f"crash ({r.kind}): {r.attempts} SIGKILLs at random moments ({r.killed_while_running} while running, "
        f"{r.finished_before_kill} after it had finished); warehouse problems after the kill: {len(r.problems)}; "
        f"half-written states seen: {r.partial_states}; re-run identical to an uninterrupted one: "
        f"{r.recovered_identical}/{r.attempts}"
    )
    for problem in r.problems[:5]:
        print(f"  {problem}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reliability", description=__doc__)
    parser.add_argument("--accounts", type=int, default=5_000)
    parser.add_argument("--crashes", type=int, default=30)
    parser.add_argument("--pairs", type=int, default=10)
    args = parser.parse_args(argv)
    _print_faults(run_faults(args.accounts))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        history = write_history(work / "history.csv", 2_000, 365)
        print(
            f"crash tests on {sum(1 for _ in history.open()) - 1:,} snapshot rows (2,000 accounts x 1 year)"
        )
        for kind in ("import", "analysis"):
            _print_crash(crash_runs(kind, work, history, date(2025, 5, 31), args.crashes))
        other = write_history(work / "other.csv", 2_000, 365, seed=9, start=date(2023, 6, 1))
        for timeout in (10.0, 0.0):
            c = concurrent_imports(work, history, other, args.pairs, timeout)
            print(
                f"concurrency (lock timeout {timeout:g} s): {c.pairs} pairs of imports started together: "
                f"{c.both_ok} both completed one after the other, {c.one_busy} one refused with 'busy' (exit 2), "
                f"{len(c.unclear)} unclear; wrong row counts {c.rows_wrong}; readers during a write: "
                f"{c.readers_told_busy}/{c.readers} told 'busy' in one line"
            )
            for line in c.unclear[:3]:
                print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
