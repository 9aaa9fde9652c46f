"""Why the detector misses purchases of the independent generator: one line per missed purchase.

A diagnostic for `benchmarks.evaluate_field`: for each purchase not surfaced (no
`suspected_purchase` or `unexplained` anomaly from its first day to 7 days after its last),
its platform, kind and days, its size against the audience, the account's daily noise (the
robust sigma of its baseline, also as a share of the audience), the strongest margin each
growth rule reached over the purchase (a margin above 1 is a flag; the spike and drip margins
are their smallest ratio to a threshold), and the anomalies the detector did raise there,
with their verdicts and evidence.

Run: ./scripts/uv.sh run --locked python -m benchmarks.field_misses [--seed 3] [--per-kind 60]
"""

from __future__ import annotations

import argparse
from datetime import timedelta

import polars as pl

from benchmarks.evaluate_field import SURFACED
from benchmarks.field_scenarios import START, field_scenarios
from core.detection import DetectionSettings
from transforms.compute import compute


def misses(per_kind: int, seed: int, days: int = 365) -> pl.DataFrame:
    """The purchases not surfaced, with what the detector saw of each."""
    snapshots, labels, _ = field_scenarios(per_kind, seed, days)
    result = compute(snapshots, START + timedelta(days=days - 1), DetectionSettings(), threads=1)
    metrics, anomalies = result.metrics, result.anomalies
    rows = []
    for p in labels.filter(pl.col("kind") == "purchase").iter_rows(named=True):
        mine = pl.col("platform") == p["platform"], pl.col("handle") == p["handle"]
        end = p["last"] + timedelta(days=7)
        raised = anomalies.filter(*mine, pl.col("day").is_between(p["first"], end))
        if raised.filter(pl.col("verdict").is_in(SURFACED)).height:
            continue
        days_of = metrics.filter(*mine).sort("day")
        before = days_of.filter(pl.col("day") == p["first"] - timedelta(days=1)).row(0, named=True)
        last = days_of.filter(pl.col("day") == p["last"]).row(0, named=True)
        over = days_of.filter(pl.col("day").is_between(p["first"], end))
        length = (p["last"] - p["first"]).days + 1
        size = last["followers"] - before["followers"] - length * max(before["baseline_median"], 0)
        audience = before["followers"]
        rows.append(
            {
                "platform": p["platform"],
                "event": p["event"],
                "days": length,
                "audience": audience,
                "size": size,
                "size_share": size / audience,
                "sigma": before["baseline_sigma"],
                "sigma_share": before["baseline_sigma"] / audience,
                "size_sigmas": size / (before["baseline_sigma"] * length**0.5),
                "spike_margin": over.get_column("spike_margin").max(),
                "max_z": over.get_column("robust_z").max(),
                "drip_margin": over.get_column("drip_margin").max(),
                "drip_z": over.get_column("drip_z").max(),
                "raised": "; ".join(
                    f"{r['kind']} {r['day']} {r['verdict']} [{','.join(r['evidence'])}]"
                    for r in raised.iter_rows(named=True)
                )
                or "-",
            }
        )
    return pl.DataFrame(rows, infer_schema_length=None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-kind", type=int, default=60)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=250, fmt_str_lengths=120):
        print(f"purchases not surfaced (seed {args.seed}):")
        print(misses(args.per_kind, args.seed))


if __name__ == "__main__":
    main()
