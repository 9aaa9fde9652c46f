"""Follower samples on unusual growth (issue 15.2): the `[samples]` settings and the record of
one sampled follower, shared by the collector that fetches it, the warehouse that keeps it and
the pipeline that judges it.

Only the profile fields the judgement (transforms.profiles) reads are kept: an id, the account's
creation time, when it followed (where the platform says: GitHub's `starred_at`) or the day its
position in a newest-first list places its arrival, its position, whether it has an avatar, and
its posts, followers and following counts. No name, bio, avatar address or e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pydantic import Field

from core.section import Section

# platforms whose followers a sample can place in time (docs/audience-apis.md, 0.1): Bluesky
# and Mastodon list the newest follow first, GitHub's stargazers carry starred_at. GitHub
# users' followers come in an undocumented order: a jump's followers cannot be told apart.
SAMPLED_PLATFORMS = ("bluesky", "mastodon", "github")
KINDS = ("jump", "baseline")


class SampleSettings(Section):
    """`[samples]`: how many followers a sample holds and how much of a night it may spend."""

    enabled: bool = True  # the nightly samples new growth anomalies
    size: int = Field(100, ge=10, le=1000)  # followers per sample (the jump's, the baseline's)
    max_list_pages: int = Field(40, ge=1, le=400)  # follower-list pages one sample may read
    max_requests: int = Field(1500, ge=10)  # requests one night may spend on samples, a platform
    baseline_gap_days: int = Field(7, ge=0, le=90)  # ordinary days end this far before the jump


@dataclass(frozen=True)
class SampledProfile:
    """One follower of a sample: the fields the judgement needs, None where not given."""

    follower_id: str  # DID, Mastodon acct, GitHub login
    position: int | None = None  # in the newest-first list, 0 = the newest
    arrival_day: date | None = None
    followed_at: datetime | None = None
    created_at: datetime | None = None
    has_avatar: bool | None = None
    posts: int | None = None
    followers: int | None = None
    following: int | None = None
