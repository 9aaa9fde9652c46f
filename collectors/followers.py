"""Follower samples: the newest followers of an account, or the stargazers of a repository's
given days, with the profile fields the judgement needs (shared/docs/audience-apis.md, 1.1-1.3
and 4.5).

- Bluesky: `app.bsky.graph.getFollowers` (newest follow first, 100 a page, the end is a
  missing cursor), then `app.bsky.actor.getProfiles` 25 at a time for the counts.
- Mastodon: `/api/v1/accounts/lookup` for the id, then `/api/v1/accounts/:id/followers`
  (newest first, 80 a page, `Link: rel="next"`); the list already carries the counts.
- GitHub users: `/users/{u}/followers` (100 a page; the order is undocumented) and
  `/users/{login}` for each follower's counts and creation date.
- GitHub repositories: `/repos/{o}/{r}/stargazers` with `star+json` (oldest first, with
  `starred_at`), from the page where the given days' stars begin, then `/users/{login}`.

Every request goes through the project's Requester and the platform's RateGate (its rate-limit
headers; a spent window is waited for up to `max_wait_s`), one at a time, and counts against
`budget` requests: past it BudgetSpent is raised and the caller keeps where it stopped for the
next night (pipeline.sample_progress): the lists are read a page at a time from a cursor for
that, and a cursor the platform no longer accepts raises CursorRefused. Only the fields of core.samples.SampledProfile are read; nothing is written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from collectors.base import CollectorError, Malformed, NotFound, as_count
from collectors.bluesky import BlueskyCollector
from collectors.github import GitHubCollector
from collectors.mastodon import MastodonCollector
from collectors.platform import Collector
from collectors.rate_gate import Clock, SystemClock
from collectors.requester import Requester
from collectors.stargazers import PER_PAGE, STAR_JSON, classify, links
from core.samples import SampledProfile
from core.settings import Settings

COLLECTORS: dict[str, type[Collector]] = {
    "bluesky": BlueskyCollector,
    "mastodon": MastodonCollector,
    "github": GitHubCollector,
}
PAGE = {"bluesky": 100, "mastodon": 80, "github": 100}
PROFILES_PER_CALL = 25  # getProfiles' actors maxLength
MASTODON_MISSING = "/avatars/original/missing.png"


class BudgetSpent(CollectorError):
    """The requests allowed for samples this night are spent: continue on the next night."""


class CursorRefused(CollectorError):
    """The platform no longer accepts a stored list cursor (expired, or 400): walk again."""


def _time(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def bluesky_profile(view: Any, position: int | None) -> SampledProfile:
    """A profileView(Detailed): no `avatar` key is no avatar; counts only in the detailed one."""
    if not isinstance(view, dict) or not isinstance(view.get("did"), str):
        raise Malformed("a Bluesky follower without a did")
    return SampledProfile(
        view["did"],
        position=position,
        created_at=_time(view.get("createdAt")),
        has_avatar=bool(view.get("avatar")),
        posts=as_count(view.get("postsCount")),
        followers=as_count(view.get("followersCount")),
        following=as_count(view.get("followsCount")),
    )


def mastodon_profile(account: Any, position: int) -> SampledProfile:
    """An Account: the default avatar's path ends in missing.png; created_at is midnight."""
    if not isinstance(account, dict) or not isinstance(account.get("acct"), str):
        raise Malformed("a Mastodon follower without an acct")
    avatar = account.get("avatar")
    return SampledProfile(
        account["acct"],
        position=position,
        created_at=_time(account.get("created_at")),
        has_avatar=None if not isinstance(avatar, str) else not avatar.endswith(MASTODON_MISSING),
        posts=as_count(account.get("statuses_count")),
        followers=as_count(account.get("followers_count")),
        following=as_count(account.get("following_count")),
    )


def listed_profile(platform: str, item: Any, position: int) -> SampledProfile:
    """A newest-first list item's judged fields (Bluesky's counts come later: `detailed`)."""
    return (bluesky_profile if platform == "bluesky" else mastodon_profile)(item, position)


def github_profile(user: Any, followed_at: datetime | None = None) -> SampledProfile:
    """GET /users/{login}: repositories stand for posts; an identicon is not detectable."""
    if not isinstance(user, dict) or not isinstance(user.get("login"), str):
        raise Malformed("a GitHub user without a login")
    return SampledProfile(
        user["login"],
        followed_at=followed_at,
        arrival_day=followed_at.date() if followed_at is not None else None,
        created_at=_time(user.get("created_at")),
        posts=as_count(user.get("public_repos")),
        followers=as_count(user.get("followers")),
        following=as_count(user.get("following")),
    )


@dataclass
class FollowerClient:
    """Reads one platform's follower lists and profiles within a request budget."""

    platform: str
    requester: Requester
    root: str
    budget: int
    spent: int = 0

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        platform: str,
        budget: int,
        *,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AsyncIterator[FollowerClient]:
        collector = COLLECTORS[platform]
        options = settings.platform(platform)
        clock = clock or SystemClock()
        async with collector.open_requester(
            options,
            settings.secrets,
            classify=classify if platform == "github" else None,
            concurrency=1,
            clock=clock,
            transport=transport,
        ) as requester:
            yield cls(platform, requester, collector.root(options), budget)

    async def _get(
        self, url: str, params: Any = None, headers: dict[str, str] | None = None, key: str = ""
    ) -> tuple[httpx.Response, Any]:
        if self.spent >= self.budget:
            raise BudgetSpent(f"the {self.budget} requests allowed for samples are spent")
        try:
            response, body, _ = await self.requester.get_response(
                url, params=params, headers=headers, gate_key=key
            )
        except CollectorError:
            self.spent += 1  # answered, unusably: spent (an interrupted one is not counted)
            raise
        self.spent += 1
        return response, body

    # --- newest-first lists (Bluesky, Mastodon) ---------------------------------------------

    async def mastodon_id(self, handle: str) -> str:
        """The Mastodon account id of `user@host` (`/api/v1/accounts/lookup`)."""
        user, host = handle.split("@", 1)
        root = self.root.replace("{host}", host)
        _, account = await self._get(f"{root}/api/v1/accounts/lookup", {"acct": user}, key=host)
        if not isinstance(account, dict) or account.get("id") is None:
            raise Malformed("the account lookup has no id")
        return str(account["id"])

    async def list_page(
        self, handle: str, cursor: str | None, account_id: str | None = None
    ) -> tuple[list[Any], str | None]:
        """One page of a newest-first list after `cursor` (Bluesky's cursor, Mastodon's
        `max_id` of its next link; None: from the newest), and the next page's cursor (None at
        the end). A cursor the platform refuses (400, 422) raises CursorRefused."""
        try:
            if self.platform == "bluesky":
                return await self._bluesky_page(handle, cursor)
            if self.platform == "mastodon" and account_id is not None:
                return await self._mastodon_page(handle, account_id, cursor)
        except (NotFound, Malformed) as exc:
            if cursor is not None and exc.status in (400, 422):
                raise CursorRefused(
                    f"{self.platform} refused the stored cursor: {exc.reason}"
                ) from exc
            raise
        raise ValueError(f"{self.platform} lists no follower newest first")

    async def _bluesky_page(self, handle: str, cursor: str | None) -> tuple[list[Any], str | None]:
        params = {"actor": handle, "limit": str(PAGE["bluesky"])}
        if cursor:
            params["cursor"] = cursor
        _, body = await self._get(f"{self.root}/xrpc/app.bsky.graph.getFollowers", params)
        page = body.get("followers") if isinstance(body, dict) else None
        if not isinstance(page, list):
            raise Malformed("getFollowers answer has no followers list")
        after = body.get("cursor")
        return page, after if isinstance(after, str) and after else None

    async def _mastodon_page(
        self, handle: str, account_id: str, max_id: str | None
    ) -> tuple[list[Any], str | None]:
        host = handle.split("@", 1)[1]
        root = self.root.replace("{host}", host)
        params = {"limit": str(PAGE["mastodon"])}
        if max_id is not None:
            params["max_id"] = max_id
        response, page = await self._get(
            f"{root}/api/v1/accounts/{account_id}/followers", params, key=host
        )
        if not isinstance(page, list):
            raise Malformed("the followers answer is not a JSON array")
        url = response.links.get("next", {}).get("url")
        after = httpx.URL(url).params.get("max_id") if url and page else None
        return page, after

    async def detailed(self, listed: list[SampledProfile]) -> list[SampledProfile]:
        """The judged fields of listed followers: Mastodon's list carries them all; Bluesky's
        counts come from getProfiles (25 a call: give at most 25)."""
        if self.platform != "bluesky" or not listed:
            return listed
        _, body = await self._get(
            f"{self.root}/xrpc/app.bsky.actor.getProfiles",
            [("actors", p.follower_id) for p in listed],
        )
        found = body.get("profiles") if isinstance(body, dict) else None
        if not isinstance(found, list):
            raise Malformed("getProfiles answer has no profiles list")
        views = {str(v.get("did")): v for v in found if isinstance(v, dict)}
        return [
            bluesky_profile(views[p.follower_id], p.position) if p.follower_id in views else p
            for p in listed
        ]

    async def newest(self, handle: str, stop: int, max_pages: int) -> list[Any]:
        """The raw list items of positions 0 .. stop-1 in one go (fewer when the list or
        `max_pages` ends): the audit of an account without history reads them once."""
        account_id = await self.mastodon_id(handle) if self.platform == "mastodon" else None
        items: list[Any] = []
        cursor: str | None = None
        for _ in range(max_pages):
            page, cursor = await self.list_page(handle, cursor, account_id)
            items += page
            if len(items) >= stop or not page or cursor is None:
                break
        return items[:stop]

    async def profiles(self, items: list[tuple[int, Any]]) -> list[SampledProfile]:
        """The judged fields of list items (position, item), `detailed` 25 at a time."""
        listed = [listed_profile(self.platform, item, position) for position, item in items]
        judged: list[SampledProfile] = []
        for start in range(0, len(listed), PROFILES_PER_CALL):
            judged += await self.detailed(listed[start : start + PROFILES_PER_CALL])
        return judged

    # --- GitHub -------------------------------------------------------------------------------

    async def user(self, login: str, followed_at: datetime | None = None) -> SampledProfile:
        _, body = await self._get(f"{self.root}/users/{login}")
        return github_profile(body, followed_at)

    async def followers(self, handle: str, stop: int, max_pages: int) -> list[str]:
        """Up to `stop` logins of a GitHub user's followers (in GitHub's undocumented order)."""
        logins: list[str] = []
        for page in range(1, max_pages + 1):
            response, body = await self._get(
                f"{self.root}/users/{handle}/followers",
                {"per_page": str(PER_PAGE), "page": str(page)},
            )
            if not isinstance(body, list):
                raise Malformed("the followers answer is not a JSON array")
            logins += [u["login"] for u in body if isinstance(u, dict) and "login" in u]
            if len(logins) >= stop or "next" not in links(response.headers.get("link")):
                break
        return logins[:stop]

    async def stars_page(self, repo: str, page: int) -> tuple[list[tuple[str, datetime]], bool]:
        """(login, starred_at) of stargazers page `page` (oldest first), and whether a next page
        follows; past GitHub's page cap PageCapReached."""
        response, body = await self._get(
            f"{self.root}/repos/{repo}/stargazers",
            {"per_page": str(PER_PAGE), "page": str(page)},
            {"Accept": STAR_JSON},
        )
        if not isinstance(body, list):
            raise Malformed(f"stargazers page {page} is not a JSON array")
        found = []
        for item in body:
            when = _time(item.get("starred_at")) if isinstance(item, dict) else None
            user = item.get("user") if isinstance(item, dict) else None
            if when is None or not isinstance(user, dict) or "login" not in user:
                raise Malformed("a stargazer without starred_at or login")
            found.append((str(user["login"]), when))
        return found, "next" in links(response.headers.get("link"))
