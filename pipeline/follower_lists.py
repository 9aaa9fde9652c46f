"""Where a sample's followers are in a newest-first follower list (Bluesky, Mastodon): the
stored daily counts place each position in time (pipeline.sample's first path)."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import polars as pl

from collectors.followers import PAGE, FollowerClient
from core.samples import SampledProfile
from core.settings import Settings


@dataclass(frozen=True)
class Target:
    platform: str
    handle: str
    day: date
    first: date  # the growth's first day (a drip's window start)


def series(frame: pl.DataFrame) -> tuple[list[date], list[int]]:
    days = frame.get_column("day").to_list()
    counts = frame.get_column("followers").to_list()
    running, out = 0, []
    for c in counts:  # non-decreasing, so that a count finds its day
        running = max(running, int(c))
        out.append(running)
    return days, out


def count_on(days: list[date], counts: list[int], day: date) -> int | None:
    """The count of the last stored day on or before `day`."""
    i = bisect.bisect_right(days, day) - 1
    return counts[i] if i >= 0 else None


def arrival(days: list[date], counts: list[int], index: int) -> date | None:
    """The first day whose count reached `index + 1` followers: when follower `index` (oldest
    first) arrived, as the counts place it."""
    i = bisect.bisect_left(counts, index + 1)
    return days[i] if i < len(days) else None


def spread(items: list[Any], size: int) -> list[Any]:
    """At most `size` of the items, evenly spread (the whole jump, not its newest minutes)."""
    if len(items) <= size:
        return items
    step = len(items) / size
    return [items[int(k * step)] for k in range(size)]


async def listed(
    client: FollowerClient, t: Target, frame: pl.DataFrame, settings: Settings
) -> tuple[list[SampledProfile], list[SampledProfile]] | str:
    """The jump's and the baseline's followers of a newest-first list, or why none."""
    days, counts = series(frame)
    if not days:
        return "no stored counts place the list's positions in time"
    now = counts[-1]
    before = count_on(days, counts, t.first - timedelta(days=1))
    at = count_on(days, counts, t.day)
    ordinary = count_on(
        days, counts, t.first - timedelta(days=1 + settings.samples.baseline_gap_days)
    )
    if before is None or at is None or at <= before:
        return "the stored counts do not place the jump in the follower list"
    size = settings.samples.size
    jump = range(max(now - at, 0), max(now - before, 0))  # newest-first positions
    base_start = max(now - (ordinary if ordinary is not None else before), jump.stop)
    stop = base_start + size
    pages = math.ceil(stop / PAGE[t.platform])
    if pages > settings.samples.max_list_pages:
        return (
            f"the jump's followers lie {jump.start:,} positions down the list: reading to the "
            f"baseline takes {pages} pages, more than [samples] max_list_pages "
            f"({settings.samples.max_list_pages})"
        )
    items = await client.newest(t.handle, stop, settings.samples.max_list_pages)
    chosen_jump = spread([p for p in jump if p < len(items)], size)
    chosen_base = [p for p in range(base_start, min(stop, len(items)))]
    fetched = await client.profiles([(p, items[p]) for p in chosen_jump + chosen_base])

    def placed(p: SampledProfile) -> SampledProfile:
        assert p.position is not None
        return replace(p, arrival_day=arrival(days, counts, now - 1 - p.position))

    located = [placed(p) for p in fetched]
    cut = len(chosen_jump)
    return located[:cut], located[cut:]
