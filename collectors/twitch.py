"""Twitch Helix: users by login (100 a request), then each channel's follower total."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from collectors.base import (
    USER_AGENT,
    AuthFailed,
    CollectorError,
    Malformed,
    bearer,
    generic_status,
    json_or_none,
    require_count,
)
from collectors.platform import Collector
from collectors.rate_gate import HeaderParser, epoch_reset
from core.fetched import Fetched, Outcome
from core.settings import Secrets


class TwitchCollector(Collector):
    platform = "twitch"
    base_url = "https://api.twitch.tv"
    batch_size = 100
    needs = ("twitch_client_id", "twitch_token")
    rate_headers: ClassVar[HeaderParser] = staticmethod(epoch_reset("ratelimit"))

    @classmethod
    def default_headers(cls, secrets: Secrets) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        if secrets.twitch_client_id is not None and secrets.twitch_token is not None:
            headers["Client-Id"] = secrets.twitch_client_id.get_secret_value()
            headers |= bearer(secrets.twitch_token)
        return headers

    @staticmethod
    def classify(response: httpx.Response) -> None:
        if response.status_code == 401:
            body = json_or_none(response)
            message = body.get("message", "") if isinstance(body, dict) else ""
            raise AuthFailed(
                f"HTTP 401: {message or 'Unauthorized'} (follower totals need a user token)", 401
            )
        generic_status(response)

    async def fetch(self, handles: Sequence[str]) -> list[Fetched]:
        root = self.root(self.settings)
        try:
            body, status, attempts = await self.requester.get_json(
                root + "/helix/users", params=[("login", h) for h in handles]
            )
        except CollectorError as exc:
            return [self.failed(h, exc) for h in handles]
        users = body.get("data") if isinstance(body, dict) else None
        if not isinstance(users, list):
            return [
                self.outcome(
                    h, Outcome.MALFORMED, "users answer has no data list", status, attempts
                )
                for h in handles
            ]
        found = {str(u.get("login", "")).lower(): u for u in users if isinstance(u, dict)}
        results = []
        for handle in handles:
            user = found.get(handle)
            if user is None:  # unknown logins are simply absent from data
                results.append(
                    self.outcome(handle, Outcome.NOT_FOUND, "no such login", status, attempts)
                )
            else:
                results.append(await self._followers(handle, user))
        return results

    async def _followers(self, handle: str, user: Any) -> Fetched:
        try:
            body, status, attempts = await self.requester.get_json(
                self.root(self.settings) + "/helix/channels/followers",
                params={"broadcaster_id": str(user.get("id"))},
            )
            total = require_count(body.get("total") if isinstance(body, dict) else None, "total")
        except Malformed as exc:
            return self.outcome(handle, Outcome.MALFORMED, exc.reason, exc.status, payload=user)
        except CollectorError as exc:
            return self.failed(handle, exc)
        return self.ok(
            handle,
            status,
            attempts,
            {"user": user, "followers": body},
            followers=total,
            platform_id=str(user.get("id")),
            display_name=user.get("display_name"),
        )
