"""Engagement on recent posts: the `[engagement]` section of the settings, and the record a
collector hands the pipeline for one account (shared/docs/audience-apis.md, section 2).

What each platform allows (and what it costs) is in the README, "Engagement".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import Field

from core.section import Section

# a sample's outcome: `ok`, the collectors' outcomes (core.fetched.Outcome's values) or these
NO_POSTS = "no_posts"  # the account has no post of its own to measure
NO_INTERACTION_FIGURE = "no_interaction_figure"  # GitHub: no likes per post; the trigger only
SKIPPED = "skipped"  # not asked: no credentials, off in the settings, quota budget spent


class EngagementSettings(Section):
    """Which platforms' recent posts are read each night, and how many (README, Engagement)."""

    enabled: bool = True
    bluesky: bool = True  # free: the public AppView's getAuthorFeed
    mastodon: bool = True  # free: the home server's statuses
    github: bool = True  # free (60 requests an hour without a token): releases as the trigger
    youtube: bool = True  # with AUDIENCE_YOUTUBE_API_KEY only: 3 quota units per channel
    x: bool = False  # paid per post read: on only if the token's tier allows it
    posts: int = Field(30, ge=1, le=100)  # the newest own posts read per account (YouTube: 50 max)
    youtube_quota_units: int = Field(300, ge=0)  # at most this many units a night

    def allows(self, platform: str) -> bool:
        return self.enabled and bool(getattr(self, platform, False))


@dataclass(frozen=True)
class EngagementSample:
    """One account's recent posts as read tonight: interactions per post, newest first."""

    platform: str
    handle: str
    outcome: str  # ok, no_posts, no_interaction_figure, skipped, or a collector outcome
    reason: str = ""
    interactions: tuple[int, ...] = ()  # per post: likes+reposts+replies+quotes (per platform)
    views: int | None = None  # YouTube: the sampled videos' views
    latest_release: date | None = None  # GitHub repositories: the newest release's day
    releases_30: int | None = None  # ... and how many were published in the 30 days before
    requests: int = 0  # requests it took (YouTube: quota units)
