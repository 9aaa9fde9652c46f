"""Benchmark: the nightly collection past one machine (issue #17). Prints figures; asserts nothing.

1. Collection, the simulator in its own process on loopback, limits off, measured in the same
   run: this machine (one task per platform, side by side on one event loop), then Prefect's Dask task runner on a
   `distributed.LocalCluster` of 1 and of 2 worker processes (shards of the accounts; the
   cluster's start-up is printed apart). Accounts per second of each, the flow's overhead
   included. A first pass, not timed, lets the simulator build what it builds on first ask.
2. What a shard of accounts costs the warehouse: `--shard` accounts x 1 year of daily counts
   stored and analysed with the product's code (pipeline.analyse, margins), in a child process
   so its peak memory is its own: seconds per shard for a full analysis and a nightly
   increment, bytes per account-year of the DuckDB file.
3. From those and the published limits (shared/docs/platform-apis.md), what 1 million and 10
   million accounts would need: collection hours per platform per budget, warehouse size,
   analysis time.

Run: ./scripts/uv.sh run --locked python -m benchmarks.fan_out [--accounts 20000] [--shard 10000]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from benchmarks.analysis_speed import START, build, peak_mb
from benchmarks.collect import SECRETS, start_simulator
from core.fetched import Fetched
from core.settings import Settings, load_settings
from simulator.worlds import PLATFORMS, handle_for

# the simulator builds a Bluesky or GitHub account's follow log the first time it is asked
# (0.07-0.23 s an account here): left out, so that the figures are the collector's, not that
FAST = ("mastodon", "youtube", "x", "twitch", "reddit", "instagram")

# published limits (shared/docs/platform-apis.md): requests an hour for one budget (a token,
# an OAuth client, an address, a project), and accounts a request answers (batching)
LIMITS: dict[str, tuple[float, int, str]] = {
    "mastodon": (300 * 12, 1, "300 / 5 min per address (each server counts apart)"),
    "bluesky": (3000 * 12, 25, "3,000 / 5 min per address (PDS; AppView unpublished)"),
    "github": (5000, 1, "5,000 / h per token"),
    "youtube": (10_000 / 24, 50, "10,000 units / day per project"),
    "x": (300 * 4, 100, "300 / 15 min per app (users lookup, historical)"),
    "twitch": (
        800 * 60 / 1.01,
        1,
        "800 points / min per client (a lookup of 100 + a follower total each)",
    ),
    "reddit": (100 * 60, 1, "100 / min per OAuth client"),
    # not in platform-apis.md ("Graph API app/BUC limits"): Meta's platform limit of 200 calls
    # an hour per user is assumed
    "instagram": (200, 1, "200 / h per user token, assumed (Graph API; not in platform-apis.md)"),
}


def settings_for(url: str, extra: dict[str, str]) -> Settings:
    env = {f"AUDIENCE_PLATFORMS__{p.upper()}__BASE_URL": f"{url}/{p}" for p in PLATFORMS}
    env["AUDIENCE_PLATFORMS__MASTODON__BASE_URL"] = f"{url}/mastodon/{{host}}"
    env |= {f"AUDIENCE_PLATFORMS__{p.upper()}__MAX_CONCURRENCY": "8" for p in PLATFORMS}
    env |= SECRETS | extra
    os.environ.update(env)  # the Dask workers read their settings from their environment
    return load_settings(None, environ=env)


def latency(url: str, seconds: float) -> None:
    for platform in FAST:
        httpx.post(f"{url}/_sim/faults/{platform}", json={"latency_s": seconds}).raise_for_status()


def timed(label: str, n: int, run: Callable[[], list[Fetched]]) -> float:
    started = time.perf_counter()
    results = run()
    seconds = time.perf_counter() - started
    outcomes = Counter(str(r.outcome) for r in results)
    rate = n / seconds
    print(f"   {label:34s} {seconds:7.1f} s  {rate:8,.0f} accounts/s  {dict(outcomes)}")
    return rate


def collection(n: int, latency_too: bool = True) -> dict[str, float]:
    from distributed import LocalCluster
    from prefect import flow

    from flows.nightly import fan_out

    proc, url = start_simulator(n * len(PLATFORMS) // len(FAST))
    rates: dict[str, float] = {}
    try:
        per = n // len(FAST)
        accounts = [(p, handle_for(p, i)) for p in FAST for i in range(per)]
        threads = settings_for(url, {})

        @flow(name="bench-collect")
        def here(settings: Settings) -> list[Fetched]:
            return fan_out(accounts, None, settings)

        print(f"\n1. {len(accounts):,} accounts on {', '.join(FAST)}, limits off")
        timed("first pass (not compared)", len(accounts), lambda: here(threads))

        def both(label: str, run: Callable[[], list[Fetched]]) -> float:
            """As fast as the simulator answers, then with 50 ms more per answer (a real
            API's round trip: then the requests in flight, not the CPU, bound the rate)."""
            rate = timed(label, len(accounts), run)
            if not latency_too:
                return rate
            latency(url, 0.05)
            rates[label.split(" (")[0] + ", 50 ms"] = timed(
                "   with 50 ms a request", len(accounts), run
            )
            latency(url, 0.0)
            return rate

        rates["threads"] = both("this machine (one event loop)", lambda: here(threads))
        for workers in (1, 2):
            started = time.perf_counter()
            with LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster:
                up = time.perf_counter() - started
                dask = settings_for(
                    url,
                    {
                        "AUDIENCE_ORCHESTRATION__TASK_RUNNER": "dask",
                        "AUDIENCE_ORCHESTRATION__DASK_ADDRESS": cluster.scheduler_address,
                    },
                )
                label = (
                    f"Dask, {workers} worker{'s' if workers > 1 else ''} (cluster up in {up:.0f} s)"
                )
                fan_out(accounts[: len(FAST) * 8], None, dask)  # the workers import the code
                rates[f"dask{workers}"] = both(label, partial(fan_out, accounts, None, dask))
    finally:
        proc.terminate()
    return rates


def shard_child(folder: Path, accounts: int) -> None:
    """In its own process: a shard's year stored, analysed in full, then one more night."""
    from core.detection import DetectionSettings
    from pipeline.analyse import analyse
    from transforms.judging import MarginChecker
    from warehouse.db import open_warehouse

    settings = DetectionSettings()
    path = folder / "shard.duckdb"
    rows = build(path, accounts, days=365)
    size = path.stat().st_size
    seconds = []
    analysed = 0
    for day, full in ((364, True), (365, False)):
        with open_warehouse(path) as con:
            if not full:  # one more night: a new day for every account
                con.execute(
                    "INSERT INTO snapshots (platform, handle, day, followers, following, posts, "
                    "observed_at, source) SELECT platform, handle, day + 1, followers + 3, "
                    "following, posts, now(), 'api:bench' FROM snapshots WHERE day = ?",
                    [START + timedelta(days=364)],
                )
            con.execute("BEGIN TRANSACTION")
            started = time.perf_counter()
            analyse(con, settings, START + timedelta(days=day), full=full, checker=MarginChecker())
            con.execute("COMMIT")
            seconds.append(time.perf_counter() - started)
        if full:
            analysed = path.stat().st_size
    print(f"{rows} {size} {analysed} {seconds[0]:.2f} {seconds[1]:.2f} {peak_mb():.0f}")


def shard_figures(accounts: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.fan_out",
                "--shard-child",
                tmp,
                "--shard",
                str(accounts),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    rows, raw, analysed, full, night, peak = (float(v) for v in out[-6:])
    per_year = analysed / accounts
    print(
        f"\n2. a shard of {accounts:,} accounts x 1 year ({rows:,.0f} rows): DuckDB file "
        f"{raw / 1e6:,.0f} MB as stored, {analysed / 1e6:,.0f} MB analysed = "
        f"{per_year / 1e3:,.1f} kB per account-year; full analysis {full:.1f} s, "
        f"a nightly increment {night:.1f} s, peak {peak:,.0f} MB"
    )
    return {"per_year": per_year, "full": full, "night": night, "shard": accounts, "peak": peak}


def projections(rates: dict[str, float], shard: dict[str, float]) -> None:
    print("\n3. projections, accounts spread evenly over the eight platforms")
    for total in (1_000_000, 10_000_000):
        each = total / len(PLATFORMS)
        print(f"   {total:>10,} accounts ({each:,.0f} a platform): collection hours for one budget")
        for platform, (per_hour, batch, what) in LIMITS.items():
            hours = each / batch / per_hour
            print(
                f"      {platform:9s} {hours:10,.1f} h   ({what}); budgets for an 8 h night: "
                f"{math.ceil(hours / 8):,}"
            )
        shards = total / shard["shard"]
        print(
            f"      warehouse: {total * shard['per_year'] / 1e9:,.1f} GB per year of history; "
            f"{shards:,.0f} shards of {shard['shard']:,.0f}: a full analysis "
            f"{shards * shard['full'] / 3600:,.1f} h on one core-pair, a night "
            f"{shards * shard['night'] / 60:,.1f} min"
            + (
                f"; at {rates['dask2']:,.0f} accounts/s (2 workers here, limits off) the requests "
                f"alone take {total / rates['dask2'] / 3600:,.1f} h"
                if "dask2" in rates
                else ""
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--shard", type=int, default=10_000)
    parser.add_argument("--shard-child", default=None)
    parser.add_argument("--skip-collect", action="store_true")
    parser.add_argument(
        "--no-latency",
        action="store_true",
        help="leave out the runs with 50 ms more per answer (a large N takes minutes a run)",
    )
    args = parser.parse_args()
    if args.shard_child:
        shard_child(Path(args.shard_child), args.shard)
        return
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    rates: dict[str, Any] = (
        {} if args.skip_collect else collection(args.accounts, not args.no_latency)
    )
    if rates:
        print(
            f"   2 workers against this machine: {rates['dask2'] / rates['threads']:.2f}x; "
            f"against 1 worker: {rates['dask2'] / rates['dask1']:.2f}x"
        )
        slow = [v for k, v in rates.items() if k.endswith("50 ms")]
        if slow:
            print(
                f"   with 50 ms a request: 2 workers against this machine {slow[2] / slow[0]:.2f}x, "
                f"against 1 worker {slow[2] / slow[1]:.2f}x"
            )
    projections(rates, shard_figures(args.shard))


if __name__ == "__main__":
    main()
