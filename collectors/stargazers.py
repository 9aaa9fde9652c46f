"""GitHub stargazers with their `starred_at` (shared/docs/audience-apis.md, sections 1.3 and 3.1).

`GET /repos/{owner}/{repo}/stargazers?per_page=100&page=N` with
`Accept: application/vnd.github.star+json`: oldest star first, 100 a page, and GitHub stops at
page 400 (HTTP 422 past it: 40,000 stars). Requests go through the project's Requester and
RateGate (collectors.base) with GitHub's `x-ratelimit-*` headers, so the budget (60 an hour
without a token, 5,000 with one) is never overspent: a spent window is waited for, up to the
platform's `max_wait_s`, then given up (RateLimited, final). Only the timestamps are kept of
each page: the stargazers' names and profiles are not needed to rebuild counts. Fetches,
never writes (pipeline.backfill stores the pages and keeps the cursor).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from collectors.base import CollectorError, Malformed, require_count
from collectors.github import GitHubCollector
from collectors.rate_gate import Clock, RateState, SystemClock
from collectors.requester import Requester
from core.fetched import Outcome
from core.settings import Settings

STAR_JSON = "application/vnd.github.star+json"
PER_PAGE = 100  # GitHub's largest page
PAGE_CAP = 400  # GitHub answers 422 past this page
UNAUTHENTICATED_LIMIT = 60  # requests an hour without a token (platform-apis.md, 4.4)
AUTHENTICATED_LIMIT = 5_000

_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="([a-z]+)"')
_PAGE = re.compile(r"[?&]page=(\d+)")


class PageCapReached(CollectorError):
    """GitHub's 422 "pagination is limited for this resource": no deeper page can be read."""

    outcome = Outcome.MALFORMED


@dataclass(frozen=True)
class Repository:
    """A repository's star count now, and what GitHub said of the request budget with it."""

    handle: str
    stars: int
    budget: RateState  # remaining, reset (epoch seconds), limit; all None without headers


@dataclass(frozen=True)
class StarPage:
    number: int
    starred_at: list[datetime]  # oldest first, timezone-aware (UTC)
    has_next: bool  # the link header names a next page
    last: int | None  # the last page the link header names (None: this is the last)


def classify(response: httpx.Response) -> None:
    """GitHub's answers as for counts, and its page cap as a final answer (never retried)."""
    if response.status_code == 422:
        raise PageCapReached("HTTP 422: pagination is limited for this resource", 422)
    GitHubCollector.classify(response)


def links(header: str | None) -> dict[str, int]:
    """`link: <...&page=2>; rel="next", <...&page=9>; rel="last"` as {"next": 2, "last": 9}."""
    found = {}
    for url, rel in _LINK.findall(header or ""):
        page = _PAGE.search(url)
        if page:
            found[rel] = int(page.group(1))
    return found


def _timestamp(item: Any) -> datetime:
    raw = item.get("starred_at") if isinstance(item, dict) else None
    if not isinstance(raw, str):
        raise Malformed("a stargazer without starred_at: was the star+json media type honoured?")
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"starred_at is not an ISO 8601 time: {raw[:40]!r}") from None
    if when.tzinfo is None:
        raise Malformed(f"starred_at has no time zone: {raw[:40]!r}")
    return when


class StargazerClient:
    """Reads one repository's count and its stargazer pages through the rate gate."""

    def __init__(self, requester: Requester, root: str, clock: Clock) -> None:
        self.requester = requester
        self.root = root
        self.clock = clock

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AsyncIterator[StargazerClient]:
        options = settings.platform("github")
        clock = clock or SystemClock()
        async with GitHubCollector.open_requester(  # one page at a time: the cursor moves in order
            options,
            settings.secrets,
            classify=classify,
            concurrency=1,
            clock=clock,
            transport=transport,
        ) as requester:
            yield cls(requester, GitHubCollector.root(options), clock)

    async def repository(self, handle: str) -> Repository:
        response, body, _ = await self.requester.get_response(f"{self.root}/repos/{handle}")
        if not isinstance(body, dict):
            raise Malformed("the repository's answer is not a JSON object")
        stars = require_count(body.get("stargazers_count"), "stargazers_count")
        budget = GitHubCollector.rate_headers(response.headers, self.clock.now())
        return Repository(handle, stars, budget)

    async def page(self, handle: str, number: int) -> StarPage:
        response, body, _ = await self.requester.get_response(
            f"{self.root}/repos/{handle}/stargazers",
            params={"per_page": str(PER_PAGE), "page": str(number)},
            headers={"Accept": STAR_JSON},
        )
        if not isinstance(body, list):
            raise Malformed(f"stargazers page {number} is not a JSON array")
        relations = links(response.headers.get("link"))
        return StarPage(
            number,
            [_timestamp(item) for item in body],
            "next" in relations,
            relations.get("last"),
        )
