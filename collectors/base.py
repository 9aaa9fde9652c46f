"""What every collector shares: the errors a request ends with, and reading an answer (its
status, Retry-After, counts). The retrying request is in `collectors.requester`, the rate-limit
gates in `collectors.rate_gate`, redaction in `collectors.redaction`.

CollectorError                 a request ended without a usable answer
├── RateLimited                the platform said slow down (429, or its own 403 form)
├── AuthFailed                 credentials missing, wrong or not allowed (never retried)
├── NotFound                   the account does not exist (never retried)
├── Malformed                  the answer could not be read as the documented shape
└── Unavailable                5xx, timeouts, resets: retried, then given up
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from core.fetched import Outcome

USER_AGENT = "audience-growth-tracker/0.1 (+https://github.com/audience-growth-tracker)"
TRANSIENT_STATUS = frozenset({408, 425, 500, 502, 503, 504, 520, 521, 522, 524})


class CollectorError(Exception):
    outcome: ClassVar[Outcome] = Outcome.UNAVAILABLE

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.attempts = 0  # set by the Requester when it gives the error up


class RateLimited(CollectorError):
    outcome = Outcome.RATE_LIMITED

    def __init__(
        self,
        reason: str,
        status: int | None = None,
        wait_s: float | None = None,
        final: bool = False,
    ) -> None:
        super().__init__(reason, status)
        self.wait_s = wait_s
        self.final = final  # waiting would take longer than allowed: give up now


class AuthFailed(CollectorError):
    outcome = Outcome.AUTH_FAILED


class NotFound(CollectorError):
    outcome = Outcome.NOT_FOUND


class Malformed(CollectorError):
    outcome = Outcome.MALFORMED


class Unavailable(CollectorError):
    outcome = Outcome.UNAVAILABLE


def header_number(value: str | None) -> float | None:
    """A header's number; None when it is absent, blank or not a number."""
    try:
        return float(value) if value is not None and value.strip() != "" else None
    except ValueError:
        return None


def bearer(secret: SecretStr | None) -> dict[str, str]:
    """The Authorization header for a SecretStr token, or nothing when it is not set."""
    return {} if secret is None else {"Authorization": f"Bearer {secret.get_secret_value()}"}


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (numeric form; the HTTP-date form is read too)."""
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    seconds = header_number(raw)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        from email.utils import parsedate_to_datetime

        return max((parsedate_to_datetime(raw) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def json_or_none(response: httpx.Response) -> Any:  # a JSON value: its reader checks its shape
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def generic_status(response: httpx.Response, wait_s: float | None = None) -> None:
    """Classification every platform shares for statuses it does not treat specially."""
    status = response.status_code
    if status == 429:
        raise RateLimited(
            "HTTP 429 too many requests",
            status,
            wait_s if wait_s is not None else retry_after(response),
        )
    if status in TRANSIENT_STATUS or status >= 500:
        raise Unavailable(f"HTTP {status} from the platform", status)
    if status in (401, 403):
        raise AuthFailed(f"HTTP {status}: not authorised", status)
    if status == 404:
        raise NotFound("HTTP 404", status)
    if status >= 400:
        raise Malformed(f"HTTP {status}: the platform refused the request", status)


def as_count(value: object) -> int | None:
    """A non-negative count from an int or a numeric string (YouTube sends strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def require_count(value: object, what: str) -> int:
    count = as_count(value)
    if count is None:
        raise Malformed(f"{what} is missing or not a non-negative integer: {str(value)[:40]!r}")
    return count
