"""Gap-aware daily series: one row per account per day, missing days filled by interpolation.

A change across a stretch of missing days is spread evenly over the days it covers, so a
three-day collection gap followed by a catch-up is never read as a one-day jump. A gap longer
than `max_gap_days` ([detection] max_gap_days) is not filled: it stays a gap, the series of
the account resumes after it as a new segment (no interpolated rows, no daily gain on its
first day, no look-back across it), so one stray figure years away cannot invent decades of
history.

Built with whole-array operations (no per-account loops): segments (an account's days between
long gaps) are laid out one after another, each from its first to its last observed day, so
interpolation never crosses from one segment into the next (both ends of every segment are
observations).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from transforms.rolling import first_rows

ACCOUNT = ("platform", "handle")
VALUES = ("followers", "following", "posts")
EPOCH = date(1970, 1, 1)
MAX_GAP_DAYS = 31  # the default of [detection] max_gap_days


@dataclass(frozen=True)
class Observations:
    """Snapshots as arrays, sorted by account id and day; NaN where a figure is unknown."""

    aid: np.ndarray  # int32 account id
    day: np.ndarray  # int32 days since 1970-01-01
    values: dict[str, np.ndarray]  # followers, following, posts as float64

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> Observations:
        """From a frame sorted by aid and day (transforms.rolling.with_account_ids)."""
        values = {
            name: frame.get_column(name).cast(pl.Float64).fill_null(np.nan).to_numpy()
            if name in frame.columns
            else np.full(frame.height, np.nan)
            for name in VALUES
        }
        return cls(
            frame.get_column("aid").cast(pl.Int32).to_numpy(),
            frame.get_column("day").cast(pl.Int32).to_numpy(),
            values,
        )

    def until(self, as_of: date) -> Observations:
        keep = self.day <= (as_of - EPOCH).days
        if keep.all():
            return self
        return Observations(
            self.aid[keep], self.day[keep], {k: v[keep] for k, v in self.values.items()}
        )

    def slice(self, start: int, end: int) -> Observations:
        return Observations(
            self.aid[start:end],
            self.day[start:end],
            {k: v[start:end] for k, v in self.values.items()},
        )


@dataclass(frozen=True)
class Series:
    """The daily series as arrays: every day of each account from its first to its last figure."""

    aid: np.ndarray
    day: np.ndarray
    values: dict[str, np.ndarray]  # interpolated across gaps
    observed: np.ndarray  # the figure was seen that day
    # int32: the length of the interval the day's change was spread over (0: none)
    spread_days: np.ndarray
    daily_gain: np.ndarray  # NaN on each segment's first day
    starts: np.ndarray  # index of each segment's first row (an account's, or after a long gap)

    def __len__(self) -> int:
        return len(self.aid)


def segment_starts(aid: np.ndarray, day: np.ndarray, max_gap_days: int) -> np.ndarray:
    """Index of the first row of each segment: an account's first row, and each row that comes
    more than `max_gap_days` days after the one before it (rows sorted by account and day)."""
    starts = first_rows(aid)
    if len(aid) == 0:
        return starts
    breaks = np.zeros(len(aid), dtype=bool)
    breaks[starts] = True
    breaks[1:] |= np.diff(day) > max_gap_days
    return np.flatnonzero(breaks)


def build_series(obs: Observations, max_gap_days: int = MAX_GAP_DAYS) -> Series:
    """The gap-aware daily series of observations sorted by account and day.

    Gaps of up to `max_gap_days` days between two figures are interpolated; a longer one
    splits the account into segments that share nothing (see the module's docstring).
    """
    aid, day = obs.aid, obs.day
    starts = segment_starts(aid, day, max_gap_days)
    if len(aid) == 0:
        empty = np.zeros(0)
        return Series(aid, day, {k: empty for k in VALUES}, np.zeros(0, bool), day, empty, starts)
    ends = np.r_[starts[1:], len(day)] - 1
    first_day = day[starts]
    lengths = day[ends] - first_day + 1
    offsets = np.r_[0, np.cumsum(lengths)[:-1]]
    account_of_row = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(day)]))
    position = offsets[account_of_row] + (day - first_day[account_of_row])
    size = int(lengths.sum())

    observed = np.zeros(size, dtype=bool)
    observed[position] = True
    # a day's change is spread over the interval to the next observation (0 on an account's
    # first day): each observation's gap, repeated over the days it covers
    gap = np.r_[0, np.diff(day)].astype(np.int32)
    gap[starts] = 0
    spread = np.repeat(gap, np.where(gap > 0, gap, 1))
    index = np.arange(size)
    account_grid = np.repeat(np.arange(len(starts)), lengths)
    values = {}
    for name, column in obs.values.items():
        grid = np.full(size, np.nan)
        grid[position] = column
        values[name] = _interpolate_within(grid, account_grid)
    followers = values["followers"]
    gain = np.r_[np.nan, np.diff(followers)]
    gain[offsets] = np.nan
    return Series(
        aid=np.repeat(aid[starts], lengths),
        day=(np.repeat(first_day - offsets, lengths) + index).astype(np.int32),
        values=values,
        observed=observed,
        spread_days=spread,
        daily_gain=gain,
        starts=offsets,
    )


def _interpolate_within(values: np.ndarray, account: np.ndarray) -> np.ndarray:
    """Linear interpolation of NaNs, only between two known values of the same segment.

    The same figures as np.interp (slope times distance, plus the value before).
    """
    known = ~np.isnan(values)
    if known.all() or not known.any():
        return values
    at = np.flatnonzero(~known)
    positions = np.flatnonzero(known)
    after = np.searchsorted(positions, at)
    inside = (after > 0) & (after < len(positions))
    at, after = at[inside], after[inside]
    right, left = positions[after], positions[after - 1]
    same = account[left] == account[right]
    at, left, right = at[same], left[same], right[same]
    out = values.copy()
    slope = (values[right] - values[left]) / (right - left)
    out[at] = slope * (at - left) + values[left]
    return out


def named_frame(
    columns: dict[str, np.ndarray], names: pl.DataFrame, values: Sequence[str]
) -> pl.DataFrame:
    """Arrays (aid, day as a day number, `values`) as a frame with each account's platform and
    handle from `names` (aid, platform, handle); NaN becomes null, and so does a spread of 0."""
    if not columns:
        return pl.DataFrame()
    frame = pl.DataFrame(
        {
            "aid": pl.Series(columns["aid"], dtype=pl.Int32),
            "day": pl.Series(columns["day"], dtype=pl.Int32).cast(pl.Date),
        }
        | {
            name: columns[name] if columns[name].dtype.kind in "bi" else nullable(columns[name])
            for name in values
        }
    )
    if "spread_days" in frame.columns:
        frame = frame.with_columns(pl.col("spread_days").cast(pl.Int32).replace(0, None))
    return frame.join(
        names.select(pl.col("aid").cast(pl.Int32), *ACCOUNT),
        on="aid",
        how="left",
        maintain_order="left",
    ).select("aid", *ACCOUNT, "day", *values)


def nullable(values: np.ndarray) -> pl.Series:
    """A float array as a Polars column, NaN (unknown) as null."""
    return pl.Series(values, nan_to_null=True)


Arrays = dict[str, np.ndarray]  # columns of equal length


def concat(parts: list[Arrays]) -> Arrays:
    """Columns of several chunks, one after another."""
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]} if parts else {}
