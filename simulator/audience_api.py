"""The audience endpoints' state (follow logs, posts, rate budgets) and their routes.

The server registers AUDIENCE_ROUTES beside the count routes of simulator/platforms/; where
both name the same path (Bluesky getProfiles, GitHub /users/{user}) the audience handler
answers, and hands simulated accounts to the count handler.
Control: POST /_sim/audience-limits/{platform} {"bucket": NAME, "limit": N, "window_s": S}
changes one budget (simulator/budgets.py); {"github_page_cap": N} the GitHub followers' cap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from simulator.budgets import Budgets
from simulator.feeds import (
    REPOST,
    PostLog,
    bluesky_author_feed,
    build_posts,
    mastodon_statuses,
    organic_audience,
    x_user_tweets,
)
from simulator.follow_log import FOLLOWER_PLATFORMS, FollowLog, build_log
from simulator.followers import (
    GITHUB_PAGE_CAP,
    bluesky_followers,
    bluesky_profiles,
    github_followers,
    github_user_or_follower,
    mastodon_followers,
)
from simulator.list_requests import fake_cid
from simulator.platforms import Handler
from simulator.stargazers import star_log
from simulator.world import World

AUDIENCE_ROUTES: list[tuple[str, str, Handler, str]] = [  # (platform, path, handler, method)
    ("bluesky", "/bluesky/xrpc/app.bsky.graph.getFollowers", bluesky_followers, "GET"),
    ("bluesky", "/bluesky/xrpc/app.bsky.actor.getProfiles", bluesky_profiles, "GET"),
    ("bluesky", "/bluesky/xrpc/app.bsky.feed.getAuthorFeed", bluesky_author_feed, "GET"),
    ("mastodon", "/mastodon/{host}/api/v1/accounts/{id}/followers", mastodon_followers, "GET"),
    ("mastodon", "/mastodon/{host}/api/v1/accounts/{id}/statuses", mastodon_statuses, "GET"),
    ("x", "/x/2/users/{id}/tweets", x_user_tweets, "GET"),
    ("github", "/github/users/{user}/followers", github_followers, "GET"),
    ("github", "/github/users/{user}", github_user_or_follower, "GET"),
]


class AudienceState:
    """Follow logs and post logs of the world's accounts (built when first asked), the audience
    endpoints' rate budgets, and the lookups of followers by DID, handle or login."""

    def __init__(self, world: World, clock: Callable[[], float]) -> None:
        self.world = world
        self.budgets = Budgets(clock)
        self.github_page_cap = GITHUB_PAGE_CAP
        self._logs: dict[tuple[str, str], FollowLog | None] = {}
        self._posts: dict[tuple[str, str], PostLog | None] = {}
        self._names: dict[str, dict[str, tuple[FollowLog, int]]] = {}
        self._cids: dict[tuple[str, str], dict[str, int]] = {}
        self._videos: dict[str, tuple[PostLog, int]] | None = None
        self._lock = threading.RLock()

    def reset(self) -> None:
        self.budgets.reset()
        self.github_page_cap = GITHUB_PAGE_CAP

    def day(self, log: FollowLog | PostLog) -> int:
        """Today's index in the log's span (past the last simulated day: the last)."""
        assert self.world.today is not None
        return min((self.world.today - log.start).days, log.days - 1)

    def log(self, platform: str, handle: str) -> FollowLog | None:
        """The follow log of a simulated Bluesky, Mastodon or GitHub account (a repository's:
        its stargazers)."""
        if platform not in FOLLOWER_PLATFORMS:
            return None
        if platform == "github" and "/" in handle:
            return star_log(self.world, handle)
        with self._lock:
            if (platform, handle) not in self._logs:
                spec = self.world.spec(platform, handle)
                history = self.world.history(platform, handle)
                log = None
                if spec is not None and history is not None:
                    home = handle.split("@", 1)[1] if platform == "mastodon" else ""
                    log = build_log(spec, history[0], self.world.start, self.world.seed, home)
                self._logs[(platform, handle)] = log
            return self._logs[(platform, handle)]

    def posts(self, platform: str, handle: str) -> PostLog | None:
        with self._lock:
            if (platform, handle) not in self._posts:
                spec = self.world.spec(platform, handle)
                history = self.world.history(platform, handle)
                posts = None
                if spec is not None and history is not None:
                    follow_log = self.log(platform, handle)
                    days = len(history[0])
                    organic = (
                        follow_log.organic_counts(days).astype(float)
                        if follow_log is not None
                        else organic_audience(spec, history[0])
                    )
                    posts = build_posts(
                        spec, history[1], organic, self.world.start, self.world.seed
                    )
                self._posts[(platform, handle)] = posts
            return self._posts[(platform, handle)]

    def follower(self, platform: str, name: str) -> tuple[FollowLog, int] | None:
        """A follower of any simulated account of the platform, by DID, handle or login."""
        with self._lock:
            if platform not in self._names:
                names: dict[str, tuple[FollowLog, int]] = {}
                for handle in self.world.handles(platform):
                    log = self.log(platform, handle)
                    for index in range(len(log) if log is not None else 0):
                        assert log is not None
                        if platform == "bluesky":
                            names[log.did(index)] = (log, index)
                            names[log.bluesky_handle(index)] = (log, index)
                        else:
                            names[log.name(index)] = (log, index)
                self._names[platform] = names
            return self._names[platform].get(name)

    def videos(self, name: Callable[[PostLog, int], str]) -> dict[str, tuple[PostLog, int]]:
        """Every upload of the world's YouTube channels (reposts aside), by its video id."""
        with self._lock:
            if self._videos is None:
                self._videos = {}
                for handle in self.world.handles("youtube"):
                    log = self.posts("youtube", handle)
                    for i in np.flatnonzero(log.kind != REPOST) if log is not None else []:
                        assert log is not None
                        self._videos[name(log, int(i))] = (log, int(i))
            return self._videos

    def by_cid(self, log: FollowLog, cid: str) -> int | None:
        """The follower whose follow a Bluesky cursor names."""
        with self._lock:
            key = (log.platform, log.handle)
            if key not in self._cids:
                self._cids[key] = {fake_cid(log.did(i)): i for i in range(len(log))}
            return self._cids[key].get(cid)

    async def control(self, request: Request) -> Response:
        """POST /_sim/audience-limits/{platform}."""
        body = await request.json()
        try:
            if "github_page_cap" in body:
                self.github_page_cap = int(body["github_page_cap"])
            else:
                self.budgets.set(
                    request.path_params["platform"],
                    str(body["bucket"]),
                    int(body["limit"]),
                    int(body["window_s"]),
                )
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})
