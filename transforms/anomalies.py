"""From flagged days to anomalies: episodes, attribution, evidence, verdict, severity, record.

Attribution:
- platform_event: on that day many tracked accounts of the platform moved the same way
  (co-movement, e.g. a purge or a surge); never a suspected purchase.
- data_artifact: the move reverted within `REVERT_DAYS` days (a collection or display glitch).
- account: everything else, judged by the verdict ladder (transforms.verdicts) on its evidence;
  a platform-event day inside its profile counts as no excess (a purge weeks after a jump is
  not the jump's attrition).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from core.detection import DetectionSettings
from transforms.anomaly_evidence import SAMPLE_FIELDS, daily_interactions, evidence
from transforms.excess_profile import PROFILE, PROFILE_EVIDENCE, PROFILE_FROM, PROFILE_TO
from transforms.explanation import explain, thresholds
from transforms.series import ACCOUNT
from transforms.signals import DRIP_WINDOW
from transforms.verdicts import judge

ANOMALY_SCHEMA = pl.Schema(
    {
        "platform": pl.String(),
        "handle": pl.String(),
        "day": pl.Date(),
        "kind": pl.String(),
        "attribution": pl.String(),
        "suspected_purchase": pl.Boolean(),
        "verdict": pl.String(),
        "confidence": pl.String(),
        "evidence": pl.List(pl.String),
        "severity": pl.String(),
        "score": pl.Float64(),
        "margin": pl.Float64(),
        "explanation": pl.String(),
        "detected_at": pl.Datetime("us", "UTC"),
        "followers": pl.Float64(),
        "followers_before": pl.Float64(),
        "gain": pl.Float64(),
        "baseline_median": pl.Float64(),
        "baseline_sigma": pl.Float64(),
        "excess": pl.Float64(),
        "relative_excess": pl.Float64(),
        "window_start": pl.Date(),
        "retention_7": pl.Float64(),
        "retention_30": pl.Float64(),
        "posts_recent": pl.Float64(),
        "posts_usual": pl.Float64(),
        "posts_days": pl.Int32(),
        "delivered": pl.Float64(),
        "lost": pl.Float64(),
        "thresholds": pl.String(),
    }
)


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
    # a drip's window (offsets from its first flagged day), what it carried and kept
    *DRIP_WINDOW,
    # the excess around the growth and posting up to it: what its verdict reads
    *PROFILE_EVIDENCE,
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
        ("drip", "drip_run_z", "drip_run_margin", "drip_excess"),
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
    return rows.with_columns(attribution.alias("attribution"))


# severity: points for the share of the audience involved and for the strength of the evidence
SHARE_BANDS = (0.05, 0.10)  # below 5%: 0 points, 5-10%: 1, 10% and more: 2
MARGIN_BANDS = (1.5, 3.0)  # margin below 1.5: 0 points, 1.5-3: 1, 3 and more: 2
SEVERITY_POINTS = ((3, "high"), (2, "medium"))  # fewer points: low


def _share() -> pl.Expr:
    """The share of the audience an anomaly involves: the excess (a drip's: what its window
    carried) or, for following churn, the follows and unfollows, against the audience before."""
    kind = pl.col("kind")
    amount = (
        pl.when(kind == "drip")
        .then(pl.col("drip_carried"))
        .when(kind == "following_churn")
        .then(pl.col("gain_stat"))
        .otherwise(pl.col("excess"))
        .abs()
    )
    before = pl.when(kind == "drip").then(pl.col("drip_before")).otherwise(pl.col("followers_prev"))
    return pl.when(before > 0).then(amount / before).otherwise(pl.lit(None, pl.Float64))


def _points(value: pl.Expr, bands: tuple[float, float]) -> pl.Expr:
    return (value >= bands[0]).cast(pl.Int32).fill_null(0) + (value >= bands[1]).cast(
        pl.Int32
    ).fill_null(0)


def _severity() -> pl.Expr:
    """high, medium or low: share-of-audience points plus evidence points (docs/detection.md).

    An anomaly whose verdict explains it (organic, a platform event, a data artifact, growth
    inside a collection gap) is never above low.
    """
    points = _points(_share(), SHARE_BANDS) + _points(pl.col("margin"), MARGIN_BANDS)
    graded = pl.lit("low")
    for least, name in reversed(SEVERITY_POINTS):
        graded = pl.when(points >= least).then(pl.lit(name)).otherwise(graded)
    own = pl.col("verdict").is_in(["suspected_purchase", "unexplained", "pending"])
    return pl.when(own).then(graded).otherwise(pl.lit("low")).alias("severity")


def _drip_evidence(row: dict[str, Any]) -> None:
    """A drip's evidence is about its window, the days that carried the excess
    (transforms.signals.drip_window); without one (never in a scored series), the run's."""
    if row["drip_first"] is None:
        row |= {"window_end": row["drip_run_end"], "drip_carried": row["drip_excess"]}
        row |= {"drip_before": row["followers_prev"], "retention_7": None, "retention_30": None}
        return
    row["window_start"] = row["day"] + timedelta(days=int(row["drip_first"]))
    row["window_end"] = row["day"] + timedelta(days=int(row["drip_last"]))
    row["retention_7"] = row["drip_retention_7"]
    row["retention_30"] = row["drip_retention_30"]


def candidates(flagged: pl.DataFrame, t: DetectionSettings) -> pl.DataFrame:
    """The flagged days that may become anomalies (one per episode); small enough to keep."""
    rules = [f"flag_{r}" for r in ("spike", "drop", "drip", "following_churn")]
    return _episode_starts(flagged, t).filter(pl.any_horizontal(rules))


def _event_days(events: pl.DataFrame) -> dict[str, set[date]]:
    """The days on which each platform's tracked accounts moved together (up or down)."""
    if events.is_empty():
        return {}
    moved = events.filter(
        pl.col("event_up").fill_null(False) | pl.col("event_down").fill_null(False)
    )
    days: dict[str, set[date]] = {}
    for platform, day in moved.select("platform", "day").iter_rows():
        days.setdefault(platform, set()).add(day)
    return days


def _without_platform_days(row: dict[str, Any], event_days: set[date]) -> None:
    """A profile day on which the platform moved (a purge weeks after a jump, a surge) reads as
    no excess: what the platform did to every account is not the account's attrition or tail."""
    if not event_days:
        return
    drip = row["kind"] == "drip" and row["drip_first"] is not None
    anchor = row["window_start"] if drip else row["day"]
    for name, k in zip(PROFILE, range(PROFILE_FROM, PROFILE_TO + 1), strict=True):
        if k > 0 and row[name] is not None and anchor + timedelta(days=k) in event_days:
            row[name] = 0.0


def _judged(
    row: dict[str, Any],
    as_of: date,
    t: DetectionSettings,
    engagement: dict[tuple[str, str], dict[date, float]],
    event_days: dict[str, set[date]],
) -> dict[str, Any]:
    """One attributed candidate row with its evidence and its verdict."""
    if row["kind"] == "drip":
        _drip_evidence(row)
    if row["kind"] in ("spike", "drip"):
        _without_platform_days(row, event_days.get(row["platform"], set()))
    daily = engagement.get((row["platform"], row["handle"]))
    judgement = judge(evidence(row, as_of, daily), t)
    return row | {
        "verdict": judgement.verdict,
        "confidence": judgement.confidence,
        "evidence": list(judgement.evidence),
        "reasons": list(judgement.reasons),
        "delivered": judgement.delivered if row["kind"] in ("spike", "drip") else None,
        "lost": judgement.lost,
        "suspected_purchase": judgement.verdict == "suspected_purchase",
    }


def _graded(rows: list[dict[str, Any]]) -> list[str]:
    """The severity of each judged row (_severity, on a frame of the columns it reads)."""
    severity = pl.DataFrame(
        [
            {k: r[k] for k in ("kind", "verdict", "margin", "excess", "gain_stat")}
            | {k: r.get(k) for k in ("drip_carried", "drip_before", "followers_prev")}
            for r in rows
        ],
        infer_schema_length=None,
    ).select(_severity())
    graded: list[str] = severity.get_column("severity").to_list()
    return graded


def _record(
    row: dict[str, Any], severity: str, t: DetectionSettings, detected_at: datetime | None
) -> dict[str, Any]:
    """The stored anomaly of a judged row: one entry per column of ANOMALY_SCHEMA (a table)."""
    kind, before = row["kind"], row["followers_prev"]
    if kind == "drip":
        before = row["drip_before"]
    # the figure the rule is about: the day's gain, the drip's window excess, or churn volume
    gain = {"drip": row["drip_carried"], "following_churn": row["gain_stat"]}.get(
        kind, row["daily_gain"]
    )
    excess = {"drip": row["drip_carried"], "following_churn": None}.get(kind, row["excess"])
    growth = kind in ("spike", "drip")
    return {
        "platform": row["platform"],
        "handle": row["handle"],
        "day": row["day"],
        "kind": kind,
        "attribution": row["attribution"],
        "suspected_purchase": row["suspected_purchase"],
        "verdict": row["verdict"],
        "confidence": row["confidence"],
        "evidence": row["evidence"],
        "severity": severity,
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
        "retention_7": row["retention_7"] if growth else None,
        "retention_30": row["retention_30"] if growth else None,
        "posts_recent": row["posts_recent"],
        "posts_usual": row["posts_usual"],
        "posts_days": row["posts_days"],
        "delivered": row["delivered"],
        "lost": row["lost"],
        "thresholds": thresholds(row, t),
    }


def finalize(
    candidates: pl.DataFrame,
    events: pl.DataFrame,
    t: DetectionSettings,
    detected_at: datetime | None,
    as_of: date | None = None,
    samples: pl.DataFrame | None = None,
    engagement: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Attribute the candidates (with the platform events of all accounts), judge and explain them.

    `as_of` (the analysed day; default the last candidate's) says how old each anomaly is;
    `samples` (platform, handle, day and SAMPLE_FIELDS: warehouse.samples.sample_evidence) are
    the follower samples taken of anomalies, read as evidence of the one of the same day;
    `engagement` (platform, handle, day, median_interactions:
    warehouse.engagement.interaction_evidence) the accounts' daily interactions per post, read
    around each growth anomaly (transforms.engagement.jump_reading), up to `as_of` only.
    """
    if candidates.is_empty():
        return pl.DataFrame(schema=ANOMALY_SCHEMA)
    as_of = as_of or candidates.get_column("day").max()  # type: ignore[assignment]
    assert isinstance(as_of, date)
    scored = candidates.join(events, on=["platform", "day"], how="left")
    attributed = _attribute(_long(scored, t), t)
    if samples is not None and samples.height:
        attributed = attributed.join(
            samples.select(
                *ACCOUNT,
                pl.col("day").cast(pl.Date),
                *(pl.col(c).alias(f"sample_{c}") for c in SAMPLE_FIELDS),
            ),
            on=[*ACCOUNT, "day"],
            how="left",
        )
    daily = daily_interactions(engagement, attributed, as_of)
    event_days = _event_days(events)
    rows = [_judged(row, as_of, t, daily, event_days) for row in attributed.iter_rows(named=True)]
    records = [
        _record(row, severity, t, detected_at)
        for row, severity in zip(rows, _graded(rows), strict=True)
    ]
    return pl.DataFrame(records, schema=ANOMALY_SCHEMA).sort(*ACCOUNT, "day", "kind")
