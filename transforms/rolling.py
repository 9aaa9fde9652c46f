"""Rolling windows on the padded layout the transforms compute on: accounts one after another, with empty rows between.

Every per-account look-back or look-ahead becomes a plain array shift: `pad` NaN rows before
each account (and after the last) keep a shift of up to `pad` days from reaching into the
neighbouring account. This avoids per-account window functions, which cost a sort or a
grouping per expression and dominated the run time on millions of rows.

A value at a row depends only on the rows its window covers, never on where a chunk starts
(sums are taken window by window, not as running totals), so any chunking of accounts, and a
nightly run that loads only recent history, give the same figures as a full computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view


def with_account_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `aid` (0..n-1 in platform, handle order) and sort by account and day."""
    if "aid" in frame.columns:
        return frame.sort("aid", "day")
    accounts = (
        frame.select("platform", "handle").unique().sort("platform", "handle").with_row_index("aid")
    )
    return (
        frame.join(accounts, on=["platform", "handle"])
        .with_columns(pl.col("aid").cast(pl.Int32))
        .sort("aid", "day")
    )


def first_rows(key: np.ndarray) -> np.ndarray:
    """Index of the first row of each run of equal keys (the key sorted by account)."""
    if len(key) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, key[1:] != key[:-1]])


@dataclass(frozen=True)
class Layout:
    """Where each real row sits in the padded arrays."""

    position: np.ndarray  # padded index of each real row
    size: int  # length of the padded arrays

    @property
    def real(self) -> np.ndarray:
        """True on the real rows of the padded arrays."""
        mask = np.zeros(self.size, dtype=bool)
        mask[self.position] = True
        return mask

    def spread(self, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """The real rows' values in padded form, `fill` (NaN) in the padding."""
        out = np.full(self.size, fill, dtype=np.result_type(values.dtype, type(fill)))
        out[self.position] = values
        return out

    def take(self, padded: np.ndarray) -> np.ndarray:
        """The real rows of a padded array."""
        real: np.ndarray = padded[self.position]
        return real

    def take_mask(self, rows: np.ndarray) -> np.ndarray:
        """A mask of the padded arrays: true on the real rows where `rows` is true."""
        mask = np.zeros(self.size, dtype=bool)
        mask[self.position[rows]] = True
        return mask


def layout(starts: np.ndarray, rows: int, pad: int) -> Layout:
    """The layout of `rows` rows whose accounts begin at `starts`, with `pad` rows around each."""
    lengths = np.diff(np.r_[starts, rows])
    account = np.repeat(np.arange(len(starts)), lengths)
    return Layout(np.arange(rows) + pad * (account + 1), rows + pad * (len(starts) + 1))


def lag(x: np.ndarray, k: int) -> np.ndarray:
    """x shifted by k rows (k > 0: the value k rows before; k < 0: after), NaN where none."""
    out = np.empty_like(x)
    if k > 0:
        out[k:] = x[:-k]
        out[:k] = np.nan
    elif k < 0:
        out[:k] = x[-k:]
        out[k:] = np.nan
    else:
        out[:] = x
    return out


def change(x: np.ndarray, k: int) -> np.ndarray:
    """x minus its value k rows before (NaN where either is missing)."""
    out = np.empty_like(x)
    np.subtract(x[k:], x[:-k], out=out[k:])
    out[:k] = np.nan
    return out


def _rolling(x: np.ndarray, window: int, combine: np.ufunc) -> np.ndarray:
    """combine() over the last `window` values, NaN unless all of them are known.

    Built from partial results over 1, 2, 4, ... rows (log2(window) steps, not window - 1),
    each window from the same pieces wherever it lies, so the result does not depend on
    where the array starts.
    """
    pieces = {1: x}
    size = 1
    while size * 2 <= window:
        part = pieces[size]
        doubled = np.empty_like(part)
        combine(part[size:], part[:-size], out=doubled[size:])
        doubled[:size] = np.nan
        size *= 2
        pieces[size] = doubled
    out = pieces[size].copy()
    covered = size
    for length in sorted(pieces, reverse=True):
        if covered + length <= window:
            combine(out[covered:], pieces[length][:-covered], out=out[covered:])
            out[:covered] = np.nan
            covered += length
    out[: window - 1] = np.nan
    return out


def rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum of the last `window` values, NaN unless all of them are known."""
    return _rolling(x, window, np.add)


def rolling_max(x: np.ndarray, window: int) -> np.ndarray:
    """Largest of the last `window` values, NaN unless all of them are known."""
    return _rolling(x, window, np.maximum)


def rolling_quartiles(
    x: np.ndarray, window: int, min_samples: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, lower and upper quartile of the last `window` known values of x.

    NaN where fewer than `min_samples` values are known. The median interpolates linearly
    and the quartiles take the nearest value (rounding halves up), as Polars'
    rolling_median and rolling_quantile do: each window is sorted once for all three, a
    block of rows at a time so that the sorted windows stay in the CPU's cache.
    """
    n = len(x)
    if n == 0:
        return x.copy(), x.copy(), x.copy()
    total = np.r_[0, np.cumsum(~np.isnan(x))]
    counts = total[1:] - total[np.maximum(np.arange(n) + 1 - window, 0)]  # known values per window
    windows = sliding_window_view(np.r_[np.full(window - 1, np.nan), x], window)
    median, lower, upper = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    # the usual case, a full window: the same positions in every row, a block at a time
    low, high, frac = _median_at(window)
    q25, q75 = _nearest(window, 0.25), _nearest(window, 0.75)
    full = counts == window
    # two neighbouring full rows share all but one value each: one sort of their window + 1
    # values serves both (the k-th of the rest is the k-th, or the next one if the value
    # left out sorts before it)
    first, single = _pairs(full)
    joint = sliding_window_view(np.r_[np.full(window - 1, np.nan), x, np.nan], window + 1)
    for start in range(0, len(first), QUARTILE_BLOCK):
        rows = first[start : start + QUARTILE_BLOCK]
        values = joint[rows]  # a copy: rows' windows and the next value
        values.sort(axis=1)
        for row, left_out in ((rows, x[rows + 1]), (rows + 1, x[rows + 1 - window])):
            below, above, q25_, q75_ = (
                np.where(values[:, k] < left_out, values[:, k], values[:, k + 1])
                for k in (low, high, q25, q75)
            )
            median[row] = below + frac * (above - below)
            lower[row] = q25_
            upper[row] = q75_
    for start in range(0, len(single), QUARTILE_BLOCK):
        rows = single[start : start + QUARTILE_BLOCK]
        values = windows[rows]  # a copy: these rows' windows
        values.sort(axis=1)
        below, above = values[:, low], values[:, high]
        median[rows] = below + frac * (above - below)
        lower[rows] = values[:, q25]
        upper[rows] = values[:, q75]
    # an account's first weeks: fewer known values, which sort first (NaN goes last)
    at = np.flatnonzero((counts >= min_samples) & (counts < window))
    values = windows[at]
    values.sort(axis=1)
    known = counts[at]
    r = np.arange(len(at))
    middle = (known - 1) * 0.5
    lows = np.floor(middle).astype(np.int64)
    highs = np.minimum(lows + 1, known - 1)
    median[at] = values[r, lows] + (middle - lows) * (values[r, highs] - values[r, lows])
    lower[at] = values[r, np.floor((known - 1) * 0.25 + 0.5).astype(np.int64)]
    upper[at] = values[r, np.floor((known - 1) * 0.75 + 0.5).astype(np.int64)]
    return median, lower, upper


QUARTILE_BLOCK = 4096  # windows sorted together (4096 x 29 doubles: 950 kB)


def _pairs(full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows where `full` holds: (rows 2k whose row 2k + 1 holds too, the rows left alone)."""
    n = len(full) - len(full) % 2
    first = np.flatnonzero(full[0:n:2] & full[1:n:2]) * 2
    alone = full.copy()
    alone[first] = alone[first + 1] = False
    return first, np.flatnonzero(alone)


def _median_at(n: int) -> tuple[int, int, float]:
    middle = (n - 1) * 0.5
    low = int(np.floor(middle))
    return low, min(low + 1, n - 1), middle - low


def _nearest(n: int, q: float) -> int:
    return int(np.floor((n - 1) * q + 0.5))
