"""Route handlers that answer like each platform's API (shapes from docs/platform-apis.md)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from simulator.styles import google_error
from simulator.types import Answer
from simulator.world import Figures, channel_id_for, did_for, numeric_id

if TYPE_CHECKING:
    from simulator.server import Simulator

Handler = Callable[["Simulator", Request], Awaitable[Answer]]


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    return value.split(" ", 1)[1] if value.lower().startswith("bearer ") else None


async def mastodon_lookup(sim: Simulator, request: Request) -> Answer:
    host = request.path_params["host"].lower()
    acct = request.query_params.get("acct", "").lower().removeprefix("@")
    handle = acct if "@" in acct else f"{acct}@{host}"
    state = sim.state("mastodon", handle)
    if state is None:
        return Answer(404, {"error": "Record not found"})
    user = handle.split("@", 1)[0]
    account: dict[str, Any] = {
        "id": numeric_id(f"mastodon:{handle}"),
        "username": user,
        "acct": user if handle.endswith(f"@{host}") else handle,
        "display_name": sim.display_name("mastodon", handle),
        "locked": False,
        "bot": False,
        "discoverable": True,
        "group": False,
        "created_at": "2019-03-16T00:00:00.000Z",
        "note": "<p>simulated account</p>",
        "url": f"https://{host}/@{user}",
        "uri": f"https://{host}/users/{user}",
        "avatar": f"https://{host}/avatars/original/missing.png",
        "header": f"https://{host}/headers/original/missing.png",
        "followers_count": state.followers,
        "following_count": state.following or 0,
        "statuses_count": state.posts or 0,
        "last_status_at": sim.today.isoformat(),
        "emojis": [],
        "fields": [],
    }
    if state.status == "suspended":
        account |= {
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": 0,
            "last_status_at": None,
            "suspended": True,
            "display_name": "",
        }
    elif state.status == "moved":
        account["moved"] = {
            "id": "1",
            "username": "newhome",
            "acct": f"newhome@{host}",
            "display_name": "moved",
        }
    return Answer(200, account)


def _bluesky_profile(sim: Simulator, handle: str, state: Figures) -> dict[str, Any]:
    return {
        "did": did_for(handle),
        "handle": handle,
        "displayName": sim.display_name("bluesky", handle),
        "description": "simulated account",
        "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did_for(handle)}/x@jpeg",
        "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0, "labeler": False},
        "followersCount": state.followers,
        "followsCount": state.following or 0,
        "postsCount": state.posts or 0,
        "createdAt": "2023-04-12T04:53:57.057Z",
        "indexedAt": "2024-01-25T23:46:25.222Z",
        "labels": [],
        "verification": {
            "verifications": [],
            "verifiedStatus": "none",
            "trustedVerifierStatus": "none",
        },
    }


def _bluesky_resolve(sim: Simulator, actor: str) -> str:
    actor = actor.lower().removeprefix("@")
    if actor.startswith("did:"):
        for handle in sim.world.handles("bluesky"):
            if did_for(handle) == actor:
                return handle
    return actor


async def bluesky_profile(sim: Simulator, request: Request) -> Answer:
    actor = request.query_params.get("actor")
    if not actor:
        return Answer(
            400,
            {"error": "InvalidRequest", "message": 'Error: Params must have the property "actor"'},
        )
    handle = _bluesky_resolve(sim, actor)
    state = sim.state("bluesky", handle)
    if state is None:
        return Answer(400, {"error": "InvalidRequest", "message": "Profile not found"})
    if state.status == "suspended":
        return Answer(400, {"error": "AccountTakedown", "message": "Account has been suspended"})
    if state.status == "deactivated":
        return Answer(400, {"error": "AccountDeactivated", "message": "Account is deactivated"})
    return Answer(200, _bluesky_profile(sim, handle, state))


async def bluesky_profiles(sim: Simulator, request: Request) -> Answer:
    actors = request.query_params.getlist("actors")
    if len(actors) > 25:
        return Answer(
            400,
            {
                "error": "InvalidRequest",
                "message": "Error: actors must not have more than 25 elements",
            },
        )
    profiles = []
    for actor in actors:  # unknown, taken-down and deactivated actors are silently left out
        handle = _bluesky_resolve(sim, actor)
        state = sim.state("bluesky", handle)
        if state is not None and state.status == "active":
            profiles.append(_bluesky_profile(sim, handle, state))
    return Answer(200, {"profiles": profiles})


def _github_gate(request: Request) -> Answer | None:
    if not request.headers.get("user-agent"):
        return Answer(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a "
            "User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).",
        )
    return None


_GITHUB_404 = {
    "message": "Not Found",
    "documentation_url": "https://docs.github.com/rest/users/users#get-a-user",
    "status": "404",
}


async def github_user(sim: Simulator, request: Request) -> Answer:
    refused = _github_gate(request)
    if refused:
        return refused
    handle = request.path_params["user"].lower()
    state = sim.state("github", handle)
    if state is None or "/" in handle:
        return Answer(404, _GITHUB_404)
    return Answer(
        200,
        {
            "login": handle,
            "id": int(numeric_id(f"github:{handle}")),
            "node_id": "MDQ6VXNlcjE=",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{numeric_id(handle)}?v=4",
            "url": f"https://api.github.com/users/{handle}",
            "html_url": f"https://github.com/{handle}",
            "type": "User",
            "site_admin": False,
            "name": sim.display_name("github", handle),
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": "simulated",
            "twitter_username": None,
            "public_repos": state.posts or 0,
            "public_gists": 0,
            "followers": state.followers,
            "following": state.following or 0,
            "created_at": "2015-01-14T04:33:35Z",
            "updated_at": "2024-01-15T10:00:00Z",
        },
    )


async def github_repo(sim: Simulator, request: Request) -> Answer:
    refused = _github_gate(request)
    if refused:
        return refused
    handle = f"{request.path_params['owner']}/{request.path_params['repo']}".lower()
    state = sim.state("github", handle)
    if state is None:
        return Answer(
            404,
            _GITHUB_404
            | {"documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository"},
        )
    return Answer(
        200,
        {
            "id": int(numeric_id(f"github:{handle}")),
            "name": handle.split("/")[1],
            "full_name": handle,
            "private": False,
            "stargazers_count": state.followers,
            "watchers_count": state.followers,
            "forks_count": 0,
            "subscribers_count": 0,
            "open_issues_count": 0,
            "created_at": "2016-01-01T00:00:00Z",
        },
    )


def _youtube_item(sim: Simulator, handle: str, state: Figures) -> dict[str, Any]:
    channel = handle if handle.startswith("UC") else channel_id_for(handle)
    custom = handle if handle.startswith("@") else "@" + channel[2:10].lower()
    stats: dict[str, Any] = {
        "viewCount": str((state.posts or 0) * 1234),
        "subscriberCount": str(state.followers),
        "hiddenSubscriberCount": False,
        "videoCount": str(state.posts or 0),
    }
    if state.status == "hidden":
        stats = {
            "viewCount": stats["viewCount"],
            "hiddenSubscriberCount": True,
            "videoCount": stats["videoCount"],
        }
    return {
        "kind": "youtube#channel",
        "etag": "nG5w1UoQWmR3nJpKk3pQW2d4yYo",
        "id": channel,
        "snippet": {
            "title": sim.display_name("youtube", handle),
            "description": "simulated",
            "customUrl": custom,
            "publishedAt": "2007-08-23T00:34:43Z",
            "country": "US",
        },
        "statistics": stats,
    }


async def youtube_channels(sim: Simulator, request: Request) -> Answer:
    query = request.query_params
    key = query.get("key")
    if not key or (sim.credentials.get("youtube_api_key") not in (None, key)):
        message = "API key not valid. Please pass a valid API key."
        return Answer(
            400,
            google_error(
                400,
                message,
                "global",
                "badRequest",
                status="INVALID_ARGUMENT",
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "youtube.googleapis.com"},
                    }
                ],
            ),
        )
    filters = [f for f in ("id", "forHandle", "forUsername") if query.get(f)]
    if len(filters) != 1:
        return Answer(
            400,
            google_error(
                400,
                "Incompatible parameters specified in the request: id, forHandle",
                "youtube.parameter",
                "incompatibleParameters",
            ),
        )
    by_id = {
        (h if h.startswith("UC") else channel_id_for(h)): h for h in sim.world.handles("youtube")
    }
    wanted: list[str] = []
    if query.get("id"):
        ids = query["id"].split(",")
        if len(ids) > 50:
            return Answer(
                400, google_error(400, "Too many ids", "youtube.parameter", "invalidCriteria")
            )
        wanted = [by_id[i] for i in ids if i in by_id]
    elif query.get("forHandle"):
        handle = "@" + query["forHandle"].lower().removeprefix("@")
        wanted = [handle] if handle in sim.world.handles("youtube") else []
    elif query.get("forUsername"):  # a legacy username (case-insensitive)
        name = query["forUsername"].lower()
        wanted = [h for h in sim.world.handles("youtube") if h.lower() == name]
    items = []
    for handle in wanted:
        state = sim.state("youtube", handle)
        if (
            state is not None and state.status != "suspended"
        ):  # terminated channels vanish from results
            items.append(_youtube_item(sim, handle, state))
    body: dict[str, Any] = {
        "kind": "youtube#channelListResponse",
        "etag": "RuuXzTIr0OoDqI4S0RU6n4FqKEM",
        "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
    }
    if items:  # a miss has no items key at all
        body["items"] = items
    return Answer(200, body)


async def x_users_by(sim: Simulator, request: Request) -> Answer:
    token = _bearer(request)
    if token is None or sim.credentials.get("x_bearer_token") not in (None, token):
        return Answer(
            401,
            {
                "title": "Unauthorized",
                "type": "about:blank",
                "status": 401,
                "detail": "Unauthorized",
            },
        )
    names = [n for n in request.query_params.get("usernames", "").split(",") if n]
    if not names or len(names) > 100:
        return Answer(
            400,
            {
                "errors": [
                    {
                        "parameters": {"usernames": [",".join(names)[:50]]},
                        "message": "The number of values must be between 1 and 100",
                    }
                ],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            },
        )
    data, errors = [], []
    for name in names:
        handle = name.lower()
        state = sim.state("x", handle)
        if state is None:
            errors.append(
                {
                    "value": name,
                    "detail": f"Could not find user with usernames: [{name}].",
                    "title": "Not Found Error",
                    "resource_type": "user",
                    "parameter": "usernames",
                    "resource_id": name,
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            )
        elif state.status == "suspended":
            errors.append(
                {
                    "parameter": "usernames",
                    "resource_id": name,
                    "value": name,
                    "detail": f"User has been suspended: [{name}].",
                    "title": "Forbidden",
                    "resource_type": "user",
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            )
        else:
            data.append(
                {
                    "id": numeric_id(f"x:{handle}"),
                    "name": sim.display_name("x", handle),
                    "username": name,
                    "created_at": "2013-12-14T04:35:55.000Z",
                    "description": "simulated",
                    "verified": False,
                    "protected": False,
                    "public_metrics": {
                        "followers_count": state.followers,
                        "following_count": state.following or 0,
                        "tweet_count": state.posts or 0,
                        "listed_count": 3,
                    },
                }
            )
    body: dict[str, Any] = {}
    if data:
        body["data"] = data
    if errors:
        body["errors"] = errors
    return Answer(200, body)


def _twitch_auth(sim: Simulator, request: Request) -> Answer | None:
    if not request.headers.get("client-id"):
        return Answer(
            401, {"error": "Unauthorized", "status": 401, "message": "Client-Id header is missing"}
        )
    token = _bearer(request)
    if token is None:
        return Answer(
            401, {"error": "Unauthorized", "status": 401, "message": "OAuth token is missing"}
        )
    if sim.credentials.get("twitch_token") not in (None, token):
        return Answer(
            401, {"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"}
        )
    return None


async def twitch_users(sim: Simulator, request: Request) -> Answer:
    refused = _twitch_auth(sim, request)
    if refused:
        return refused
    data = []
    for login in request.query_params.getlist("login")[:100]:
        handle = login.lower()
        state = sim.state("twitch", handle)
        if state is not None and state.status == "active":
            data.append(
                {
                    "id": numeric_id(f"twitch:{handle}"),
                    "login": handle,
                    "display_name": sim.display_name("twitch", handle),
                    "type": "",
                    "broadcaster_type": "affiliate",
                    "description": "simulated",
                    "profile_image_url": "https://static-cdn.jtvnw.net/x.png",
                    "offline_image_url": "",
                    "view_count": 0,
                    "created_at": "2016-12-14T20:32:28Z",
                }
            )
    return Answer(200, {"data": data})


async def twitch_followers(sim: Simulator, request: Request) -> Answer:
    refused = _twitch_auth(sim, request)
    if refused:
        return refused
    wanted = request.query_params.get("broadcaster_id", "")
    for handle in sim.world.handles("twitch"):
        if numeric_id(f"twitch:{handle}") == wanted:
            state = sim.state("twitch", handle)
            if state is not None:
                return Answer(200, {"total": state.followers, "data": [], "pagination": {}})
    return Answer(
        400,
        {
            "error": "Bad Request",
            "status": 400,
            "message": 'The parameter "broadcaster_id" was malformed',
        },
    )


async def reddit_token(sim: Simulator, request: Request) -> Answer:
    import base64
    from urllib.parse import parse_qs

    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    auth = request.headers.get("authorization", "")
    try:
        client_id, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)
    except (ValueError, UnicodeDecodeError):
        return Answer(401, {"message": "Unauthorized", "error": 401})
    expected = (
        sim.credentials.get("reddit_client_id"),
        sim.credentials.get("reddit_client_secret"),
    )
    if form.get("grant_type") != "client_credentials" or (
        expected != (None, None) and expected != (client_id, secret)
    ):
        return Answer(401, {"message": "Unauthorized", "error": 401})
    return Answer(
        200,
        {
            "access_token": f"simtoken-{numeric_id(client_id)}",
            "token_type": "bearer",
            "expires_in": 86400,
            "scope": "*",
        },
    )


async def reddit_about(sim: Simulator, request: Request) -> Answer:
    if not (_bearer(request) or "").startswith("simtoken-"):
        return Answer(
            403,
            "<html><body><h1>whoa there, pardner!</h1>Your request has been blocked due to a network policy.</body></html>",
        )
    kind = "r" if request.url.path.startswith("/reddit/r/") else "u"
    name = request.path_params["name"].lower()
    handle = f"{kind}/{name}"
    state = sim.state("reddit", handle)
    if state is None:
        return Answer(404, {"message": "Not Found", "error": 404})
    if kind == "r":
        if state.status == "suspended":
            return Answer(403, {"reason": "private", "message": "Forbidden", "error": 403})
        return Answer(
            200,
            {
                "kind": "t5",
                "data": {
                    "id": numeric_id(handle)[:6],
                    "name": f"t5_{numeric_id(handle)[:6]}",
                    "display_name": name,
                    "display_name_prefixed": f"r/{name}",
                    "title": sim.display_name("reddit", handle),
                    "public_description": "simulated",
                    "subscribers": state.followers,
                    "active_user_count": 12,
                    "accounts_active": 12,
                    "created_utc": 1201233135.0,
                    "over18": False,
                    "subreddit_type": "public",
                    "url": f"/r/{name}/",
                },
            },
        )
    if state.status == "suspended":
        return Answer(200, {"kind": "t2", "data": {"is_suspended": True, "name": name}})
    return Answer(
        200,
        {
            "kind": "t2",
            "data": {
                "name": name,
                "id": numeric_id(handle)[:4],
                "created_utc": 1118030400.0,
                "link_karma": 100,
                "comment_karma": 200,
                "total_karma": 300,
                "verified": True,
                "has_verified_email": True,
                "is_employee": False,
                "is_mod": False,
                "is_gold": False,
                "icon_img": "",
                "subreddit": {
                    "display_name": f"u_{name}",
                    "subscribers": state.followers,
                    "title": name,
                    "public_description": "",
                },
            },
        },
    )


_DISCOVERY = re.compile(r"business_discovery\.username\(([^)]*)\)")


async def instagram_discovery(sim: Simulator, request: Request) -> Answer:
    token = request.query_params.get("access_token")
    if not token or sim.credentials.get("instagram_token") not in (None, token):
        return Answer(
            400,
            {
                "error": {
                    "message": "Invalid OAuth access token - Cannot parse access token",
                    "type": "OAuthException",
                    "code": 190,
                    "fbtrace_id": "Asim",
                }
            },
        )
    match = _DISCOVERY.search(request.query_params.get("fields", ""))
    if not match:
        return Answer(
            400,
            {"error": {"message": "(#100) Missing fields", "type": "OAuthException", "code": 100}},
        )
    handle = match.group(1).lower()
    state = sim.state("instagram", handle)
    if state is None or state.status != "active":
        return Answer(
            400,
            {
                "error": {
                    "message": "Invalid user id",
                    "type": "OAuthException",
                    "code": 110,
                    "error_subcode": 2207013,
                    "fbtrace_id": "Asim",
                }
            },
        )
    return Answer(
        200,
        {
            "business_discovery": {
                "followers_count": state.followers,
                "follows_count": state.following or 0,
                "media_count": state.posts or 0,
                "name": sim.display_name("instagram", handle),
                "username": handle,
                "id": numeric_id(f"ig:{handle}"),
            },
            "id": request.path_params["ig_id"],
        },
    )


ROUTES: list[tuple[str, str, Handler, str]] = [  # (platform, path, handler, method)
    ("mastodon", "/mastodon/{host}/api/v1/accounts/lookup", mastodon_lookup, "GET"),
    ("bluesky", "/bluesky/xrpc/app.bsky.actor.getProfile", bluesky_profile, "GET"),
    ("bluesky", "/bluesky/xrpc/app.bsky.actor.getProfiles", bluesky_profiles, "GET"),
    ("github", "/github/users/{user}", github_user, "GET"),
    ("github", "/github/repos/{owner}/{repo}", github_repo, "GET"),
    ("youtube", "/youtube/youtube/v3/channels", youtube_channels, "GET"),
    ("x", "/x/2/users/by", x_users_by, "GET"),
    ("twitch", "/twitch/helix/users", twitch_users, "GET"),
    ("twitch", "/twitch/helix/channels/followers", twitch_followers, "GET"),
    ("reddit", "/reddit/api/v1/access_token", reddit_token, "POST"),
    ("reddit", "/reddit/r/{name}/about", reddit_about, "GET"),
    ("reddit", "/reddit/user/{name}/about", reddit_about, "GET"),
    ("instagram", "/instagram/{ig_id}", instagram_discovery, "GET"),
]
