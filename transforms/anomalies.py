"""From flagged days to anomalies: episodes, attribution, evidence and a sentence a person can check.

Attribution:
- platform_event: on that day many tracked accounts of the platform moved the same way
  (co-movement, e.g. a purge or a surge); never a suspected purchase.
- data_artifact: the move reverted within `REVERT_DAYS` days (a collection or display glitch).
- account: everything else. A growth anomaly attributed to the account is a suspected purchase
  unless it came with a posting burst (organic reach looks like that).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import polars as pl

from audience.config import DetectionSettings
from transforms.series import ACCOUNT
from transforms.signals import REVERT_DAYS, REVERT_SHARE, co_movement

ANOMALY_SCHEMA: dict[str, Any] = {
    "platform": pl.String,
    "handle": pl.String,
    "day": pl.Date,
    "kind": pl.String,
    "attribution": pl.String,
    "suspected_purchase": pl.Boolean,
    "severity": pl.String,
    "score": pl.Float64,
    "margin": pl.Float64,
    "explanation": pl.String,
    "detected_at": pl.Datetime("us", "UTC"),
    "followers": pl.Float64,
    "followers_before": pl.Float64,
    "gain": pl.Float64,
    "baseline_median": pl.Float64,
    "baseline_sigma": pl.Float64,
    "excess": pl.Float64,
    "relative_excess": pl.Float64,
    "window_start": pl.Date,
    "retention_7": pl.Float64,
    "retention_30": pl.Float64,
    "posts_recent": pl.Float64,
    "posts_usual": pl.Float64,
    "posts_days": pl.Int32,
    "thresholds": pl.String,
}


# what a flagged day carries into its anomaly, besides the rules' own statistics
DAY_EVIDENCE = (
    "followers",
    "followers_prev",
    "daily_gain",
    "baseline_median",
    "baseline_sigma",
    "excess",
    "robust_z",
    "retention_7",
    "retention_30",
    "reverted",
    "posts_3d",
    "posts_usual_3d",
    "posts_window",
    "posts_usual_window",
    "spread_days",
)
# the rules' statistics an anomaly reports (score, gain, the churn and drip figures)
RULE_EVIDENCE = ("drip_z", "drip_excess", "churn_gross", "churn_net")


def _day_key() -> pl.Expr:
    """One integer per account and day, consecutive for consecutive days of an account."""
    return pl.col("aid").cast(pl.Int64) * 1_000_000 + pl.col("day").cast(pl.Int32)


def _episode_starts(scored: pl.DataFrame, t: DetectionSettings) -> pl.DataFrame:
    """Keep each drip and churn episode's first day; spikes inside a drip belong to the drip.

    Works on the whole series or on any subset of rows that holds every flagged day.
    """
    key = _day_key()

    def flagged(rule: str) -> pl.Series:
        return scored.filter(pl.col(f"flag_{rule}")).select(key).to_series()

    drips = flagged("drip")
    covered_by_drip = pl.any_horizontal(
        [(key + k).is_in(drips.implode()) for k in range(t.drip_window_days)]
    )
    first = {
        r: pl.col(f"flag_{r}") & ~(key - 1).is_in(flagged(r).implode())
        for r in ("drip", "following_churn")
    }
    return scored.with_columns(
        (pl.col("flag_spike") & ~covered_by_drip).alias("flag_spike"),
        first["drip"].alias("flag_drip"),
        first["following_churn"].alias("flag_following_churn"),
    )


def _long(scored: pl.DataFrame, t: DetectionSettings) -> pl.DataFrame:
    """One row per flagged (account, day, rule)."""
    common = [
        *ACCOUNT,
        "day",
        *DAY_EVIDENCE,
        "moved_up",
        "moved_down",
        "accounts",
        "event_up",
        "event_down",
    ]
    parts = []
    for rule, score, margin, gain in (
        ("spike", "robust_z", "spike_margin", "daily_gain"),
        ("drop", "robust_z", "drop_margin", "daily_gain"),
        ("drip", "drip_z", "drip_margin", "drip_excess"),
        ("following_churn", "churn_gross", "following_churn_margin", "churn_gross"),
    ):
        part = scored.filter(pl.col(f"flag_{rule}")).select(
            *common,
            pl.lit(rule).alias("kind"),
            pl.col(score).alias("score"),
            pl.col(margin).alias("margin"),
            pl.col(gain).alias("gain_stat"),
            pl.col("drip_run_excess").alias("drip_excess"),
            pl.col("drip_run_end"),
            (pl.col("day") - pl.duration(days=t.drip_window_days - 1)).alias("window_start"),
            pl.col("churn_net"),
        )
        parts.append(part)
    return pl.concat(parts)


def _attribute(rows: pl.DataFrame, t: DetectionSettings) -> pl.DataFrame:
    kind = pl.col("kind")
    growth = kind.is_in(["spike", "drip"])
    event = (growth & pl.col("event_up").fill_null(False)) | (
        (kind == "drop") & pl.col("event_down").fill_null(False)
    )
    artifact = kind.is_in(["spike", "drop"]) & pl.col("reverted")
    attribution = (
        pl.when(event)
        .then(pl.lit("platform_event"))
        .when(artifact)
        .then(pl.lit("data_artifact"))
        .otherwise(pl.lit("account"))
    )
    # posting is compared over the days the growth came in: 3 for a spike, the window for a drip
    drip = pl.col("kind") == "drip"
    rows = rows.with_columns(
        pl.when(drip)
        .then(pl.col("posts_window"))
        .otherwise(pl.col("posts_3d"))
        .alias("posts_recent"),
        pl.when(drip)
        .then(pl.col("posts_usual_window"))
        .otherwise(pl.col("posts_usual_3d"))
        .alias("posts_usual"),
        pl.when(drip)
        .then(pl.lit(t.drip_window_days + 2))
        .otherwise(pl.lit(3))
        .cast(pl.Int32)
        .alias("posts_days"),
    )
    usual = pl.col("posts_usual").clip(lower_bound=0.0)
    burst = (
        pl.col("posts_recent") >= pl.max_horizontal(usual + 3.0, usual * t.posting_burst_ratio)
    ).fill_null(False)
    severity = (
        pl.when(pl.col("margin") >= 3)
        .then(pl.lit("high"))
        .when(pl.col("margin") >= 1.5)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )
    return rows.with_columns(
        attribution.alias("attribution"), burst.alias("posting_burst")
    ).with_columns(
        (growth & (pl.col("attribution") == "account") & ~pl.col("posting_burst")).alias(
            "suspected_purchase"
        ),
        severity.alias("severity"),
    )


def _n(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1%}"


def explain(row: dict[str, Any], t: DetectionSettings) -> str:
    """The evidence sentence: the numbers, the baseline, the comparison, the verdict's reason."""
    who = f"{row['platform']}:{row['handle']}"
    before = row["followers_prev"] or 0.0
    base = (
        f"its usual daily change over the previous {t.baseline_days} days is "
        f"{row['baseline_median']:+,.0f} (robust spread {row['baseline_sigma']:,.0f})"
        if row["baseline_median"] is not None
        else "it has too little history for a baseline yet"
    )
    kind = row["kind"]
    if kind in ("spike", "drop"):
        verb = "gained" if kind == "spike" else "lost"
        z_limit, rel_limit, abs_limit = (
            (t.spike_z, t.spike_min_relative, t.spike_min_absolute)
            if kind == "spike"
            else (t.drop_z, t.drop_min_relative, t.drop_min_absolute)
        )
        rel = abs(row["excess"]) / before if before else None
        gap = (
            f" (spread evenly over a {row['spread_days']}-day collection gap)"
            if (row["spread_days"] or 1) > 1
            else ""
        )
        text = (
            f"{who} {verb} {_n(abs(row['daily_gain']))} on {row['day']}{gap}, from {_n(before)}; "
            f"{base}. That is {abs(row['robust_z']):.1f} robust standard deviations from normal "
            f"(threshold {z_limit}), and the {_n(abs(row['excess']))} beyond normal is {_pct(rel)} "
            f"of the audience (threshold {rel_limit:.0%}, floor {abs_limit:,})."
        )
        if kind == "spike" and row["attribution"] != "data_artifact":
            if row["retention_30"] is not None:
                text += (
                    f" {_pct(row['retention_7'])} of the jump remained after 7 days and "
                    f"{_pct(row['retention_30'])} after 30."
                )
            elif row["retention_7"] is not None:
                text += f" {_pct(row['retention_7'])} of the jump remained after 7 days."
            else:
                text += " Too recent to measure how much of it stays."
    elif kind == "drip":
        rel = row["drip_excess"] / before if before else None
        text = (
            f"{who} gained {_n(row['drip_excess'])} more than usual within {t.drip_window_days} "
            f"days, spread over several days between {row['window_start']} and {row['drip_run_end']}; "
            f"{base}. On {row['day']} the {t.drip_window_days}-day excess reached {row['score']:.1f} robust standard "
            f"deviations (threshold {t.drip_z}) and {_pct(rel)} of the audience "
            f"(threshold {t.drip_min_relative:.0%}, floor {t.drip_min_absolute:,})."
        )
    else:
        text = (
            f"{who} followed and unfollowed {_n(row['gain_stat'])} accounts in the "
            f"{t.churn_window_days} days to {row['day']} for a net change of "
            f"{_n(row['churn_net'])} (thresholds: {t.churn_min_gross:,} moves, "
            f"{t.churn_min_ratio:g}x the net change, {t.churn_min_relative:.0%} of the following count): "
            f"the follow/unfollow pattern of growth automation."
        )
    if row["posts_recent"] is not None and kind in ("spike", "drip"):
        usual, days = row["posts_usual"] or 0.0, row["posts_days"]
        if row["posting_burst"]:
            text += (
                f" It came with a posting burst ({row['posts_recent']:.0f} posts in {days} days against "
                f"{usual:.1f} usually), which points to organic reach: not counted as a suspected purchase."
            )
        elif row["posts_recent"] <= 0 and usual > 0:
            text += (
                f" The account posted nothing in the {days} days up to it (usually {usual:.1f})."
            )
    if row["attribution"] == "platform_event":
        moved = row["moved_up"] if kind != "drop" else row["moved_down"]
        text += (
            f" {moved} of {row['accounts']} tracked {row['platform']} accounts moved unusually "
            "the same day, so it is attributed to a platform-wide event, not to this account."
        )
    elif row["attribution"] == "data_artifact":
        text += f" At least {REVERT_SHARE:.0%} of it was undone within {REVERT_DAYS} days: read as a collection or display glitch."
    elif row["suspected_purchase"]:
        text += " Nothing else explains it in the data: suspected purchase."
    return text


def _thresholds(kind: str, t: DetectionSettings) -> str:
    names = {
        "spike": ("spike_z", "spike_min_relative", "spike_min_absolute", "rounding_steps"),
        "drop": ("drop_z", "drop_min_relative", "drop_min_absolute", "rounding_steps"),
        "drip": (
            "drip_window_days",
            "drip_z",
            "drip_min_relative",
            "drip_min_absolute",
            "drip_max_day_share",
        ),
        "following_churn": (
            "churn_window_days",
            "churn_min_gross",
            "churn_min_ratio",
            "churn_min_relative",
        ),
    }[kind]
    values = {n: getattr(t, n) for n in names} | {"baseline_days": t.baseline_days}
    return json.dumps(values, sort_keys=True)


def build_anomalies(
    flagged: pl.DataFrame, t: DetectionSettings, detected_at: datetime
) -> pl.DataFrame:
    """Turn a scored frame with flag_<rule> columns into rows of the `anomalies` table."""
    if flagged.is_empty():
        return pl.DataFrame(schema=ANOMALY_SCHEMA)
    return finalize(candidates(flagged, t), co_movement(flagged, t), t, detected_at)


def candidates(flagged: pl.DataFrame, t: DetectionSettings) -> pl.DataFrame:
    """The flagged days that may become anomalies (one per episode); small enough to keep."""
    rules = [f"flag_{r}" for r in ("spike", "drop", "drip", "following_churn")]
    return _episode_starts(flagged, t).filter(pl.any_horizontal(rules))


def finalize(
    candidates: pl.DataFrame, events: pl.DataFrame, t: DetectionSettings, detected_at: datetime
) -> pl.DataFrame:
    """Attribute the candidates (with the platform events of all accounts) and explain them."""
    if candidates.is_empty():
        return pl.DataFrame(schema=ANOMALY_SCHEMA)
    scored = candidates.join(events, on=["platform", "day"], how="left")
    rows = _attribute(_long(scored, t), t)
    records = []
    for row in rows.iter_rows(named=True):
        kind, before = row["kind"], row["followers_prev"]
        # the figure the rule is about: the day's gain, the drip's window excess, or churn volume
        gain = {"drip": row["drip_excess"], "following_churn": row["gain_stat"]}.get(
            kind, row["daily_gain"]
        )
        excess = {"drip": row["drip_excess"], "following_churn": None}.get(kind, row["excess"])
        records.append(
            {
                "platform": row["platform"],
                "handle": row["handle"],
                "day": row["day"],
                "kind": kind,
                "attribution": row["attribution"],
                "suspected_purchase": row["suspected_purchase"],
                "severity": row["severity"],
                "score": row["score"],
                "margin": row["margin"],
                "explanation": explain(row, t),
                "detected_at": detected_at,
                "followers": row["followers"],
                "followers_before": before,
                "gain": gain,
                "baseline_median": row["baseline_median"],
                "baseline_sigma": row["baseline_sigma"],
                "excess": excess,
                "relative_excess": excess / before if excess is not None and before else None,
                "window_start": row["window_start"] if kind == "drip" else row["day"],
                "retention_7": row["retention_7"] if kind == "spike" else None,
                "retention_30": row["retention_30"] if kind == "spike" else None,
                "posts_recent": row["posts_recent"],
                "posts_usual": row["posts_usual"],
                "posts_days": row["posts_days"],
                "thresholds": _thresholds(kind, t),
            }
        )
    return pl.DataFrame(records, schema=ANOMALY_SCHEMA).sort(*ACCOUNT, "day", "kind")
