"""Where a sample's followers are in a newest-first follower list (Bluesky, Mastodon): the
stored daily counts place each position in time (pipeline.sample's first path)."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import polars as pl

from collectors.followers import (
    PAGE,
    PROFILES_PER_CALL,
    CursorRefused,
    FollowerClient,
    listed_profile,
)
from core.samples import SampledProfile
from core.settings import Settings
from pipeline.sample_progress import SampleProgress, Unfinishable


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


def plan_list(t: Target, frame: pl.DataFrame, settings: Settings) -> SampleProgress | str:
    """Which positions of a newest-first list the sample reads (counted back from today's
    count: the anchor, kept for the nights after), and what it will cost; or why none."""
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
    chosen = spread(list(jump), size)
    profiles = (
        math.ceil(len(chosen) / PROFILES_PER_CALL) + math.ceil(size / PROFILES_PER_CALL)
        if t.platform == "bluesky"
        else 1  # Mastodon: the account's id; the list carries the profiles
    )
    return SampleProgress(
        pages + profiles, anchor=now, jump=chosen, base=(base_start, stop), cut=len(chosen)
    )


async def listed(
    client: FollowerClient,
    t: Target,
    frame: pl.DataFrame,
    settings: Settings,
    progress: SampleProgress,
) -> tuple[list[SampledProfile], list[SampledProfile]]:
    """The jump's and the baseline's followers of a newest-first list, from where `progress`
    stopped: the walk to the baseline's last position, then the chosen ones' profiles."""
    days, counts = series(frame)
    if progress.stage == "list":
        await _walk(client, t, settings, progress, counts[-1])
        jump = [p for p in progress.jump if p in progress.listed]
        base = [p for p in range(*progress.base) if p in progress.listed]
        progress.order, progress.cut, progress.stage = jump + base, len(jump), "profiles"
    order = [progress.listed[p] for p in progress.order]
    while len(progress.done) < len(order):
        start = len(progress.done)
        progress.done += await client.detailed(order[start : start + PROFILES_PER_CALL])

    def placed(p: SampledProfile) -> SampledProfile:
        assert p.position is not None
        return replace(p, arrival_day=arrival(days, counts, progress.anchor - 1 - p.position))

    located = [placed(p) for p in progress.done]
    return located[: progress.cut], located[progress.cut :]


async def _walk(
    client: FollowerClient, t: Target, settings: Settings, progress: SampleProgress, now: int
) -> None:
    """Read the list on from `progress.cursor`, keeping the chosen positions' fields, to the
    baseline's last position, the list's end or `[samples] max_list_pages` (more after a
    restart, by the followers gained). A cursor the platform refuses starts the walk again from
    the newest follower once, positions moved on by the followers gained since the anchor;
    refused again, the sample cannot finish (Unfinishable)."""
    wanted = set(progress.jump) | set(range(*progress.base))
    stop = progress.base[1]
    while progress.reached - progress.offset < stop:
        limit = settings.samples.max_list_pages + math.ceil(progress.offset / PAGE[t.platform])
        if progress.pages >= limit:
            break
        if t.platform == "mastodon" and progress.account_id is None:
            progress.account_id = await client.mastodon_id(t.handle)
        try:
            page, after = await client.list_page(t.handle, progress.cursor, progress.account_id)
        except CursorRefused as exc:
            if progress.restarts:
                raise Unfinishable(
                    f"{exc.reason}, again after the walk began anew from the newest follower"
                ) from None
            gained = max(now - progress.anchor, 0)
            progress.restarted = (
                f"{exc.reason}: the walk began again from the newest follower, "
                f"{gained:,} positions further for the followers gained since"
            )
            progress.needed += progress.pages
            progress.restarts, progress.offset = 1, gained
            progress.reached = progress.pages = 0
            progress.cursor = None
            continue
        for i, item in enumerate(page):
            position = progress.reached + i - progress.offset
            if position in wanted and position not in progress.listed:
                progress.listed[position] = listed_profile(t.platform, item, position)
        progress.reached += len(page)
        progress.pages += 1
        progress.cursor = after
        if after is None:
            break
