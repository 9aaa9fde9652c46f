"""Collectors against the simulator over real HTTP: shapes, dates, statuses, faults, limits."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from collectors.run import collect
from core.fetched import Outcome
from core.settings import load_settings
from pipeline.collect import store
from simulator.server import SimulatorServer
from tests.support.clock import FakeClock
from tests.support.simulator import sim_environ


def accounts(
    server: SimulatorServer, platforms: tuple[str, ...] | None = None
) -> list[tuple[str, str]]:
    world = server.simulator.world
    return [(p, h) for p, h in world._series if platforms is None or p in platforms]


def test_every_platform_answers_what_the_world_shows(sim: SimulatorServer) -> None:
    world = sim.simulator.world
    wanted = accounts(sim)
    results = collect(wanted, load_settings(None, environ=sim_environ(sim)))
    assert len(results) == len(wanted)
    for r in results:
        assert r.outcome is Outcome.OK, (r.platform, r.handle, r.reason)
        figures = world.figures(r.platform, r.handle)
        assert figures is not None
        assert r.followers == figures.followers, (r.platform, r.handle)
    batched = sim.simulator.stats
    assert batched["bluesky:requests"] == 2  # 26 profiles: 25 + 1
    assert batched["youtube:requests"] == sum(
        1 for p, h in wanted if p == "youtube"
    )  # @handles: one each


def test_counts_follow_the_simulated_date(sim: SimulatorServer) -> None:
    env = sim_environ(sim)
    httpx.post(f"{sim.url}/_sim/clock", json={"day": "2024-06-10"}).raise_for_status()
    early = {
        r.handle: r.followers
        for r in collect([("x", "growthguru")], load_settings(None, environ=env))
    }
    httpx.post(f"{sim.url}/_sim/clock", json={"day": "2024-09-10"}).raise_for_status()
    late = {
        r.handle: r.followers
        for r in collect([("x", "growthguru")], load_settings(None, environ=env))
    }
    world = sim.simulator.world
    assert early["growthguru"] == world._series[("x", "growthguru")][0][9]
    assert late["growthguru"] == world._series[("x", "growthguru")][0][101]
    assert late["growthguru"] - early["growthguru"] > 4000  # the bought burst of 2024-09-09


def test_accounts_going_missing_or_suspended(sim: SimulatorServer) -> None:
    httpx.post(
        f"{sim.url}/_sim/faults/mastodon", json={"suspended": ["bob@fosstodon.org"]}
    ).raise_for_status()
    httpx.post(f"{sim.url}/_sim/faults/github", json={"missing": ["janedoe"]}).raise_for_status()
    sim.simulator.world.set_status("bluesky", "indie.dev", "suspended")
    sim.simulator.world.set_status("x", "growthguru", "suspended")
    sim.simulator.world.set_status("youtube", "@tinychannel", "hidden")
    sim.simulator.world.set_status("reddit", "r/sub1", "suspended")
    got = {
        r.handle: r
        for r in collect(
            [
                ("mastodon", "bob@fosstodon.org"),
                ("github", "janedoe"),
                ("bluesky", "indie.dev"),
                ("x", "growthguru"),
                ("youtube", "@tinychannel"),
                ("reddit", "r/sub1"),
            ],
            load_settings(None, environ=sim_environ(sim)),
        )
    }
    assert {h: r.outcome for h, r in got.items()} == {
        "bob@fosstodon.org": Outcome.SUSPENDED,
        "janedoe": Outcome.NOT_FOUND,
        "indie.dev": Outcome.SUSPENDED,
        "growthguru": Outcome.SUSPENDED,
        "@tinychannel": Outcome.UNAVAILABLE,
        "r/sub1": Outcome.UNAVAILABLE,
    }
    assert all(r.followers is None for r in got.values())


def test_wrong_credentials_are_auth_failures(sim: SimulatorServer) -> None:
    env = sim_environ(
        sim,
        AUDIENCE_YOUTUBE_API_KEY="wrong-key",
        AUDIENCE_X_BEARER_TOKEN="wrong-token",
        AUDIENCE_REDDIT_CLIENT_SECRET="wrong-secret",
    )
    got = collect(
        [("youtube", "@cookingwithsam"), ("x", "growthguru"), ("reddit", "r/dataengineering")],
        load_settings(None, environ=env),
    )
    assert {r.outcome for r in got} == {Outcome.AUTH_FAILED}
    assert all("wrong-" not in r.reason for r in got)


def test_github_demands_a_user_agent(sim: SimulatorServer) -> None:
    response = httpx.get(f"{sim.url}/github/users/janedoe", headers={"User-Agent": ""})
    assert response.status_code == 403
    assert response.text.startswith("Request forbidden by administrative rules")


def test_injected_faults_lose_nothing(sim: SimulatorServer, tmp_path: Path) -> None:
    """About 20% of requests fail transiently on every platform; every account still ends well."""
    for platform in sim.base_urls():
        sim.simulator.set_faults(
            platform,
            error_rate=0.08,
            truncated_rate=0.04,
            malformed_rate=0.03,
            reset_rate=0.03,
            burst_rate=0.01,
            burst_length=2,
            latency_s=0.002,
        )
    wanted = accounts(sim)
    settings = load_settings(
        None,
        environ=sim_environ(sim)
        | {f"AUDIENCE_PLATFORMS__{p.upper()}__MAX_RETRIES": "6" for p in sim.base_urls()},
    )
    results = collect(wanted, settings)
    assert sorted((r.platform, r.handle) for r in results) == sorted(set(wanted))
    warehouse = tmp_path / "w.duckdb"
    summary = store(warehouse, settings, date(2024, 12, 31), results)
    retried = [r for r in results if r.attempts > 1]
    assert retried, "the faults were not exercised"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = dict(
            con.execute("SELECT platform || ':' || handle, followers FROM snapshots").fetchall()
        )
        log = con.execute("SELECT platform, handle, outcome, reason FROM collection_log").fetchall()
    assert len(log) == len(set(wanted))  # one outcome per account, no duplicates
    for platform, handle, outcome, reason in log:
        if outcome == "ok":
            assert stored[f"{platform}:{handle}"] == sim.simulator.served[(platform, handle)]
        else:
            assert reason, (platform, handle, outcome)
            assert f"{platform}:{handle}" not in stored  # no data is never zero followers
    assert summary.snapshots_written == len(stored)
    assert len(stored) >= 0.95 * len(set(wanted))


def test_rate_limits_are_respected_not_hit(sim: SimulatorServer) -> None:
    clock = FakeClock()  # the gate and the simulator's windows on one virtual clock
    sim.simulator.use_clock(clock.now)
    sim.simulator.set_limit("github", limit=10, window_s=1)
    wanted = [("github", f"user{i}") for i in range(25)]
    results = collect(wanted, load_settings(None, environ=sim_environ(sim)), clock=clock)
    assert {r.outcome for r in results} == {Outcome.OK}
    assert sim.simulator.stats["github:limited"] == 0
    # 25 requests at 10 a second need at least three windows: the gate waited for two resets
    # (the simulator's windows are aligned to whole seconds; 5 ms waits are probes, not resets)
    resets = {round(began + seconds) for began, seconds in clock.spans if seconds > 0.005}
    assert len(resets) >= 2, clock.waits


@pytest.mark.parametrize("platform", ["mastodon", "bluesky", "x", "twitch", "reddit"])
def test_rate_limit_headers_of_each_platform_are_followed(
    sim: SimulatorServer, platform: str
) -> None:
    sim.simulator.set_limit(platform, limit=4, window_s=1)
    wanted = [(p, h) for p, h in accounts(sim, (platform,))][:14]
    results = collect(wanted, load_settings(None, environ=sim_environ(sim)))
    assert {r.outcome for r in results} == {Outcome.OK}


def test_the_day_after_gives_new_snapshots_not_duplicates(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    settings = load_settings(None, environ=sim_environ(sim))
    warehouse = tmp_path / "w.duckdb"
    wanted = accounts(sim, ("github", "mastodon"))
    world = sim.simulator.world
    for offset in (2, 1, 1):  # the same day twice: replaced, not duplicated
        day = world.start + timedelta(days=world.days - offset)
        world.set_today(day)
        store(warehouse, settings, day, collect(wanted, settings))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(
            "SELECT count(*), count(DISTINCT (platform, handle, day)) FROM snapshots"
        ).fetchall() == [(2 * len(wanted), 2 * len(wanted))]
        assert con.execute(
            "SELECT DISTINCT source FROM snapshots WHERE platform = 'github'"
        ).fetchall() == [("api:github",)]


def test_audience_run_collects_stores_and_analyses(
    sim: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_api: None
) -> None:
    from audience.cli import main

    config = tmp_path / "audience.toml"
    config.write_text(
        '[[accounts]]\nplatform = "mastodon"\nhandle = "alice@mastodon.social"\n'
        '[[accounts]]\nplatform = "github"\nhandle = "octo-org/widget"\n'
        '[[accounts]]\nplatform = "youtube"\nhandle = "@cookingwithsam"\n'
        '[[accounts]]\nplatform = "x"\nhandle = "growthguru"\n'
    )
    for name, value in sim_environ(sim).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    warehouse = tmp_path / "w.duckdb"
    assert (
        main(
            [
                "--config",
                str(config),
                "--warehouse",
                str(warehouse),
                "accounts",
                "add",
                "bluesky:indie.dev",
            ]
        )
        == 0
    )
    assert (
        main(
            ["--config", str(config), "--warehouse", str(warehouse), "run", "--as-of", "2024-12-31"]
        )
        == 0
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT platform, source, followers_rounding FROM snapshots ORDER BY 1"
        ).fetchall()
        assert rows == [
            ("bluesky", "api:bluesky", None),
            ("github", "api:github", None),
            ("mastodon", "api:mastodon", None),
            ("x", "api:x", None),
            ("youtube", "api:youtube", "3 significant figures"),
        ]
        assert con.execute(
            "SELECT count(*) FROM collection_log WHERE outcome = 'ok'"
        ).fetchall() == [(5,)]
        assert con.execute(
            "SELECT display_name IS NOT NULL FROM accounts WHERE handle = 'growthguru'"
        ).fetchall() == [(True,)]
    # X is down for the next run: the others still land, and the exit status says so
    sim.simulator.set_faults("x", error_rate=1.0)
    monkeypatch.setenv("AUDIENCE_PLATFORMS__X__MAX_RETRIES", "1")
    assert (
        main(
            ["--config", str(config), "--warehouse", str(warehouse), "run", "--as-of", "2025-01-01"]
        )
        == 3
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(outcome, reason)] = con.execute(
            "SELECT outcome, reason FROM collection_log WHERE platform = 'x' AND day = '2025-01-01'"
        ).fetchall()
        assert outcome == "unavailable"
        assert re.fullmatch(r"HTTP 50[023] from the platform \(gave up after 2 attempts\)", reason)
        assert con.execute(
            "SELECT count(*) FROM snapshots WHERE day = '2025-01-01'"
        ).fetchall() == [(4,)]


def test_reset_puts_the_simulator_back_as_a_test_found_it(sim: SimulatorServer) -> None:
    simulator, world = sim.simulator, sim.simulator.world
    last_day = world.today
    assert last_day == world.last_day
    active = simulator.state("x", "growthguru")
    assert active is not None
    simulator.set_faults("x", error_rate=1.0, missing=["growthguru"])
    simulator.set_limit("x", limit=1, window_s=60)
    world.set_status("x", "growthguru", "suspended")
    world.set_today(world.start)
    collect([("github", "user0")], load_settings(None, environ=sim_environ(sim)))
    assert simulator.stats["github:requests"] == 1
    assert ("github", "user0") in simulator.served
    assert simulator.state("x", "growthguru") is None  # missing, by the faults
    simulator.reset()
    assert (simulator.faults, simulator.limits, simulator.stats) == ({}, {}, {})
    assert world.today == last_day
    assert simulator.state("x", "growthguru") == active  # active again, on the last day
    assert simulator.served == {("x", "growthguru"): active.followers}  # only what state() served
