"""The detector on the independent generator (`benchmarks.field_scenarios`): honest figures.

A suspected purchase is right when it falls on an account with a purchase between the
purchase's first day and 7 days after its last; anything else is a false accusation. A
purchase is "surfaced" when an anomaly in that window is `suspected_purchase` or
`unexplained` (shown to a person). An organic event (viral moment, single upload, launch
ramp, growth inside a gap) is falsely accused when any anomaly from its first day to 14 days
after its last is `suspected_purchase`.

Run: ./scripts/uv.sh run --locked python -m benchmarks.evaluate_field [--per-kind 60] [--seed 3]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import timedelta

import polars as pl

from benchmarks.field_scenarios import START, field_scenarios
from core.detection import DetectionSettings
from transforms.compute import compute

SURFACED = ("suspected_purchase", "unexplained")


def verdicts(anomalies: pl.DataFrame) -> pl.DataFrame:
    """The anomalies with a `verdict` (derived from attribution on code that has none)."""
    if "verdict" in anomalies.columns:
        return anomalies
    return anomalies.with_columns(
        pl.when(pl.col("suspected_purchase"))
        .then(pl.lit("suspected_purchase"))
        .when(pl.col("attribution") == "account")
        .then(pl.lit("organic"))
        .otherwise(pl.col("attribution"))
        .alias("verdict")
    )


def score(
    anomalies: pl.DataFrame, labels: pl.DataFrame, scenario_of: dict[str, str], days: int
) -> None:
    judged = verdicts(anomalies)
    purchases = labels.filter(pl.col("kind") == "purchase")
    organic = labels.filter(pl.col("kind") == "organic")
    windows: dict[tuple[str, str], list[tuple[object, object]]] = {}
    for r in purchases.iter_rows(named=True):
        windows.setdefault((r["platform"], r["handle"]), []).append(
            (r["first"], r["last"] + timedelta(days=7))
        )

    def in_purchase(row: dict[str, object]) -> bool:
        return any(
            a <= row["day"] <= b for a, b in windows.get((row["platform"], row["handle"]), [])
        )  # type: ignore[operator]

    suspected = judged.filter(pl.col("verdict") == "suspected_purchase")
    tp = sum(in_purchase(r) for r in suspected.iter_rows(named=True))
    fp_rows = [r for r in suspected.iter_rows(named=True) if not in_purchase(r)]
    fp_by = Counter(scenario_of[f"{r['platform']}:{r['handle']}"] for r in fp_rows)

    def hit(row: dict[str, object], verdict_set: tuple[str, ...], after: int) -> bool:
        mine = judged.filter(
            (pl.col("platform") == row["platform"])
            & (pl.col("handle") == row["handle"])
            & pl.col("day").is_between(row["first"], row["last"] + timedelta(days=after))
            & pl.col("verdict").is_in(list(verdict_set))
        )
        return mine.height > 0

    rows = list(purchases.iter_rows(named=True))
    found = Counter(r["event"] for r in rows if hit(r, ("suspected_purchase",), 7))
    surfaced = Counter(r["event"] for r in rows if hit(r, SURFACED, 7))
    total = Counter(r["event"] for r in rows)
    organic_rows = list(organic.iter_rows(named=True))
    accused = Counter(r["event"] for r in organic_rows if hit(r, ("suspected_purchase",), 14))
    organic_total = Counter(r["event"] for r in organic_rows)

    print(f"suspected purchases: {suspected.height}; right {tp}, wrong {len(fp_rows)}")
    print(f"precision of suspected_purchase: {tp / max(tp + len(fp_rows), 1):.3f}")
    print(
        f"recall as suspected_purchase: {sum(found.values()) / max(len(rows), 1):.3f}; "
        f"surfaced (suspected or unexplained): {sum(surfaced.values()) / max(len(rows), 1):.3f} "
        f"of {len(rows)} purchases"
    )
    for event in sorted(total):
        print(
            f"  {event:14s} suspected {found[event]}/{total[event]}, surfaced {surfaced[event]}/{total[event]}"
        )
    print(
        f"organic events judged suspected_purchase: {sum(accused.values())}/{len(organic_rows)} "
        f"= {sum(accused.values()) / max(len(organic_rows), 1):.3%}"
    )
    for event in sorted(organic_total):
        print(f"  {event:14s} {accused[event]}/{organic_total[event]}")
    bought = set(purchases.select(pl.concat_str("platform", pl.lit(":"), "handle")).to_series())
    clean = {k for k in scenario_of if k not in bought}
    years = days / 365
    by_verdict = Counter(
        r["verdict"]
        for r in judged.iter_rows(named=True)
        if f"{r['platform']}:{r['handle']}" in clean
    )
    print(f"verdicts on clean accounts, per account-year ({len(clean)} accounts):")
    for verdict, n in sorted(by_verdict.items()):
        print(f"  {verdict:20s} {n / (len(clean) * years):.4f}")
    print("false suspected purchases by scenario:", dict(fp_by))


def evaluate(per_kind: int, seed: int, days: int = 365) -> None:
    snapshots, labels, scenario_of = field_scenarios(per_kind, seed, days)
    t0 = time.perf_counter()
    as_of = START + timedelta(days=days - 1)
    anomalies = compute(snapshots, as_of, DetectionSettings()).anomalies
    print(
        f"independent generator (seed {seed}): {len(scenario_of):,} accounts x {days} days, "
        f"{snapshots.height:,} snapshots, analysed in {time.perf_counter() - t0:.1f} s"
    )
    score(anomalies, labels, scenario_of, days)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-kind", type=int, default=60)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    evaluate(args.per_kind, args.seed, args.days)


if __name__ == "__main__":
    main()
