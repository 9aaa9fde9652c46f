"""X API v2: users by username, 100 a request; misses come back as errors[] in a 200."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from collectors.base import (
    USER_AGENT,
    AuthFailed,
    CollectorError,
    Malformed,
    RateLimited,
    bearer,
    generic_status,
    json_or_none,
    require_count,
)
from collectors.platform import Collector
from collectors.rate_gate import HeaderParser, epoch_reset
from core.fetched import Fetched, Outcome
from core.settings import Secrets

FIELDS = "public_metrics,created_at,verified,verified_type,description,protected"


def miss(error: object) -> tuple[Outcome, str]:
    """What an `errors` item of a 200 says of a user: suspended, else not found."""
    detail = str(error.get("detail", "")) if isinstance(error, dict) else ""
    if "suspended" in detail.lower():
        return Outcome.SUSPENDED, detail or "user suspended"
    return Outcome.NOT_FOUND, detail or "user not found"


def _forbidden(body: object) -> str:
    """The reason of a 403: a tier without access to the endpoint (`client-not-enrolled`), or
    the token refused."""
    if not isinstance(body, dict):
        return "HTTP 403: Forbidden (check AUDIENCE_X_BEARER_TOKEN)"
    if body.get("reason") == "client-not-enrolled" or str(body.get("type", "")).endswith(
        "client-forbidden"
    ):
        needed = body.get("required_enrollment") or "another access level"
        return (
            f"HTTP 403 {body.get('reason') or 'client-forbidden'}: the X token's access tier "
            f"does not include this endpoint (X asks for: {needed})"
        )
    return f"HTTP 403: {body.get('detail', 'Forbidden')} (check AUDIENCE_X_BEARER_TOKEN)"


class XCollector(Collector):
    platform = "x"
    base_url = "https://api.x.com"
    batch_size = 100
    needs = ("x_bearer_token",)
    rate_headers: ClassVar[HeaderParser] = staticmethod(epoch_reset("x-rate-limit"))

    @classmethod
    def default_headers(cls, secrets: Secrets) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        return headers | bearer(secrets.x_bearer_token)

    @staticmethod
    def classify(response: httpx.Response) -> None:
        status = response.status_code
        body = json_or_none(response)
        kind = str(body.get("type", "")) if isinstance(body, dict) else ""
        if status == 429 and kind.endswith("usage-capped"):
            raise RateLimited("usage cap exceeded for this billing period", status, wait_s=86_400)
        if status == 429:
            raise RateLimited("HTTP 429: Too Many Requests", status)  # X sends no Retry-After
        if status == 403:
            raise AuthFailed(_forbidden(body), status)
        if status == 401:
            raise AuthFailed(
                f"HTTP {status}: {body.get('detail', 'Unauthorized') if isinstance(body, dict) else 'Unauthorized'} (check AUDIENCE_X_BEARER_TOKEN)",
                status,
            )
        generic_status(response)

    async def fetch(self, handles: Sequence[str]) -> list[Fetched]:
        url = self.root(self.settings) + "/2/users/by"
        try:
            body, status, attempts = await self.requester.get_json(
                url, params={"usernames": ",".join(handles), "user.fields": FIELDS}
            )
        except CollectorError as exc:
            return [self.failed(h, exc) for h in handles]
        if not isinstance(body, dict):
            return [
                self.outcome(h, Outcome.MALFORMED, "answer is not a JSON object", status, attempts)
                for h in handles
            ]
        found = {
            str(u.get("username", "")).lower(): u
            for u in body.get("data") or []
            if isinstance(u, dict)
        }
        errors = {
            str(e.get("value", e.get("resource_id", ""))).lower(): e
            for e in body.get("errors") or []
            if isinstance(e, dict)
        }
        return [self._one(h, found.get(h), errors.get(h), status, attempts) for h in handles]

    def _one(self, handle: str, user: Any, error: Any, status: int, attempts: int) -> Fetched:
        if user is None:
            if error is not None:
                return self.outcome(handle, *miss(error), status, attempts, error)
            return self.outcome(
                handle, Outcome.MALFORMED, "the answer says nothing of this user", status, attempts
            )
        metrics = user.get("public_metrics")
        if not isinstance(metrics, dict):
            return self.outcome(
                handle, Outcome.MALFORMED, "user has no public_metrics", status, attempts, user
            )
        try:
            return self.ok(
                handle,
                status,
                attempts,
                user,
                followers=require_count(metrics.get("followers_count"), "followers_count"),
                following=require_count(metrics.get("following_count"), "following_count"),
                posts=require_count(metrics.get("tweet_count"), "tweet_count"),
                platform_id=user.get("id"),
                display_name=user.get("name"),
            )
        except Malformed as exc:
            return self.outcome(handle, Outcome.MALFORMED, exc.reason, status, attempts, user)
