"""Engagement on each tracked account's recent posts (shared/docs/audience-apis.md, section 2).

Per platform, the newest posts of the account's own (no reposts, no replies) and their
interactions:

- Bluesky: `app.bsky.feed.getAuthorFeed?filter=posts_no_replies`, items with a `reasonRepost`
  dropped; interactions = likes + reposts + replies + quotes (bookmarks are not public-facing).
- Mastodon: `statuses?exclude_reblogs=true&exclude_replies=true` on the home server (up to 40,
  its page maximum) of the account's id, which the night's count collection stored (`lookup`
  first when none is known, or when the known one is answered 404: a moved or recreated
  account); interactions = favourites + reblogs + replies.
- YouTube (with the API key only): `channels` (uploads playlist) -> `playlistItems` -> `videos`,
  1 quota unit each, 3 per channel, within `[engagement] youtube_quota_units` a night;
  interactions = likes + comments, the views kept beside them.
- GitHub: no interaction figure per post exists. A repository's releases are read as the trigger
  its growth may follow (the newest release's day, how many in 30 days); users are not asked.
- X (`[engagement] x = true`, paid per post read): `users/by/username` then the user's tweets
  (`exclude=retweets,replies`) with `public_metrics`; interactions = likes + reposts + replies +
  quotes. A user missing or suspended is an `errors` item of a 200 (its outcome); a token whose
  tier has no access to the timeline is answered 403 `client-not-enrolled` (auth_failed, said
  so in the reason).

Requests go through the project's Requester and RateGate with each platform's own rate-limit
headers and classification (the count collectors'). Every account ends with one
EngagementSample; a failure is its outcome, never an exception. Nothing is written here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from collectors.base import CollectorError, Malformed, NotFound, as_count
from collectors.bluesky import BlueskyCollector
from collectors.github import GitHubCollector
from collectors.mastodon import MastodonCollector
from collectors.platform import Collector
from collectors.rate_gate import Clock, SystemClock
from collectors.redaction import Redactor, redacted_logs
from collectors.requester import Requester
from collectors.run import redactor_for
from collectors.x import XCollector
from collectors.x import miss as x_miss
from collectors.youtube import YouTubeCollector
from core.engagement import NO_INTERACTION_FIGURE, NO_POSTS, SKIPPED, EngagementSample
from core.errors import HandleError
from core.fetched import Outcome
from core.platforms import canonical_handle
from core.settings import Settings

READERS: dict[str, type[Collector]] = {
    "bluesky": BlueskyCollector,
    "mastodon": MastodonCollector,
    "youtube": YouTubeCollector,
    "github": GitHubCollector,
    "x": XCollector,
}
MASTODON_PAGE = 40  # the statuses endpoint's largest page
YOUTUBE_PAGE = 50
YOUTUBE_UNITS = 3  # channels + playlistItems + videos, 1 unit each
RELEASE_WINDOW_DAYS = 30
# the requests spent on the account being read: each account is read in its own asyncio task,
# whose context holds its own counter (the platform's accounts are read concurrently)
_SPENT: ContextVar[list[int]] = ContextVar("engagement_requests_spent")


def _sum(*values: object) -> int:
    return sum(as_count(v) or 0 for v in values)


def _day(raw: object) -> date | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).date()
    except ValueError:
        return None


class _Reader:
    """One platform's engagement reads, through its Requester."""

    def __init__(
        self,
        platform: str,
        requester: Requester,
        settings: Settings,
        day: date,
        limit: int,
        known_ids: Mapping[str, str] | None = None,
    ) -> None:
        self.platform = platform
        self.known_ids = known_ids or {}
        self.requester = requester
        self.settings = settings
        self.day = day
        self.limit = limit
        cls = READERS[platform]
        self.root = cls.root(settings.platform(platform))
        self.youtube_units_left = settings.engagement.youtube_quota_units

    @property
    def requests(self) -> int:
        """The requests spent so far on the account this task reads."""
        return _SPENT.get([0])[0]

    async def get(self, url: str, params: Any = None, gate_key: str = "") -> Any:
        _SPENT.get()[0] += 1
        body, _, _ = await self.requester.get_json(url, params=params, gate_key=gate_key)
        return body

    def sample(self, handle: str, interactions: list[int], **extra: Any) -> EngagementSample:
        if not interactions:
            return EngagementSample(
                self.platform, handle, NO_POSTS, "no post of its own to measure", **extra
            )
        return EngagementSample(
            self.platform, handle, Outcome.OK.value, "", tuple(interactions), **extra
        )

    async def bluesky(self, handle: str) -> EngagementSample:
        body = await self.get(
            self.root + "/xrpc/app.bsky.feed.getAuthorFeed",
            {"actor": handle, "limit": str(self.limit), "filter": "posts_no_replies"},
        )
        feed = body.get("feed") if isinstance(body, dict) else None
        if not isinstance(feed, list):
            raise Malformed("getAuthorFeed answer has no feed list")
        counts = []
        for item in feed:
            if not isinstance(item, dict) or not isinstance(item.get("post"), dict):
                raise Malformed("a feed item without a post")
            reason = item.get("reason")
            if isinstance(reason, dict) and str(reason.get("$type", "")).endswith("reasonRepost"):
                continue  # someone else's post, reposted: not the author's engagement
            post = item["post"]
            author = post.get("author") if isinstance(post.get("author"), dict) else {}
            if handle.lower() not in (
                str(author.get("handle", "")).lower(),
                str(author.get("did", "")).lower(),
            ):
                continue
            counts.append(
                _sum(
                    post.get("likeCount"),
                    post.get("repostCount"),
                    post.get("replyCount"),
                    post.get("quoteCount"),
                )
            )
        return self.sample(handle, counts[: self.limit], requests=self.requests)

    async def mastodon(self, handle: str) -> EngagementSample:
        user, host = handle.split("@", 1)
        root = self.root.replace("{host}", host)
        known = self.known_ids.get(handle)
        if known is not None and _MASTODON_ID.fullmatch(known):
            try:  # the id the count collection stored: one request, not two
                return await self._mastodon_statuses(handle, root, host, known)
            except NotFound:
                pass  # moved or recreated since: its id is looked up again
        account = await self.get(root + "/api/v1/accounts/lookup", {"acct": user}, host)
        if not isinstance(account, dict) or account.get("id") is None:
            raise Malformed("account lookup answer has no id")
        return await self._mastodon_statuses(handle, root, host, str(account["id"]))

    async def _mastodon_statuses(
        self, handle: str, root: str, host: str, account: str
    ) -> EngagementSample:
        statuses = await self.get(
            f"{root}/api/v1/accounts/{account}/statuses",
            {
                "limit": str(min(self.limit, MASTODON_PAGE)),
                "exclude_reblogs": "true",
                "exclude_replies": "true",
            },
            host,
        )
        if not isinstance(statuses, list):
            raise Malformed("statuses answer is not a JSON array")
        counts = [
            _sum(s.get("favourites_count"), s.get("reblogs_count"), s.get("replies_count"))
            for s in statuses
            if isinstance(s, dict) and not s.get("reblog")
        ]
        return self.sample(handle, counts, requests=self.requests)

    async def youtube(self, handle: str) -> EngagementSample:
        if self.youtube_units_left < YOUTUBE_UNITS:
            budget = self.settings.engagement.youtube_quota_units
            return EngagementSample(
                "youtube",
                handle,
                SKIPPED,
                f"the night's YouTube quota budget ({budget} units, [engagement] "
                "youtube_quota_units) is spent",
            )
        self.youtube_units_left -= YOUTUBE_UNITS
        key = self.settings.secrets.youtube_api_key
        secret = key.get_secret_value() if key is not None else ""
        by = (
            {"id": handle}
            if len(handle) == 24 and handle.startswith("UC")
            else {"forHandle" if handle.startswith("@") else "forUsername": handle}
        )
        api = self.root + "/youtube/v3"
        channels = await self.get(
            api + "/channels", {"part": "contentDetails", "key": secret, **by}
        )
        items = channels.get("items") if isinstance(channels, dict) else None
        try:
            uploads = items[0]["contentDetails"]["relatedPlaylists"]["uploads"]  # type: ignore[index]
        except (TypeError, KeyError, IndexError):
            raise Malformed("the channel has no uploads playlist") from None
        playlist = await self.get(
            api + "/playlistItems",
            {
                "part": "contentDetails",
                "playlistId": str(uploads),
                "maxResults": str(min(self.limit, YOUTUBE_PAGE)),
                "key": secret,
            },
        )
        entries = playlist.get("items") if isinstance(playlist, dict) else None
        if not isinstance(entries, list):
            raise Malformed("playlistItems answer has no items list")
        ids = [
            str(e["contentDetails"]["videoId"])
            for e in entries
            if isinstance(e, dict) and isinstance(e.get("contentDetails"), dict)
        ]
        if not ids:
            return self.sample(handle, [], requests=self.requests)
        videos = await self.get(
            api + "/videos", {"part": "statistics", "id": ",".join(ids), "key": secret}
        )
        stats: list[dict[str, Any]] = [
            v["statistics"]
            for v in (videos.get("items") if isinstance(videos, dict) else None) or []
            if isinstance(v, dict) and isinstance(v.get("statistics"), dict)
        ]
        counts = [_sum(s.get("likeCount"), s.get("commentCount")) for s in stats]
        views = _sum(*(s.get("viewCount") for s in stats))
        return self.sample(handle, counts, views=views, requests=self.requests)

    async def github(self, handle: str) -> EngagementSample:
        if "/" not in handle:
            return EngagementSample(
                "github",
                handle,
                NO_INTERACTION_FIGURE,
                "GitHub publishes no interaction figure per post; a user's followers have no "
                "release to follow",
            )
        releases = await self.get(
            f"{self.root}/repos/{handle}/releases", {"per_page": str(self.limit)}
        )
        if not isinstance(releases, list):
            raise Malformed("releases answer is not a JSON array")
        days = sorted(
            (
                d
                for r in releases
                if isinstance(r, dict) and not r.get("draft")
                for d in [_day(r.get("published_at") or r.get("created_at"))]
                if d is not None and d <= self.day
            ),
            reverse=True,
        )
        since = self.day - timedelta(days=RELEASE_WINDOW_DAYS)
        return EngagementSample(
            "github",
            handle,
            NO_INTERACTION_FIGURE,
            "GitHub publishes no interaction figure per post: its releases are kept as the "
            "trigger a repository's growth follows",
            latest_release=days[0] if days else None,
            releases_30=sum(1 for d in days if d > since),
            requests=self.requests,
        )

    def x_missing(self, handle: str, body: object) -> EngagementSample | None:
        """The outcome of an X answer that names the user only under `errors` (a 200 for a
        user missing or suspended), or None."""
        errors = body.get("errors") if isinstance(body, dict) and "data" not in body else None
        if not isinstance(errors, list) or not errors:
            return None
        outcome, reason = x_miss(errors[0])
        return EngagementSample("x", handle, outcome.value, reason, requests=self.requests)

    async def x(self, handle: str) -> EngagementSample:
        user = await self.get(f"{self.root}/2/users/by/username/{handle}")
        data = user.get("data") if isinstance(user, dict) else None
        if not isinstance(data, dict) or data.get("id") is None:
            missing = self.x_missing(handle, user)
            if missing is not None:
                return missing
            raise Malformed("user lookup answer has no data.id")
        tweets = await self.get(
            f"{self.root}/2/users/{data['id']}/tweets",
            {
                "max_results": str(max(5, min(self.limit, 100))),
                "tweet.fields": "public_metrics",
                "exclude": "retweets,replies",
            },
        )
        missing = self.x_missing(handle, tweets)
        if missing is not None:
            return missing
        rows = tweets.get("data", []) if isinstance(tweets, dict) else None
        if not isinstance(rows, list):
            raise Malformed("user tweets answer is not an object with a data list")
        counts = []
        for tweet in rows:
            metrics = tweet.get("public_metrics") if isinstance(tweet, dict) else None
            if isinstance(metrics, dict):
                counts.append(
                    _sum(
                        metrics.get("like_count"),
                        metrics.get("retweet_count"),
                        metrics.get("reply_count"),
                        metrics.get("quote_count"),
                    )
                )
        return self.sample(handle, counts[: self.limit], requests=self.requests)


_MASTODON_ID = re.compile(r"[0-9]{1,20}")  # a snowflake id: nothing else goes into a path


def _skipped(platform: str, handle: str, settings: Settings) -> str | None:
    """Why the account is not asked tonight, or None."""
    if not settings.engagement.allows(platform):
        return f"engagement on {platform} is off in the settings ([engagement] {platform})"
    if not settings.platform(platform).enabled:
        return "collection is disabled for this platform in settings"
    if platform == "youtube" and settings.secrets.youtube_api_key is None:
        return "needs AUDIENCE_YOUTUBE_API_KEY"
    if platform == "x" and settings.secrets.x_bearer_token is None:
        return "needs AUDIENCE_X_BEARER_TOKEN"
    return None


async def _platform(
    platform: str,
    handles: list[str],
    settings: Settings,
    day: date,
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock,
    redact: Redactor,
    known_ids: Mapping[str, str],
) -> list[EngagementSample]:
    cls = READERS[platform]
    options = settings.platform(platform)
    async with cls.open_requester(
        options,
        settings.secrets,
        concurrency=options.max_concurrency,
        clock=clock,
        transport=transport,
        pooled=True,
    ) as requester:
        reader = _Reader(platform, requester, settings, day, settings.engagement.posts, known_ids)
        read: Callable[[str], Awaitable[EngagementSample]] = getattr(reader, platform)

        async def one(handle: str) -> EngagementSample:
            _SPENT.set([0])  # this task's own counter (a task runs in a copy of the context)
            try:
                return await read(handle)
            except CollectorError as exc:
                return EngagementSample(
                    platform, handle, exc.outcome.value, redact(exc.reason), requests=exc.attempts
                )
            except Exception as exc:  # a reader's bug costs its account, never the night
                reason = redact(f"engagement reader error: {type(exc).__name__}: {exc}")[:300]
                return EngagementSample(platform, handle, Outcome.UNAVAILABLE.value, reason)

        # the accounts read concurrently, each in its own task: the requester bounds the
        # requests in flight (max_concurrency) and the rate gate their pace; one at a time, a
        # night of 10,000 accounts waited minutes on round trips
        return list(await asyncio.gather(*(one(h) for h in handles)))


async def read_engagement_async(
    accounts: Sequence[tuple[str, str]],
    settings: Settings,
    day: date,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    known_ids: Mapping[tuple[str, str], str] | None = None,
) -> list[EngagementSample]:
    """One sample per distinct account of a platform with engagement to read (Bluesky,
    Mastodon, YouTube, GitHub, X); accounts of other platforms are left out. `known_ids`:
    the platforms' own ids of accounts, by (platform, canonical handle), as the count
    collection stored them (a Mastodon account's saves its lookup)."""
    redact = redactor_for(settings)
    by_platform: dict[str, list[str]] = {}
    skipped: list[EngagementSample] = []
    for platform, handle in dict.fromkeys(accounts):
        if platform not in READERS:
            continue
        try:
            canonical = canonical_handle(platform, handle)
        except HandleError as exc:
            skipped.append(
                EngagementSample(platform, handle, Outcome.INVALID_HANDLE.value, str(exc))
            )
            continue
        why = _skipped(platform, canonical, settings)
        if why:
            skipped.append(EngagementSample(platform, canonical, SKIPPED, why))
        else:
            by_platform.setdefault(platform, []).append(canonical)
    with redacted_logs(redact):
        groups = await asyncio.gather(
            *(
                _platform(
                    p,
                    list(dict.fromkeys(hs)),
                    settings,
                    day,
                    transport,
                    clock or SystemClock(),
                    redact,
                    {h: i for (q, h), i in (known_ids or {}).items() if q == p},
                )
                for p, hs in sorted(by_platform.items())
            )
        )
    return skipped + [s for group in groups for s in group]


def read_engagement(
    accounts: Sequence[tuple[str, str]],
    settings: Settings,
    day: date,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    known_ids: Mapping[tuple[str, str], str] | None = None,
) -> list[EngagementSample]:
    """Synchronous entry point (one event loop per call)."""
    return asyncio.run(read_engagement_async(accounts, settings, day, transport, clock, known_ids))
