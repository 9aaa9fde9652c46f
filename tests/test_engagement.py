"""Engagement on recent posts (issue 15.1): read over real HTTP from the simulator (whose
interactions come from the organic audience only), stored per account and day, compared with
the platform's size tier in account_metrics and the audit; and the pure readings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
import polars as pl
import pytest

from core.settings import Settings, load_settings
from pipeline.analyse import run_analysis
from pipeline.collect import fetch, store
from pipeline.engagement import collect_engagement
from simulator.audiences import AccountSpec, Event
from simulator.feeds import POST
from simulator.server import Simulator, SimulatorServer
from simulator.world import World
from tests.support.cli import Result
from tests.support.clock import FakeClock
from transforms.engagement import read_jump, summarise, tier_comparison
from warehouse.db import open_warehouse

START = date(2024, 6, 1)
DAYS = 120
BOUGHT = "bought.bsky.social"
ORGANIC = [f"org{i}.bsky.social" for i in range(8)]
MASTODON = ["ann@sim.social", "ben@sim.social"]
X = ["xposter", "xwriter", "xreader"]
X_TOKEN = "sim-x-bearer"  # the simulator takes any token; the test checks this one never shows
NOW = datetime(2024, 9, 29, 3, 30, tzinfo=UTC)


def _world() -> World:
    specs = [
        AccountSpec("bluesky", h, 4_000 + 150 * i, 5, posts_per_day=2)
        for i, h in enumerate(ORGANIC)
    ]
    # 1,000 organic followers and 5,000 bought on day 30, all kept: a 6,000-follower audience
    # with the engagement of 1,000
    specs.append(
        AccountSpec(
            "bluesky",
            BOUGHT,
            1_000,
            1,
            posts_per_day=2,
            events=(Event("burst_purchase", 30, 5_000),),
        )
    )
    specs += [AccountSpec("mastodon", h, 2_000, 5, posts_per_day=1) for h in MASTODON]
    specs.append(
        AccountSpec("github", "acme/rocket", 3_000, 10, posts_per_day=None, following=None)
    )
    specs.append(AccountSpec("github", "janedoe", 400, 2, posts_per_day=None, following=80))
    specs += [AccountSpec("x", h, 3_000 + 500 * i, 5, posts_per_day=2) for i, h in enumerate(X)]
    return World(specs, START, DAYS, seed=11)


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(Simulator(_world(), seed=3)) as running:
        yield running


@pytest.fixture
def sim(server: SimulatorServer) -> Iterator[SimulatorServer]:
    yield server
    server.simulator.reset()


def _settings(server: SimulatorServer, **extra: str) -> Settings:
    return load_settings(environ=server.environ() | extra)


def rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


ACCOUNTS = [("bluesky", h) for h in [*ORGANIC, BOUGHT]] + [("mastodon", h) for h in MASTODON]


def _counts(
    warehouse: Path, settings: Settings, day: date, accounts: list[tuple[str, str]]
) -> None:
    results = fetch(accounts, settings)
    assert {r.outcome for r in results} == {"ok"}
    store(warehouse, settings, day, results)


def _today(server: SimulatorServer) -> date:
    today = server.simulator.world.today
    assert today is not None
    return today


def test_engagement_is_stored_per_account_and_day_with_its_rate(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    wh, settings, day = tmp_path / "wh.duckdb", _settings(sim), _today(sim)
    accounts = [*ACCOUNTS, ("github", "janedoe"), ("youtube", "@nokey")]
    _counts(wh, settings, day, accounts[:-1])
    summary = collect_engagement(wh, settings, day, accounts=accounts, now=NOW)
    assert summary.accounts == len(accounts)
    assert summary.outcomes == {"ok": len(ACCOUNTS), "no_interaction_figure": 1, "skipped": 1}
    with open_warehouse(wh, read_only=True) as con:
        stored = rows(con, "SELECT * FROM engagement ORDER BY platform, handle")
    by = {(r["platform"], r["handle"]): r for r in stored}
    assert len(stored) == len(accounts)
    for key in ACCOUNTS:
        row = by[key]
        assert row["day"] == day
        assert 0 < row["posts_sampled"] <= 30  # the newest 30 items, reposts left out
        assert row["total_interactions"] >= row["median_interactions"] > 0
        assert row["engagement_rate"] == pytest.approx(
            row["median_interactions"] / row["followers"]
        )
    assert by[("github", "janedoe")]["outcome"] == "no_interaction_figure"
    assert "no interaction figure" in by[("github", "janedoe")]["reason"]
    assert by[("youtube", "@nokey")]["reason"] == "needs AUDIENCE_YOUTUBE_API_KEY"
    # a second read of the same day replaces, never duplicates
    collect_engagement(wh, settings, day, accounts=accounts, now=NOW)
    with open_warehouse(wh, read_only=True) as con:
        again = rows(con, "SELECT count(*) AS n FROM engagement")
    assert again[0]["n"] == len(accounts)


def _analysed_bluesky(sim: SimulatorServer, tmp_path: Path) -> tuple[Path, date]:
    """Today's counts and engagement of the Bluesky accounts, analysed."""
    wh, settings, day = tmp_path / "wh.duckdb", _settings(sim), _today(sim)
    bluesky = [a for a in ACCOUNTS if a[0] == "bluesky"]
    _counts(wh, settings, day, bluesky)
    collect_engagement(wh, settings, day, accounts=bluesky, now=NOW)
    run_analysis(wh, settings, day)
    return wh, day


def test_bought_followers_show_a_lower_rate_than_their_tier(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    wh, _ = _analysed_bluesky(sim, tmp_path)
    with open_warehouse(wh, read_only=True) as con:
        metrics = {
            r["handle"]: r
            for r in rows(
                con,
                "SELECT handle, size_tier, engagement_rate, engagement_tier_median, "
                "engagement_tier_accounts, engagement_vs_tier, engagement_comparison "
                "FROM account_metrics",
            )
        }
    bought = metrics[BOUGHT]
    assert bought["size_tier"] == "1k-10k"
    assert bought["engagement_tier_accounts"] == len(ORGANIC)
    assert bought["engagement_comparison"] == "below_tier"
    assert bought["engagement_vs_tier"] < 0.5
    assert all(metrics[h]["engagement_rate"] > bought["engagement_rate"] for h in ORGANIC)
    assert {metrics[h]["engagement_comparison"] for h in ORGANIC} == {"typical_for_tier"}


def test_the_audit_shows_the_rate_against_the_tier(
    sim: SimulatorServer, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    wh, day = _analysed_bluesky(sim, tmp_path)
    result = cli("--warehouse", wh, "audit", "--as-of", str(day), f"bluesky:{BOUGHT}")
    assert "below the" in result.out, result.out
    assert "other tracked bluesky accounts of its size (1k-10k)" in result.out
    as_json = cli("--warehouse", wh, "audit", "--format", "json", f"bluesky:{BOUGHT}")
    assert '"engagement_comparison": "below_tier"' in as_json.out


def test_rate_limits_are_waited_for_not_exceeded(sim: SimulatorServer, tmp_path: Path) -> None:
    wh, settings, day = tmp_path / "wh.duckdb", _settings(sim), _today(sim)
    _counts(wh, settings, day, ACCOUNTS)
    limited = httpx.post(
        f"{sim.url}/_sim/audience-limits/bluesky",
        json={"bucket": "appview", "limit": 4, "window_s": 1},
    )
    assert limited.status_code == 200
    before = httpx.get(f"{sim.url}/_sim/stats").json()
    summary = collect_engagement(wh, settings, day, accounts=ACCOUNTS, now=NOW)
    after = httpx.get(f"{sim.url}/_sim/stats").json()
    assert summary.outcomes == {"ok": len(ACCOUNTS)}
    assert after.get("bluesky:429", 0) == before.get("bluesky:429", 0)
    assert after["bluesky:requests"] - before["bluesky:requests"] == len(ORGANIC) + 1


def test_a_platforms_accounts_are_read_concurrently_within_its_bound(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    # each answer delayed: read one account after the other, a platform never has two requests
    # in flight; read concurrently, it has several, never more than its max_concurrency
    wh, day = tmp_path / "wh.duckdb", _today(sim)
    settings = _settings(sim, AUDIENCE_PLATFORMS__BLUESKY__MAX_CONCURRENCY="3")
    bluesky = [a for a in ACCOUNTS if a[0] == "bluesky"]
    _counts(wh, settings, day, bluesky)
    sim.simulator.set_faults("bluesky", latency_s=0.05)
    before = httpx.get(f"{sim.url}/_sim/stats").json()
    summary = collect_engagement(wh, settings, day, accounts=bluesky, now=NOW)
    after = httpx.get(f"{sim.url}/_sim/stats").json()
    assert summary.outcomes == {"ok": len(bluesky)}
    assert after["bluesky:requests"] - before["bluesky:requests"] == len(bluesky)
    assert after["bluesky:in_flight_max"] == 3
    with open_warehouse(wh, read_only=True) as con:
        spent = rows(con, "SELECT DISTINCT requests FROM engagement")
    assert spent == [{"requests": 1}]  # each account's own requests, not its neighbours'


def test_a_500_on_the_feed_costs_engagement_rows_not_the_counts(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    wh, settings, day = tmp_path / "wh.duckdb", _settings(sim), _today(sim)
    _counts(wh, settings, day, ACCOUNTS)
    sim.simulator.set_faults("bluesky", error_rate=1.0)
    summary = collect_engagement(wh, settings, day, accounts=ACCOUNTS, now=NOW)
    assert summary.outcomes == {"unavailable": len(ORGANIC) + 1, "ok": len(MASTODON)}
    with open_warehouse(wh, read_only=True) as con:
        failed = rows(con, "SELECT reason FROM engagement WHERE outcome = 'unavailable'")
        counts = rows(con, "SELECT count(*) AS n FROM snapshots WHERE day = ?", [day])
        log = rows(con, "SELECT DISTINCT outcome FROM collection_log")
    assert len(failed) == len(ORGANIC) + 1
    assert all(r["reason"].startswith("HTTP 50") and "gave up after" in r["reason"] for r in failed)
    assert counts[0]["n"] == len(ACCOUNTS)
    assert log == [{"outcome": "ok"}]


def test_mastodon_engagement_uses_the_stored_id_and_looks_up_a_stale_or_odd_one(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    """The count collection stored each Mastodon account's id: its engagement is one request
    (statuses), not two (lookup, then statuses). An id the server no longer knows (404) is
    looked up again; one that is not a Mastodon id never reaches a URL."""
    wh, settings, day = tmp_path / "wh.duckdb", _settings(sim), _today(sim)
    mastodon = [a for a in ACCOUNTS if a[0] == "mastodon"]
    _counts(wh, settings, day, mastodon)

    def read() -> dict[str, dict[str, Any]]:
        collect_engagement(wh, settings, day, accounts=mastodon, now=NOW)
        with open_warehouse(wh, read_only=True) as con:
            found = rows(con, "SELECT * FROM engagement WHERE platform = 'mastodon'")
        return {r["handle"]: r for r in found}

    first = read()
    assert {r["outcome"] for r in first.values()} == {"ok"}
    assert {r["requests"] for r in first.values()} == {1}
    stale, odd = MASTODON[0], MASTODON[1]
    with open_warehouse(wh) as con:
        con.execute("UPDATE accounts SET platform_id = '999999999' WHERE handle = ?", [stale])
        con.execute("UPDATE accounts SET platform_id = '1/../../x' WHERE handle = ?", [odd])
    again = read()
    assert again[stale]["requests"] == 3  # statuses (404), lookup, statuses
    assert again[odd]["requests"] == 2  # lookup, statuses
    for handle in (stale, odd):
        assert again[handle]["outcome"] == "ok"
        assert again[handle]["total_interactions"] == first[handle]["total_interactions"]


def test_an_unknown_account_and_an_invalid_handle_are_outcomes(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    wh, settings, day = tmp_path / "wh.duckdb", _settings(sim), _today(sim)
    _counts(wh, settings, day, ACCOUNTS[:1])
    accounts = [
        ("bluesky", "nobody.bsky.social"),
        ("mastodon", "ghost@sim.social"),
        ("bluesky", "bad handle\x1b"),
    ]
    summary = collect_engagement(wh, settings, day, accounts=accounts, now=NOW)
    assert summary.outcomes == {"not_found": 2, "invalid_handle": 1}
    with open_warehouse(wh, read_only=True) as con:
        stored = rows(con, "SELECT handle, outcome, followers, engagement_rate FROM engagement")
    assert all(r["engagement_rate"] is None for r in stored)


def test_engagement_off_reads_nothing(sim: SimulatorServer, tmp_path: Path) -> None:
    wh, day = tmp_path / "wh.duckdb", _today(sim)
    settings = _settings(sim, AUDIENCE_ENGAGEMENT__ENABLED="false")
    before = httpx.get(f"{sim.url}/_sim/stats").json()
    summary = collect_engagement(wh, settings, day, accounts=ACCOUNTS, now=NOW)
    assert summary.accounts == 0
    assert summary.stored == 0
    assert httpx.get(f"{sim.url}/_sim/stats").json() == before
    off = _settings(sim, AUDIENCE_ENGAGEMENT__MASTODON="false")
    assert not off.engagement.allows("mastodon")
    assert off.engagement.allows("bluesky")
    assert not off.engagement.allows("x")  # paid: off by default


# --- X: paid, read only where the token's tier allows it ------------------------------------

X_ACCOUNTS = [("x", h) for h in X]
X_ON = {"AUDIENCE_X_BEARER_TOKEN": X_TOKEN, "AUDIENCE_ENGAGEMENT__X": "true"}


def _served_interactions(sim: SimulatorServer, handle: str, posts: int) -> list[int]:
    """From the simulator's own post log: the account's newest `posts` posts of its own (no
    retweet, no reply) visible today, likes + retweets + replies + quotes each."""
    log = sim.simulator.audiences.posts("x", handle)
    assert log is not None
    visible = log.visible(sim.simulator.audiences.day(log))
    own = visible[log.kind[visible] == POST][:posts]
    return [int(log.likes[i] + log.reposts[i] + log.replies[i] + log.quotes[i]) for i in own]


def test_x_engagement_is_what_the_simulator_served(sim: SimulatorServer, tmp_path: Path) -> None:
    wh, day = tmp_path / "wh.duckdb", _today(sim)
    settings = _settings(sim, **X_ON)
    _counts(wh, settings, day, X_ACCOUNTS)
    before = httpx.get(f"{sim.url}/_sim/stats").json()
    summary = collect_engagement(wh, settings, day, accounts=X_ACCOUNTS, now=NOW)
    after = httpx.get(f"{sim.url}/_sim/stats").json()
    assert summary.outcomes == {"ok": len(X)}
    # a user lookup and one page of the timeline each, all answered 200
    assert after["x:requests"] - before.get("x:requests", 0) == 2 * len(X)
    assert after["x:200"] - before.get("x:200", 0) == 2 * len(X)
    with open_warehouse(wh, read_only=True) as con:
        stored = {r["handle"]: r for r in rows(con, "SELECT * FROM engagement")}
    for handle in X:
        served = _served_interactions(sim, handle, settings.engagement.posts)
        row = stored[handle]
        assert len(served) == settings.engagement.posts == row["posts_sampled"] == 30
        assert row["total_interactions"] == sum(served) > 0
        assert row["median_interactions"] == pytest.approx(float(np.median(served)))
        assert row["engagement_rate"] == pytest.approx(
            row["median_interactions"] / sim.simulator.world.figures("x", handle).followers  # type: ignore[union-attr]
        )
        assert (row["outcome"], row["reason"], row["requests"]) == ("ok", None, 2)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"AUDIENCE_ENGAGEMENT__X": "true"}, "needs AUDIENCE_X_BEARER_TOKEN"),
        (
            {"AUDIENCE_X_BEARER_TOKEN": X_TOKEN},  # [engagement] x is off by default
            "engagement on x is off in the settings ([engagement] x)",
        ),
        (
            X_ON | {"AUDIENCE_ENGAGEMENT__X": "false"},
            "engagement on x is off in the settings ([engagement] x)",
        ),
    ],
    ids=["no-token", "off-by-default", "switched-off"],
)
def test_x_without_the_token_or_switched_off_is_skipped_unasked(
    sim: SimulatorServer, tmp_path: Path, extra: dict[str, str], reason: str
) -> None:
    wh, day = tmp_path / "wh.duckdb", _today(sim)
    before = httpx.get(f"{sim.url}/_sim/stats").json()
    summary = collect_engagement(
        wh, _settings(sim, **extra), day, accounts=X_ACCOUNTS + ACCOUNTS[:1], now=NOW
    )
    after = httpx.get(f"{sim.url}/_sim/stats").json()
    assert summary.outcomes == {"skipped": len(X), "ok": 1}
    assert after.get("x:requests", 0) == before.get("x:requests", 0)  # X was never asked
    with open_warehouse(wh, read_only=True) as con:
        stored = rows(con, "SELECT * FROM engagement WHERE platform = 'x'")
    assert {(r["outcome"], r["reason"], r["posts_sampled"], r["requests"]) for r in stored} == {
        ("skipped", reason, None, 0)
    }


@pytest.mark.parametrize("paths", [["/tweets"], []], ids=["timeline-only", "whole-app"])
def test_an_x_tier_without_access_is_one_clear_outcome_for_its_accounts(
    sim: SimulatorServer, tmp_path: Path, paths: list[str]
) -> None:
    wh, day = tmp_path / "wh.duckdb", _today(sim)
    settings = _settings(sim, **X_ON)
    _counts(wh, settings, day, ACCOUNTS)
    # the token's tier has no access: the timeline (or every v2 endpoint) answers 403
    refused = httpx.post(f"{sim.url}/_sim/faults/x", json={"tier_forbidden": True, "paths": paths})
    assert refused.status_code == 200
    before = httpx.get(f"{sim.url}/_sim/stats").json()
    summary = collect_engagement(wh, settings, day, accounts=ACCOUNTS + X_ACCOUNTS, now=NOW)
    after = httpx.get(f"{sim.url}/_sim/stats").json()
    assert summary.outcomes == {"ok": len(ACCOUNTS), "auth_failed": len(X)}
    # one 403 an account, never retried
    assert after["x:403"] - before.get("x:403", 0) == len(X)
    with open_warehouse(wh, read_only=True) as con:
        failed = rows(
            con, "SELECT outcome, reason, posts_sampled FROM engagement WHERE platform = 'x'"
        )
        others = rows(con, "SELECT DISTINCT outcome FROM engagement WHERE platform <> 'x'")
        counts = rows(con, "SELECT count(*) AS n FROM snapshots WHERE day = ?", [day])
    assert {r["reason"] for r in failed} == {
        "HTTP 403 client-not-enrolled: the X token's access tier does not include this "
        "endpoint (X asks for: Appropriate Level of API Access)"
    }
    assert all(r["posts_sampled"] is None for r in failed)
    assert others == [{"outcome": "ok"}]
    assert counts[0]["n"] == len(ACCOUNTS)


def test_an_unknown_or_suspended_x_user_is_its_outcome_not_a_malformed_answer(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    wh, day = tmp_path / "wh.duckdb", _today(sim)
    sim.simulator.world.set_status("x", X[1], "suspended")
    accounts = [("x", "nobody_here"), ("x", X[1]), ("x", X[0])]
    summary = collect_engagement(wh, _settings(sim, **X_ON), day, accounts=accounts, now=NOW)
    assert summary.outcomes == {"not_found": 1, "suspended": 1, "ok": 1}
    with open_warehouse(wh, read_only=True) as con:
        stored = {r["handle"]: r for r in rows(con, "SELECT * FROM engagement")}
    assert stored["nobody_here"]["reason"] == "Could not find user with username: [nobody_here]."
    assert stored[X[1]]["reason"] == f"User has been suspended: [{X[1]}]."
    assert stored["nobody_here"]["requests"] == stored[X[1]]["requests"] == 1  # the lookup only


def test_x_timeline_limit_is_waited_for_not_exceeded(sim: SimulatorServer, tmp_path: Path) -> None:
    wh, day = tmp_path / "wh.duckdb", _today(sim)
    settings = _settings(sim, **X_ON)
    clock = FakeClock()
    sim.simulator.use_clock(clock.now)  # the simulator's windows on the test's virtual time
    limited = httpx.post(
        f"{sim.url}/_sim/audience-limits/x",
        json={"bucket": "user_tweets", "limit": 1, "window_s": 900},
    )
    assert limited.status_code == 200
    summary = collect_engagement(wh, settings, day, accounts=X_ACCOUNTS, now=NOW, clock=clock)
    stats = httpx.get(f"{sim.url}/_sim/stats").json()
    assert summary.outcomes == {"ok": len(X)}
    assert stats.get("x:429", 0) == 0
    # one timeline read a 15-minute window: the other two waited for the next windows
    assert clock.elapsed >= 2 * 900 - clock.start % 900


# --- the pure parts ------------------------------------------------------------------------


def test_summarise() -> None:
    s = summarise([3, 1, 10, 2], 200.0)
    assert (s.posts_sampled, s.median_interactions, s.total_interactions) == (4, 2.5, 16)
    assert s.engagement_rate == pytest.approx(2.5 / 200)
    assert summarise([], 100.0).engagement_rate is None
    assert summarise([5], 0.0).engagement_rate is None
    assert summarise([5], None).engagement_rate is None
    with pytest.raises(ValueError, match="negative"):
        summarise([1, -2], 10.0)


def _rates(values: list[tuple[str, str, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "platform": ["bluesky"] * len(values),
            "handle": [h for h, _, _ in values],
            "size_tier": [t for _, t, _ in values],
            "engagement_rate": [r for _, _, r in values],
        },
        schema={
            "platform": pl.String,
            "handle": pl.String,
            "size_tier": pl.String,
            "engagement_rate": pl.Float64,
        },
    )


def test_tier_comparison_against_the_others_of_the_tier() -> None:
    frame = _rates(
        [(f"a{i}", "1k-10k", 0.01 + 0.001 * i) for i in range(6)]
        + [("low", "1k-10k", 0.002), ("high", "1k-10k", 0.05), ("none", "1k-10k", None)]
        + [("big", "10k-100k", 0.01), ("big2", "10k-100k", 0.02)]
    )
    out = {r["handle"]: r for r in tier_comparison(frame).iter_rows(named=True)}
    assert out["low"]["engagement_comparison"] == "below_tier"
    assert out["low"]["engagement_tier_accounts"] == 7  # the six and "high", not itself
    assert out["high"]["engagement_comparison"] == "above_tier"
    assert out["a0"]["engagement_comparison"] == "typical_for_tier"
    assert out["none"]["engagement_comparison"] is None
    assert out["big"]["engagement_comparison"] == "tier_group_too_small"
    assert out["big"]["engagement_tier_accounts"] == 1
    assert out["big"]["engagement_vs_tier"] is None
    assert tier_comparison(frame, min_group=1).filter(pl.col("handle") == "big")[
        "engagement_vs_tier"
    ].item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="min_group"):
        tier_comparison(frame, min_group=0)


def test_read_jump() -> None:
    before = [10.0, 11, 9, 10, 12, 10, 9, 11] * 3
    # the audience grew by 40%; engagement flat: bought
    flat = read_jump(before, [10.0, 9, 11, 10, 10, 9, 10], 0.4)
    assert flat.reading == "no_engagement_rise"
    assert "purchase signal" in flat.text
    # engagement rose with it: organic
    rose = read_jump(before, [14.0, 15, 13, 16, 14, 15, 13], 0.4)
    assert rose.reading == "engagement_rose"
    assert rose.ratio == pytest.approx(14 / 10)
    # in between: inconclusive
    assert read_jump(before, [11.0, 11, 11, 11], 0.4).reading == "inconclusive"
    # too few days sampled
    short = read_jump(before[:3], [None, 14.0, None, None], 0.4)
    assert short.reading == "not_enough_data"
    assert "3 day(s) of samples before" in short.text
    # no interactions at all before
    assert read_jump([0.0] * 10, [0.0] * 5, 0.5).reading == "inconclusive"
    with pytest.raises(ValueError, match="gain_share"):
        read_jump(before, before, 0.0)
    with pytest.raises(ValueError, match="negative"):
        read_jump(before, [-1.0] * 5, 0.3)
