"""A GitHub repository's sample (pipeline.sample's second path): the stargazers of the jump's
days by `starred_at`, as many of the BASELINE_DAYS ordinary days before the gap, each with its
`/users/{login}` profile; without a token the sample is refused with how long it would take."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import polars as pl

from collectors.followers import FollowerClient
from collectors.stargazers import (
    AUTHENTICATED_LIMIT,
    PAGE_CAP,
    PER_PAGE,
    UNAUTHENTICATED_LIMIT,
    PageCapReached,
)
from core.samples import SampledProfile
from core.settings import Settings
from pipeline.follower_lists import Target, count_on, series, spread
from pipeline.github_budget import duration
from pipeline.sample_progress import SampleProgress, Thinned, Unfinishable

BASELINE_DAYS = 30  # GitHub: the baseline's stars come from the 30 days before the gap


def _windows(t: Target, settings: Settings) -> dict[str, tuple[date, date]]:
    """The days whose stars each walk keeps: the jump's, and the ordinary days'."""
    base_last = t.first - timedelta(days=1 + settings.samples.baseline_gap_days)
    base_first = base_last - timedelta(days=BASELINE_DAYS - 1)
    return {"jump": (t.first, t.day), "baseline": (base_first, base_last)}


def plan_stars(t: Target, frame: pl.DataFrame, settings: Settings) -> SampleProgress | str:
    """Where the two walks begin (the stored counts place the pages: a page early, as stars
    removed since shift them up) and what the sample will cost; refused when the jump's stars
    lie past GitHub's page cap, which no number of nights reaches."""
    days, counts = series(frame)
    windows = _windows(t, settings)
    size = settings.samples.size

    def page_of(day: date) -> int:
        count = count_on(days, counts, day) or 0
        return max(count // PER_PAGE, 1)

    def stars(first: date, last: date) -> int:
        return (count_on(days, counts, last) or 0) - (count_on(days, counts, first) or 0)

    starts = tuple(page_of(first - timedelta(days=1)) for first, _ in windows.values())
    if starts[0] > PAGE_CAP:
        return _capped(starts[0])
    needed = sum(
        math.ceil(max(stars(first - timedelta(days=1), last), 0) / PER_PAGE)
        + 1
        + min(size, max(stars(first - timedelta(days=1), last), 0))
        for first, last in windows.values()
    )
    return SampleProgress(
        needed,
        stage="jump",
        page=starts[0],
        start_pages=(starts[0], starts[1]),
        stars={kind: Thinned(size) for kind in windows},
    )


def _capped(page: int) -> str:
    return (
        f"the jump's stars begin on stargazers page {page:,}, past GitHub's cap of {PAGE_CAP} "
        f"pages ({PAGE_CAP * PER_PAGE:,} stars, oldest first): no number of nights reaches them"
    )


async def starred(
    client: FollowerClient,
    t: Target,
    frame: pl.DataFrame,
    settings: Settings,
    progress: SampleProgress,
) -> tuple[list[SampledProfile], list[SampledProfile]] | str:
    """The stargazers of the jump's days and of ordinary days, with their profiles, from where
    `progress` stopped: the jump's walk, the baseline's, then a profile per chosen star."""
    windows, size = _windows(t, settings), settings.samples.size
    if progress.stage == "jump":
        await _walk(client, t, settings, progress, windows["jump"])
        progress.stage, progress.page, progress.pages = "baseline", progress.start_pages[1], 0
    if progress.stage == "baseline":
        await _walk(client, t, settings, progress, windows["baseline"])
        jump = spread(progress.stars["jump"].items(), size)
        base = spread(progress.stars["baseline"].items(), size)
        progress.chosen = [(login, when.isoformat()) for login, when in jump + base]
        progress.cut, progress.stage = len(jump), "profiles"
    if not progress.cut:
        return "GitHub lists no star of the jump's days"
    for login, when in progress.chosen[len(progress.done) :]:
        progress.done.append(await client.user(login, datetime.fromisoformat(when)))
    return progress.done[: progress.cut], progress.done[progress.cut :]


async def _walk(
    client: FollowerClient,
    t: Target,
    settings: Settings,
    progress: SampleProgress,
    window: tuple[date, date],
) -> None:
    """The stage's stars of `window`, page by page (oldest first) from `progress.page` until a
    star after the window, the last page or `[samples] max_list_pages`; GitHub's page cap ends
    a walk that has found stars, and makes one that has not unfinishable."""
    first, last = window
    thinned = progress.stars[progress.stage]
    while progress.pages < settings.samples.max_list_pages:
        try:
            found, more = await client.stars_page(t.handle, progress.page)
        except PageCapReached:
            if progress.stage == "jump" and not thinned.seen:
                raise Unfinishable(_capped(progress.page)) from None
            return
        past = False
        for login, when in found:
            if first <= when.date() <= last:
                thinned.add(login, when)
            past = past or when.date() > last
        progress.page += 1
        progress.pages += 1
        if past or not more:
            return


def refusal_for(settings: Settings, target_count: int) -> str | None:
    """Without a token: how long a GitHub sample would take (None: a token is set)."""
    if settings.secrets.github_token is not None:
        return None
    needed = 2 * (target_count + 2)
    hours = needed / UNAUTHENTICATED_LIMIT * 3600
    return (
        f"a GitHub sample needs about {needed} requests (a profile per stargazer), and without "
        f"a token GitHub allows {UNAUTHENTICATED_LIMIT} an hour: it would take about "
        f"{duration(hours)}; set AUDIENCE_GITHUB_TOKEN ({AUTHENTICATED_LIMIT:,} requests an "
        "hour) and run it again"
    )


def github_refusal(settings: Settings) -> str | None:
    """Without a token: how long a GitHub sample of `[samples] size` would take (None: a token
    is set), for `audience audit --sample` to refuse with, as `audience backfill` does."""
    return refusal_for(settings, settings.samples.size)
