"""How each simulated platform words its rate-limit headers, 429s and server errors."""

from __future__ import annotations

import math
from typing import Any

from simulator.faults import Limit, Window, iso_reset
from simulator.types import Answer


def rate_headers(platform: str, limit: Limit, window: Window, now: float) -> dict[str, str]:
    reset = int(window.reset_at)
    if platform == "mastodon":
        return {
            "X-RateLimit-Limit": str(limit.limit),
            "X-RateLimit-Remaining": str(window.remaining),
            "X-RateLimit-Reset": iso_reset(window.reset_at),
        }
    if platform == "bluesky":
        return {
            "RateLimit-Limit": str(limit.limit),
            "RateLimit-Remaining": str(window.remaining),
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": f"{limit.limit};w={limit.window_s}",
        }
    if platform == "github":
        return {
            "x-ratelimit-limit": str(limit.limit),
            "x-ratelimit-remaining": str(window.remaining),
            "x-ratelimit-used": str(limit.limit - window.remaining),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
        }
    if platform == "x":
        return {
            "x-rate-limit-limit": str(limit.limit),
            "x-rate-limit-remaining": str(window.remaining),
            "x-rate-limit-reset": str(reset),
        }
    if platform == "twitch":
        return {
            "Ratelimit-Limit": str(limit.limit),
            "Ratelimit-Remaining": str(window.remaining),
            "Ratelimit-Reset": str(reset),
        }
    if platform == "reddit":
        return {
            "X-Ratelimit-Used": str(limit.limit - window.remaining),
            "X-Ratelimit-Remaining": f"{float(window.remaining):.1f}",
            # seconds left, rounded up so the window is never announced as over before it is
            "X-Ratelimit-Reset": f"{math.ceil(max(window.reset_at - now, 0.0) * 10) / 10:.1f}",
        }
    return {}  # YouTube and the Graph API send no rate-limit headers


def too_many(platform: str, window: Window, now: float) -> Answer:
    wait = max(int(window.reset_at - now + 0.999), 1)
    if platform == "mastodon":
        return Answer(429, {"error": "Too many requests"})
    if platform == "bluesky":
        return Answer(
            429,
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            {"Retry-After": str(wait)},
        )
    if platform == "github":
        return Answer(
            403,
            {
                "message": "API rate limit exceeded for 127.0.0.1. (But here's the good news: "
                "Authenticated requests get a higher rate limit. Check out the documentation "
                "for more details.)",
                "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
            },
        )
    if platform == "x":
        return Answer(
            429,
            {
                "title": "Too Many Requests",
                "detail": "Too Many Requests",
                "type": "about:blank",
                "status": 429,
            },
        )
    if platform == "twitch":
        return Answer(
            429, {"error": "Too Many Requests", "status": 429, "message": "Too Many Requests"}
        )
    if platform == "youtube":
        return Answer(
            403,
            google_error(
                403,
                "The request cannot be completed because you have exceeded your quota.",
                "youtube.quota",
                "rateLimitExceeded",
            ),
        )
    if platform == "instagram":
        return Answer(
            403,
            {
                "error": {
                    "message": "(#4) Application request limit reached",
                    "type": "OAuthException",
                    "code": 4,
                }
            },
        )
    return Answer(429, {"message": "Too Many Requests", "error": 429})


def not_enrolled() -> Answer:
    """X's answer to an app whose access tier does not include the endpoint (secondary sources:
    the problem JSON quoted in xdevplatform/samples#58 and plhery/node-twitter-api-v2#487)."""
    return Answer(
        403,
        {
            "client_id": "27347717",
            "detail": "When authenticating requests to the Twitter API v2 endpoints, you must "
            "use keys and tokens from a Twitter developer App that is attached to a Project. "
            "You can create a project via the developer portal.",
            "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
            "title": "Client Forbidden",
            "required_enrollment": "Appropriate Level of API Access",
            "reason": "client-not-enrolled",
            "type": "https://api.twitter.com/2/problems/client-forbidden",
        },
    )


def server_error(platform: str, status: int) -> Answer:
    text = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}[status]
    if platform == "mastodon":
        return Answer(
            status, {"error": "Remote data could not be fetched" if status == 503 else text}
        )
    if platform == "bluesky":
        return Answer(status, {"error": "InternalServerError", "message": text})
    if platform == "youtube":
        return Answer(status, google_error(status, "Backend Error", "global", "backendError"))
    if platform == "twitch":
        return Answer(status, {"error": text, "status": status, "message": ""})
    return Answer(status, {"message": text})


def google_error(code: int, message: str, domain: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            **extra,
        }
    }
