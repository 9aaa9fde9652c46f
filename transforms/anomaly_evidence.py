"""The evidence the verdict ladder reads (transforms.verdicts.judge), built from one anomaly's
row: its excess profile, its posting, the follower sample joined to it, and the engagement
of the account's posts around it (pure, no I/O)."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from transforms.engagement import JumpReading, jump_reading
from transforms.excess_profile import PROFILE, Evidence, SampleEvidence
from transforms.series import ACCOUNT


def evidence(row: dict[str, Any], as_of: date, daily: dict[date, float] | None = None) -> Evidence:
    """What the verdict of one anomaly row reads (its window already set for a drip);
    `daily`: the account's median interactions per post by day, where sampled."""
    kind = row["kind"]
    drip = kind == "drip" and row["drip_first"] is not None
    last = row["window_end"] if drip else row["day"]
    gaps = int(row["profile_gaps"] or 0)
    return Evidence(
        kind=kind,
        attribution=row["attribution"],
        age_days=(as_of - last).days,
        sigma=row["profile_sigma"] if row["profile_sigma"] is not None else float("nan"),
        baseline=row["profile_median"] if row["profile_median"] is not None else float("nan"),
        profile=[float("nan") if row[n] is None else float(row[n]) for n in PROFILE],
        interpolated=[bool(gaps >> i & 1) for i in range(len(PROFILE))],
        length=(row["window_end"] - row["window_start"]).days + 1 if drip else 1,
        posts_recent=row["posts_recent"],
        posts_usual=row["posts_usual"],
        start_posts=row["trigger_posts"],
        start_usual=row["trigger_usual"],
        sample=_sample(row),
        engagement=_engagement(row, daily),
    )


def _engagement(row: dict[str, Any], daily: dict[date, float] | None) -> JumpReading | None:
    """The engagement reading of a growth row: its excess (a drip's: what its window carried)
    against the audience before it, read on the account's daily interactions per post."""
    if not daily or row["kind"] not in ("spike", "drip"):
        return None
    drip = row["kind"] == "drip"
    amount = row["drip_carried"] if drip else row["excess"]
    before = row["drip_before"] if drip else row["followers_prev"]
    if amount is None or not before or before <= 0:
        return None
    first, last = (row["window_start"], row["window_end"]) if drip else (row["day"], row["day"])
    return jump_reading(daily, first, last, amount / before)


SAMPLE_FIELDS = ("what", "size", "flagged", "share_low", "share_high", "baseline_share", "p_value")


def _sample(row: dict[str, Any]) -> SampleEvidence | None:
    """The follower sample joined to the row (columns sample_*), if one was taken."""
    if row.get("sample_size") is None:
        return None
    return SampleEvidence(
        str(row["sample_what"]),
        int(row["sample_size"]),
        int(row["sample_flagged"]),
        float(row["sample_share_low"]),
        float(row["sample_share_high"]),
        float(row["sample_baseline_share"]),
        float(row["sample_p_value"]),
    )


def daily_interactions(
    engagement: pl.DataFrame | None, anomalies: pl.DataFrame, as_of: date
) -> dict[tuple[str, str], dict[date, float]]:
    """The median interactions per post of the anomalies' accounts, by account and day, up to
    `as_of` (a later day's sample is not known on it)."""
    if engagement is None or not engagement.height:
        return {}
    known = (
        engagement.select(*ACCOUNT, pl.col("day").cast(pl.Date), "median_interactions")
        .filter(pl.col("day") <= as_of, pl.col("median_interactions").is_not_null())
        .join(anomalies.select(ACCOUNT).unique(), on=ACCOUNT, how="semi")
    )
    daily: dict[tuple[str, str], dict[date, float]] = {}
    for platform, handle, day, median in known.iter_rows():
        daily.setdefault((platform, handle), {})[day] = float(median)
    return daily
