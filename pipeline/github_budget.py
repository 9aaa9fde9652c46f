"""How long GitHub's rate limit makes a read take, said in words: the refusal of a backfill
that would outlast the budget's window without a token, and the duration wording the samples'
refusal shares (pipeline.sample)."""

from __future__ import annotations

import math

from collectors.stargazers import AUTHENTICATED_LIMIT, UNAUTHENTICATED_LIMIT, Repository
from core.errors import plural

WINDOW_S = 3600.0  # GitHub's rate-limit window


def duration(seconds: float) -> str:
    """'40 s', '25 minutes', '3.5 hours': a wait in the unit that reads best."""
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def budget_refusal(
    account: str, repo: Repository, needed: int, token: bool, now: float
) -> str | None:
    """Why, without a token, reading `needed` pages would take longer than the window's
    budget allows (None: it fits, or a token is set)."""
    if token or needed == 0:
        return None
    limit = repo.budget.limit or UNAUTHENTICATED_LIMIT
    remaining = repo.budget.remaining if repo.budget.remaining is not None else limit - 1
    if needed <= remaining:
        return None
    windows = math.ceil((needed - remaining) / limit)
    first = repo.budget.reset_at - now if repo.budget.reset_at is not None else WINDOW_S
    wait = max(first, 0.0) + (windows - 1) * WINDOW_S
    return (
        f"{account} has {repo.stars:,} stars: {plural(needed, 'page')} of stargazers to read, "
        f"and without a token GitHub allows {limit} requests an hour ({remaining} left now), "
        f"so it would take about {duration(wait)}; set AUDIENCE_GITHUB_TOKEN ("
        f"{AUTHENTICATED_LIMIT:,} requests an hour) and run it again (nothing was stored)"
    )
