"""YouTube Data API v3: channels.list, 50 ids a request; @handles one at a time (forHandle)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from collectors.base import (
    AuthFailed,
    CollectorError,
    Malformed,
    RateLimited,
    generic_status,
    json_or_none,
    require_count,
)
from collectors.platform import Collector
from core.fetched import Fetched, Outcome

ROUNDING = "3 significant figures"  # public subscriber counts since September 2019


def _reasons(body: Any) -> list[str]:
    """Error reasons from the legacy errors[] and the newer details[] (both may appear)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return []
    reasons = [e.get("reason") for e in error.get("errors", []) if isinstance(e, dict)]
    reasons += [d.get("reason") for d in error.get("details", []) if isinstance(d, dict)]
    return [r for r in reasons if isinstance(r, str)]


class YouTubeCollector(Collector):
    platform = "youtube"
    base_url = "https://www.googleapis.com"
    batch_size = 50
    needs = ("youtube_api_key",)

    @staticmethod
    def classify(response: httpx.Response) -> None:
        status = response.status_code
        reasons = set(_reasons(json_or_none(response)))
        if reasons & {"quotaExceeded", "dailyLimitExceeded"}:
            raise RateLimited(
                "daily quota exceeded (resets at midnight Pacific time)", status, wait_s=86_400
            )
        if reasons & {"rateLimitExceeded", "userRateLimitExceeded"} or status == 429:
            raise RateLimited(f"HTTP {status}: rate limit exceeded", status)
        if reasons & {
            "API_KEY_INVALID",
            "keyInvalid",
            "accessNotConfigured",
            "SERVICE_DISABLED",
            "forbidden",
        }:
            raise AuthFailed(
                f"HTTP {status}: {sorted(reasons)[0]} (check AUDIENCE_YOUTUBE_API_KEY)", status
            )
        generic_status(response)

    async def fetch(self, handles: Sequence[str]) -> list[Fetched]:
        # a channel id is UC + 22 characters; anything else is an @handle or a legacy username
        ids = [h for h in handles if len(h) == 24 and h.startswith("UC")]
        results = [
            await self._by_handle(h, "forHandle" if h.startswith("@") else "forUsername")
            for h in handles
            if h not in ids
        ]
        if ids:
            results += await self._by_ids(ids)
        order = {h: i for i, h in enumerate(handles)}
        return sorted(results, key=lambda f: order[f.handle])

    def _params(self, **extra: str) -> dict[str, str]:
        return {"part": "snippet,statistics", "key": self.secret("youtube_api_key"), **extra}

    async def _by_ids(self, ids: list[str]) -> list[Fetched]:
        url = self.root(self.settings) + "/youtube/v3/channels"
        try:
            body, status, attempts = await self.requester.get_json(
                url, params=self._params(id=",".join(ids), maxResults="50")
            )
        except CollectorError as exc:
            return [self.failed(i, exc) for i in ids]
        items = (
            body.get("items", []) if isinstance(body, dict) else None
        )  # no items key: none found
        if not isinstance(items, list):
            return [
                self.outcome(i, Outcome.MALFORMED, "items is not a list", status, attempts)
                for i in ids
            ]
        found = {item.get("id"): item for item in items if isinstance(item, dict)}
        return [
            self.read(i, found[i], status, attempts)
            if i in found
            else self.outcome(
                i, Outcome.NOT_FOUND, "no such channel (or terminated)", status, attempts
            )
            for i in ids
        ]

    async def _by_handle(self, handle: str, parameter: str = "forHandle") -> Fetched:
        url = self.root(self.settings) + "/youtube/v3/channels"
        try:
            body, status, attempts = await self.requester.get_json(
                url, params=self._params(**{parameter: handle})
            )
        except CollectorError as exc:
            return self.failed(handle, exc)
        items = body.get("items") if isinstance(body, dict) else None
        if not items:
            return self.outcome(
                handle, Outcome.NOT_FOUND, "no channel has this handle", status, attempts
            )
        return self.read(handle, items[0], status, attempts)

    def read(self, handle: str, item: Any, status: int, attempts: int) -> Fetched:
        if not isinstance(item, dict) or not isinstance(item.get("statistics"), dict):
            return self.outcome(
                handle, Outcome.MALFORMED, "channel has no statistics", status, attempts, item
            )
        stats, snippet = item["statistics"], item.get("snippet") or {}
        if stats.get("hiddenSubscriberCount") is True:
            return self.outcome(
                handle,
                Outcome.UNAVAILABLE,
                "the channel hides its subscriber count",
                status,
                attempts,
                item,
            )
        try:
            followers = require_count(stats.get("subscriberCount"), "subscriberCount")
            posts = require_count(stats.get("videoCount", "0"), "videoCount")
            views = require_count(stats.get("viewCount", "0"), "viewCount")
        except Malformed as exc:
            return self.outcome(handle, Outcome.MALFORMED, exc.reason, status, attempts, item)
        return self.ok(
            handle,
            status,
            attempts,
            item,
            followers=followers,
            posts=posts,
            views=views,
            platform_id=item.get("id"),
            display_name=snippet.get("title"),
            rounding=ROUNDING if followers >= 1000 else None,
        )
