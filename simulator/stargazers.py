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

The stars are the repository's follow log (simulator/follow_log.py, as for an account's
followers), so they agree with its simulated count on every day: the first simulated day's
stars were given over the two years before it; each later day the count rose brings that many
stars at random times of that (UTC) day, organic stargazers drawn from the organic population
and a purchase's from the bought one (batch-created shortly before the delivery, mostly empty,
starring in lockstep, as the newest stars of its days); a purchase's attrition removes its own
stars, organic losses random organic ones, and removed stars are gone from the list, as on
GitHub. `starred_at` is the follow time. Each stargazer's profile is served at
`/users/{login}` (simulator/followers.py). Rebuilding the daily counts from `starred_at` gives
`surviving_counts` exactly: the simulated count on every day for a repository that never lost
stars, less where it did.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.requests import Request

from simulator.follow_log import FollowLog, build_log
from simulator.followers import github_simple_user
from simulator.types import Answer
from simulator.world import World, numeric_id

if TYPE_CHECKING:
    from simulator.platforms import Handler
    from simulator.server import Simulator

PAGE_CAP = 400  # GitHub answers 422 past page 400 (40,000 stars at per_page=100)
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

_logs: dict[tuple[int, str], tuple[World, FollowLog | None]] = {}
_lock = threading.Lock()


def star_log(world: World, handle: str) -> FollowLog | None:
    """The repository's stargazers as a follow log (simulator/follow_log.py): drawn from the
    organic and bought populations, a purchase's arriving on its days, batch-created."""
    key = (id(world), handle)
    with _lock:
        cached = _logs.get(key)
        if cached is None or cached[0] is not world:
            spec = world.spec("github", handle)
            history = world.history("github", handle)
            log = None
            if spec is not None and history is not None and "/" in handle:
                log = build_log(spec, history[0], world.start, world.seed)
            if len(_logs) > 64:
                _logs.clear()
            cached = _logs[key] = (world, log)
        return cached[1]


def stars(world: World, handle: str, day: date) -> tuple[np.ndarray, np.ndarray]:
    """The stars of `handle` still there on `day`, oldest first: (starred_at as epoch seconds,
    the stargazers' indices in the repository's follow log). Empty before the simulated window."""
    log = star_log(world, handle)
    index = (day - world.start).days
    if log is None or index < 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    alive = log.alive(min(index, log.days - 1))
    return log.followed_ms[alive] // 1000, alive


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
    log = star_log(sim.world, handle)
    pages = max(-(-len(times) // per_page), 1)
    last = min(pages, PAGE_CAP)
    chunk = slice((page - 1) * per_page, page * per_page)
    timed = "star+json" in request.headers.get("accept", "")
    items: list[dict[str, Any]] = []
    for when, serial in zip(times[chunk].tolist(), serials[chunk].tolist(), strict=True):
        assert log is not None
        user = github_simple_user(log, serial)
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
