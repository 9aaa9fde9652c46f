"""Engagement as evidence (pure: no I/O, no clock).

- `summarise`: a night's sample of posts as posts sampled, median and total interactions, and
  the engagement rate per follower (median interactions per post / followers).
- `tier_comparison`: each account's rate against the median rate of the other tracked
  accounts of its platform and size tier (transforms.growth.size_tier), with the group's size;
  a group smaller than `min_group` is said to be too small, and no comparison is made.
- `read_jump`: the reading of a growth jump from the interactions per post in the 7 days after
  it against the 28 before. Followers who arrive for real engage: interactions rise with the
  audience. Bought followers do not: the audience jumps and the interactions stay where they
  were. So growth with no engagement rise is a purchase signal, growth with rising engagement
  an organic one; too few days of samples, or a rise between the two, says nothing.
- `jump_reading`: read_jump over an account's daily series around a growth anomaly's days (the
  28 days before its first day and the 7 after its last), None without a sample in either.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

# below half the tier's median rate an audience engages unusually little; above twice, much
BELOW_RATIO = 0.5
ABOVE_RATIO = 2.0
MIN_TIER_GROUP = 5  # fewer other accounts of the platform and tier with a rate: too few
COMPARISONS = ("below_tier", "typical_for_tier", "above_tier", "tier_group_too_small")

JUMP_BEFORE_DAYS = 28
JUMP_AFTER_DAYS = 7
READINGS = ("no_engagement_rise", "engagement_rose", "inconclusive", "not_enough_data")


@dataclass(frozen=True)
class Summary:
    posts_sampled: int
    median_interactions: float | None
    total_interactions: int | None
    engagement_rate: float | None  # None without posts or without a positive follower count


def summarise(interactions: Sequence[int], followers: float | None) -> Summary:
    """A sample's figures; the rate needs posts and a follower count above zero."""
    if any(n < 0 for n in interactions):
        raise ValueError(f"interactions cannot be negative: {min(interactions)}")
    if not interactions:
        return Summary(0, None, None, None)
    median = float(statistics.median(interactions))
    rate = median / followers if followers is not None and followers > 0 else None
    return Summary(len(interactions), median, int(sum(interactions)), rate)


def tier_comparison(rates: pl.DataFrame, min_group: int = MIN_TIER_GROUP) -> pl.DataFrame:
    """`rates` (platform, handle, size_tier, engagement_rate) with engagement_tier_median,
    engagement_tier_accounts (how many OTHER accounts of the platform and tier have a rate),
    engagement_vs_tier (rate / that median) and engagement_comparison (COMPARISONS; NULL for an
    account without a rate)."""
    if min_group < 1:
        raise ValueError(f"min_group must be at least 1, not {min_group}")
    groups: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for platform, handle, tier, rate in rates.select(
        "platform", "handle", "size_tier", "engagement_rate"
    ).iter_rows():
        if rate is not None and tier is not None:
            groups.setdefault((platform, tier), []).append((handle, float(rate)))
    medians, sizes, ratios, comparisons = [], [], [], []
    for platform, handle, tier, rate in rates.select(
        "platform", "handle", "size_tier", "engagement_rate"
    ).iter_rows():
        others = [r for h, r in groups.get((platform, tier), []) if h != handle]
        median = float(statistics.median(others)) if others else None
        ratio = None
        if rate is None:
            comparison = None
        elif len(others) < min_group or median is None:
            comparison = "tier_group_too_small"
        else:
            ratio = rate / median if median > 0 else None
            comparison = (
                "typical_for_tier"
                if ratio is None
                else "below_tier"
                if ratio < BELOW_RATIO
                else "above_tier"
                if ratio > ABOVE_RATIO
                else "typical_for_tier"
            )
        medians.append(median)
        sizes.append(len(others))
        ratios.append(ratio)
        comparisons.append(comparison)
    return rates.with_columns(
        pl.Series("engagement_tier_median", medians, dtype=pl.Float64),
        pl.Series("engagement_tier_accounts", sizes, dtype=pl.Int32),
        pl.Series("engagement_vs_tier", ratios, dtype=pl.Float64),
        pl.Series("engagement_comparison", comparisons, dtype=pl.String),
    )


def comparison_words(
    platform: str,
    tier: str | None,
    rate: float | None,
    median: float | None,
    group: int | None,
    comparison: str | None,
) -> str | None:
    """The comparison as a sentence for the audit, or None without a rate."""
    if rate is None or comparison is None:
        return None
    own = f"engagement rate {rate:.3%} of followers per post (median interactions / followers)"
    if comparison == "tier_group_too_small":
        return (
            f"{own}; only {group or 0} other tracked {platform} account(s) of its size "
            f"({tier}) have one: too few to compare"
        )
    where = {
        "below_tier": "below",
        "above_tier": "above",
        "typical_for_tier": "typical of",
    }[comparison]
    return (
        f"{own}; {where} the {median:.3%} median of the {group} other tracked {platform} "
        f"accounts of its size ({tier})"
    )


@dataclass(frozen=True)
class JumpReading:
    reading: str  # one of READINGS
    before: float | None  # median of the daily median interactions per post, 28 days before
    after: float | None  # the same over the 7 days after
    ratio: float | None  # after / before
    expected: float  # the ratio if the new followers engaged as the old ones do
    days_before: int
    days_after: int
    text: str


def read_jump(
    before: Sequence[float | None],
    after: Sequence[float | None],
    gain_share: float,
    *,
    min_days_before: int = 7,
    min_days_after: int = 3,
    rise_share: float = 0.5,
    flat_share: float = 0.1,
) -> JumpReading:
    """The engagement reading of a jump that added `gain_share` of the audience (0.25: a
    quarter more followers).

    `before`/`after` are the daily median interactions per post (None: no sample that day) of
    the 28 days before the jump and the 7 after. If the newcomers engaged as the audience did,
    interactions would rise by the gain's share (`expected` = 1 + gain_share). A rise of at least
    `rise_share` of that (and 10% at the least) reads as organic; a ratio no higher than
    1 + `flat_share` of it reads as no engagement rise, the purchase signal; between them, or
    with fewer days of samples than the minimums, it says nothing.
    """
    if gain_share <= 0:
        raise ValueError(f"a jump adds followers: gain_share must be positive, not {gain_share}")
    seen_before = [float(v) for v in before if v is not None]
    seen_after = [float(v) for v in after if v is not None]
    if any(v < 0 for v in seen_before + seen_after):
        raise ValueError("interactions per post cannot be negative")
    expected = 1 + gain_share
    days = (len(seen_before), len(seen_after))
    if days[0] < min_days_before or days[1] < min_days_after:
        return JumpReading(
            "not_enough_data",
            None,
            None,
            None,
            expected,
            *days,
            f"engagement cannot tell: {days[0]} day(s) of samples before the jump (needs "
            f"{min_days_before}) and {days[1]} after (needs {min_days_after})",
        )
    b, a = statistics.median(seen_before), statistics.median(seen_after)
    ratio = a / b if b > 0 else (None if a == 0 else float("inf"))
    figures = f"median interactions per post {b:,.1f} before, {a:,.1f} after"
    if ratio is None:
        return JumpReading(
            "inconclusive", b, a, None, expected, *days, f"{figures}: no interactions to compare"
        )
    if ratio >= max(1 + rise_share * gain_share, 1.1):
        reading, why = "engagement_rose", "engagement rose with the audience (organic)"
    elif ratio <= 1 + flat_share * gain_share:
        reading, why = (
            "no_engagement_rise",
            "the audience grew but its engagement did not (a purchase signal)",
        )
    else:
        reading, why = "inconclusive", "engagement rose less than the audience"
    return JumpReading(
        reading,
        b,
        a,
        ratio,
        expected,
        *days,
        f"{figures} (x{ratio:.2f}; x{expected:.2f} if the {gain_share:.0%} newcomers engaged "
        f"as the audience did): {why}",
    )


def jump_reading(
    daily: Mapping[date, float], first: date, last: date, gain_share: float
) -> JumpReading | None:
    """The reading of growth from `first` to `last` (a spike: the same day) that added
    `gain_share` of the audience, from `daily` (day: median interactions per post): the
    JUMP_BEFORE_DAYS before `first` against the JUMP_AFTER_DAYS after `last`. None when no day
    of either has a sample, or the growth added nothing: there is no engagement to read."""
    before = [daily.get(first - timedelta(days=k)) for k in range(JUMP_BEFORE_DAYS, 0, -1)]
    after = [daily.get(last + timedelta(days=k)) for k in range(1, JUMP_AFTER_DAYS + 1)]
    if gain_share <= 0 or all(v is None for v in (*before, *after)):
        return None
    return read_jump(before, after, gain_share)
