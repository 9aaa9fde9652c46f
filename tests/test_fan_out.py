"""Past one machine (issue #17): the nightly collection in shards on a Dask cluster, through
Prefect's Dask task runner, with every platform's rate budget split between the shards.

The real thing: a `distributed.LocalCluster` of 2 worker processes on loopback, the simulator
over HTTP with injected faults and windowed rate limits, the shards' results stored in a real
DuckDB file by the one writer (the flow's process)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import duckdb
import httpx
import pytest

from collectors.rate_gate import RateGate, epoch_reset
from core.errors import AudienceError
from core.fetched import Fetched, Outcome
from core.settings import load_settings
from drills.faults import collection_counts, simulator_environ
from pipeline.collect import by_platform, merged, sharded, store
from simulator.server import Simulator, SimulatorServer
from simulator.worlds import MASTODON_SERVERS, PLATFORMS, spread
from tests.support.cli import Result
from tests.support.clock import FakeClock

# 20,000 accounts, as issue #17 asks, on the six platforms whose profiles the simulator
# answers at once (its Bluesky and GitHub profiles build follow logs on first ask, 0.07-0.23 s
# an account). 20,000 is also past what Prefect's API takes as a flow run's parameters (512 KB
# of JSON, about 18,000 accounts): the collect-on-dask subflow gets them by reference.
WORLD = 26_672
FAST = ("mastodon", "youtube", "x", "twitch", "reddit", "instagram")
ACCOUNTS = WORLD // len(PLATFORMS) * len(FAST)
DAY = date(2024, 6, 30)
# the platforms whose limits the simulator announces per window in headers (benchmarks/collect)
WINDOWED = ("mastodon", "x", "twitch", "reddit")
FAULTS = {
    "error_rate": 0.03,
    "truncated_rate": 0.01,
    "malformed_rate": 0.01,
    "reset_rate": 0.01,
    "burst_rate": 0.003,  # 429 storms of 4 requests
    "burst_length": 4,
}


def _accounts(n: int) -> list[tuple[str, str]]:
    world = spread(n, days=2)
    return [(p, h) for p in PLATFORMS for h in world.handles(p)]


def test_shards_hold_every_account_once_and_every_platform_evenly() -> None:
    accounts = _accounts(403)
    shards = sharded(accounts + accounts[:7], 4)  # an account listed twice is asked once
    held = [a for s in shards for a in s.accounts]
    assert sorted(held) == sorted(accounts)
    assert {s.share for s in shards} == {4}
    for group in [*PLATFORMS, *MASTODON_SERVERS]:
        counts = [
            sum(1 for p, h in s.accounts if group in (p, h.rsplit("@", 1)[-1])) for s in shards
        ]
        assert max(counts) - min(counts) <= 1, (group, counts)
    assert len(sharded(accounts[:3], 8)) == 3  # no empty shard
    assert [s.name for s in by_platform(accounts)] == sorted(PLATFORMS)
    assert {s.share for s in by_platform(accounts)} == {1}  # one shard per platform: all of it


def test_a_failed_shard_costs_its_accounts_an_outcome_with_the_reason_not_the_run() -> None:
    shards = sharded(_accounts(16), 2)
    first = [Fetched(p, h, Outcome.OK, "", followers=1) for p, h in shards[0].accounts]
    results = merged(shards, [first + first[:2], OSError("worker lost")])
    assert len(results) == 16  # one outcome per account, the repeated answers kept once
    lost = [r for r in results if r.outcome == Outcome.UNAVAILABLE]
    assert {(r.platform, r.handle) for r in lost} == set(shards[1].accounts)
    assert {r.reason for r in lost} == {"its shard (shard-2-of-2) failed: OSError: worker lost"}


def test_gates_sharing_a_budget_send_at_most_their_part_of_each_window() -> None:
    """Two gates with share=2 before one platform that allows 10 a window: whatever order
    their requests come in, the platform never sees more than 10 in a window."""
    asyncio.run(_two_gates_then_one())


async def _two_gates_then_one() -> None:
    clock = FakeClock()
    gates = [RateGate(epoch_reset("ratelimit"), 60, clock, share=2) for _ in range(2)]
    used: Counter[float] = Counter()

    def answer() -> httpx.Headers:
        window = clock.t // 5 * 5 + 5  # windows of 5 s
        used[window] += 1
        return httpx.Headers(
            {
                "ratelimit-limit": "10",
                "ratelimit-remaining": str(max(10 - used[window], 0)),
                "ratelimit-reset": str(window),
            }
        )

    for i in range(60):
        gate = gates[i % 3 % 2]  # uneven: one gate asks twice as often
        await gate.acquire()
        gate.release(answer())
    assert max(used.values()) <= 10
    assert sum(used.values()) == 60
    single = RateGate(epoch_reset("ratelimit"), 60, clock)  # alone (share 1): the whole window
    clock.t = start = (clock.t // 5 + 1) * 5  # a fresh window
    for _ in range(10):
        await single.acquire()
        single.release(answer())
    assert clock.t - start < 5  # ten in one window, no wait


def test_a_scheduler_that_does_not_answer_is_refused_at_once() -> None:
    from flows.nightly import reachable

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(
        AudienceError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1"
    ):
        reachable(f"tcp://127.0.0.1:{port}", timeout_s=2)


class _Listener:
    """A port on loopback that takes connections and then answers as `reply` says: "http"
    (a web server, as a scheduler's dashboard), "banner" (SSH: it speaks first), "silent".
    Every socket it opens is closed by close()."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.stop = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)  # so that the loop sees `stop`
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                if self.reply == "banner":
                    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
                elif self.reply == "http":
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.0 400 Bad request\r\nContent-Length: 0\r\n\r\n")
                    continue
                self.stop.wait(30)  # keeps the connection, says nothing more

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


@pytest.mark.parametrize("reply", ["http", "banner", "silent"])
def test_a_port_that_is_not_a_dask_scheduler_is_refused_in_seconds(reply: str) -> None:
    """It used to leave the run waiting for good (a web server: the dashboard's port), or
    read a banner as a message of exabytes (MemoryError, exit 1)."""
    from flows.nightly import reachable

    listener = _Listener(reply)
    try:
        with pytest.raises(AudienceError, match=r"is not a Dask scheduler"):
            reachable(f"tcp://127.0.0.1:{listener.port}", timeout_s=2)
    finally:
        listener.close()


def test_a_bad_scheduler_address_is_refused_with_exit_2(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIENCE_ORCHESTRATION__TASK_RUNNER", "dask")
    monkeypatch.setenv("AUDIENCE_ORCHESTRATION__DASK_ADDRESS", "localhost:8786\x1b[2J")
    result = cli("run")
    assert result.code == 2
    assert "AUDIENCE_ORCHESTRATION__DASK_ADDRESS" in result.err
    assert "is not a Dask scheduler address" in result.err
    assert "\x1b" not in result.err  # the value is shown escaped
    assert not Path("warehouse").exists()  # nothing was made


def test_run_refuses_a_scheduler_that_is_not_there_before_anything_starts(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One line and exit 2, no warehouse made and no Prefect API started (it was a 20 s
    start of Prefect's API, then the same error three times in a traceback)."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("AUDIENCE_ORCHESTRATION__TASK_RUNNER", "dask")
    monkeypatch.setenv("AUDIENCE_ORCHESTRATION__DASK_ADDRESS", f"tcp://127.0.0.1:{port}")
    result = cli("run")
    assert result.code == 2, result.err
    assert result.err.strip().splitlines() == [
        f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port} ([orchestration] "
        "dask_address): Connection refused; start it (`dask scheduler`) or set "
        'task_runner = "threads" to collect on this machine'
    ]
    assert not Path("warehouse").exists()


@pytest.fixture(scope="module")
def world_server() -> Iterator[tuple[Simulator, SimulatorServer]]:
    simulator = Simulator(spread(WORLD, days=2), seed=5)
    with SimulatorServer(simulator) as server:
        yield simulator, server


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_api")
def test_two_dask_workers_collect_every_account_once_within_the_shared_rate_limits(
    world_server: tuple[Simulator, SimulatorServer],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from distributed import Client, LocalCluster, get_task_stream

    from flows.nightly import fan_out

    simulator, server = world_server
    world = simulator.world
    accounts = [(p, h) for p in FAST for h in world.handles(p)]
    assert len(accounts) == ACCOUNTS >= 20_000
    missing = {p: set(world.handles(p)[:5]) for p in FAST}
    for platform in FAST:
        simulator.set_faults(platform, **FAULTS, missing=sorted(missing[platform]))
    for platform in WINDOWED:
        # per token or address (each Mastodon server apart): 400 requests per 2 s, so that
        # Reddit's and Twitch's 3,334 accounts take nine windows or more
        simulator.set_limit(platform, 400, 2)
    # the workers read the settings and the secrets from their own environment
    for name, value in simulator_environ(
        server, AUDIENCE_PLATFORMS__X__MAX_CONCURRENCY="8"
    ).items():
        monkeypatch.setenv(name, value)
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
        get_task_stream(client) as stream,
    ):
        monkeypatch.setenv("AUDIENCE_ORCHESTRATION__TASK_RUNNER", "dask")
        monkeypatch.setenv("AUDIENCE_ORCHESTRATION__DASK_ADDRESS", cluster.scheduler_address)
        settings = load_settings(None)
        results = fan_out(accounts, None, settings)
    workers = {task["worker"] for task in stream.data}  # (gathered as the stream closes)
    assert len(workers) == 2  # both worker processes collected a shard
    stats = Counter(simulator.stats)
    # the faults were injected (about 6% of the requests)
    assert sum(v for k, v in stats.items() if ":fault:" in k) > ACCOUNTS * 0.02
    assert {p: stats[f"{p}:limited"] for p in WINDOWED} == dict.fromkeys(WINDOWED, 0)
    warehouse = tmp_path / "w.duckdb"
    store(warehouse, settings, DAY, results)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        logged, distinct, snaps, snap_distinct, no_reason = collection_counts(con)
        outcomes = dict(
            con.execute("SELECT outcome, count(*) FROM collection_log GROUP BY 1").fetchall()
        )
        stored = dict(
            ((p, h), f)
            for p, h, f in con.execute(
                "SELECT platform, handle, followers FROM snapshots"
            ).fetchall()
        )
    assert (logged, distinct) == (ACCOUNTS, ACCOUNTS)  # one outcome per account
    assert snaps == snap_distinct == outcomes["ok"]  # each snapshot stored once
    assert no_reason == 0
    assert outcomes["not_found"] == sum(len(m) for m in missing.values())
    assert {k: v for k, v in stored.items() if v != simulator.served[k]} == {}
    # the faults were retried away: nearly every account that exists was collected
    assert outcomes["ok"] >= (ACCOUNTS - outcomes["not_found"]) * 0.99
