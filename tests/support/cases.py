"""The real cases of the verdicts issue (#13), rebuilt as small series from the numbers it gives.

Each builder returns snapshots (platform, handle, day, followers, posts) ending on `AS_OF`,
and the day the case's growth starts. Every series has a quiet organic history before the
case (so the detector has its 28-day baseline), drawn from a seeded generator that knows
nothing of the detector.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

START = date(2025, 1, 1)
DAYS = 200
AS_OF = START + timedelta(days=DAYS - 1)
CASE_DAY = 120  # the case's day index: months of history before, 80 days after


def day(index: int) -> date:
    return START + timedelta(days=index)


def frame(
    platform: str,
    handle: str,
    followers: np.ndarray,
    posts: np.ndarray | None = None,
    missing: range | None = None,
) -> pl.DataFrame:
    keep = np.ones(len(followers), dtype=bool)
    if missing is not None:
        keep[list(missing)] = False
    days = [day(i) for i in range(len(followers)) if keep[i]]
    return pl.DataFrame(
        {
            "platform": platform,
            "handle": handle,
            "day": days,
            "followers": np.round(followers[keep]).astype(np.int64),
            "posts": None if posts is None else np.round(posts[keep]).astype(np.int64),
        },
        schema_overrides={"posts": pl.Int64},
    )


def weekly_uploads(upload_day: int, count_then: int) -> np.ndarray:
    """A weekly poster's video count: one upload every 7 days, `count_then` on `upload_day`."""
    since = np.arange(DAYS) - upload_day
    return count_then + np.floor(since / 7)


def _quiet(rng: np.random.Generator, start: float, per_day: float, days: int = DAYS) -> np.ndarray:
    """An organic audience growing by about `per_day` a day (Poisson arrivals, a few leaving)."""
    gains = rng.poisson(per_day, days) - rng.poisson(per_day * 0.1, days)
    return start + np.cumsum(gains).astype(float)


def _round3(values: np.ndarray) -> np.ndarray:
    """YouTube publishes subscriber counts rounded down to 3 significant figures."""
    out = values.copy()
    digits = np.floor(np.log10(np.maximum(out, 1))) - 2
    big = out >= 1000
    out[big] = np.floor(out[big] / 10 ** digits[big]) * 10 ** digits[big]
    return out


def youtube_upload(seed: int = 1) -> tuple[pl.DataFrame, int]:
    """A French tech channel: 53 -> 54 videos on day D, then +400, +300, +300 subscribers from
    a baseline of about 0 a day (a weekly poster: one upload is the trigger)."""
    rng = np.random.default_rng(seed)
    subs = _quiet(rng, 8_000, 0.5)
    subs[CASE_DAY:] += 400
    subs[CASE_DAY + 1 :] += 300
    subs[CASE_DAY + 2 :] += 300
    return frame("youtube", "@tech-fr", _round3(subs), weekly_uploads(CASE_DAY, 54)), CASE_DAY


def youtube_upload_day_before(seed: int = 2) -> tuple[pl.DataFrame, int]:
    """Another channel: 62 -> 63 videos the day before a +110 jump."""
    rng = np.random.default_rng(seed)
    subs = _quiet(rng, 2_000, 0.3)
    subs[CASE_DAY:] += 110
    videos = weekly_uploads(CASE_DAY - 1, 63)
    return frame("youtube", "@tech-fr-2", _round3(subs), videos), CASE_DAY


def subreddits_across_gap(seed: int = 3, accounts: int = 40) -> tuple[pl.DataFrame, int, int]:
    """Daily subscribers of top subreddits with a real 9-day collection gap; some grew
    faster inside it. Returns the snapshots, the gap's first day and its length."""
    rng = np.random.default_rng(seed)
    gap, length = CASE_DAY, 9
    parts = []
    for i in range(accounts):
        start = float(rng.uniform(50_000, 2_000_000))
        subs = _quiet(rng, start, start * rng.uniform(0.0003, 0.002))
        if i % 4 == 0:  # a busy week nobody saw: 3-12% more inside the gap
            extra = np.zeros(DAYS)
            extra[gap + 2 : gap + 7] = start * rng.uniform(0.03, 0.12) / 5
            subs += np.cumsum(extra)
        parts.append(frame("reddit", f"r/top_{i}", subs, missing=range(gap, gap + length)))
    return pl.concat(parts), gap, length


def launch_ramp(seed: int = 4) -> tuple[pl.DataFrame, int]:
    """r/Helldivers during its game launch: +16% rising to +37% a day for a week."""
    rng = np.random.default_rng(seed)
    subs = _quiet(rng, 90_000, 60)
    level = subs[CASE_DAY - 1]
    rates = np.r_[np.linspace(0.16, 0.37, 7), 0.37 * 0.7 ** np.arange(1, 20)]
    for i, rate in enumerate(rates):
        gained = level * rate
        subs[CASE_DAY + i :] += gained
        level += gained
    return frame("reddit", "r/helldivers", subs), CASE_DAY


def star_campaign(seed: int = 5) -> tuple[pl.DataFrame, int]:
    """A repository at 5-10 stars a day that gained +514, +478, +257, +130, +96, +143 on six
    days; 1,812 of its 1,849 stars that month were later judged fake by researchers."""
    rng = np.random.default_rng(seed)
    stars = 900 + np.cumsum(rng.integers(5, 11, DAYS)).astype(float)
    for i, gained in enumerate((514, 478, 257, 130, 96, 143)):
        stars[CASE_DAY + i :] += gained
    return frame("github", "acme/widget", stars), CASE_DAY


def viral_active_poster(seed: int = 6) -> tuple[pl.DataFrame, int]:
    """A spike on an active poster whose audience stood at 180-190% of the jump 7 days later
    and about 220% after 30: a fading tail, and posting up by about half (not 2x)."""
    rng = np.random.default_rng(seed)
    followers = _quiet(rng, 40_000, 40)
    jump = 4_000.0
    tail = jump * 0.45 ** np.arange(1, 15)  # 7 days later: about 1.8x the jump
    followers[CASE_DAY:] += jump
    for i, gained in enumerate(tail):
        followers[CASE_DAY + 1 + i :] += gained
    followers[CASE_DAY + 15 :] += np.cumsum(np.full(DAYS - CASE_DAY - 15, 12.0))  # more reach
    per_day = rng.poisson(3, DAYS).astype(float)
    per_day[CASE_DAY - 2 : CASE_DAY + 1] *= 1.6
    return frame("x", "viral_poster", followers, np.cumsum(per_day) + 500), CASE_DAY


def bought_burst(
    seed: int = 7, platform: str = "x", posts: bool = True
) -> tuple[pl.DataFrame, int]:
    """A purchase of 25% of the audience in one day, 30% of it gone within a month (NATO
    StratCom found 80% still there after four weeks; Dagster's stars lost 75%)."""
    rng = np.random.default_rng(seed)
    followers = _quiet(rng, 12_000, 15)
    bought = 3_000.0
    kept = 1 - 0.3 * (1 - np.exp(-np.arange(DAYS - CASE_DAY - 2) / 6))
    followers[CASE_DAY:] += bought
    followers[CASE_DAY + 2 :] -= bought * (1 - kept)
    per_day = np.cumsum(rng.poisson(2, DAYS)).astype(float) + 300
    handle = "buyer" if platform != "github" else "shady/repo"
    return frame(platform, handle, followers, per_day if posts else None), CASE_DAY


def github_viral(seed: int = 9) -> tuple[pl.DataFrame, int]:
    """A repository on a front page: +800 stars, then gains that fade (60% a day), kept."""
    rng = np.random.default_rng(seed)
    stars = _quiet(rng, 5_000, 6)
    fading = np.zeros(DAYS)
    fading[CASE_DAY:] = 800 * 0.6 ** np.arange(DAYS - CASE_DAY)
    return frame("github", "viral/repo", stars + np.cumsum(fading)), CASE_DAY


def platform_surge(
    seed: int = 10, accounts: int = 200, moved: int = 24
) -> tuple[pl.DataFrame, int]:
    """200 tracked Bluesky accounts; on day D, 24 of them (12%, under the 30% share rule) gain
    an unusual +3% at once: a platform-wide surge (an influx of new users), not 24 purchases."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(accounts):
        start = float(rng.uniform(5_000, 50_000))
        followers = _quiet(rng, start, start * rng.uniform(0.0005, 0.002))
        if i < moved:
            followers[CASE_DAY:] += start * 0.03
        parts.append(frame("bluesky", f"acct{i}.bsky.social", followers))
    return pl.concat(parts), CASE_DAY


def purge_weeks_after_a_jump(
    seed: int = 11, repositories: int = 30, purge_after: int = 20, purged: float = 0.06
) -> tuple[pl.DataFrame, int]:
    """30 tracked GitHub repositories; the first has a front-page moment (github_viral's shape)
    and `purge_after` days later the platform removes `purged` of every repository's stars at
    once (GitHub deletes spam accounts in waves): the loss is the platform's, not attrition of
    the jump."""
    viral, _ = github_viral()
    rng = np.random.default_rng(seed)
    parts = [viral]
    for i in range(1, repositories):
        parts.append(frame("github", f"other/repo{i}", _quiet(rng, rng.uniform(2_000, 20_000), 6)))
    purge_day = day(CASE_DAY + purge_after)
    purged_frames = [
        part.with_columns(
            pl.when(pl.col("day") >= purge_day)
            .then(pl.col("followers") - (pl.col("followers") * purged).round().cast(pl.Int64))
            .otherwise(pl.col("followers"))
            .alias("followers")
        )
        for part in parts
    ]
    return pl.concat(purged_frames), CASE_DAY
