"""Instagram Graph API business discovery: business and creator accounts, seen from your own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from collectors.base import (
    AuthFailed,
    CollectorError,
    Malformed,
    NotFound,
    RateLimited,
    generic_status,
    json_or_none,
    require_count,
)
from collectors.platform import Collector
from core.fetched import Fetched, Outcome

FIELDS = "business_discovery.username({username}){{followers_count,follows_count,media_count,name,username,id}}"
# Graph API error codes (tolerant: the documentation of these for business discovery is thin)
_RATE_CODES = {4, 17, 32, 613}
_AUTH_CODES = {102, 190, 200, 10}


class InstagramCollector(Collector):
    platform = "instagram"
    base_url = "https://graph.facebook.com/v25.0"
    needs = ("instagram_token",)

    @staticmethod
    def classify(response: httpx.Response) -> None:
        body = json_or_none(response)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code, message = error.get("code"), str(error.get("message", ""))[:120]
            if code in _RATE_CODES:
                raise RateLimited(f"Graph API limit (code {code}): {message}", response.status_code)
            if code in _AUTH_CODES:
                raise AuthFailed(
                    f"Graph API auth (code {code}): {message} (check AUDIENCE_INSTAGRAM_TOKEN)",
                    response.status_code,
                )
            if code in (100, 110) or "business" in message.lower():
                raise NotFound(
                    f"not a business or creator account, or no such user (code {code})",
                    response.status_code,
                )
        generic_status(response)

    async def fetch(self, handles: Sequence[str]) -> list[Fetched]:
        if not self.settings.account_id:
            return [
                self.outcome(
                    h,
                    Outcome.AUTH_FAILED,
                    "platforms.instagram.account_id (your own business account id) is not set",
                )
                for h in handles
            ]
        return [await self._one(h) for h in handles]

    async def _one(self, handle: str) -> Fetched:
        url = f"{self.root(self.settings)}/{self.settings.account_id}"
        params = {
            "fields": FIELDS.format(username=handle),
            "access_token": self.secret("instagram_token"),
        }
        try:
            body, status, attempts = await self.requester.get_json(url, params=params)
        except CollectorError as exc:
            return self.failed(handle, exc)
        return self.read(handle, body, status, attempts)

    def read(self, handle: str, body: Any, status: int, attempts: int) -> Fetched:
        found = body.get("business_discovery") if isinstance(body, dict) else None
        if not isinstance(found, dict):
            return self.outcome(
                handle,
                Outcome.MALFORMED,
                "answer has no business_discovery",
                status,
                attempts,
                body,
            )
        try:
            return self.ok(
                handle,
                status,
                attempts,
                found,
                followers=require_count(found.get("followers_count"), "followers_count"),
                following=require_count(found.get("follows_count", 0), "follows_count"),
                posts=require_count(found.get("media_count", 0), "media_count"),
                platform_id=found.get("id"),
                display_name=found.get("name"),
            )
        except Malformed as exc:
            return self.outcome(handle, Outcome.MALFORMED, exc.reason, status, attempts, found)
