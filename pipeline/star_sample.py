"""A GitHub repository's sample (pipeline.sample's second path): the stargazers of the jump's
days by `starred_at`, as many of the BASELINE_DAYS ordinary days before the gap, each with its
`/users/{login}` profile; without a token the sample is refused with how long it would take."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from collectors.followers import FollowerClient
from collectors.stargazers import AUTHENTICATED_LIMIT, PER_PAGE, UNAUTHENTICATED_LIMIT
from core.samples import SampledProfile
from core.settings import Settings
from pipeline.follower_lists import Target, count_on, series, spread
from pipeline.github_budget import duration

BASELINE_DAYS = 30  # GitHub: the baseline's stars come from the 30 days before the gap


async def starred(
    client: FollowerClient, t: Target, frame: pl.DataFrame, settings: Settings
) -> tuple[list[SampledProfile], list[SampledProfile]] | str:
    days, counts = series(frame)
    gap = settings.samples.baseline_gap_days
    base_last = t.first - timedelta(days=1 + gap)
    base_first = base_last - timedelta(days=BASELINE_DAYS - 1)
    size, pages = settings.samples.size, settings.samples.max_list_pages

    def page_of(day: date) -> int:
        count = count_on(days, counts, day) or 0
        return max(count // PER_PAGE, 1)  # a page early: stars removed since shift them up

    jump = await client.stars_between(
        t.handle, page_of(t.first - timedelta(days=1)), t.first, t.day, pages
    )
    base = await client.stars_between(
        t.handle, page_of(base_first - timedelta(days=1)), base_first, base_last, pages
    )
    if not jump:
        return "GitHub lists no star of the jump's days"
    chosen = spread(jump, size) + spread(base, size)
    found = [await client.user(login, when) for login, when in chosen]
    cut = len(spread(jump, size))
    return found[:cut], found[cut:]


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
