"""Evaluation of the detector on two labelled generators and on real GitHub-star series.

Prints figures; asserts nothing. The same scores for both generators (benchmarks.evaluate_field):
precision of `suspected_purchase`, recall of purchases as `suspected_purchase` and as surfaced
(`suspected_purchase` or `unexplained`), organic events judged `suspected_purchase`, and
verdicts per clean account-year. The independent generator (benchmarks.field_scenarios) is
written from documented behaviour; the simulator's own is below. Simulator scenarios (one year of daily counts each, seeded):
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
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.evaluate_field import SURFACED, score
from benchmarks.evaluate_field import evaluate as evaluate_field
from benchmarks.field_scenarios import LABEL_SCHEMA
from core.detection import DetectionSettings
from simulator.audiences import AccountSpec, Event, PlatformEvent, generate
from transforms.compute import compute

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
    """The simulator's generator: its labels as events, scored like the independent one."""
    specs, events, kind_of = scenarios(per_kind, seed)
    t0 = time.perf_counter()
    generated = generate(specs, START, DAYS, seed, events)
    snapshots = generated.snapshots.rename({"date": "day"})
    anomalies = compute(snapshots, START + timedelta(days=DAYS - 1), DetectionSettings()).anomalies
    elapsed = time.perf_counter() - t0
    print(
        f"simulator's generator (seed {seed}): {len(specs):,} accounts x {DAYS} days "
        f"({snapshots.height:,} snapshots) analysed in {elapsed:.1f} s"
    )
    labels = _labels(generated.labels, events, specs)
    score(anomalies, labels, {k: v.replace("_purchase", "") for k, v in kind_of.items()}, DAYS)
    event_days = [START + timedelta(days=e.day) for e in events]
    print(
        "anomalies on platform-event days by verdict:",
        anomalies.filter(pl.col("day").is_in(event_days))
        .group_by("platform", "kind", "verdict")
        .len()
        .sort("platform", "kind", "verdict")
        .rows(),
    )
    purchases = generated.labels.filter(pl.col("kind").is_in(["burst_purchase", "drip_purchase"]))
    surfaced = {
        (r["platform"], r["handle"])
        for r in anomalies.filter(pl.col("verdict").is_in(SURFACED)).iter_rows(named=True)
    }
    _missed_by_size(purchases, surfaced, snapshots)


def _labels(
    labels: pl.DataFrame, events: list[PlatformEvent], specs: list[AccountSpec]
) -> pl.DataFrame:
    """The simulator's labels as the independent generator's: purchases (first and last day of
    delivery), organic events (viral moments, a week), platform events (one day)."""
    kinds = {"burst_purchase": "purchase", "drip_purchase": "purchase", "viral": "organic"}
    rows = [
        {
            "platform": r["platform"],
            "handle": r["handle"],
            "scenario": r["kind"],
            "kind": kinds[r["kind"]],
            "event": r["kind"].replace("_purchase", ""),
            "first": r["day"],
            "last": r["day"]
            + timedelta(days=max(int(r["days"]), 1) - 1 + (6 if r["kind"] == "viral" else 0)),
        }
        for r in labels.iter_rows(named=True)
        if r["kind"] in kinds
    ]
    for e in events:
        day = START + timedelta(days=e.day)
        rows += [
            {
                "platform": s.platform,
                "handle": s.handle,
                "scenario": e.kind,
                "kind": "platform",
                "event": e.kind,
                "first": day,
                "last": day,
            }
            for s in specs
            if s.platform == e.platform
        ]
    return pl.DataFrame(rows, schema=LABEL_SCHEMA)


def _missed_by_size(
    purchases: pl.DataFrame, found: set[tuple[str, str]], snapshots: pl.DataFrame
) -> None:
    """Purchases surfaced (suspected or unexplained) by their share of the audience."""
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
    print("surfaced recall by purchase size (share of the audience):")
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
    print("  by verdict:", anomalies.group_by("verdict").len().sort("verdict").rows())
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
    for r in anomalies.filter(pl.col("verdict").is_in(SURFACED)).iter_rows(named=True):
        print(f"  - {r['handle']} {r['day']} {r['kind']} [{r['verdict']}]: {r['explanation']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-kind", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--field-per-kind", type=int, default=60)
    parser.add_argument("--field-seed", type=int, default=3)
    args = parser.parse_args()
    evaluate(args.per_kind, args.seed)
    print()
    evaluate_field(args.field_per_kind, args.field_seed)
    real_github_stars()


if __name__ == "__main__":
    main()
