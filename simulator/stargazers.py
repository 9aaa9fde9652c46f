"""GitHub's stargazers list, consistent with each simulated repository's star count.

`GET /github/repos/{owner}/{repo}/stargazers?per_page=N&page=P` answers as GitHub does
(shared/docs/audience-apis.md, section 1.3): oldest star first; `per_page` 30 by default, at
most 100; with `Accept: application/vnd.github.star+json` (or `.v3.star+json`) each item is
`{"starred_at": ..., "user": {simple user}}`, otherwise the bare simple users; a `link` header
with `prev`, `next`, `last` and `first` in GitHub's numeric `/repositories/{id}/stargazers`
form (served too); past page 400 HTTP 422 with GitHub's "pagination is limited" body; an
unknown repository 404; a token other than the simulator's (when it expects one) 401. The
platform's rate limit and its `x-ratelimit-*` headers apply as to every GitHub request
(`POST /_sim/limits/github`).

The stars are those the repository's simulated count implies on the simulated day:
its count on the first simulated day is spread at random over the PRE_DAYS before it; each
later day the count rose brings that many stars, `starred_at` spread evenly over that (UTC)
day; each day it fell takes the newest stars still there away (a purge removes the latest
arrivals first), and removed stars are gone from the list, as on GitHub. So rebuilding the
daily counts from `starred_at` gives `surviving_counts` exactly: the simulated count on
every day for a repository that never lost stars, less where it did.
"""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.requests import Request

from simulator.types import Answer
from simulator.world import World, numeric_id

if TYPE_CHECKING:
    from simulator.platforms import Handler
    from simulator.server import Simulator

PAGE_CAP = 400  # GitHub answers 422 past page 400 (40,000 stars at per_page=100)
PRE_DAYS = 365  # the first simulated day's stars arrived over this many days before it
DAY_S = 86_400

PAGE_CAP_BODY = {
    "message": "In order to keep the API fast for everyone, pagination is limited for this "
    "resource. Check the rel=last link relation in the Link response header to see how far "
    "back you can traverse.",
    "documentation_url": "https://docs.github.com/v3/#pagination",
    "status": "422",
}
BAD_CREDENTIALS = {
    "message": "Bad credentials",
    "documentation_url": "https://docs.github.com/rest",
    "status": "401",
}
_NOT_FOUND = {
    "message": "Not Found",
    "documentation_url": "https://docs.github.com/rest/activity/starring#list-stargazers",
    "status": "404",
}

_cache: dict[tuple[int, str, int], tuple[np.ndarray, np.ndarray]] = {}


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def stars(world: World, handle: str, day: date) -> tuple[np.ndarray, np.ndarray]:
    """The stars of `handle` still there on `day`, oldest first: (starred_at as epoch seconds,
    arrival serial numbers, which name the stargazers). Empty before the simulated window."""
    series = world._series.get(("github", handle))  # the simulator's own world
    index = (day - world.start).days
    if series is None or index < 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    index = min(index, len(series[0]) - 1)
    key = (id(world), handle, index)
    if key not in _cache:
        counts = [int(c) for c in series[0][: index + 1]]
        rng = np.random.default_rng(zlib.crc32(f"stargazers:{handle}".encode()))
        start = _epoch(world.start)
        times = list(np.sort(rng.integers(start - PRE_DAYS * DAY_S, start, counts[0])))
        serials = list(range(counts[0]))
        arrived = counts[0]
        for d in range(1, len(counts)):
            delta = counts[d] - counts[d - 1]
            if delta > 0:
                base = start + d * DAY_S
                times += [base + (k * DAY_S + DAY_S // 2) // delta for k in range(delta)]
                serials += range(arrived, arrived + delta)
                arrived += delta
            elif delta < 0:  # the newest stars go first
                del times[delta:], serials[delta:]
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = (np.asarray(times, np.int64), np.asarray(serials, np.int64))
    return _cache[key]


def surviving_counts(world: World, handle: str, day: date) -> dict[date, int]:
    """What a rebuild from the stargazers listed on `day` gives: for every day from the first
    star's to `day`, the stars still there that were given on or before it."""
    times, _ = stars(world, handle, day)
    if not len(times):
        return {}
    days = (times // DAY_S).astype(np.int64)
    first, last = int(days[0]), (day - date(1970, 1, 1)).days
    per_day = np.bincount(days - first, minlength=last - first + 1)
    total = np.cumsum(per_day)
    return {date(1970, 1, 1) + timedelta(days=first + i): int(n) for i, n in enumerate(total)}


def _simple_user(serial: int, handle: str) -> dict[str, Any]:
    login = f"stargazer-{zlib.crc32(handle.encode()) % 10_000}-{serial}"
    uid = int(numeric_id(f"github-user:{login}")) % 300_000_000
    api = f"https://api.github.com/users/{login}"
    return {
        "login": login,
        "id": uid,
        "node_id": f"U_sim{uid}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "User",
        "user_view_type": "public",
        "site_admin": False,
    }


def _number(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


def _link(request: Request, repo_id: str, per_page: int, page: int, last: int) -> str:
    base = f"{str(request.base_url).rstrip('/')}/github/repositories/{repo_id}/stargazers"
    relations = []
    if page > 1:
        relations.append(("prev", min(page - 1, max(last, 1))))
    if page < last:
        relations += [("next", page + 1), ("last", last)]
    if page > 1:
        relations.append(("first", 1))
    return ", ".join(f'<{base}?per_page={per_page}&page={p}>; rel="{rel}"' for rel, p in relations)


async def _answer(sim: Simulator, request: Request, handle: str) -> Answer:
    if not request.headers.get("user-agent"):
        return Answer(403, "Request forbidden by administrative rules. Please make sure your "
                      "request has a User-Agent header")  # fmt: skip
    authorization = request.headers.get("authorization", "")
    expected = sim.credentials.get("github_token")
    if authorization and expected is not None and authorization != f"Bearer {expected}":
        return Answer(401, BAD_CREDENTIALS)
    state = sim.state("github", handle)
    if state is None or "/" not in handle:
        return Answer(404, _NOT_FOUND)
    per_page = min(max(_number(request.query_params.get("per_page"), 30), 1), 100)
    page = max(_number(request.query_params.get("page"), 1), 1)
    if page > PAGE_CAP:
        return Answer(422, PAGE_CAP_BODY)
    times, serials = stars(sim.world, handle, sim.today)
    pages = max(-(-len(times) // per_page), 1)
    last = min(pages, PAGE_CAP)
    chunk = slice((page - 1) * per_page, page * per_page)
    timed = "star+json" in request.headers.get("accept", "")
    items: list[dict[str, Any]] = []
    for when, serial in zip(times[chunk].tolist(), serials[chunk].tolist(), strict=True):
        user = _simple_user(serial, handle)
        stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        items.append({"starred_at": stamp, "user": user} if timed else user)
    repo_id = numeric_id(f"github:{handle}")
    link = _link(request, repo_id, per_page, page, last)
    return Answer(200, items, {"link": link} if link else {})


async def stargazers(sim: Simulator, request: Request) -> Answer:
    handle = f"{request.path_params['owner']}/{request.path_params['repo']}".lower()
    return await _answer(sim, request, handle)


async def stargazers_by_id(sim: Simulator, request: Request) -> Answer:
    wanted = request.path_params["repo_id"]
    for handle in sim.world.handles("github"):
        if "/" in handle and numeric_id(f"github:{handle}") == wanted:
            return await _answer(sim, request, handle)
    return Answer(404, _NOT_FOUND)


ROUTES: list[tuple[str, str, Handler, str]] = [  # registered by simulator.server
    ("github", "/github/repos/{owner}/{repo}/stargazers", stargazers, "GET"),
    ("github", "/github/repositories/{repo_id}/stargazers", stargazers_by_id, "GET"),
]
