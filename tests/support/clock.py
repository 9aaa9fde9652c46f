"""Clocks for the collectors' rate-limit gates and retries (collectors.rate_gate.Clock).

FakeClock is virtual time: `sleep` advances it at once and records the wait, so a test asserts
how long the collectors would have waited without waiting. Give the simulator the same clock
(`Simulator.use_clock(clock.now)`) and its rate windows run on that virtual time too.
"""

from __future__ import annotations

import asyncio

START = 1_700_000_000.0  # 2023-11-14T22:13:20Z, a whole second


class FakeClock:
    """Virtual epoch seconds that move only when someone sleeps."""

    def __init__(self, start: float = START) -> None:
        self.start = start
        self.t = start
        self.waits: list[float] = []
        self.spans: list[tuple[float, float]] = []  # (when each wait began, how long)

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.spans.append((self.t, seconds))
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0)  # let the other tasks run, as a real sleep would

    @property
    def elapsed(self) -> float:
        return self.t - self.start
