"""Reddit: app-only OAuth (client credentials), then /r/SUB/about and /user/NAME/about."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from collectors.base import (
    AuthFailed,
    CollectorError,
    NotFound,
    as_count,
    generic_status,
    json_or_none,
)
from collectors.platform import Collector
from collectors.rate_gate import HeaderParser, seconds_left_reset
from core.fetched import Fetched, Outcome

TOKEN_URL = "https://www.reddit.com/api/v1/access_token"


class RedditCollector(Collector):
    platform = "reddit"
    base_url = "https://oauth.reddit.com"
    needs = ("reddit_client_id", "reddit_client_secret")
    rate_headers: ClassVar[HeaderParser] = staticmethod(seconds_left_reset("x-ratelimit"))

    _token: str | None = None
    _token_lock: asyncio.Lock | None = None

    @staticmethod
    def classify(response: httpx.Response) -> None:
        status = response.status_code
        body = json_or_none(response)
        if status == 403 and body is None:  # an HTML page: blocked by Reddit's network security
            raise AuthFailed("HTTP 403 HTML page: blocked by Reddit's network security", status)
        reason = body.get("reason") if isinstance(body, dict) else None
        if status == 403 and reason in ("private", "quarantined", "gated"):
            raise CollectorError(f"HTTP 403: {reason} subreddit", status)
        if status == 404:
            raise NotFound(
                f"HTTP 404: {'banned' if reason == 'banned' else 'not found (or shadowbanned)'}",
                status,
            )
        generic_status(response)

    def token_url(self) -> str:
        """auth_url, else beside an overridden base_url (the simulator), else Reddit's own."""
        if self.settings.auth_url:
            return self.settings.auth_url
        if self.settings.base_url:
            return self.root(self.settings) + "/api/v1/access_token"
        return TOKEN_URL

    async def _bearer(self) -> str:
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            if self._token is None:
                auth = (self.secret("reddit_client_id"), self.secret("reddit_client_secret"))
                body, _, _ = await self.requester.get_json(
                    self.token_url(),
                    method="POST",
                    auth=auth,
                    data={"grant_type": "client_credentials"},
                )
                token = body.get("access_token") if isinstance(body, dict) else None
                if not isinstance(token, str) or not token:
                    raise AuthFailed("the token endpoint returned no access_token")
                self._token = token
            return self._token

    async def fetch(self, handles: Sequence[str]) -> list[Fetched]:
        try:
            token = await self._bearer()
        except CollectorError as exc:
            return [self.failed(h, exc) for h in handles]
        return [await self._one(h, token) for h in handles]

    async def _one(self, handle: str, token: str) -> Fetched:
        kind, name = handle.split("/", 1)
        path = f"/r/{name}/about" if kind == "r" else f"/user/{name}/about"
        try:
            body, status, attempts = await self.requester.get_json(
                self.root(self.settings) + path, headers={"Authorization": f"bearer {token}"}
            )
        except CollectorError as exc:
            if exc.status == 403 and "subreddit" in exc.reason:
                return self.outcome(handle, Outcome.UNAVAILABLE, exc.reason, exc.status)
            return self.failed(handle, exc)
        return self.read(handle, body, status, attempts)

    def read(self, handle: str, body: Any, status: int, attempts: int) -> Fetched:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return self.outcome(
                handle, Outcome.MALFORMED, "answer has no data object", status, attempts, body
            )
        if data.get("is_suspended") is True:
            return self.outcome(handle, Outcome.SUSPENDED, "user suspended", status, attempts, body)
        if handle.startswith("r/"):
            subscribers, name = data.get("subscribers"), data.get("display_name")
        else:
            profile = data.get("subreddit")
            subscribers = profile.get("subscribers") if isinstance(profile, dict) else None
            name = data.get("name")
        count = as_count(subscribers)
        if count is None:
            reason = (
                "subscriber count hidden (private)"
                if subscribers is None
                else "subscribers is not a count"
            )
            outcome = Outcome.UNAVAILABLE if subscribers is None else Outcome.MALFORMED
            return self.outcome(handle, outcome, reason, status, attempts, body)
        return self.ok(
            handle,
            status,
            attempts,
            body,
            followers=count,
            platform_id=data.get("id"),
            display_name=name,
        )
