"""Rate-limit gates: what each platform's headers say about its window, and holding requests
back while the window is spent. The gate reads the time from a Clock (the wall clock, or a
test's)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import httpx

from collectors.base import RateLimited, header_number


@dataclass
class RateState:
    """What the platform last said about its limit."""

    remaining: int | None = None
    reset_at: float | None = None  # wall-clock epoch seconds
    limit: int | None = None  # the size of a window, when the platform says

    @property
    def informative(self) -> bool:
        return self.remaining is not None or self.reset_at is not None


HeaderParser = Callable[[httpx.Headers, float], RateState]


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def epoch_reset(prefix: str) -> HeaderParser:
    """`<prefix>-limit/-remaining/-reset`, reset in UTC epoch seconds (GitHub, X, Twitch, Bluesky)."""

    def parse(headers: httpx.Headers, now: float) -> RateState:
        return RateState(
            _int(header_number(headers.get(f"{prefix}-remaining"))),
            header_number(headers.get(f"{prefix}-reset")),
            _int(header_number(headers.get(f"{prefix}-limit"))),
        )

    return parse


def iso_reset(prefix: str) -> HeaderParser:
    """Mastodon: reset is an ISO-8601 time with microseconds, not an epoch."""

    def parse(headers: httpx.Headers, now: float) -> RateState:
        raw = headers.get(f"{prefix}-reset")
        reset = None
        if raw:
            try:
                reset = datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
            except ValueError:
                reset = None
        return RateState(
            _int(header_number(headers.get(f"{prefix}-remaining"))),
            reset,
            _int(header_number(headers.get(f"{prefix}-limit"))),
        )

    return parse


def seconds_left_reset(prefix: str) -> HeaderParser:
    """Reddit: reset is the number of seconds left in the window (may be fractional)."""

    def parse(headers: httpx.Headers, now: float) -> RateState:
        remaining, left = (
            header_number(headers.get(f"{prefix}-remaining")),
            header_number(headers.get(f"{prefix}-reset")),
        )
        used = header_number(headers.get(f"{prefix}-used"))
        limit = _int(used + remaining) if used is not None and remaining is not None else None
        return RateState(_int(remaining), None if left is None else now + left, limit)

    return parse


def no_headers(headers: httpx.Headers, now: float) -> RateState:
    return RateState()


class Clock(Protocol):
    """Where the gates and the retries read the time and wait: the wall clock, or a test's."""

    def now(self) -> float:
        """Epoch seconds (rate-limit headers state their resets in epoch time)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The wall clock and asyncio's sleep: what production runs."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# a waiter with no reset to wait for looks again this often, whatever it was told: the only
# other way a waiter learns of a change is a landed request that frees a slot
_RECHECK_S = 0.5
_SAME_WINDOW_S = (
    1.0  # resets closer than this are the same window (Reddit's drift with each answer)
)


class RateGate:
    """Holds requests back while the platform's window is spent, as its headers said.

    Requests in flight are counted against `remaining`, so concurrent tasks do not all spend
    the last slot. A new window starts with the platform's stated limit; while nothing is
    known yet, one request at a time probes. A platform that sends no such headers is not
    held back at all, except after a 429.

    `share`: this gate is one of `share` collecting at once with the same budget (shards of
    the accounts on a Dask cluster, all with the same token or from the same address): it
    sends at most limit // share requests in a window, so together they never exceed the
    limit, whatever the others do (no coordination needed, only the platform's window).
    """

    def __init__(
        self,
        parse: HeaderParser,
        max_wait_s: float,
        clock: Clock | None = None,
        share: int = 1,
    ) -> None:
        self._parse = parse
        self._share = share
        self._sent = 0  # requests sent in the current window (with share > 1)
        self._max_wait_s = max_wait_s
        self._clock = clock or SystemClock()
        self._state = RateState()
        self._headerless: bool | None = None if parse is not no_headers else True
        self._in_flight = 0
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()  # set (and replaced) when a landed request frees a slot

    def _allowed(self) -> bool:
        state = self._state
        if state.remaining is None:
            return bool(self._headerless) or self._in_flight < 1
        if self._share > 1 and state.limit is not None and self._sent >= self._quota(state.limit):
            return False
        return state.remaining - self._in_flight > 0

    def _quota(self, limit: int) -> int:
        """This gate's part of a window of `limit` (at least one request, or it never could)."""
        return max(limit // self._share, 1)

    async def acquire(self) -> None:
        while True:
            async with self._lock:
                now = self._clock.now()
                state = self._state
                if state.reset_at is not None and now >= state.reset_at:  # the window rolled over
                    self._state = state = RateState(remaining=state.limit, limit=state.limit)
                    # what is still in flight may land in the new window: counted there too
                    self._sent = self._in_flight
                if self._allowed():
                    self._in_flight += 1
                    self._sent += 1
                    return
                wait = (state.reset_at - now) if state.reset_at is not None else None
                changed = self._changed
            if wait is not None and wait > self._max_wait_s:
                raise RateLimited(
                    f"rate limit spent; it resets in {wait:.0f} s, more than the {self._max_wait_s:.0f} s allowed to wait",
                    final=True,
                )
            await self._until(changed, wait + 0.01 if wait is not None else _RECHECK_S)

    async def _until(self, changed: asyncio.Event, seconds: float) -> None:
        """Wait until a request lands that frees a slot, or `seconds` on the gate's clock,
        whichever comes first. Waiters do not poll: a thousand accounts held back behind one
        probe cost nothing until it answers (they polled every 5 ms, and the CPU that took
        slowed the very answers they were waiting for)."""
        woken = asyncio.ensure_future(changed.wait())
        slept = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait((woken, slept), return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            slept.cancel()

    def _wake(self) -> None:
        """A request landed: if it freed a slot, every waiter looks again."""
        if self._allowed():
            self._changed.set()
            self._changed = asyncio.Event()

    def release(self, headers: httpx.Headers | None) -> None:
        self._in_flight -= 1
        try:
            self._learn(headers)
        finally:
            self._wake()

    def _learn(self, headers: httpx.Headers | None) -> None:
        """What a landed answer's headers say about the window."""
        if headers is None:
            return
        parsed = self._parse(headers, self._clock.now())
        if not parsed.informative:
            if self._headerless is None:
                self._headerless = True
            return
        self._headerless = False
        state = self._state
        limit = parsed.limit if parsed.limit is not None else state.limit
        if state.reset_at is not None and parsed.reset_at is not None:
            if parsed.reset_at < state.reset_at - _SAME_WINDOW_S:
                return  # a late answer from a window that is over
            same_window = abs(parsed.reset_at - state.reset_at) < _SAME_WINDOW_S
            if same_window and state.remaining is not None and parsed.remaining is not None:
                # answers arrive out of order: the smallest remaining is the truest
                self._state = RateState(
                    min(state.remaining, parsed.remaining), state.reset_at, limit
                )
                return
            if not same_window:  # the platform's window rolled before this clock saw it: what
                self._sent = self._in_flight + 1  # this gate sent in it is this and what flies
        self._state = RateState(parsed.remaining, parsed.reset_at, limit)

    def spent(self, wait_s: float | None) -> None:
        """A 429 arrived: nothing left until the reset (or Retry-After), 1 s when neither is
        known. The refusals of requests that were already in flight when the window closed
        do not move its end.

        A platform that sends no rate-limit headers (YouTube's `rateLimitExceeded`, the Graph
        API's codes 4 and 17) is then asked again by one request, as at the start, and by all
        once it answers: not by every waiting request each second (930 refused for 151
        answered in one limited night of YouTube against the simulator)."""
        now = self._clock.now()
        state = self._state
        if self._headerless:
            self._headerless = None  # after the wait: one request probes
        if wait_s is None and state.remaining == 0 and (state.reset_at or 0.0) > now:
            return  # one more refusal of the same window, from a request sent before it
        reset = now + wait_s if wait_s is not None else state.reset_at
        self._state = RateState(
            0, reset if reset is not None and reset > now else now + 1.0, state.limit
        )
