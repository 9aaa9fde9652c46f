"""The follower-list endpoints, over each account's follow log (simulator/follow_log.py).

Endpoints (docs/audience-apis.md §1, §5):
    /bluesky/xrpc/app.bsky.graph.getFollowers   newest first, limit 1-100 (default 50), cursor
    /bluesky/xrpc/app.bsky.actor.getProfiles     25 actors a call, followers' counts included
    /mastodon/{host}/api/v1/accounts/{id}/followers  newest first, limit 40 (clamped to 80),
                                                  max_id/since_id on follow ids, Link header
    /github/users/{user}/followers               per_page <= 100, page N, Link header, 422
                                                  past the page cap; login order (the real
                                                  order is undocumented: do not rely on it)
    /github/users/{login}                        a follower's full profile
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.requests import Request

from simulator.budgets import budgeted
from simulator.follow_log import MS_DAY, FollowLog, iso_ms, stable_hash
from simulator.list_requests import (
    fake_cid,
    id_window,
    int_param,
    invalid,
    mastodon_account,
    mastodon_limit,
    mastodon_links,
    xrpc_target,
)
from simulator.platforms.bluesky import profile_view, resolve_actor
from simulator.platforms.github import github_user
from simulator.types import Answer

if TYPE_CHECKING:
    from simulator.server import Simulator

# --- Bluesky ---------------------------------------------------------------------------------


def bluesky_follower_view(log: FollowLog, index: int, detailed: bool = False) -> dict[str, Any]:
    """A follower as app.bsky.actor.defs#profileView (no counts) or profileViewDetailed."""
    did = log.did(index)
    p = log.profiles
    view: dict[str, Any] = {"did": did, "handle": log.bluesky_handle(index)}
    name = log.display_name(index)
    if name:
        view["displayName"] = name
    if p.has_bio[index]:
        view["description"] = log.bio(index)
    if p.has_avatar[index]:  # the key is left out when there is no avatar
        view["avatar"] = f"https://cdn.bsky.app/img/avatar/plain/{did}/{fake_cid(did)}@jpeg"
    created = int(log.created_ms[index])
    view |= {
        "associated": {"activitySubscription": {"allowSubscriptions": "followers"}},
        "indexedAt": iso_ms(created + 2_500),
        "createdAt": iso_ms(created),
        "labels": [],
    }
    if detailed:
        view |= {
            "followersCount": int(p.followers[index]),
            "followsCount": int(p.following[index]),
            "postsCount": int(p.posts[index]),
        }
    return view


@budgeted("bluesky")
def bluesky_followers(sim: Simulator, request: Request) -> Answer:
    target = xrpc_target(sim, request)
    if isinstance(target, Answer):
        return target
    actor, handle, state, limit = target
    query = request.query_params
    log = sim.audiences.log("bluesky", handle)
    if state is None or log is None or state.status in ("suspended", "deactivated"):
        return invalid(f"Actor not found: {actor}")
    subject = profile_view(sim, handle, state)
    for key in ("followersCount", "followsCount", "postsCount"):
        subject.pop(key, None)
    current = log.alive(sim.audiences.day(log))[::-1]  # newest follow first
    cursor = query.get("cursor")
    if cursor:
        if "::" in cursor:  # a v1-style cursor: an empty page
            return Answer(200, {"subject": subject, "followers": []})
        ms, sep, cid = cursor.partition("__")
        if not sep or not ms.isdigit():
            return invalid("Malformed cursor")
        index = sim.audiences.by_cid(log, cid)
        if index is not None:
            current = current[current < index]
        else:
            current = current[log.followed_ms[current] < int(ms)]
    page = current[:limit]
    body: dict[str, Any] = {
        "subject": subject,
        "followers": [bluesky_follower_view(log, int(i)) for i in page],
    }
    if len(current) > limit:  # the only end-of-list signal is a missing cursor
        last = int(page[-1])
        body["cursor"] = f"{int(log.followed_ms[last])}__{fake_cid(log.did(last))}"
    return Answer(200, body)


async def bluesky_profiles(sim: Simulator, request: Request) -> Answer:
    """getProfiles: simulated accounts as before, and followers (by DID or handle) with counts."""
    actors = request.query_params.getlist("actors")
    if len(actors) > 25:
        return invalid("Error: actors must not have more than 25 elements")
    # a simulated account's handle is answered without the index of every follower of every
    # account, which follower lookups need and which takes minutes to build for a large world
    found = [
        None
        if sim.world.spec("bluesky", actor.lower().removeprefix("@")) is not None
        else sim.audiences.follower("bluesky", actor.lower())
        for actor in actors
    ]
    headers: dict[str, str] = {}
    if any(found):
        refused, headers = sim.audiences.budgets.take("bluesky", request)
        if refused:
            return refused
    profiles = []
    for actor, follower in zip(actors, found, strict=True):
        if follower is not None:
            profiles.append(bluesky_follower_view(*follower, detailed=True))
            continue
        handle = resolve_actor(sim, actor)  # unknown and inactive actors are left out
        state = sim.state("bluesky", handle)
        if state is not None and state.status == "active":
            profiles.append(profile_view(sim, handle, state))
    return Answer(200, {"profiles": profiles}, headers)


# --- Mastodon --------------------------------------------------------------------------------

MASTODON_MISSING = "/avatars/original/missing.png"


def follow_id(log: FollowLog, index: int) -> int:
    """The Follow row's id: a plain sequence (not time-encoded), rising with the follow order."""
    return 4_000_000 + 37 * index + stable_hash(log.key(index), "follow") % 37


def mastodon_account_id(log: FollowLog, index: int, home: str) -> str:
    """Snowflake-like: creation ms << 16 for local accounts; first seen (the follow) for remote."""
    ms = int(log.created_ms[index] if log.hosts[index] == home else log.followed_ms[index] - 5_000)
    return str((ms << 16) | (stable_hash(log.key(index), "id") & 0xFFFF))


def mastodon_follower(log: FollowLog, index: int, home: str) -> dict[str, Any]:
    p = log.profiles
    host = log.hosts[index]
    user = log.name(index)
    created = datetime.fromtimestamp(int(log.created_ms[index]) / 1000, UTC)
    local = host == home
    if p.has_avatar[index]:
        avatar = f"https://files.{host}/accounts/avatars/{user}/original/{stable_hash(user) % 10**12:x}.png"
    else:
        avatar = f"https://{home}{MASTODON_MISSING}"
    last_status = None
    if p.posts[index] > 0:  # a date only; old accounts with posts were active lately
        last_ms = max(int(log.followed_ms[index]) - (stable_hash(user, "last") % 60) * MS_DAY, 0)
        last_status = max(created, datetime.fromtimestamp(last_ms / 1000, UTC)).date().isoformat()
    account: dict[str, Any] = {
        "id": mastodon_account_id(log, index, home),
        "username": user,
        "acct": user if local else f"{user}@{host}",
        "display_name": log.display_name(index),
        "locked": False,
        "bot": False,
        "discoverable": bool(p.has_bio[index]),
        "indexable": bool(p.has_bio[index]),
        "group": False,
        "hide_collections": False,
        "created_at": created.strftime("%Y-%m-%dT00:00:00.000Z"),  # midnight since 3.4.0
        "note": f"<p>{log.bio(index)}</p>" if p.has_bio[index] else "",
        "url": f"https://{host}/@{user}",
        "uri": f"https://{host}/users/{user}",
        "avatar": avatar,
        "avatar_static": avatar,
        "header": f"https://{home}/headers/original/missing.png",
        "header_static": f"https://{home}/headers/original/missing.png",
        "followers_count": int(p.followers[index]),
        "following_count": int(p.following[index]),
        "statuses_count": int(p.posts[index]),
        "last_status_at": last_status,
        "emojis": [],
        "roles": [] if local else None,
        "fields": [],
    }
    if local:
        account["noindex"] = False
    return account


@budgeted("mastodon")
def mastodon_followers(sim: Simulator, request: Request) -> Answer:
    found = mastodon_account(sim, request)
    if isinstance(found, Answer):
        return found
    host, handle, state = found
    log = sim.audiences.log("mastodon", handle)
    if log is None or state.status in ("suspended", "hidden"):  # hide_results?: 200 [] no Link
        return Answer(200, [])
    query = request.query_params
    limit = mastodon_limit(query.get("limit"), 40)
    current = log.alive(sim.audiences.day(log))[::-1]
    ids = np.array([follow_id(log, int(i)) for i in current], dtype=np.int64)
    keep = id_window(ids, query)  # min_id is ignored by this controller
    page = current[keep][:limit]
    page_ids = [int(x) for x in ids[keep][:limit]]
    body = [mastodon_follower(log, int(i), host) for i in page]
    return Answer(200, body, mastodon_links(request, limit, page_ids, "since_id"))


# --- GitHub ----------------------------------------------------------------------------------

GITHUB_PAGE_CAP = 400  # UNVERIFIED for followers (documented for stargazers); configurable
_GITHUB_CAP_BODY = {
    "message": "In order to keep the API fast for everyone, pagination is limited for this "
    "resource. Check the rel=last link relation in the Link response header to see how far "
    "back you can traverse.",
    "documentation_url": "https://docs.github.com/v3/#pagination",
    "status": "422",
}


def _github_id(log: FollowLog, index: int) -> int:
    return 10_000_000 + stable_hash(log.key(index), "gh") % 200_000_000


def github_simple_user(log: FollowLog, index: int) -> dict[str, Any]:
    login = log.name(index)
    api = f"https://api.github.com/users/{login}"
    ident = _github_id(log, index)
    return {
        "login": login,
        "id": ident,
        "node_id": f"U_kgDO{ident:08X}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{ident}?v=4",
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


def github_full_user(log: FollowLog, index: int) -> dict[str, Any]:
    """GET /users/{login} of a follower. Instagram-calibrated counts are mapped onto GitHub's
    smaller scale (followers and following / 20, repositories = sqrt(posts)): an assumption."""
    p = log.profiles
    created = int(log.created_ms[index])
    bought_empty = log.purchase[index] >= 0 and not p.has_posts[index]
    updated = created + (0 if bought_empty else stable_hash(log.key(index), "upd") % (200 * MS_DAY))
    updated = min(updated, int(log.followed_ms[index]) + MS_DAY)
    repos = round(float(np.sqrt(p.posts[index])))
    return github_simple_user(log, index) | {
        "name": log.display_name(index) or None,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": log.bio(index) or None,
        "twitter_username": None,
        "public_repos": repos,
        "public_gists": 0 if log.purchase[index] >= 0 else repos // 4,
        "followers": int(p.followers[index]) // 20,
        "following": int(p.following[index]) // 20,
        "created_at": iso_ms(created)[:19] + "Z",
        "updated_at": iso_ms(max(updated, created))[:19] + "Z",
    }


def _github_links(request: Request, page: int, last: int, per_page: int) -> dict[str, str]:
    base = str(request.url.replace(query=""))
    links = []
    if page < last:
        links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
        links.append(f'<{base}?per_page={per_page}&page={last}>; rel="last"')
    if page > 1:
        links.append(f'<{base}?per_page={per_page}&page=1>; rel="first"')
        links.append(f'<{base}?per_page={per_page}&page={min(page - 1, last)}>; rel="prev"')
    return {"Link": ", ".join(links)} if links else {}


@budgeted("github")
def github_followers(sim: Simulator, request: Request) -> Answer:
    if not request.headers.get("user-agent"):
        return Answer(403, "Request forbidden by administrative rules.")
    handle = request.path_params["user"].lower()
    state = sim.state("github", handle)
    log = sim.audiences.log("github", handle)
    if state is None or log is None:
        return Answer(
            404,
            {
                "message": "Not Found",
                "documentation_url": "https://docs.github.com/rest/users/followers#list-followers-of-a-user",
                "status": "404",
            },
        )
    query = request.query_params
    per_page = int_param(query.get("per_page"))
    per_page = 30 if per_page is None or per_page < 1 else min(per_page, 100)
    page = int_param(query.get("page")) or 1
    current = log.alive(sim.audiences.day(log))
    ordered = sorted(current.tolist(), key=log.name)  # login order (the real one: undocumented)
    pages = max(-(-len(ordered) // per_page), 1)
    cap = sim.audiences.github_page_cap
    last = min(pages, cap)
    if page > cap:
        return Answer(422, _GITHUB_CAP_BODY)
    chunk = ordered[(page - 1) * per_page : page * per_page]
    return Answer(
        200,
        [github_simple_user(log, i) for i in chunk],
        _github_links(request, page, last, per_page),
    )


async def github_user_or_follower(sim: Simulator, request: Request) -> Answer:
    """GET /users/{login}: a follower's profile, or a simulated account as before."""
    login = request.path_params["user"].lower()
    # a simulated account is answered without the index of every follower (see getProfiles)
    account = sim.world.spec("github", login) is not None
    follower = None if account else sim.audiences.follower("github", login)
    if follower is None:
        return await github_user(sim, request)
    refused, headers = sim.audiences.budgets.take("github", request)
    if refused:
        return refused
    if not request.headers.get("user-agent"):
        return Answer(403, "Request forbidden by administrative rules.", headers)
    return Answer(200, github_full_user(*follower), headers)
