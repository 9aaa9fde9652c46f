"""Bought-audience signals as margins: how far each day is past every threshold of a rule.

For each rule the margin is the smallest ratio of a statistic to its threshold, so a margin
above 1 means every threshold of the rule was crossed that day (a flag), and the ratios say
by how much. The checks layer turns margins into flags (Great Expectations in the nightly
run, `transforms.judging.MarginChecker` elsewhere); `transforms.anomalies` adds attribution and evidence.

Rules (defaults in core.settings.DetectionSettings, rationale in docs/detection.md):
- spike: robust z of the gap-aware daily gain against the account's own previous
  `baseline_days` (median, IQR/1.349 as the robust sigma), with a relative-size guard, an
  absolute floor for small accounts, and a rounding guard for YouTube's 3 significant figures.
- drop: the same, downwards.
- drip: a windowed CUSUM (moving sum) of the daily excess over `drip_window_days`, scored
  against a baseline that ends where the window starts, with relative and absolute floors,
  and no single day carrying most of it (that is a spike).
- following_churn: gross follow+unfollow movement within a window far above the net change.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

import numpy as np
import polars as pl

from core.detection import DetectionSettings
from transforms.excess_profile import profile_at
from transforms.growth import WINDOWS, growth_columns
from transforms.rolling import (
    Layout,
    change,
    lag,
    layout,
    rolling_max,
    rolling_quartiles,
    rolling_sum,
)
from transforms.series import Series

RULES = ("spike", "drop", "drip", "following_churn")
REVERT_DAYS = 2
REVERT_SHARE = 0.8
# a day inside a drip's window carries its excess when its gain is above the baseline median by
# more than this many robust sigmas (the baseline's normal range) and a tenth of its biggest
# day's excess, or, in a drip so even that no day is, by more than half of its biggest day's
DRIP_DAY_Z = 2.0
DRIP_DAY_SHARE = 0.5
DRIP_DAY_FLOOR = 0.1  # ...and never a day carrying less than this share of the biggest one
# what drip_window reports for the first day of a drip run
DRIP_WINDOW = (
    "drip_first",
    "drip_last",
    "drip_before",
    "drip_carried",
    "drip_retention_7",
    "drip_retention_30",
)
IQR_TO_SIGMA = 1.349  # IQR of a normal distribution in standard deviations
INF = np.inf


def _ratio(value: np.ndarray, threshold: np.ndarray | float) -> np.ndarray:
    """value / threshold, or +inf (a guard that does not bind) where the threshold is not positive."""
    if isinstance(threshold, float | int):
        return value / threshold if threshold > 0 else np.full_like(value, INF)
    out: np.ndarray = np.divide(value, threshold, out=np.full_like(value, INF), where=threshold > 0)
    return out


def _least(*ratios: np.ndarray) -> np.ndarray:
    """The smallest ratio per row, ignoring unknown (NaN) ones; NaN where all are unknown."""
    return reduce(np.fmin, ratios)


def padding(t: DetectionSettings) -> int:
    """Empty rows between accounts: the longest look-back or look-ahead of any column.

    The longest chain is a drip's biggest day: a gain up to 2 x window - 2 days back, against
    the baseline of that day, which reads baseline_days more gains (each a change from the day
    before). Posting looks window + 2 + baseline_days back, retention 30 days ahead.
    """
    b, w = t.baseline_days, t.drip_window_days
    return max(max(WINDOWS), b + 2 * w, w + 2 + b, t.churn_window_days + 1, 31) + 1


def score(
    series: Series, t: DetectionSettings, youtube: np.ndarray
) -> tuple[Layout, dict[str, np.ndarray]]:
    """Growth, the baseline, the z score, a margin per rule and the evidence of every day.

    `youtube` tells, per account id, whether its counts are rounded to 3 significant figures.
    Returns the padded layout and one padded array per column (NaN: unknown); take a
    column's real rows with `Layout.take`.
    """
    plan = layout(series.starts, len(series), padding(t))
    f = plan.spread(series.values["followers"])
    following = plan.spread(series.values["following"])
    posts = plan.spread(series.values["posts"])
    gain = plan.spread(series.daily_gain)
    observed = plan.spread(series.observed, fill=False).astype(bool)
    rounded = plan.spread(youtube[series.aid], fill=False).astype(bool)
    with np.errstate(all="ignore"):
        out = growth_columns(f)
        out |= _baseline(f, gain, rounded, t)
        out |= _spike_drop(gain, observed, out, t)
        out |= _drip(f, gain, observed, out, t)
        out |= _churn(following, t)
        out |= _posting(posts, t)
    out |= {"followers": f, "following": following, "posts": posts, "daily_gain": gain}
    out |= {"observed": observed, "spread": plan.spread(series.spread_days.astype(np.float64))}
    return plan, out


def _baseline(
    f: np.ndarray, gain: np.ndarray, rounded: np.ndarray, t: DetectionSettings
) -> dict[str, np.ndarray]:
    """Robust baseline of each day's gain from the previous `baseline_days` days, and the z score."""
    previous = lag(gain, 1)
    median, lower, upper = rolling_quartiles(previous, t.baseline_days, t.min_history_days)
    before = lag(f, 1)
    # YouTube publishes subscriber counts rounded down to 3 significant figures
    step = np.zeros_like(before)
    at = np.flatnonzero(rounded & (before >= 1000))
    step[at] = np.power(10.0, np.floor(np.log10(np.maximum(before[at], 1.0)) + 1e-9) - 2)
    # on a rounded series most days show no gain and a few a whole step, so the median of the
    # days says 0 however fast the channel grows: its usual gain is the mean of the window (the
    # rounding errors of a sum of gains cancel but for one step)
    pace = rolling_sum(previous, t.baseline_days) / t.baseline_days
    median = np.where(rounded & ~np.isnan(pace), pace, median)
    # organic arrivals are roughly Poisson, so no account is steadier than sqrt(mean gain);
    # without this floor a short window's discrete IQR can make ordinary days look extreme
    sigma = np.fmax(np.fmax((upper - lower) / IQR_TO_SIGMA, np.sqrt(np.maximum(median, 0.0))), 1.0)
    excess = gain - median
    return {
        "baseline_median": median,
        "followers_prev": before,
        "baseline_sigma": sigma,
        "excess": excess,
        "robust_z": excess / sigma,
        "rounding_step": step,
    }


def _share(
    excess: np.ndarray,
    audience: np.ndarray,
    z: np.ndarray,
    share: float,
    strong_share: float,
    strong_z: float,
) -> np.ndarray:
    """The relative floor's margin: the excess is `share` of the audience, or it is `strong_z`
    robust sigmas out of the noise and `strong_share` of the audience (the larger margin)."""
    strong = np.fmin(_ratio(excess, audience * strong_share), z / strong_z)
    out: np.ndarray = np.fmax(_ratio(excess, audience * share), strong)
    return out


def _spike_drop(
    gain: np.ndarray, observed: np.ndarray, c: dict[str, np.ndarray], t: DetectionSettings
) -> dict[str, np.ndarray]:
    before, sigma, median = c["followers_prev"], c["baseline_sigma"], c["baseline_median"]
    # growth is measured against a baseline of at least zero, and loss against at most zero:
    # an account that stops losing followers (after a purge, or after bought ones wear off)
    # is not gaining abnormally
    up = gain - np.maximum(median, 0.0)
    down = np.minimum(median, 0.0) - gain
    step = c["rounding_step"] * t.rounding_steps
    scored = observed & ~np.isnan(c["robust_z"])
    # on a scored day up and down are known, so a guard that never binds (+inf) can go
    rounding = step.any()
    spike = _least(
        up / sigma / t.spike_z,
        _share(
            up,
            before,
            up / sigma,
            t.spike_min_relative,
            t.spike_strong_min_relative,
            t.spike_strong_z,
        ),
        _ratio(up, t.spike_min_absolute),
        *([_ratio(up, step)] if rounding else []),
    )
    drop = _least(
        down / sigma / t.drop_z,
        _ratio(down, before * t.drop_min_relative),
        _ratio(down, t.drop_min_absolute),
        *([_ratio(down, step)] if rounding else []),
    )
    return {
        "spike_margin": np.where(scored, spike, np.nan),
        "drop_margin": np.where(scored, drop, np.nan),
    }


def _drip(
    f: np.ndarray,
    gain: np.ndarray,
    observed: np.ndarray,
    c: dict[str, np.ndarray],
    t: DetectionSettings,
) -> dict[str, np.ndarray]:
    """Windowed CUSUM: the excess summed over the last `drip_window_days` days, against a baseline
    that ends where the window starts (a drip must not raise its own baseline)."""
    w = t.drip_window_days
    lagged_median = np.maximum(lag(c["baseline_median"], w - 1), 0.0)
    lagged_sigma = lag(c["baseline_sigma"], w - 1)
    step = c["rounding_step"] * t.rounding_steps
    window_excess = rolling_sum(gain, w) - w * lagged_median
    biggest_day = rolling_max(gain - lagged_median, w)
    z = window_excess / (lagged_sigma * w**0.5)
    margin = _least(
        z / t.drip_z,
        _share(
            window_excess,
            lag(f, w),
            z,
            t.drip_min_relative,
            t.drip_strong_min_relative,
            t.drip_strong_z,
        ),
        _ratio(window_excess, t.drip_min_absolute),
        # spread out, not one big day: that is a spike
        _ratio(window_excess * t.drip_max_day_share, biggest_day),
        # on YouTube, more than the spike's rounding steps (a sum is off by up to one step)
        *([_ratio(window_excess, lag(step, w - 1))] if step.any() else []),
    )
    # a window without a full baseline gets no verdict
    scored = observed & ~np.isnan(z) & ~np.isnan(biggest_day)
    return {
        "drip_excess": window_excess,
        "drip_z": z,
        "drip_margin": np.where(scored, margin, np.nan),
    }


def _churn(following: np.ndarray, t: DetectionSettings) -> dict[str, np.ndarray]:
    """Gross follow+unfollow movement within the window, against the net change."""
    delta = change(following, 1)
    gross = rolling_sum(np.abs(delta), t.churn_window_days)
    net = np.abs(rolling_sum(delta, t.churn_window_days))
    margin = _least(
        _ratio(gross, t.churn_min_gross),
        _ratio(gross / np.maximum(net, 1.0), t.churn_min_ratio),
        _ratio(gross, following * t.churn_min_relative),
    )
    scored = ~np.isnan(gross) & ~np.isnan(following)
    return {
        "churn_gross": gross,
        "churn_net": net,
        "following_churn_margin": np.where(scored, margin, np.nan),
    }


def _posting(posts: np.ndarray, t: DetectionSettings) -> dict[str, np.ndarray]:
    """Posts in the 3 days to each day, and as usual (the days a spike's growth came in)."""
    b = t.baseline_days
    return {
        "posts_3d": change(posts, 3),
        "posts_usual_3d": (lag(posts, 3) - lag(posts, 3 + b)) / b * 3,
    }


def moved_unusually(z: Any, gain: Any, limit: float, up: bool) -> Any:
    """Whether a day's move counts towards a platform event in one direction.

    More than `limit` robust sigmas from the account's normal, the same way, and a real move
    that way (a gain for "rose", a loss for "fell"). One rule for the event, its counts and
    the texts that quote them; works on NumPy arrays, Polars expressions and plain floats.
    """
    if up:
        return (z > limit) & (gain > 0)
    return (z < -limit) & (gain < 0)


def evidence_at(
    padded: dict[str, np.ndarray], at: np.ndarray, t: DetectionSettings
) -> dict[str, np.ndarray]:
    """What a flagged day's anomaly reports beyond its metrics, at padded positions `at`.

    Retention of the day's excess at 7 and 30 days, whether the day's move was a glitch,
    posting over a drip's window, and for the first day of a drip its window (the days
    that carried the excess) with the excess carried and its retention. Computed only for
    the days that need it.
    """
    f, before = padded["followers"], padded["followers_prev"]
    posts = padded["posts"]
    b, w = t.baseline_days, t.drip_window_days
    with np.errstate(all="ignore"):
        retention = {
            f"retention_{k}": (f[at + k] - before[at] - (k + 1) * padded["baseline_median"][at])
            / padded["excess"][at]
            for k in (7, 30)
        }
        # a glitch: the move is undone within REVERT_DAYS, or it restores the level of before a dip
        move = f[at] - before[at]
        undone = (f[at] - f[at + REVERT_DAYS]) / move
        restores = np.abs(f[at] - f[at - 1 - REVERT_DAYS]) <= (1 - REVERT_SHARE) * np.abs(move)
        # a drip is judged against posting over its whole window, before and during it
        early = at - (w + 2)
        drips = drip_window(padded, at, t)
        return {
            **retention,
            "reverted": (undone >= REVERT_SHARE) | restores,
            "posts_window": posts[at] - posts[early],
            "posts_usual_window": (posts[early] - posts[early - b]) / b * (w + 2),
            **drips,
            **profile_at(padded, at, drips["drip_first"], w, b),
        }


def drip_window(
    padded: dict[str, np.ndarray], at: np.ndarray, t: DetectionSettings
) -> dict[str, np.ndarray]:
    """For each position of `at` that starts a run of drip days: the days that carried its excess.

    The run's days and the window before its first day (`drip_window_days` days to the run's
    last day) are trimmed at each end of the days whose gain stays within the baseline's
    normal range (the baseline the drip rule scores against: the one of its first window's
    start). Returns, per position (NaN elsewhere): the first and last day carrying excess as
    offsets from the position, the followers before the first, the excess carried (gains
    above the baseline median over those days), and what remained of it 7 and 30 days after
    the last, relative to the baseline trend (the same reading as a spike's retention).
    """
    w = t.drip_window_days
    n = len(at)
    out = {name: np.full(n, np.nan) for name in DRIP_WINDOW}
    drip = padded["drip_margin"] > 1.0
    starts = np.flatnonzero(drip[at] & ~drip[at - 1])
    if not len(starts):
        return out
    f, gain = padded["followers"], padded["daily_gain"]
    stops = np.flatnonzero(~drip)  # the padding is never a drip day: every run has a stop
    run_end = stops[np.searchsorted(stops, at[starts])] - 1
    for i, p, end in zip(starts.tolist(), at[starts].tolist(), run_end.tolist(), strict=True):
        start = p - (w - 1)
        median = max(float(padded["baseline_median"][start]), 0.0)
        sigma = float(padded["baseline_sigma"][start])
        excess = gain[start : end + 1] - median
        peak = float(np.nanmax(excess))
        limit = min(max(DRIP_DAY_Z * sigma, DRIP_DAY_FLOOR * peak), DRIP_DAY_SHARE * peak)
        carrying = np.flatnonzero(excess > limit)
        first, last = start + int(carrying[0]), start + int(carrying[-1])
        base = f[first - 1]
        carried = f[last] - base - (last - first + 1) * median
        out["drip_first"][i], out["drip_last"][i] = first - p, last - p
        out["drip_before"][i], out["drip_carried"][i] = base, carried
        for k in (7, 30):
            kept = f[last + k] - base - (last - first + 1 + k) * median
            out[f"drip_retention_{k}"][i] = kept / carried if carried > 0 else np.nan
    return out


def drip_runs(scored: pl.DataFrame) -> pl.DataFrame:
    """A drip is reported on its first day, with the largest window excess, z and margin of its
    whole run.

    Works on any rows sorted by account and day that hold every day whose drip margin is
    above 1 (the whole series, or only the flagged days).
    """
    drip = pl.col("drip_margin") > 1
    follows = (pl.col("aid").shift(1) == pl.col("aid")) & (
        pl.col("day").shift(1) == pl.col("day") - pl.duration(days=1)
    )
    starts = drip & ~(drip.shift(1) & follows).fill_null(False)
    return (
        scored.with_columns(starts.cast(pl.Int32).cum_sum().alias("_drip_run"))
        .with_columns(
            pl.when(drip)
            .then(pl.col("drip_excess"))
            .max()
            .over("_drip_run")
            .alias("drip_run_excess"),
            pl.when(drip).then(pl.col("day")).max().over("_drip_run").alias("drip_run_end"),
            # the strongest evidence of the run, not the first day's (a drip builds up)
            pl.when(drip).then(pl.col("drip_z")).max().over("_drip_run").alias("drip_run_z"),
            pl.when(drip)
            .then(pl.col("drip_margin"))
            .max()
            .over("_drip_run")
            .alias("drip_run_margin"),
        )
        .drop("_drip_run")
    )
