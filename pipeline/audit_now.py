"""What an audit can judge now of an account with no history (issue 15.3): on the platforms
whose data is public, the engagement of its newest posts and a sample of its newest followers
against earlier ones, read live once and never stored.

- Engagement (Bluesky, Mastodon, YouTube with its key, X where `[engagement] x` allows; the
  nightly reader, collectors.engagement): posts sampled, median interactions and the rate per
  follower (transforms.engagement.summarise), against the tracked accounts of its platform and
  size tier (transforms.engagement.tier_comparison over `account_metrics`).
- Followers (Bluesky, Mastodon: lists run newest first; collectors.followers): without a count
  history no position can be placed in time, so a jump's followers cannot be picked out; the
  newest `[samples] size` are compared instead with as many earlier ones, the deepest that
  `[samples] max_list_pages` pages reach (or the oldest, on a shorter list), within
  `[samples] max_requests`. Both are judged by transforms.profiles; "created shortly before it
  followed" stays unchecked (nothing says when they followed). The comparison is read as a
  stored sample's is (transforms.audience_evidence.sample_reading).

Nothing is written: the sample has no day to be stored under (`sample_summaries` keys a sample
by its jump's day, which the verdicts read), and an audit of an account without history
creates no warehouse. A failed read (an error, a timeout, the budget spent) is said on the page
and costs only its own part.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import polars as pl

from collectors.base import CollectorError
from collectors.engagement import READERS, read_engagement
from collectors.followers import PAGE, BudgetSpent, FollowerClient
from collectors.rate_gate import Clock
from collectors.redaction import redacted_logs
from collectors.run import redactor_for
from core.engagement import NO_INTERACTION_FIGURE, NO_POSTS, SKIPPED
from core.fetched import Outcome
from core.samples import SampledProfile
from core.settings import Settings
from pipeline.sample import Followerless, as_profiles
from reports.audit_page import Audit, EngagementNow, SampleNow
from transforms.audience_evidence import sample_phrase, sample_reading
from transforms.engagement import comparison_words, summarise, tier_comparison
from transforms.excess_profile import SampleEvidence
from transforms.growth import size_tier
from transforms.profiles import SampleJudgement, compare, judge_sample

LISTED = ("bluesky", "mastodon")  # newest-first follower lists, no credentials
# the earlier followers start halfway down what the pages reach: deep enough that a recent
# batch of up to that many followers lies above them, short of a young platform's first
# followers (created together at its launch, they look clustered: Bluesky's of 2023)
EARLIER_DEPTH = 0.5
MIN_EARLIER = 10  # fewer earlier followers than this (a short list): nothing to compare with
# why a platform's followers cannot be sampled now (shared/docs/audience-apis.md, 0.1)
NO_FOLLOWER_LIST = {
    "github": "GitHub does not document the order of a user's followers, so the newest cannot "
    "be told from the others",
    "x": "X lists followers only with a paid token, in an order its v2 API does not document",
    "youtube": "YouTube lists a channel's subscribers to its owner only",
    "twitch": "Twitch lists a channel's followers to its broadcaster and moderators only",
    "reddit": "Reddit lists no subreddit's subscribers",
    "instagram": "Instagram lists no account's followers to others",
}


def judge_now(
    audit: Audit,
    warehouse: Path,
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
) -> None:
    """Fill the audit (its size fetched live) with what can be judged now: `engagement_now`,
    `sample_now`, and in `judged_now` one line each, what failed or cannot be read and why."""
    if audit.followers is None:
        return  # not found, disabled, no credentials: the page says why it has no figure
    _engagement(audit, warehouse, settings, transport, clock)
    _followers(audit, settings, transport, clock)


def _engagement(
    audit: Audit,
    warehouse: Path,
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock | None,
) -> None:
    platform = audit.platform
    if platform not in READERS:
        audit.judged_now.append(
            f"engagement: not read: this tracker reads no interactions on {platform}"
        )
        return
    (sample,) = read_engagement([(platform, audit.handle)], settings, audit.as_of, transport, clock)
    if sample.outcome == SKIPPED:
        audit.judged_now.append(f"engagement: not read: {sample.reason}")
        return
    if sample.outcome in (NO_POSTS, NO_INTERACTION_FIGURE):
        audit.judged_now.append(f"engagement: {sample.reason}")
        return
    if sample.outcome != Outcome.OK:
        failed = f"engagement: its posts could not be read: {platform} answered {sample.outcome}"
        audit.failed_now.append(f"{failed}: {sample.reason}")
        audit.judged_now.append(audit.failed_now[-1])
        return
    summary = summarise(sample.interactions, audit.followers)
    own = pl.DataFrame(
        {
            "platform": [platform],
            "handle": [audit.handle],
            "followers": [audit.followers],
            "engagement_rate": [summary.engagement_rate],
        },
        schema={
            "platform": pl.String,
            "handle": pl.String,
            "followers": pl.Float64,
            "engagement_rate": pl.Float64,
        },
    ).with_columns(size_tier().alias("size_tier"))
    peers = _tier_rates(warehouse, settings, platform)
    group = pl.concat([peers, own.select(peers.columns)], how="vertical_relaxed")
    row = tier_comparison(group).filter(pl.col("handle") == audit.handle).row(0, named=True)
    words = comparison_words(
        platform,
        row["size_tier"],
        summary.engagement_rate,
        row["engagement_tier_median"],
        row["engagement_tier_accounts"],
        row["engagement_comparison"],
    )
    median = summary.median_interactions or 0.0
    text = (
        f"engagement: {summary.posts_sampled} newest posts of its own read now, median "
        f"{median:,.1f} interactions a post" + (f"; {words}" if words else "")
    )
    audit.engagement_now = EngagementNow(
        summary.posts_sampled,
        summary.median_interactions,
        summary.engagement_rate,
        row["size_tier"],
        row["engagement_tier_median"],
        int(row["engagement_tier_accounts"] or 0),
        row["engagement_comparison"],
        text,
    )
    audit.judged_now.append(text)


def _tier_rates(warehouse: Path, settings: Settings, platform: str) -> pl.DataFrame:
    """The tracked accounts' rates of the platform (none without a warehouse: nothing made)."""
    from warehouse.db import open_warehouse
    from warehouse.engagement import tier_rates

    empty = pl.DataFrame(
        schema={
            "platform": pl.String,
            "handle": pl.String,
            "size_tier": pl.String,
            "engagement_rate": pl.Float64,
        }
    )
    if not warehouse.exists():
        return empty
    with open_warehouse(
        warehouse, read_only=True, timeout_s=settings.warehouse.lock_timeout_s
    ) as con:
        return pl.concat([empty, tier_rates(con, platform)], how="vertical_relaxed")


def _followers(
    audit: Audit,
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock | None,
) -> None:
    platform = audit.platform
    if platform not in LISTED:
        why = NO_FOLLOWER_LIST.get(platform, f"{platform} gives no follower list in follow order")
        audit.judged_now.append(f"followers: no sample: {why}")
        return
    redact = Followerless(redactor_for(settings))
    spent = [0]
    try:
        with redacted_logs(redact):
            newest, earlier = asyncio.run(
                _read(
                    audit.handle,
                    audit.followers or 0.0,
                    platform,
                    settings,
                    spent,
                    transport,
                    clock,
                )
            )
    except BudgetSpent as exc:
        audit.failed_now.append(
            f"followers: no sample: {exc.reason} ([samples] max_requests) after {spent[0]} requests"
        )
        audit.judged_now.append(audit.failed_now[-1])
        return
    except CollectorError as exc:
        audit.failed_now.append(
            f"followers: no sample: the follower list could not be read: {platform} answered "
            f"{exc.outcome.value}: {redact(exc.reason)}"
        )
        audit.judged_now.append(audit.failed_now[-1])
        return
    if len(earlier) < MIN_EARLIER:
        audit.judged_now.append(
            f"followers: no sample: its list shows {len(newest) + len(earlier):,} followers (a "
            f"list can be hidden), too few to compare its newest {settings.samples.size} with "
            "earlier ones"
        )
        return
    n, e = judge_sample(as_profiles(newest)), judge_sample(as_profiles(earlier))
    audit.sample_now = _judged(n, e, earlier[0].position or 0, spent[0])
    audit.judged_now.append(
        f"followers: {audit.sample_now.text} (read now in {spent[0]} requests, not stored)"
    )
    audit.judged_now += _signals(n, e)


async def _read(
    handle: str,
    followers: float,
    platform: str,
    settings: Settings,
    spent: list[int],
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock | None,
) -> tuple[list[SampledProfile], list[SampledProfile]]:
    """The newest `[samples] size` followers, and as many earlier ones from halfway down what
    `[samples] max_list_pages` pages reach of a list of `followers` (EARLIER_DEPTH)."""
    size, pages = settings.samples.size, settings.samples.max_list_pages
    reach = pages * PAGE[platform]
    depth = max(size, int(min(followers, reach) * EARLIER_DEPTH))
    async with FollowerClient.open(
        settings, platform, settings.samples.max_requests, clock=clock, transport=transport
    ) as client:
        try:
            items = await client.newest(handle, min(depth + size, reach), pages)
            newest = list(range(min(size, len(items))))
            start = max(len(newest), min(depth, len(items) - size))
            earlier = list(range(start, min(start + size, len(items))))
            profiles = await client.profiles([(p, items[p]) for p in newest + earlier])
        finally:
            spent[0] = client.spent
    return profiles[: len(newest)], profiles[len(newest) :]


def _judged(n: SampleJudgement, e: SampleJudgement, start: int, requests: int) -> SampleNow:
    """The newest followers' judgement against the earlier ones' (starting at list position
    `start`), read as a stored sample is."""
    c = compare(n, e)
    evidence = SampleEvidence(
        "newest followers", n.size, n.flagged, n.low, n.high, e.share, c.p_value
    )
    return SampleNow(
        n.size,
        n.flagged,
        n.share,
        n.low,
        n.high,
        e.size,
        start,
        e.flagged,
        e.share,
        c.p_value,
        c.fisher_p_value,
        sample_reading(evidence),
        requests,
        sample_phrase(evidence, f"{e.size} earlier followers (from position {start:,} of its list)")
        + f"; one-sided p = {c.p_value:.2g}",
    )


def _signals(n: SampleJudgement, e: SampleJudgement) -> list[str]:
    """The signals behind the judgement, newest against earlier, and the one left unchecked."""
    fired = sorted(
        (s for s, k in n.signal_counts.items() if k or e.signal_counts.get(s)),
        key=lambda s: -n.signal_counts[s],
    )
    counts = ", ".join(
        f"{s.replace('_', ' ')} {n.signal_counts[s]} of {n.size} (earlier: {e.signal_counts[s]} of {e.size})"
        for s in fired
    )
    return [
        *([f"followers: the signals, newest against earlier: {counts}"] if counts else []),
        'followers: "created shortly before it followed" is not checked: without a count '
        "history nothing says when they followed",
    ]
