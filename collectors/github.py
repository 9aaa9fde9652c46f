"""GitHub: users (followers) and owner/repo (stars). No credentials needed; a token raises the limit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import httpx

from collectors.base import (
    USER_AGENT,
    AuthFailed,
    CollectorError,
    Malformed,
    NotFound,
    RateLimited,
    bearer,
    generic_status,
    json_or_none,
    require_count,
    retry_after,
)
from collectors.platform import Collector
from collectors.rate_gate import HeaderParser, epoch_reset
from core.fetched import Fetched, Outcome
from core.settings import Secrets


class GitHubCollector(Collector):
    platform = "github"
    base_url = "https://api.github.com"
    rate_headers: ClassVar[HeaderParser] = staticmethod(epoch_reset("x-ratelimit"))

    @classmethod
    def default_headers(cls, secrets: Secrets) -> dict[str, str]:
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        return headers | bearer(secrets.github_token)

    @staticmethod
    def classify(response: httpx.Response) -> None:
        status = response.status_code
        body = json_or_none(response)
        message = str(body.get("message", "")) if isinstance(body, dict) else ""
        limited = (
            response.headers.get("x-ratelimit-remaining") == "0" or "rate limit" in message.lower()
        )
        if status in (403, 429) and limited:
            wait = retry_after(response)
            raise RateLimited(
                f"HTTP {status}: {message[:80] or 'rate limit exceeded'}", status, wait
            )
        if status == 404:
            raise NotFound("HTTP 404: Not Found", status)
        if status == 401:
            raise AuthFailed("HTTP 401: Bad credentials (AUDIENCE_GITHUB_TOKEN)", status)
        if status == 403:
            raise AuthFailed(f"HTTP 403: {message[:80] or 'forbidden'}", status)
        generic_status(response)

    async def fetch(self, handles: Sequence[str]) -> list[Fetched]:
        return [await self._one(h) for h in handles]

    async def _one(self, handle: str) -> Fetched:
        repo = "/" in handle
        url = self.root(self.settings) + (f"/repos/{handle}" if repo else f"/users/{handle}")
        try:
            body, status, attempts = await self.requester.get_json(url)
        except CollectorError as exc:
            return self.failed(handle, exc)
        if not isinstance(body, dict):
            return self.outcome(
                handle, Outcome.MALFORMED, "answer is not a JSON object", status, attempts
            )
        try:
            if repo:
                return self.ok(
                    handle,
                    status,
                    attempts,
                    body,
                    followers=require_count(body.get("stargazers_count"), "stargazers_count"),
                    platform_id=str(body.get("id")),
                    display_name=body.get("full_name"),
                )
            return self.ok(
                handle,
                status,
                attempts,
                body,
                followers=require_count(body.get("followers"), "followers"),
                following=require_count(body.get("following"), "following"),
                posts=require_count(body.get("public_repos", 0), "public_repos"),
                platform_id=str(body.get("id")),
                display_name=body.get("name") or None,
            )
        except Malformed as exc:
            return self.outcome(handle, Outcome.MALFORMED, exc.reason, status, attempts, body)
