"""The real rate limits of the audience endpoints (follower lists, profiles, feeds), on by default.

From docs/audience-apis.md and docs/platform-apis.md:
- Mastodon, unauthenticated, per IP (here: per server): 300 requests / 5 min, and requests
  carrying max_id, since_id, min_id or page also count in a paging throttle of 300 / 15 min
  (`throttle_unauthenticated_paging`, rack_attack.rb); the headers describe the throttle
  closest to exceeding; a 429 sends no Retry-After.
- GitHub: 60 requests / hour unauthenticated, 5,000 / hour with a token (per token).
- Bluesky: the AppView's limit is unpublished ("generous"); the PDS figure, 3,000 / 5 min per
  IP, is used here. UNVERIFIED: change it with POST /_sim/audience-limits/bluesky.
- X, the user tweets timeline with an App-only bearer: 1,500 / 15 min per app (token), the v2
  migration guide's figure (docs.x.com .../timelines/migrate); the pay-per-use rate-limit table
  says 10,000 / 15 min per app. UNVERIFIED which applies to a given tier: the lower is served.

These budgets count the audience endpoints only: follower lists, feeds, and profile lookups of
followers (the count collectors' requests keep the opt-in limits of POST /_sim/limits/...).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from starlette.requests import Request

from simulator.faults import Limit, Limiter, Window
from simulator.styles import rate_headers, too_many
from simulator.types import Answer

if TYPE_CHECKING:
    from simulator.server import Simulator

PAGING_PARAMS = ("max_id", "since_id", "min_id", "page")


@dataclass(frozen=True)
class Bucket:
    name: str
    limit: int
    window_s: int
    paging_only: bool = False  # counts only requests that page (Mastodon)
    authenticated_limit: int | None = None  # with a token, its own bucket of this size


DEFAULT_BUCKETS: dict[str, tuple[Bucket, ...]] = {
    "mastodon": (
        Bucket("unauthenticated_api", 300, 300),
        Bucket("unauthenticated_paging", 300, 900, paging_only=True),
    ),
    "github": (Bucket("core", 60, 3600, authenticated_limit=5000),),
    "bluesky": (Bucket("appview", 3000, 300),),
    "x": (Bucket("user_tweets", 1500, 900, authenticated_limit=1500),),
}


def _token(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token if scheme.lower() in ("bearer", "token") and token else None


class Budgets:
    """Counts audience requests per platform, bucket, server and token, on the simulator's clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._limiter = Limiter(clock)
        self.buckets: dict[str, tuple[Bucket, ...]] = dict(DEFAULT_BUCKETS)

    def reset(self) -> None:
        self._limiter = Limiter(self._clock)
        self.buckets = dict(DEFAULT_BUCKETS)

    def set(self, platform: str, bucket: str, limit: int, window_s: int) -> None:
        """Change one bucket's size (tests, or a platform that changed its figures)."""
        known = {b.name: b for b in self.buckets.get(platform, ())}
        if bucket not in known:
            raise ValueError(f"no bucket {bucket!r} on {platform!r}: known {sorted(known)}")
        if limit < 1 or window_s < 1:
            raise ValueError("limit and window_s must be at least 1")
        changed = replace(known[bucket], limit=limit, window_s=window_s, authenticated_limit=None)
        self.buckets[platform] = tuple(
            changed if b.name == bucket else b for b in self.buckets[platform]
        )

    def take(self, platform: str, request: Request) -> tuple[Answer | None, dict[str, str]]:
        """Spend one request: (None, headers) if allowed, (the platform's refusal, headers) if not."""
        host = request.path_params.get("host", "")
        paging = any(p in request.query_params for p in PAGING_PARAMS)
        token = _token(request)
        now = self._clock()
        closest: tuple[Limit, Window] | None = None
        refused = False
        for bucket in self.buckets.get(platform, ()):
            if bucket.paging_only and not paging:
                continue
            size = bucket.limit
            key = f"{platform}:{bucket.name}:{host}"
            if token is not None and bucket.authenticated_limit is not None:
                size, key = bucket.authenticated_limit, f"{key}:token:{token}"
            limit = Limit(size, bucket.window_s)
            allowed, window = self._limiter.take(key, limit)
            refused = refused or not allowed
            if closest is None or window.remaining < closest[1].remaining:
                closest = (limit, window)
        if closest is None:
            return None, {}
        limit, window = closest
        headers = rate_headers(platform, limit, window, now)
        if not refused:
            return None, headers
        answer = too_many(platform, window, now)
        if platform == "mastodon":
            headers["X-RateLimit-Remaining"] = "0"
        if platform == "github":
            headers["x-ratelimit-remaining"] = "0"
        return Answer(answer.status, answer.body, headers | answer.headers), headers


def budgeted(
    platform: str,
) -> Callable[
    [Callable[[Simulator, Request], Answer]],
    Callable[[Simulator, Request], Awaitable[Answer]],
]:
    """A handler that spends one request of the platform's audience budget first: refused with
    the platform's 429 (or 403) when spent; its answer carries the budget's headers."""

    def wrap(
        inner: Callable[[Simulator, Request], Answer],
    ) -> Callable[[Simulator, Request], Awaitable[Answer]]:
        async def handler(sim: Simulator, request: Request) -> Answer:
            refused, headers = sim.audiences.budgets.take(platform, request)
            if refused:
                return refused
            answer = inner(sim, request)
            answer.headers = headers | answer.headers
            return answer

        handler.__doc__ = inner.__doc__
        return handler

    return wrap
