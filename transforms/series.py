"""Gap-aware daily series: one row per account per day, missing days filled by interpolation.

A change across a stretch of missing days is spread evenly over the days it covers, so a
three-day collection gap followed by a catch-up is never read as a one-day jump.

Built with whole-column operations (no per-account windows): accounts are laid out one after
another, each from its first to its last observed day, so interpolation never crosses from
one account into the next (both ends of every account are observations).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from transforms.layout import with_account_ids

ACCOUNT = ("platform", "handle")


def daily_series(snapshots: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Return a daily series per account up to `as_of` (inclusive), sorted by account and day.

    Input columns: platform, handle, day, followers, optionally following, posts, and `aid`
    (an integer account id; when given, the input must be sorted by aid and day). Output adds
    aid, observed (the figure was seen that day, not interpolated), spread_days (the length
    of the interval the day's change was spread over) and daily_gain; followers, following
    and posts become Float64, interpolated across gaps.
    """
    optional: list[str] = [c for c in ("following", "posts") if c in snapshots.columns]
    keep = ["aid"] if "aid" in snapshots.columns else []
    obs = with_account_ids(
        snapshots.filter(pl.col("day") <= as_of).select(
            *keep,
            *ACCOUNT,
            "day",
            pl.col("followers").cast(pl.Float64),
            *[pl.col(c).cast(pl.Float64) for c in optional],
        )
    )
    if obs.is_empty():
        return _empty(optional)
    aid = obs.get_column("aid").to_numpy()
    day = obs.get_column("day").cast(pl.Int32).to_numpy()
    first_row = np.r_[True, aid[1:] != aid[:-1]]
    starts = np.flatnonzero(first_row)
    first_day = day[starts]
    last_day = day[np.r_[starts[1:] - 1, len(day) - 1]]
    lengths = last_day - first_day + 1
    offsets = np.r_[0, np.cumsum(lengths)[:-1]]
    account_of_row = np.cumsum(first_row) - 1
    position = offsets[account_of_row] + (day - first_day[account_of_row])
    size = int(lengths.sum())

    observed = np.zeros(size, dtype=bool)
    observed[position] = True
    gap = np.where(first_row, 0, np.r_[0, np.diff(day)])  # days since the previous observation
    gap_grid = np.full(size, np.nan)
    gap_grid[position] = gap
    account_grid = np.repeat(np.arange(len(starts)), lengths)
    day_grid = np.repeat(first_day, lengths) + (np.arange(size) - np.repeat(offsets, lengths))

    columns: dict[str, object] = {
        "aid": np.repeat(aid[starts], lengths),
        "platform": obs.get_column("platform").gather(pl.Series(starts[account_grid])),
        "handle": obs.get_column("handle").gather(pl.Series(starts[account_grid])),
        "day": pl.Series(day_grid.astype(np.int32)).cast(pl.Date),
    }
    frame = pl.DataFrame(columns)
    values = {}
    for name in ("followers", *optional):
        grid = np.full(size, np.nan)
        grid[position] = obs.get_column(name).to_numpy()
        values[name] = pl.Series(name, _interpolate_within(grid, account_grid)).fill_nan(None)
    frame = frame.with_columns(*values.values())
    # a day's change is spread over the interval to the next observation (0 marks an account's start)
    spread = pl.Series("spread_days", gap_grid).fill_nan(None).backward_fill()
    first_grid = np.zeros(size, dtype=bool)
    first_grid[offsets] = True
    return frame.with_columns(
        pl.Series("observed", observed),
        pl.when(spread > 0).then(spread).cast(pl.Int32).alias("spread_days"),
        pl.when(pl.Series(first_grid))
        .then(None)
        .otherwise(pl.col("followers").diff())
        .alias("daily_gain"),
    ).select(
        "aid", *ACCOUNT, "day", "followers", *optional, "observed", "spread_days", "daily_gain"
    )


def _interpolate_within(values: np.ndarray, account: np.ndarray) -> np.ndarray:
    """Linear interpolation of NaNs, only between two known values of the same account."""
    index = np.arange(len(values))
    known = ~np.isnan(values)
    if not known.any():
        return values
    previous = np.maximum.accumulate(np.where(known, index, -1))
    following = np.minimum.accumulate(np.where(known, index, len(values))[::-1])[::-1]
    inside = (previous >= 0) & (following < len(values))
    inside[inside] &= account[previous[inside]] == account[following[inside]]
    filled = np.interp(index, index[known], values[known])
    return np.where(known, values, np.where(inside, filled, np.nan))


def _empty(optional: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "aid": pl.Int32,
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
