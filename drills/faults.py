"""Collection under injected faults: every account ends with a snapshot or a reason."""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from collectors.run import collect
from core.settings import SECRET_ENV, load_settings
from pipeline.collect import store
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


def simulator_environ(server: SimulatorServer, **extra: str) -> dict[str, str]:
    """Settings pointing every collector at the simulator, fast retries, placeholder secrets."""
    env = server.environ(backoff_s=0.02, timeout_s="0.5")
    env["AUDIENCE_PLATFORMS__INSTAGRAM__ACCOUNT_ID"] = "1784140"
    env |= {var: f"placeholder-{name}" for name, var in SECRET_ENV.items()}
    return env | extra


def collection_counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int, int, int]:
    """Log rows, accounts logged, snapshots, distinct snapshots, failures without a reason."""
    logged, distinct = con.execute(
        "SELECT count(*), count(DISTINCT (platform, handle)) FROM collection_log"
    ).fetchall()[0]
    snaps, snap_distinct = con.execute(
        "SELECT count(*), count(DISTINCT (platform, handle, day)) FROM snapshots"
    ).fetchall()[0]
    unexplained = con.execute(
        "SELECT count(*) FROM collection_log WHERE outcome <> 'ok' AND coalesce(reason, '') = ''"
    ).fetchall()[0][0]
    return int(logged), int(distinct), int(snaps), int(snap_distinct), int(unexplained)


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
