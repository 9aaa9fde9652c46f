"""Bought-audience signals as margins: how far each day is past every threshold of a rule.

For each rule the margin is the smallest ratio of a statistic to its threshold, so a margin
above 1 means every threshold of the rule was crossed that day (a flag), and the ratios say
by how much. The checks layer turns margins into flags (Great Expectations in the nightly
run, `flags_from_margins` elsewhere); `transforms.anomalies` adds attribution and evidence.

Rules (defaults in audience.config.DetectionSettings, rationale in docs/detection.md):
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

import polars as pl

from audience.config import DetectionSettings
from transforms.growth import WINDOWS, growth_exprs
from transforms.layout import pad, unpad

RULES = ("spike", "drop", "drip", "following_churn")
REVERT_DAYS = 2
REVERT_SHARE = 0.8
IQR_TO_SIGMA = 1.349  # IQR of a normal distribution in standard deviations


def _ratio(value: pl.Expr, threshold: pl.Expr | float) -> pl.Expr:
    """value / threshold, or +inf (a guard that does not bind) when the threshold is not positive."""
    limit = threshold if isinstance(threshold, pl.Expr) else pl.lit(float(threshold))
    return pl.when(limit > 0).then(value / limit).otherwise(pl.lit(float("inf")))


def _rounding_step() -> pl.Expr:
    """YouTube publishes subscriber counts rounded down to 3 significant figures."""
    prev = pl.col("followers_prev")
    step = pl.lit(10.0).pow((prev.clip(lower_bound=1).log10() + 1e-9).floor() - 2)
    return pl.when((pl.col("platform") == "youtube") & (prev >= 1000)).then(step).otherwise(0.0)


def _baseline(t: DetectionSettings) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """Robust baseline of each day's gain from the previous `baseline_days` days, and the z score."""
    prior = pl.col("daily_gain").shift(1)
    size, least = t.baseline_days, t.min_history_days
    first = [
        prior.rolling_median(size, min_samples=least).alias("baseline_median"),
        (
            prior.rolling_quantile(0.75, window_size=size, min_samples=least)
            - prior.rolling_quantile(0.25, window_size=size, min_samples=least)
        ).alias("_iqr"),
        pl.col("followers").shift(1).alias("followers_prev"),
    ]
    second = [
        # organic arrivals are roughly Poisson, so no account is steadier than sqrt(mean gain);
        # without this floor a short window's discrete IQR can make ordinary days look extreme
        pl.max_horizontal(
            pl.col("_iqr") / IQR_TO_SIGMA,
            pl.col("baseline_median").clip(lower_bound=0.0).sqrt(),
            pl.lit(1.0),
        ).alias("baseline_sigma"),
        (pl.col("daily_gain") - pl.col("baseline_median")).alias("excess"),
    ]
    return first, second


def _spike_drop_margins(t: DetectionSettings) -> list[pl.Expr]:
    prev, sigma, median = (
        pl.col("followers_prev"),
        pl.col("baseline_sigma"),
        pl.col("baseline_median"),
    )
    # growth is measured against a baseline of at least zero, and loss against at most zero:
    # an account that stops losing followers (after a purge, or after bought ones wear off)
    # is not gaining abnormally
    up = pl.col("daily_gain") - median.clip(lower_bound=0.0)
    down = median.clip(upper_bound=0.0) - pl.col("daily_gain")
    step = pl.col("rounding_step") * t.rounding_steps
    observed = pl.col("observed") & pl.col("robust_z").is_not_null()
    spike = pl.min_horizontal(
        up / sigma / t.spike_z,
        _ratio(up, prev * t.spike_min_relative),
        _ratio(up, t.spike_min_absolute),
        _ratio(up, step),
    )
    drop = pl.min_horizontal(
        down / sigma / t.drop_z,
        _ratio(down, prev * t.drop_min_relative),
        _ratio(down, t.drop_min_absolute),
        _ratio(down, step),
    )
    return [
        pl.when(observed).then(spike).alias("spike_margin"),
        pl.when(observed).then(drop).alias("drop_margin"),
    ]


def _drip_columns(t: DetectionSettings) -> list[pl.Expr]:
    """Windowed CUSUM: the excess summed over the last `drip_window_days` days, against a baseline
    that ends where the window starts (a drip must not raise its own baseline)."""
    w = t.drip_window_days
    lagged_median = (pl.col("baseline_median").shift(w - 1)).clip(lower_bound=0.0)
    lagged_sigma = pl.col("baseline_sigma").shift(w - 1)
    day_excess = pl.col("daily_gain") - lagged_median
    window_excess = (pl.col("daily_gain").rolling_sum(w, min_samples=w)) - w * lagged_median
    biggest_day = day_excess.rolling_max(w, min_samples=w)
    base = pl.col("followers").shift(w)
    z = window_excess / (lagged_sigma * w**0.5)
    margin = pl.min_horizontal(
        z / t.drip_z,
        _ratio(window_excess, base * t.drip_min_relative),
        _ratio(window_excess, t.drip_min_absolute),
        # spread out, not one big day: that is a spike
        _ratio(window_excess * t.drip_max_day_share, biggest_day),
    )
    return [
        window_excess.alias("drip_excess"),
        z.alias("drip_z"),
        # min_horizontal skips nulls, so a window without a full baseline must be ruled out here
        pl.when(pl.col("observed") & z.is_not_null() & biggest_day.is_not_null())
        .then(margin)
        .alias("drip_margin"),
    ]


def _churn_columns(t: DetectionSettings, has_following: bool) -> list[pl.Expr]:
    if not has_following:
        return [
            pl.lit(None, dtype=pl.Float64).alias(c)
            for c in ("churn_gross", "churn_net", "following_churn_margin")
        ]
    delta = pl.col("following").diff()
    gross = delta.abs().rolling_sum(t.churn_window_days, min_samples=t.churn_window_days)
    net = (delta.rolling_sum(t.churn_window_days, min_samples=t.churn_window_days)).abs()
    margin = pl.min_horizontal(
        _ratio(gross, t.churn_min_gross),
        _ratio(gross / net.clip(lower_bound=1.0), t.churn_min_ratio),
        _ratio(gross, pl.col("following") * t.churn_min_relative),
    )
    return [
        gross.alias("churn_gross"),
        net.alias("churn_net"),
        pl.when(gross.is_not_null() & pl.col("following").is_not_null())
        .then(margin)
        .alias("following_churn_margin"),
    ]


def _posting_columns(t: DetectionSettings, has_posts: bool) -> list[pl.Expr]:
    if not has_posts:
        return [
            pl.lit(None, dtype=pl.Float64).alias(c)
            for c in ("posts_3d", "posts_usual_3d", "posts_window", "posts_usual_window")
        ]
    posts = pl.col("posts")
    recent = posts - posts.shift(3)
    usual = (posts.shift(3) - posts.shift(3 + t.baseline_days)) / t.baseline_days * 3
    # a drip is judged against posting over its whole window, before and during it
    w = t.drip_window_days
    window = posts - posts.shift(w + 2)
    window_usual = (
        (posts.shift(w + 2) - posts.shift(w + 2 + t.baseline_days)) / t.baseline_days * (w + 2)
    )
    return [
        recent.alias("posts_3d"),
        usual.alias("posts_usual_3d"),
        window.alias("posts_window"),
        window_usual.alias("posts_usual_window"),
    ]


def padding(t: DetectionSettings) -> int:
    """Empty rows between accounts: the longest look-back or look-ahead of any column."""
    return (
        max(max(WINDOWS), t.baseline_days + t.drip_window_days + 3, t.churn_window_days + 1, 31) + 1
    )


def score_signals(series: pl.DataFrame, t: DetectionSettings) -> pl.DataFrame:
    """Add growth, the baseline, the z score, a margin per rule and the evidence to a daily series.

    One pass over the padded layout (transforms.layout): no per-account window functions.
    """
    has_following = (
        "following" in series.columns
        and series.get_column("following").null_count() < series.height
    )
    has_posts = (
        "posts" in series.columns and series.get_column("posts").null_count() < series.height
    )
    first, second = _baseline(t)
    growth = [] if "growth_abs_1" in series.columns else growth_exprs()
    frame = (
        pad(series, padding(t))
        .with_columns(
            *growth, *first, *_churn_columns(t, has_following), *_posting_columns(t, has_posts)
        )
        .with_columns(second)
        .with_columns(
            (pl.col("excess") / pl.col("baseline_sigma")).alias("robust_z"),
            _rounding_step().alias("rounding_step"),
        )
        .with_columns(*_spike_drop_margins(t), *_drip_columns(t))
        .with_columns(_evidence(t))
        .drop("_iqr")
    )
    return _drip_runs(unpad(frame))


def _evidence(t: DetectionSettings) -> list[pl.Expr]:
    """Retention of each day's excess at 7 and 30 days, and whether the day's move was a glitch."""
    f, before, median = pl.col("followers"), pl.col("followers_prev"), pl.col("baseline_median")
    move = f - before
    retention = [
        ((f.shift(-k) - before - (k + 1) * median) / pl.col("excess")).alias(f"retention_{k}")
        for k in (7, 30)
    ]
    # a glitch: the move is undone within REVERT_DAYS, or it restores the level of before a dip
    undone = (f - f.shift(-REVERT_DAYS)) / move
    restores = (f - f.shift(1 + REVERT_DAYS)).abs() <= (1 - REVERT_SHARE) * move.abs()
    return [*retention, ((undone >= REVERT_SHARE) | restores).fill_null(False).alias("reverted")]


def _drip_runs(scored: pl.DataFrame) -> pl.DataFrame:
    """A drip is reported on its first day, with the largest window excess of its whole run."""
    drip = pl.col("drip_margin") > 1
    starts = drip & ~(drip.shift(1) & (pl.col("aid").shift(1) == pl.col("aid"))).fill_null(False)
    return (
        scored.with_columns(starts.cast(pl.Int32).cum_sum().alias("_drip_run"))
        .with_columns(
            pl.when(drip)
            .then(pl.col("drip_excess"))
            .max()
            .over("_drip_run")
            .alias("drip_run_excess"),
            pl.when(drip).then(pl.col("day")).max().over("_drip_run").alias("drip_run_end"),
        )
        .drop("_drip_run")
    )


def flags_from_margins(scored: pl.DataFrame) -> pl.DataFrame:
    """Flag every rule whose margin is above 1 (the same verdict the GX suite reaches)."""
    return scored.with_columns(
        (pl.col(f"{rule}_margin") > 1.0).fill_null(False).alias(f"flag_{rule}") for rule in RULES
    )


def co_movement_counts(scored: pl.DataFrame, t: DetectionSettings) -> pl.DataFrame:
    """Per platform and day: accounts observed, and how many moved unusually up or down.

    Counts from separate chunks of accounts add up (co_movement_events sums them).
    """
    z = pl.col("robust_z")
    return (
        scored.filter(pl.col("observed") & z.is_not_null())
        .group_by("platform", "day")
        .agg(
            pl.len().alias("accounts"),
            (z >= t.platform_event_z).sum().alias("moved_up"),
            (z <= -t.platform_event_z).sum().alias("moved_down"),
        )
    )


def co_movement_events(counts: pl.DataFrame, t: DetectionSettings) -> pl.DataFrame:
    """Platform-days where enough of the platform's accounts moved together: platform events."""
    return (
        counts.group_by("platform", "day")
        .agg(pl.col("accounts", "moved_up", "moved_down").sum())
        .with_columns(
            [
                (
                    (pl.col(c) >= t.platform_event_min_accounts)
                    & (pl.col(c) / pl.col("accounts") >= t.platform_event_share)
                ).alias(f"event_{c.removeprefix('moved_')}")
                for c in ("moved_up", "moved_down")
            ]
        )
    )


def co_movement(scored: pl.DataFrame, t: DetectionSettings) -> pl.DataFrame:
    """Per platform and day: how many accounts moved unusually up or down together."""
    return co_movement_events(co_movement_counts(scored, t), t)
