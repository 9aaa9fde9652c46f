"""Benchmark: what one HTTP request costs this process, our collectors against bare httpx
(issue #17: the floor under a night's collection). Prints figures; asserts nothing.

The simulator runs in its own process on loopback, limits off. The same GitHub accounts
(one request each: GitHub's REST API has no batch form) are asked, three ways, each run twice
in this order, measured in the same run:

  1. bare httpx: one AsyncClient, 8 requests in flight, the response read and parsed as
     JSON, nothing else (the least any httpx collector can spend);
  2. our collector (`collectors.run.collect`): rate gate, retries, classification, the
     Fetched outcome, 8 in flight;
  3. the whole count collection of the same number of accounts over the eight platforms.

For each: wall seconds, this process's CPU seconds per request, the simulator's CPU seconds
per request. A night's collection cannot take less than its requests times the first figure
on one core, however its code is arranged.

Run: ./scripts/uv.sh run --locked python -m benchmarks.http_floor [--accounts 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

import httpx

from benchmarks.collect import accounts_of, settings_for, start_simulator
from benchmarks.nightly import answered, cpu_seconds
from collectors.run import collect


async def _bare(url: str, handles: list[str], concurrency: int = 8) -> None:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        queue = list(reversed(handles))

        async def worker() -> None:
            while queue:
                handle = queue.pop()
                kind = "repos" if "/" in handle else "users"
                response = await client.get(f"{url}/github/{kind}/{handle}")
                response.json()

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def measure(name: str, sim: str, pid: int, work: Callable[[], object]) -> None:
    asked, server = answered(sim), cpu_seconds(pid)
    started, cpu = time.perf_counter(), time.process_time()
    work()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    requests = answered(sim) - asked
    server = cpu_seconds(pid) - server
    print(
        f"{name:44s} {requests:6,d} requests in {wall:5.1f} s: this process "
        f"{1000 * cpu / requests:4.2f} ms of CPU a request, the simulator "
        f"{1000 * server / requests:4.2f} ms",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args()
    simulator, sim = start_simulator(args.accounts)
    try:
        everyone = accounts_of(args.accounts)
        github = [(p, h) for p, h in everyone if p == "github"]  # users and repositories
        handles = [h for _, h in github]
        settings = settings_for(sim)
        collect(everyone, settings)  # the simulator builds what it answers from on first ask
        for _ in range(2):
            measure(
                f"1. bare httpx, {len(handles):,} GitHub accounts",
                sim,
                simulator.pid,
                lambda: asyncio.run(_bare(sim, handles)),
            )
            measure(
                f"2. our collector, the same {len(github):,} accounts",
                sim,
                simulator.pid,
                lambda: collect(github, settings),
            )
            measure(
                f"3. the count collection of {len(everyone):,} accounts",
                sim,
                simulator.pid,
                lambda: collect(everyone, settings),
            )
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)


if __name__ == "__main__":
    main()
