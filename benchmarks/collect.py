"""Benchmark: collecting from the simulator (issue #3). Prints figures; asserts nothing.

The simulator runs in its own process (so it does not share the client's interpreter) on
loopback. Three runs, each measured here:
  1. 10,000 accounts over eight platforms, rate limits off: accounts per second, requests per
     account overall and per platform (batching: Bluesky 25, YouTube 50, X 100, Twitch 100).
  2. 2,000 accounts with the platforms that announce windowed limits in headers limited to 100
     requests per 2-second window (each Mastodon server counted alone; YouTube's quota is daily
     and the Graph API announces no window), windows aligned as resets are: failed
     snapshots caused by the limits, and the time taken against the minimum the limits allow.
  3. 10,000 accounts with about 20% of requests failing transiently (5xx, truncated and malformed
     bodies, dropped connections, 429 bursts): every account must end with a snapshot or a
     recorded reason, nothing duplicated.

Run: ./scripts/uv.sh run --locked python -m benchmarks.collect [--accounts 10000]
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import httpx

from collectors.run import collect
from core.settings import Settings, load_settings
from drills.faults import collection_counts
from pipeline.collect import store
from simulator.budgets import DEFAULT_BUCKETS
from simulator.worlds import MASTODON_SERVERS, PLATFORMS, handle_for

SECRETS = {
    "AUDIENCE_YOUTUBE_API_KEY": "k",
    "AUDIENCE_X_BEARER_TOKEN": "b",
    "AUDIENCE_TWITCH_CLIENT_ID": "c",
    "AUDIENCE_TWITCH_TOKEN": "t",
    "AUDIENCE_REDDIT_CLIENT_ID": "r",
    "AUDIENCE_REDDIT_CLIENT_SECRET": "s",
    "AUDIENCE_INSTAGRAM_TOKEN": "i",
    "AUDIENCE_PLATFORMS__INSTAGRAM__ACCOUNT_ID": "1784140",
}


def start_simulator(accounts: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--accounts", str(accounts), "--days", "30"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"the simulator did not start: {line!r}")
    return proc, line.removeprefix("listening on ")


def settings_for(url: str, **extra: str) -> Settings:
    env = {f"AUDIENCE_PLATFORMS__{p.upper()}__BASE_URL": f"{url}/{p}" for p in PLATFORMS}
    env["AUDIENCE_PLATFORMS__MASTODON__BASE_URL"] = f"{url}/mastodon/{{host}}"
    env |= {f"AUDIENCE_PLATFORMS__{p.upper()}__MAX_CONCURRENCY": "8" for p in PLATFORMS}
    return load_settings(None, environ=env | SECRETS | extra)


def audience_limits_off(url: str) -> None:
    """The simulator's audience endpoints (feeds, follower lists, profiles) without their
    default limits (simulator/budgets.py: the platforms' real ones, on by default)."""
    for platform, buckets in DEFAULT_BUCKETS.items():
        for bucket in buckets:
            httpx.post(
                f"{url}/_sim/audience-limits/{platform}",
                json={"bucket": bucket.name, "limit": 10**9, "window_s": 1},
            ).raise_for_status()


def accounts_of(n: int) -> list[tuple[str, str]]:
    return [(PLATFORMS[i % 8], handle_for(PLATFORMS[i % 8], i // 8)) for i in range(n)]


def stats(url: str) -> Counter[str]:
    return Counter(httpx.get(f"{url}/_sim/stats").json())


# platforms that announce a windowed limit in their headers; YouTube's is a daily quota (no
# headers) and the Graph API's business-use limits are hourly and announce no window
WINDOWED = ("mastodon", "bluesky", "github", "x", "twitch", "reddit")


def reset(url: str, limit: int | None = None, window: int = 2, **faults: float) -> None:
    for p in PLATFORMS:
        httpx.post(f"{url}/_sim/faults/{p}", json=faults).raise_for_status()
        if limit is not None and p in WINDOWED:
            httpx.post(
                f"{url}/_sim/limits/{p}", json={"limit": limit, "window_s": window}
            ).raise_for_status()


def run_unlimited(url: str, n: int) -> None:
    wanted = accounts_of(n)
    before = stats(url)
    started = time.perf_counter()
    results = collect(wanted, settings_for(url))
    elapsed = time.perf_counter() - started
    after = stats(url) - before
    outcomes = Counter(str(r.outcome) for r in results)
    requests = sum(v for k, v in after.items() if k.endswith(":requests"))
    print(
        f"\n1. {n:,} accounts, limits off: {elapsed:.1f} s, {n / elapsed:,.0f} accounts/s, "
        f"{requests:,} requests = {requests / n:.2f} per account; outcomes {dict(outcomes)}"
    )
    per = Counter(p for p, _ in wanted)
    for platform in PLATFORMS:
        print(
            f"   {platform:9s} {per[platform]:5d} accounts {after[f'{platform}:requests']:6d} requests "
            f"= {after[f'{platform}:requests'] / per[platform]:.3f} per account"
        )


def minimum_time(wanted: list[tuple[str, str]], limit: int, window: int) -> float:
    """The least time the limits allow, from a window boundary: (windows needed - 1) x window."""
    requests: Counter[str] = Counter()
    for platform, handle in wanted:
        requests[f"mastodon:{handle.split('@')[1]}" if platform == "mastodon" else platform] += 1
    requests["reddit"] += 1  # the token
    for platform, size in (("bluesky", 25), ("x", 100), ("twitch", 100)):
        count = sum(1 for p, _ in wanted if p == platform)
        # batched lookups replace one request per account; Twitch still asks each follower total
        requests[platform] += math.ceil(count / size) - (count if platform != "twitch" else 0)
    return max(
        (math.ceil(n / limit) - 1) * window
        for key, n in requests.items()
        if key.split(":")[0] in WINDOWED
    )


def run_limited(url: str, n: int, limit: int = 100, window: int = 2) -> None:
    reset(url, limit=limit, window=window)
    wanted = accounts_of(n)
    time.sleep(window - time.time() % window)  # start at a window boundary, as the minimum assumes
    before = stats(url)
    started = time.perf_counter()
    results = collect(wanted, settings_for(url))
    elapsed = time.perf_counter() - started
    after = stats(url) - before
    refused = sum(v for k, v in after.items() if k.endswith(":limited"))
    failed = sum(1 for r in results if str(r.outcome) == "rate_limited")
    floor = minimum_time(wanted, limit, window)
    print(
        f"\n2. {n:,} accounts, {limit} requests per {window} s window on {', '.join(WINDOWED)} "
        f"(each of {len(MASTODON_SERVERS)} Mastodon servers alone): {elapsed:.2f} s against a minimum of "
        f"{floor:.2f} s ({elapsed / floor:.1%} of it, +{elapsed - floor:.2f} s); "
        f"{refused} requests refused by the limits; {failed} snapshots lost to rate limiting; "
        f"outcomes {dict(Counter(str(r.outcome) for r in results))}"
    )
    httpx.post(f"{url}/_sim/limits/none", json={"limit": 1, "window_s": 1})


def run_faulty(url: str, n: int) -> None:
    for p in PLATFORMS:  # limits off again (a huge limit), faults on
        httpx.post(
            f"{url}/_sim/limits/{p}", json={"limit": 10**9, "window_s": 1}
        ).raise_for_status()
    reset(
        url,
        error_rate=0.08,
        truncated_rate=0.04,
        malformed_rate=0.02,
        reset_rate=0.02,
        timeout_rate=0.01,
        timeout_s=2.0,
        burst_rate=0.004,
        burst_length=5,
    )
    wanted = accounts_of(n)
    before = stats(url)
    settings = settings_for(
        url,
        **{
            f"AUDIENCE_PLATFORMS__{p.upper()}__{k}": v
            for p in PLATFORMS
            for k, v in (("BACKOFF_S", "0.05"), ("TIMEOUT_S", "0.5"))
        },
    )
    started = time.perf_counter()
    results = collect(wanted, settings)
    elapsed = time.perf_counter() - started
    after = stats(url) - before
    injected = Counter({k.split(":")[-1]: 0 for k in after})
    for key, count in after.items():
        if ":fault:" in key:
            injected[key.split(":")[-1]] += count
    bad = sum(injected.values())
    requests = sum(v for k, v in after.items() if k.endswith(":requests"))
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp) / "w.duckdb"
        summary = store(warehouse, settings, date(2024, 6, 30), results)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            logged, distinct, snaps, snap_distinct, unexplained = collection_counts(con)
    print(
        f"\n3. {n:,} accounts, injected faults: {elapsed:.1f} s, {requests:,} requests of which about "
        f"{bad / max(requests, 1):.1%} ({bad:,}) answered with an injected fault {dict(+injected)}; outcomes {dict(Counter(str(r.outcome) for r in results))}"
    )
    print(
        f"   accounts {len(set(wanted)):,}, collection_log rows {logged:,} ({distinct:,} distinct), snapshots {snaps:,} "
        f"({snap_distinct:,} distinct), failures without a reason {unexplained}, written {summary.snapshots_written:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--limited-accounts", type=int, default=2_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    proc, url = start_simulator(max(args.accounts, args.limited_accounts))
    print(
        f"simulator with {max(args.accounts, args.limited_accounts):,} accounts up in {time.perf_counter() - t0:.1f} s at {url}"
    )
    try:
        run_unlimited(url, args.accounts)
        run_limited(url, args.limited_accounts)
        run_faulty(url, args.accounts)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
