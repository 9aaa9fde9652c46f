"""Reliability: faults, hard crashes, concurrent runs and readers, secrets, alert delivery.

    python -m benchmarks.reliability [--accounts 5000] [--crashes 30]

Prints figures for each part (the README's "Reliability" section quotes them). The same
functions run, with smaller counts, in tests/test_reliability.py.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from audience.config import SECRET_ENV, load_settings
from audience.nightly import store
from benchmarks.collect import collection_counts
from collectors.run import collect
from simulator.audiences import generate
from simulator.sample import history_csv
from simulator.server import Simulator, SimulatorServer
from simulator.worlds import PLATFORMS, spread

ALL_FAULTS = {
    "error_rate": 0.08,
    "truncated_rate": 0.04,
    "malformed_rate": 0.03,
    "reset_rate": 0.03,
    "timeout_rate": 0.01,
    "timeout_s": 2.0,
    "burst_rate": 0.01,  # 429 storms of 8 requests
    "burst_length": 8,
}
# content compared between a crashed-then-finished warehouse and one never crashed: every
# column but the clocks (when a row was written, detected, computed)
CONTENT = {
    "snapshots": "platform, handle, day, followers, following, posts, views, source",
    "daily_metrics": "* EXCLUDE (computed_at)",
    "anomalies": "* EXCLUDE (detected_at)",
    "account_metrics": "*",
    "accounts": "platform, handle, tracked, first_seen, last_seen",
}
PYTHON_CLI = "from audience.cli import main; raise SystemExit(main())"
ANALYSE = (
    "import sys, datetime as dt; from pathlib import Path; from audience.analysis import run_analysis; "
    "from audience.config import load_settings; "
    "run_analysis(Path(sys.argv[1]), load_settings(None, environ={}), dt.date.fromisoformat(sys.argv[2]), full=True)"
)


def simulator_environ(server: SimulatorServer, **extra: str) -> dict[str, str]:
    """Settings pointing every collector at the simulator, fast retries, placeholder secrets."""
    env = server.environ(backoff_s=0.02, timeout_s="0.5")
    env["AUDIENCE_PLATFORMS__INSTAGRAM__ACCOUNT_ID"] = "1784140"
    env |= {var: f"placeholder-{name}" for name, var in SECRET_ENV.items()}
    return env | extra


# --- faults -------------------------------------------------------------------------------------


@dataclass
class FaultResult:
    accounts: int
    seconds: float
    requests: int
    injected: int
    outcomes: Counter[str]
    logged: int
    logged_distinct: int
    snapshots: int
    duplicates: int
    without_reason: int
    stored_differs: int  # ok accounts whose stored count is not what the simulator served


def run_faults(accounts: int, day: date = date(2024, 6, 30), seed: int = 3) -> FaultResult:
    """Collect `accounts` from a simulator injecting every kind of fault, store, and check."""
    world = spread(accounts, days=30, seed=seed)
    simulator = Simulator(world, seed=seed)
    with SimulatorServer(simulator) as server, tempfile.TemporaryDirectory() as tmp:
        for platform in PLATFORMS:
            simulator.set_faults(platform, **ALL_FAULTS)
        settings = load_settings(None, environ=simulator_environ(server))
        wanted = [(p, h) for p in PLATFORMS for h in world.handles(p)]
        started = time.perf_counter()
        results = collect(wanted, settings)
        seconds = time.perf_counter() - started
        warehouse = Path(tmp) / "w.duckdb"
        store(warehouse, settings, day, results)
        stats = Counter(simulator.stats)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            logged, distinct, snaps, snap_distinct, no_reason = collection_counts(con)
            stored = dict(
                ((p, h), f)
                for p, h, f in con.execute(
                    "SELECT platform, handle, followers FROM snapshots"
                ).fetchall()
            )
    ok = {(r.platform, r.handle) for r in results if r.outcome == "ok"}
    differs = sum(1 for key in ok if stored.get(key) != simulator.served.get(key))
    differs += len(set(stored) - ok)  # a snapshot for an account that did not answer
    return FaultResult(
        accounts=len(wanted),
        seconds=seconds,
        requests=sum(v for k, v in stats.items() if k.endswith(":requests")),
        injected=sum(v for k, v in stats.items() if ":fault:" in k),
        outcomes=Counter(str(r.outcome) for r in results),
        logged=logged,
        logged_distinct=distinct,
        snapshots=snaps,
        duplicates=snaps - snap_distinct,
        without_reason=no_reason,
        stored_differs=differs,
    )


# --- crashes ------------------------------------------------------------------------------------


def write_history(
    path: Path, accounts: int, days: int, seed: int = 5, start: date = date(2024, 6, 1)
) -> Path:
    """A CSV in the import format: `accounts` simulated accounts over `days` days."""
    world = spread(accounts, days=days, seed=seed, start=start)
    generated = generate(world.specs, world.start, world.days, world.seed)
    path.write_text(history_csv(generated.snapshots), encoding="utf-8")
    return path


def data_rows(csv: Path) -> int:
    with csv.open(encoding="utf-8") as lines:
        return sum(1 for _ in lines) - 1


def content_digest(warehouse: Path) -> str:
    """A digest of what analysts see (no clocks), to compare two warehouses."""
    digest = hashlib.sha256()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table, columns in CONTENT.items():
            rows = con.execute(f"SELECT {columns} FROM {table} ORDER BY ALL").fetchall()
            digest.update(f"{table}:{len(rows)}:{rows!r}".encode())
    return digest.hexdigest()


def integrity(warehouse: Path) -> list[str]:
    """Problems in a warehouse (none expected): it opens, its migrations hold, no duplicates."""
    from warehouse.db import open_warehouse

    problems = []
    try:
        with open_warehouse(warehouse, timeout_s=5) as con:  # replays the WAL, checks migrations
            checks = {
                "duplicate metric days": "SELECT count(*) - count(DISTINCT (platform, handle, day)) FROM daily_metrics",
                "duplicate snapshots": "SELECT count(*) - count(DISTINCT (platform, handle, day)) FROM snapshots",
                "metrics without snapshots": "SELECT count(*) FROM daily_metrics m ANTI JOIN snapshots s USING (platform, handle)",
                "anomalies without metrics": "SELECT count(*) FROM anomalies a ANTI JOIN daily_metrics m USING (platform, handle, day)",
                "negative counts": "SELECT count(*) FROM snapshots WHERE followers < 0",
            }
            for name, sql in checks.items():
                found = con.execute(sql).fetchall()[0][0]
                if found:
                    problems.append(f"{name}: {found}")
    except Exception as exc:  # the point is to report any failure to open, whatever it is
        problems.append(f"does not open: {type(exc).__name__}: {exc}")
    return problems


@dataclass
class CrashResult:
    kind: str
    attempts: int = 0
    killed_while_running: int = 0
    finished_before_kill: int = 0
    problems: list[str] = field(default_factory=list)
    partial_states: int = 0  # a crash that left half of a write visible
    recovered_identical: int = 0


def _kill_after(command: list[str], delay: float, env: dict[str, str]) -> bool:
    """Run `command`, SIGKILL it after `delay` seconds; True if it was still running."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        process.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        return True


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def crash_runs(
    kind: str, workdir: Path, history: Path, as_of: date, times: int, seed: int = 1
) -> CrashResult:
    """SIGKILL an import (kind "import") or a full analysis ("analysis") at random moments.

    Each time: kill, check the warehouse, run the same job again to the end, and compare the
    result with a warehouse that was never interrupted.
    """
    rng = random.Random(seed)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIENCE_")}
    env["AUDIENCE_CONFIG"] = str(workdir / "none.toml")
    (workdir / "none.toml").write_text("", encoding="utf-8")
    base = workdir / "base.duckdb"
    if kind == "analysis" and not base.exists():
        subprocess.run(
            [sys.executable, "-c", PYTHON_CLI, "--warehouse", str(base), "import", str(history)],
            env=env,
            check=True,
            capture_output=True,
        )

    def command(target: Path) -> list[str]:
        if kind == "import":
            return [
                sys.executable,
                "-c",
                PYTHON_CLI,
                "--warehouse",
                str(target),
                "import",
                str(history),
            ]
        return [sys.executable, "-c", ANALYSE, str(target), as_of.isoformat()]

    def fresh(target: Path) -> None:
        for suffix in ("", ".wal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        if kind == "analysis":
            target.write_bytes(base.read_bytes())

    reference = workdir / f"reference-{kind}.duckdb"
    fresh(reference)
    duration = _timed(command(reference), env)
    expected = content_digest(reference)
    before_digest = content_digest(base) if kind == "analysis" else None
    result = CrashResult(kind)
    target = workdir / f"crash-{kind}.duckdb"
    for _ in range(times):
        fresh(target)
        result.attempts += 1
        if _kill_after(command(target), rng.uniform(0.05, duration), env):
            result.killed_while_running += 1
        else:
            result.finished_before_kill += 1
        problems = integrity(target) if target.exists() else []
        result.problems += problems
        if target.exists() and not problems:
            state = content_digest(target)
            untouched = before_digest if kind == "analysis" else _empty_digest(workdir)
            if state not in (untouched, expected):
                result.partial_states += 1
        subprocess.run(command(target), env=env, check=True, capture_output=True)
        if content_digest(target) == expected and not integrity(target):
            result.recovered_identical += 1
    return result


def _empty_digest(workdir: Path) -> str:
    empty = workdir / "empty.duckdb"
    if not empty.exists():
        from warehouse.db import open_warehouse

        with open_warehouse(empty):
            pass
    return content_digest(empty)


# --- concurrency ------------------------------------------------------------------------------


@dataclass
class ConcurrencyResult:
    pairs: int = 0
    both_ok: int = 0
    one_busy: int = 0
    unclear: list[str] = field(default_factory=list)  # an exit that is neither ok nor "busy"
    rows_wrong: int = 0
    readers: int = 0
    readers_told_busy: int = 0


def concurrent_imports(
    workdir: Path,
    first: Path,
    second: Path,
    pairs: int,
    lock_timeout_s: float,
    long_write: Path | None = None,
) -> ConcurrencyResult:
    """Start two imports together `pairs` times; then readers during a write (of `long_write`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIENCE_")}
    env["AUDIENCE_WAREHOUSE__LOCK_TIMEOUT_S"] = str(lock_timeout_s)
    result = ConcurrencyResult()
    lines = {p: data_rows(p) for p in (first, second)}
    for i in range(pairs):
        target = workdir / f"pair-{i}.duckdb"
        for suffix in ("", ".wal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", PYTHON_CLI, "--warehouse", str(target), "import", str(f)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for f in (first, second)
        ]
        outs = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
        for p in procs:
            for stream in (p.stdout, p.stderr):
                if stream:
                    stream.close()
        result.pairs += 1
        codes = [c for c, _ in outs]
        imported = sum(lines[f] for f, (c, _) in zip((first, second), outs, strict=True) if c == 0)
        if codes == [0, 0]:
            result.both_ok += 1
        elif sorted(codes) == [0, 2] and any("is busy" in e for c, e in outs if c == 2):
            result.one_busy += 1
        else:
            result.unclear.append(f"exit {codes}: {[e.strip()[:200] for _, e in outs]}")
        with duckdb.connect(str(target), read_only=True) as con:
            stored = con.execute("SELECT count(*) FROM snapshots").fetchall()[0][0]
        result.rows_wrong += stored != imported
    # a reader while a write is under way
    target = workdir / "read-during-write.duckdb"
    for suffix in ("", ".wal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PYTHON_CLI,
            "--warehouse",
            str(target),
            "import",
            str(long_write or first),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reader_env = env | {"AUDIENCE_WAREHOUSE__LOCK_TIMEOUT_S": "0"}
    while writer.poll() is None and not target.exists():
        time.sleep(0.01)
    while writer.poll() is None:
        read = subprocess.run(
            [
                sys.executable,
                "-c",
                PYTHON_CLI,
                "--warehouse",
                str(target),
                "query",
                "SELECT count(*) FROM snapshots",
            ],
            env=reader_env,
            capture_output=True,
            text=True,
        )
        if writer.poll() is not None and read.returncode == 0:
            break  # the write ended meanwhile: this reader saw a finished warehouse
        result.readers += 1
        if read.returncode == 2 and "is busy" in read.stderr and read.stderr.count("\n") == 1:
            result.readers_told_busy += 1
        else:
            result.unclear.append(f"reader exit {read.returncode}: {read.stderr.strip()[:200]}")
    return result


# --- secrets ---------------------------------------------------------------------------------


def sentinel_secrets() -> dict[str, str]:
    """A distinct, greppable value for every secret variable."""
    return {
        var: f"SENTINEL{i:02d}{hashlib.sha256(var.encode()).hexdigest()[:16]}"
        for i, var in enumerate(SECRET_ENV.values())
    }


def find_sentinels(
    sentinels: dict[str, str], texts: dict[str, str], paths: list[Path]
) -> list[str]:
    """Where any sentinel appears: in the given texts, or in any file under `paths`."""
    found = []
    values = list(sentinels.values())
    for where, text in texts.items():
        found += [f"{where}: {v[:10]}" for v in values if v in text]
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for file in files:
            data = file.read_bytes()
            found += [
                f"{file}: {v[:10]}"
                for v in values
                if v.encode() in data or v.encode("utf-16-le") in data
            ]
    return found


def warehouse_text(warehouse: Path) -> str:
    """Every value of every table, as text (the file itself may be compressed)."""
    parts = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()
        ]
        for table in tables:
            parts.append(repr(con.execute(f"SELECT * FROM {table}").fetchall()))
    return "\n".join(parts)


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
