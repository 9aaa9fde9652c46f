"""Fault injection and rate limiting for the simulated platforms."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class Faults:
    """What can go wrong on one platform; rates are per request, between 0 and 1."""

    error_rate: float = 0.0  # 500/502/503 with the platform's error body
    latency_s: float = 0.0  # added to every answer
    timeout_rate: float = 0.0  # answer only after `timeout_s` (clients give up first)
    timeout_s: float = 30.0
    burst_rate: float = 0.0  # chance a request starts a run of 429s ...
    burst_length: int = 5  # ... this many requests long
    malformed_rate: float = 0.0  # a body that is not JSON (an HTML error page)
    truncated_rate: float = 0.0  # a JSON body cut in half
    reset_rate: float = 0.0  # the connection drops before the body
    # X only: the token's app has no access at its tier: 403 client-not-enrolled (with `paths`,
    # e.g. {"/tweets"}: the user lookups answer while the tweets timeline is refused)
    tier_forbidden: bool = False
    missing: set[str] = field(default_factory=set)  # handles that answer "not found"
    suspended: set[str] = field(default_factory=set)  # handles that answer "suspended"
    # the per-request faults (errors, latency, timeouts, bursts, bad bodies, resets) hit only
    # requests whose path holds one of these (empty: every request), e.g. {"getFollowers"}: a
    # follower list failing while the counts answer
    paths: set[str] = field(default_factory=set)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Faults:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault setting(s): {sorted(unknown)}")
        values = dict(data)
        for name in ("missing", "suspended", "paths"):
            if name in values:
                values[name] = set(values[name])  # type: ignore[call-overload]
        return cls(**values)  # type: ignore[arg-type]


@dataclass
class Limit:
    """A fixed-window limit: `limit` requests per `window_s` seconds, windows aligned to the epoch."""

    limit: int
    window_s: int


@dataclass
class Window:
    remaining: int
    reset_at: float  # epoch seconds, a whole number


class Limiter:
    """Counts requests per key (a platform, or a Mastodon server) in aligned fixed windows."""

    def __init__(self, clock: object = time.time) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, limit: Limit) -> tuple[bool, Window]:
        now = self._clock()  # type: ignore[operator]
        start = math.floor(now / limit.window_s) * limit.window_s
        with self._lock:
            window_start, used = self._windows.get(key, (start, 0))
            if window_start != start:
                window_start, used = start, 0
            allowed = used < limit.limit
            if allowed:
                used += 1
            self._windows[key] = (window_start, used)
        return allowed, Window(max(limit.limit - used, 0), window_start + limit.window_s)


def iso_reset(epoch: float) -> str:
    """Mastodon's X-RateLimit-Reset: ISO-8601 with 6 fractional digits."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Dice:
    """The simulator's randomness, seeded so a run can be repeated."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._bursts: dict[str, int] = {}

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate

    def in_burst(self, platform: str, faults: Faults) -> bool:
        with self._lock:
            left = self._bursts.get(platform, 0)
            if left > 0:
                self._bursts[platform] = left - 1
                return True
            if faults.burst_rate > 0 and self._random.random() < faults.burst_rate:
                self._bursts[platform] = max(faults.burst_length - 1, 0)
                return True
        return False
