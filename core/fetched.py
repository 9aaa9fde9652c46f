"""What a collector brings back for one account: its figures, or the outcome and its reason."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime


class Outcome(enum.StrEnum):
    OK = "ok"
    NOT_FOUND = "not_found"
    SUSPENDED = "suspended"
    MOVED = "moved"
    RATE_LIMITED = "rate_limited"
    AUTH_FAILED = "auth_failed"
    MALFORMED = "malformed"
    UNAVAILABLE = "unavailable"
    INVALID_HANDLE = "invalid_handle"


@dataclass
class Fetched:
    """One account's result: figures when ok, otherwise the outcome and its reason."""

    platform: str
    handle: str
    outcome: Outcome
    reason: str = ""
    followers: int | None = None
    following: int | None = None
    posts: int | None = None
    views: int | None = None
    platform_id: str | None = None
    display_name: str | None = None
    rounding: str | None = None  # e.g. "3 significant figures" (YouTube)
    payload: object = None  # the platform's raw record for this account
    http_status: int | None = None
    attempts: int = 0
    observed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
