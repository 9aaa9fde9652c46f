"""Growth metrics on a daily series: change over 1, 7, 28 and 90 days, and per-account summaries."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from transforms.rolling import change

WINDOWS = (1, 7, 28, 90)
SIZE_TIERS = (0, 1_000, 10_000, 100_000, 1_000_000)  # lower bounds of the size tiers


def growth_columns(followers: np.ndarray) -> dict[str, np.ndarray]:
    """growth_abs_N / growth_rel_N and avg_daily_gain_28, on the padded layout (transforms.rolling)."""
    out = {}
    with np.errstate(all="ignore"):
        for window in WINDOWS:
            grown = change(followers, window)
            before = followers[:-window]
            relative = np.full_like(followers, np.nan)
            np.divide(grown[window:], before, out=relative[window:], where=before > 0)
            out[f"growth_abs_{window}"] = grown
            out[f"growth_rel_{window}"] = relative
    out["avg_daily_gain_28"] = out["growth_abs_28"] / 28
    return out


def size_tier() -> pl.Expr:
    """Label of the account's size tier, e.g. '10k-100k'."""
    labels = ["<1k", "1k-10k", "10k-100k", "100k-1M", "1M+"]
    expr = pl.lit(labels[0])
    for bound, label in zip(SIZE_TIERS[1:], labels[1:], strict=True):
        expr = pl.when(pl.col("followers") >= bound).then(pl.lit(label)).otherwise(expr)
    return expr


def next_milestone(followers: float) -> int:
    """The next round figure above `followers`: 1, 2, 5 times a power of ten."""
    if followers < 1:
        return 1
    power = 10 ** math.floor(math.log10(followers))
    for step in (1, 2, 5, 10):
        if step * power > followers:
            return int(step * power)
    return int(10 * power)


def milestone_expr() -> pl.Expr:
    """Vectorised next_milestone over the followers column."""
    # the epsilon keeps exact powers of ten on their own decade (log10(1000) is 2.9999...)
    power = pl.lit(10.0).pow((pl.col("followers").clip(lower_bound=1).log10() + 1e-9).floor())
    expr = power * 10
    for step in (5, 2, 1):
        expr = pl.when(power * step > pl.col("followers")).then(power * step).otherwise(expr)
    return expr.cast(pl.Int64)
