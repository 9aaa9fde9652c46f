"""Evaluation of the detector on labelled scenarios, and on real GitHub-star series (issue #4).

Prints figures; asserts nothing. Scenarios (one year of daily counts each, seeded):
organic accounts of many sizes and trends, viral spikes with posting bursts, bought bursts
and drips (sizes as panels sell them: packages of 100 and up, at least 5% of the audience),
a platform-wide purge and a platform-wide surge, follow/unfollow churn, YouTube's
3-significant-figure rounding, collection gaps, and tiny accounts.

A suspected purchase is a true positive when it falls on an account with a purchase label
between the delivery's first day and 7 days after its last; anything else is a false flag.

Run: ./scripts/uv.sh run --locked python -m benchmarks.evaluate [--per-kind 150]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from audience.analysis import compute
from audience.config import DetectionSettings
from simulator.audiences import AccountSpec, Event, PlatformEvent, generate

START = date(2024, 1, 1)
DAYS = 365
REALDATA = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "realdata"
    / "github_stars"
    / "random80_repos_daily_2024.csv"
)


def _size(rng: np.random.Generator) -> tuple[int, float]:
    """An audience and its organic pace: about 0.5% to 5% a month (signals.md S10), with a tail
    of fast growers up to about 15% a month."""
    start = int(rng.lognormal(8, 2)) + 200
    monthly = float(np.clip(rng.lognormal(np.log(0.02), 0.8), 0.003, 0.15))
    return start, max(start * monthly / 30, 0.3)


def _package(rng: np.random.Generator, audience: float, low: float, high: float) -> int:
    return int(max(100, round(audience * rng.uniform(low, high), -2)))


def scenarios(
    per_kind: int, seed: int
) -> tuple[list[AccountSpec], list[PlatformEvent], dict[str, str]]:
    rng = np.random.default_rng(seed)
    specs: list[AccountSpec] = []
    kind_of: dict[str, str] = {}

    def add(kind: str, platform: str, **kw: object) -> None:
        start, rate = _size(rng)
        handle = f"{kind.replace('_', '-')}{len(specs)}"
        handle = {
            "mastodon": f"{handle}@sim.social",
            "youtube": f"@{handle}",
            "reddit": f"r/{handle}",
        }.get(platform, handle)
        spec = AccountSpec(
            platform,
            handle,
            int(kw.pop("start", start)),
            float(kw.pop("rate", rate)),  # type: ignore[arg-type]
            trend=float(rng.uniform(0.6, 2.5)),
            posts_per_day=float(rng.uniform(0.2, 5)),
            overdispersion=float(rng.uniform(0.2, 0.6)),
            **kw,
        )  # type: ignore[arg-type]
        specs.append(spec)
        kind_of[f"{platform}:{handle}"] = kind

    spread_over = ("x", "github", "instagram", "twitch")
    for i in range(per_kind):
        platform = spread_over[i % len(spread_over)]
        add("organic", platform)
        day = int(rng.integers(60, DAYS - 40))
        start, rate = _size(rng)
        add(
            "burst_purchase",
            platform,
            start=start,
            rate=rate,
            events=(
                Event(
                    "burst_purchase",
                    day,
                    _package(rng, start + rate * day, 0.05, 0.6),
                    retention=float(rng.uniform(0.2, 1.0)),
                ),
            ),
        )
        start, rate = _size(rng)
        add(
            "drip_purchase",
            platform,
            start=start,
            rate=rate,
            events=(
                Event(
                    "drip_purchase",
                    day,
                    _package(rng, start + rate * day, 0.05, 0.5),
                    days=int(rng.integers(5, 11)),
                    retention=float(rng.uniform(0.2, 1.0)),
                ),
            ),
        )
        add("viral", platform, events=(Event("viral", day, float(rng.uniform(8, 40))),))
        add("churn", platform, events=(Event("churn", day, float(rng.integers(80, 300)), days=28),))
        add("gaps", platform, gap_rate=0.15)
        add("tiny", platform, start=int(rng.integers(5, 150)), rate=float(rng.uniform(0.05, 1.0)))
        start, rate = _size(rng)
        add("youtube_rounding", "youtube", start=start + 2_000, rate=rate, following=None)
        add("purge", "mastodon")
        add("surge", "bluesky")
    events = [
        PlatformEvent("mastodon", "purge", 200, 0.03),
        PlatformEvent("bluesky", "surge", 150, 25.0),
    ]
    return specs, events, kind_of


def evaluate(per_kind: int, seed: int) -> None:
    specs, events, kind_of = scenarios(per_kind, seed)
    t0 = time.perf_counter()
    generated = generate(specs, START, DAYS, seed, events)
    snapshots = generated.snapshots.rename({"date": "day"})
    anomalies = compute(snapshots, START + timedelta(days=DAYS - 1), DetectionSettings()).anomalies
    elapsed = time.perf_counter() - t0
    labels = generated.labels
    purchases = labels.filter(pl.col("kind").is_in(["burst_purchase", "drip_purchase"]))
    windows = {
        (r["platform"], r["handle"]): (
            r["day"],
            r["day"] + timedelta(days=r["days"] + 7),
            r["kind"],
        )
        for r in purchases.iter_rows(named=True)
    }
    event_days = {(e.platform, START + timedelta(days=e.day)) for e in events}
    suspected = anomalies.filter(pl.col("suspected_purchase"))
    tp, fp_by_kind, found = 0, Counter[str](), set()
    on_event_days = 0
    for r in suspected.iter_rows(named=True):
        key = (r["platform"], r["handle"])
        window = windows.get(key)
        if (r["platform"], r["day"]) in event_days:
            on_event_days += 1
        if window and window[0] <= r["day"] <= window[1]:
            tp += 1
            found.add(key)
        else:
            fp_by_kind[kind_of[f"{key[0]}:{key[1]}"]] += 1
    fp = sum(fp_by_kind.values())
    print(
        f"{len(specs):,} accounts x {DAYS} days ({snapshots.height:,} snapshots) analysed in {elapsed:.1f} s"
    )
    print(f"suspected purchases: {suspected.height}; true {tp}, false {fp}")
    print(
        f"precision {tp / max(tp + fp, 1):.3f}   recall {len(found) / max(len(windows), 1):.3f} "
        f"({len(found)} of {len(windows)} purchases found)"
    )
    by_kind = Counter(kind_of[f"{p}:{h}"] for p, h in windows)
    found_kind = Counter(kind_of[f"{p}:{h}"] for p, h in found)
    print("\nrecall per purchase kind:")
    for kind in ("burst_purchase", "drip_purchase"):
        print(
            f"  {kind:16s} {found_kind[kind] / by_kind[kind]:.3f} ({found_kind[kind]}/{by_kind[kind]})"
        )
    _missed_by_size(purchases, found, snapshots)
    clean = Counter(v for v in kind_of.values() if not v.endswith("purchase"))
    years = DAYS / 365
    print("\nfalse suspected purchases per clean scenario kind (per account-year):")
    for kind, n in sorted(clean.items()):
        print(
            f"  {kind:16s} {fp_by_kind[kind]:4d} on {n} accounts = {fp_by_kind[kind] / (n * years):.3f}"
        )
    clean_fp = sum(fp_by_kind[k] for k in clean)
    print(
        f"all clean accounts: {clean_fp / (sum(clean.values()) * years):.4f} false flags per account-year"
    )
    print(f"suspected purchases on platform-event days: {on_event_days}")
    attributions = (
        anomalies.filter(pl.col("day").is_in([d for _, d in event_days]))
        .group_by("platform", "kind", "attribution")
        .len()
    )
    print("anomalies on platform-event days by attribution:", attributions.sort("platform").rows())


def _missed_by_size(
    purchases: pl.DataFrame, found: set[tuple[str, str]], snapshots: pl.DataFrame
) -> None:
    before = (
        snapshots.join(
            purchases.select("platform", "handle", pl.col("day").alias("pday"), "size", "kind"),
            on=["platform", "handle"],
        )
        .filter(pl.col("day") < pl.col("pday"))
        .group_by("platform", "handle", "size", "kind")
        .agg(pl.col("followers").last())
    )
    rows = before.with_columns((pl.col("size") / pl.col("followers")).alias("rel"))
    buckets = [(0.0, 0.1), (0.1, 0.25), (0.25, 1.0), (1.0, 1e9)]
    print("recall by purchase size (share of the audience):")
    for low, high in buckets:
        part = rows.filter((pl.col("rel") >= low) & (pl.col("rel") < high))
        hit = sum(1 for r in part.iter_rows(named=True) if (r["platform"], r["handle"]) in found)
        if part.height:
            print(
                f"  {low:>5.0%} to {high if high < 1e8 else float('inf'):>5.0%}: {hit}/{part.height} = {hit / part.height:.3f}"
            )


def real_github_stars() -> None:
    print(
        f"\nnegative control: real GitHub star counts ({REALDATA.name}; source EvanLi/Github-Ranking, MIT)"
    )
    if not REALDATA.exists():
        print(f"  not found at {REALDATA}: skipped")
        return
    raw = pl.read_csv(REALDATA, try_parse_dates=True)
    snapshots = raw.select(
        pl.lit("github").alias("platform"),
        pl.col("repo").str.to_lowercase().alias("handle"),
        pl.col("date").alias("day"),
        pl.col("stars").alias("followers"),
    )
    t = DetectionSettings()
    anomalies = compute(snapshots, date(2024, 12, 31), t).anomalies
    suspected = anomalies.filter(pl.col("suspected_purchase"))
    repos = snapshots.select("handle").n_unique()
    print(
        f"  {repos} repositories, {snapshots.height:,} daily counts; {anomalies.height} anomalies, "
        f"{suspected.height} suspected purchases "
        f"({suspected.height / repos:.3f} per repository-year)"
    )
    print(
        "  by kind and attribution:",
        anomalies.group_by("kind", "attribution").len().sort("len", descending=True).rows(),
    )
    for r in suspected.iter_rows(named=True):
        print(f"  - {r['handle']} {r['day']} {r['kind']}: {r['explanation']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-kind", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    evaluate(args.per_kind, args.seed)
    real_github_stars()


if __name__ == "__main__":
    main()
