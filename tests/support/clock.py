"""Clocks for the collectors' rate-limit gates and retries (collectors.base.Clock).

FakeClock is virtual time: `sleep` advances it at once and records the wait, so a test asserts
how long the collectors would have waited without waiting. RecordingClock is the wall clock
for a real server's rate windows, with every wait recorded.
"""

from __future__ import annotations

import asyncio
import time

START = 1_700_000_000.0  # 2023-11-14T22:13:20Z, a whole second


class FakeClock:
    """Virtual epoch seconds that move only when someone sleeps."""

    def __init__(self, start: float = START) -> None:
        self.start = start
        self.t = start
        self.waits: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0)  # let the other tasks run, as a real sleep would

    @property
    def elapsed(self) -> float:
        return self.t - self.start


class RecordingClock:
    """The wall clock; each wait is recorded as (when it began, how long)."""

    def __init__(self) -> None:
        self.waits: list[tuple[float, float]] = []

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        self.waits.append((time.time(), seconds))
        await asyncio.sleep(seconds)
