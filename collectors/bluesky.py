"""Bluesky: the public AppView, 25 profiles a request via getProfiles (no credentials)."""

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
    generic_status,
    json_or_none,
    require_count,
    retry_after,
)
from collectors.platform import Collector
from collectors.rate_gate import HeaderParser, epoch_reset
from core.fetched import Fetched, Outcome

_ERRORS = {
    "AccountTakedown": (Outcome.SUSPENDED, "account taken down by Bluesky"),
    "AccountDeactivated": (Outcome.NOT_FOUND, "account deactivated by its owner"),
}


class BlueskyCollector(Collector):
    platform = "bluesky"
    base_url = "https://public.api.bsky.app"
    batch_size = 25  # lexicon app.bsky.actor.getProfiles: actors maxLength 25
    rate_headers: ClassVar[HeaderParser] = staticmethod(epoch_reset("ratelimit"))

    @staticmethod
    def classify(response: httpx.Response) -> None:
        status = response.status_code
        body = json_or_none(response)
        name = body.get("error") if isinstance(body, dict) else None
        message = body.get("message", "") if isinstance(body, dict) else ""
        if status == 429:
            raise RateLimited(
                f"HTTP 429: {name or 'RateLimitExceeded'}", status, retry_after(response)
            )
        if status == 400 and name in _ERRORS:
            raise CollectorError(f"{name}: {message}", status)
        if status == 400 and name == "InvalidRequest":
            raise NotFound(f"HTTP 400 InvalidRequest: {message or 'Profile not found'}", status)
        if status == 404:  # XRPC 404 means the method is not supported here
            raise Malformed(
                "HTTP 404: endpoint not supported by this server (check base_url)", status
            )
        if status in (400, 401) and name in ("ExpiredToken", "InvalidToken", "AuthMissing"):
            raise AuthFailed(f"HTTP {status}: {name}", status)
        generic_status(response)

    async def fetch(self, handles: Sequence[str]) -> list[Fetched]:
        url = self.root(self.settings) + "/xrpc/app.bsky.actor.getProfiles"
        try:
            body, status, attempts = await self.requester.get_json(
                url, params=[("actors", h) for h in handles]
            )
        except CollectorError as exc:
            return [self.failed(h, exc) for h in handles]
        profiles = body.get("profiles") if isinstance(body, dict) else None
        if not isinstance(profiles, list):
            return [
                self.outcome(
                    h,
                    Outcome.MALFORMED,
                    "getProfiles answer has no profiles list",
                    status,
                    attempts,
                )
                for h in handles
            ]
        by_key: dict[str, Any] = {}
        for profile in profiles:
            if isinstance(profile, dict):
                for key in (profile.get("handle"), profile.get("did")):
                    if isinstance(key, str) and key != "handle.invalid":
                        by_key[key.lower()] = profile
        results = []
        for handle in handles:
            profile = by_key.get(handle.lower())
            if profile is None:
                # getProfiles silently omits unknown, taken-down and deactivated actors: ask why
                results.append(await self._explain_missing(handle))
            else:
                results.append(self.read(handle, profile, status, attempts))
        return results

    async def _explain_missing(self, handle: str) -> Fetched:
        url = self.root(self.settings) + "/xrpc/app.bsky.actor.getProfile"
        try:
            body, status, attempts = await self.requester.get_json(url, params={"actor": handle})
        except CollectorError as exc:
            name = exc.reason.split(":", 1)[0]
            if name in _ERRORS:
                outcome, reason = _ERRORS[name]
                return self.outcome(handle, outcome, reason, exc.status)
            return self.failed(handle, exc)
        return self.read(handle, body, status, attempts)  # it appeared after all

    def read(self, handle: str, profile: Any, status: int, attempts: int) -> Fetched:
        if not isinstance(profile, dict):
            return self.outcome(
                handle, Outcome.MALFORMED, "profile is not a JSON object", status, attempts
            )
        try:
            followers = require_count(profile.get("followersCount"), "followersCount")
            following = require_count(profile.get("followsCount", 0), "followsCount")
            posts = require_count(profile.get("postsCount", 0), "postsCount")
        except Malformed as exc:
            return self.outcome(handle, Outcome.MALFORMED, exc.reason, status, attempts, profile)
        return self.ok(
            handle,
            status,
            attempts,
            profile,
            followers=followers,
            following=following,
            posts=posts,
            platform_id=profile.get("did"),
            display_name=profile.get("displayName") or None,
        )
