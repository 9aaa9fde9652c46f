"""Gap-aware daily series: one row per account per day, missing days filled by interpolation.

A change across a stretch of missing days is spread evenly over the days it covers, so a
three-day collection gap followed by a catch-up is never read as a one-day jump.
"""

from __future__ import annotations

from datetime import date

import polars as pl

ACCOUNT = ("platform", "handle")


def daily_series(snapshots: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Return a daily series per account up to `as_of` (inclusive).

    Input columns: platform, handle, day, followers, and optionally following, posts.
    Output adds: observed (the figure was seen that day, not interpolated), spread_days
    (length of the interval the day's change was spread over), daily_gain, and
    interpolated followers/following/posts (Float64).
    """
    optional: list[str] = [c for c in ("following", "posts") if c in snapshots.columns]
    obs = snapshots.filter(pl.col("day") <= as_of).select(
        *ACCOUNT,
        "day",
        pl.col("followers").cast(pl.Float64),
        *[pl.col(c).cast(pl.Float64) for c in optional],
    )
    if obs.is_empty():
        return _empty(optional)
    grid = (
        obs.group_by(ACCOUNT)
        .agg(pl.date_ranges(pl.col("day").min(), pl.col("day").max(), "1d").first().alias("day"))
        .explode("day")
    )
    frame = grid.join(obs, on=[*ACCOUNT, "day"], how="left").sort(*ACCOUNT, "day")
    observed_day = pl.when(pl.col("followers").is_not_null()).then(pl.col("day"))
    frame = frame.with_columns(
        pl.col("followers").is_not_null().alias("observed"),
        observed_day.shift(1).forward_fill().over(ACCOUNT).alias("_prev_obs"),
        observed_day.backward_fill().over(ACCOUNT).alias("_next_obs"),
        *[pl.col(c).interpolate().over(ACCOUNT) for c in ("followers", *optional)],
    )
    return frame.with_columns(
        (pl.col("_next_obs") - pl.col("_prev_obs"))
        .dt.total_days()
        .cast(pl.Int32)
        .alias("spread_days"),
        pl.col("followers").diff().over(ACCOUNT).alias("daily_gain"),
    ).drop("_prev_obs", "_next_obs")


def _empty(optional: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "platform": pl.String,
            "handle": pl.String,
            "day": pl.Date,
            "followers": pl.Float64,
            **{c: pl.Float64 for c in optional},
            "observed": pl.Boolean,
            "spread_days": pl.Int32,
            "daily_gain": pl.Float64,
        }
    )
