"""Per-account summary as of a day: growth standing, milestone projection and quality metrics.

Input: the last 91 days of daily metrics (at least) and the anomalies of the same span.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from transforms.growth import milestone_expr, size_tier
from transforms.series import ACCOUNT

WINDOW_DAYS = 90
GROWTH_COLUMNS = (
    "growth_abs_7",
    "growth_abs_28",
    "growth_rel_28",
    "growth_abs_90",
    "growth_rel_90",
    "avg_daily_gain_28",
)
# the daily-metric columns the summary reads (besides the account and the day)
READS = ("followers", "following", "posts", "daily_gain", "baseline_median", *GROWTH_COLUMNS)


# the summary's columns, in order
COLUMNS = (
    "platform",
    "handle",
    "as_of",
    "last_day",
    "followers",
    "following",
    "posts",
    "size_tier",
    *GROWTH_COLUMNS,
    "growth_percentile",
    "next_milestone",
    "days_to_milestone",
    "milestone_date",
    "follower_following_ratio",
    "followers_per_post_90",
    "growth_consistency",
    "flagged_gain_90",
    "flagged_growth_share_90",
    "suspected_purchases_90",
    "spike_retention_7",
    "spike_retention_30",
)


def account_summary(metrics: pl.DataFrame, anomalies: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """One row per account with a figure on or before `as_of`."""
    recent = metrics.filter(pl.col("day") <= as_of)
    if recent.is_empty():
        return pl.DataFrame()
    # an integer account id, when the metrics carry one, groups faster than two strings
    key = ["aid"] if "aid" in recent.columns else list(ACCOUNT)
    since = pl.lit(as_of) - pl.duration(days=WINDOW_DAYS)
    window = recent.filter(pl.col("day") > since)
    latest = recent.group_by(key).agg(pl.all().get(pl.col("day").arg_max()))
    summary = (
        latest.join(_consistency(window, key, as_of), on=key, how="left")
        .join(_posts_90(window, key), on=key, how="left")
        .join(_flagged_90(anomalies, as_of), on=list(ACCOUNT), how="left")
        .join(_spike_retention(anomalies), on=list(ACCOUNT), how="left")
        .with_columns(
            size_tier().alias("size_tier"),
            milestone_expr().alias("next_milestone"),
            pl.lit(as_of).alias("as_of"),
            pl.col("day").alias("last_day"),
            pl.col("flagged_gain_90").fill_null(0.0),
            pl.col("suspected_purchases_90").fill_null(0).cast(pl.Int32),
        )
        .with_columns(_standing())
        .with_columns(
            pl.when(pl.col("days_to_milestone") < 36_500)
            .then(pl.lit(as_of) + pl.duration(days=pl.col("days_to_milestone").cast(pl.Int64)))
            .alias("milestone_date")
        )
    )
    return summary.select(COLUMNS).sort(ACCOUNT)


def _consistency(window: pl.DataFrame, key: list[str], as_of: date) -> pl.DataFrame:
    """The share of the window's weeks (counted back from `as_of`) with a net gain."""
    return (
        window.with_columns(((pl.lit(as_of) - pl.col("day")).dt.total_days() // 7).alias("week"))
        .group_by(*key, "week")
        .agg(pl.col("daily_gain").sum().alias("gain"))
        .group_by(key)
        .agg((pl.col("gain") > 0).mean().alias("growth_consistency"))
    )


def _posts_90(window: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """Posts over the window: the last known post count less the first."""
    return window.group_by(key).agg(
        (pl.col("posts").drop_nulls().last() - pl.col("posts").drop_nulls().first()).alias(
            "posts_90"
        )
    )


def _flagged_90(anomalies: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The suspected purchases of the window: how many, and the gain beyond normal they carry."""
    return (
        anomalies.filter(
            (pl.col("day") > as_of - timedelta(days=WINDOW_DAYS)) & pl.col("suspected_purchase")
        )
        .group_by(ACCOUNT)
        .agg(
            pl.col("excess").clip(lower_bound=0).sum().alias("flagged_gain_90"),
            pl.len().alias("suspected_purchases_90"),
        )
    )


def _spike_retention(anomalies: pl.DataFrame) -> pl.DataFrame:
    """The mean retention at 7 and 30 days of the account's own spikes."""
    return (
        anomalies.filter((pl.col("kind") == "spike") & (pl.col("attribution") == "account"))
        .group_by(ACCOUNT)
        .agg(
            pl.col("retention_7").mean().alias("spike_retention_7"),
            pl.col("retention_30").mean().alias("spike_retention_30"),
        )
    )


def _standing() -> list[pl.Expr]:
    """The account's standing among its peers and its ratios: a table of column expressions."""
    return [
        (
            pl.col("growth_rel_28").rank("average").over("platform", "size_tier")
            / pl.col("growth_rel_28").count().over("platform", "size_tier")
            * 100
        ).alias("growth_percentile"),
        pl.when(pl.col("following") > 0)
        .then(pl.col("followers") / pl.col("following"))
        .alias("follower_following_ratio"),
        pl.when(pl.col("posts_90") > 0)
        .then(pl.col("growth_abs_90") / pl.col("posts_90"))
        .alias("followers_per_post_90"),
        pl.when(pl.col("growth_abs_90") > 0)
        .then((pl.col("flagged_gain_90") / pl.col("growth_abs_90")).clip(upper_bound=1.0))
        .alias("flagged_growth_share_90"),
        pl.when(_pace() > 0)
        .then(((pl.col("next_milestone") - pl.col("followers")) / _pace()).ceil())
        .alias("days_to_milestone"),
    ]


def _pace() -> pl.Expr:
    """The daily gain a milestone is projected at: the 28 days' average, but no more than the
    usual day's (their median) when that is known and positive, so that a jump (a purchase
    under watch, a viral day) does not bring the date forward. A median of 0 (YouTube's
    rounded counts stay flat for days) leaves the average."""
    average, usual = pl.col("avg_daily_gain_28"), pl.col("baseline_median")
    return pl.when(usual > 0).then(pl.min_horizontal(average, usual)).otherwise(average)
