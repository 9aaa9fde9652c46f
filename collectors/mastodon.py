"""Mastodon: GET /api/v1/accounts/lookup?acct=USER on the account's home server (public)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from collectors.base import (
    AuthFailed,
    CollectorError,
    Malformed,
    NotFound,
    RateLimited,
    Unavailable,
    generic_status,
    json_or_none,
    require_count,
)
from collectors.platform import Collector
from collectors.rate_gate import HeaderParser, iso_reset
from core.fetched import Fetched, Outcome


class MastodonCollector(Collector):
    platform = "mastodon"
    base_url = "https://{host}"  # a template: each account is asked on its own server
    rate_headers: ClassVar[HeaderParser] = staticmethod(iso_reset("x-ratelimit"))

    @staticmethod
    def classify(response: httpx.Response) -> None:
        body = json_or_none(response)
        message = body.get("error") if isinstance(body, dict) else None
        status = response.status_code
        if status == 404:
            raise NotFound(f"HTTP 404: {message or 'Record not found'}", status)
        if status == 410:  # Mastodon 2.4-3.3 answered suspended accounts with 410 Gone
            raise CollectorError("HTTP 410: account suspended", status)
        if status == 401:
            raise AuthFailed(
                f"HTTP 401: {message or 'this server requires an authenticated user'}", status
            )
        if status == 429:
            raise RateLimited(
                "HTTP 429: Too many requests", status
            )  # no Retry-After; the gate reads reset
        if status == 503:
            raise Unavailable(f"HTTP 503: {message or 'unavailable'}", status)
        generic_status(response)

    async def fetch(self, handles: Sequence[str]) -> list[Fetched]:
        return [await self._one(handle) for handle in handles]

    async def _one(self, handle: str) -> Fetched:
        user, host = handle.split("@", 1)
        url = self.root(self.settings).replace("{host}", host) + "/api/v1/accounts/lookup"
        try:
            body, status, attempts = await self.requester.get_json(
                url, params={"acct": user}, gate_key=host
            )  # each server has its own limit
        except CollectorError as exc:
            if exc.status == 410:
                return self.outcome(handle, Outcome.SUSPENDED, exc.reason, exc.status)
            return self.failed(handle, exc)
        return self.read(handle, body, status, attempts)

    def read(self, handle: str, body: Any, status: int, attempts: int) -> Fetched:
        if not isinstance(body, dict):
            return self.outcome(
                handle, Outcome.MALFORMED, "account is not a JSON object", status, attempts
            )
        if body.get("suspended") is True:  # counts show 0 then: no data, not zero followers
            return self.outcome(
                handle, Outcome.SUSPENDED, "account suspended by its server", status, attempts, body
            )
        moved = body.get("moved")
        if isinstance(moved, dict):
            target = moved.get("acct") or moved.get("url") or "another account"
            return self.outcome(handle, Outcome.MOVED, f"moved to {target}", status, attempts, body)
        try:
            followers = require_count(body.get("followers_count"), "followers_count")
            following = require_count(body.get("following_count"), "following_count")
            posts = require_count(body.get("statuses_count"), "statuses_count")
        except Malformed as exc:  # forks send -1 for hidden counts
            return self.outcome(handle, Outcome.MALFORMED, exc.reason, status, attempts, body)
        return self.ok(
            handle,
            status,
            attempts,
            body,
            followers=followers,
            following=following,
            posts=posts,
            platform_id=str(body.get("id")) if body.get("id") is not None else None,
            display_name=body.get("display_name") or None,
        )
