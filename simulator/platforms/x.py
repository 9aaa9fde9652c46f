"""X API v2: GET /2/users/by?usernames=... and /2/users/by/username/{username} (shapes from
docs/platform-apis.md §5). A user found is under `data`; one missing or suspended is an `errors`
item of a 200. `refused` (the bearer token) and `invalid_request` serve the user tweets timeline
too (simulator/feeds.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from simulator.platforms.common import bearer
from simulator.types import Answer
from simulator.world import Figures, numeric_id

if TYPE_CHECKING:
    from simulator.server import Simulator

_MAX_NAMES = 100


def _unauthorized() -> Answer:
    return Answer(
        401,
        {
            "title": "Unauthorized",
            "type": "about:blank",
            "status": 401,
            "detail": "Unauthorized",
        },
    )


def refused(sim: Simulator, request: Request) -> Answer | None:
    """The 401 of a request without the expected bearer token, or None."""
    token = bearer(request)
    if token is None or sim.credentials.get("x_bearer_token") not in (None, token):
        return _unauthorized()
    return None


def invalid_request(parameter: str, value: str, message: str) -> Answer:
    return Answer(
        400,
        {
            "errors": [{"parameters": {parameter: [value[:50]]}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )


def missing_user(value: str, parameter: str) -> dict[str, Any]:
    """The `errors` item of a user not found by `parameter` (usernames, username or id)."""
    return {
        "value": value,
        "detail": f"Could not find user with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": "user",
        "parameter": parameter,
        "resource_id": value,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def suspended_user(value: str, parameter: str) -> dict[str, Any]:
    return {
        "parameter": parameter,
        "resource_id": value,
        "value": value,
        "detail": f"User has been suspended: [{value}].",
        "title": "Forbidden",
        "resource_type": "user",
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def _user(sim: Simulator, name: str, state: Figures) -> dict[str, Any]:
    handle = name.lower()
    return {
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


def _lookup(sim: Simulator, name: str, parameter: str) -> tuple[str, dict[str, Any]]:
    """("data", the user) or ("errors", why not) for one username."""
    state = sim.state("x", name.lower())
    if state is None:
        return "errors", missing_user(name, parameter)
    if state.status == "suspended":
        return "errors", suspended_user(name, parameter)
    return "data", _user(sim, name, state)


def _users(sim: Simulator, names: list[str]) -> dict[str, Any]:
    """The users found under `data`, the missing and suspended under `errors` (keys only if any)."""
    body: dict[str, Any] = {}
    for name in names:
        key, item = _lookup(sim, name, "usernames")
        body.setdefault(key, []).append(item)
    return {key: body[key] for key in ("data", "errors") if key in body}


async def x_users_by(sim: Simulator, request: Request) -> Answer:
    no = refused(sim, request)
    if no is not None:
        return no
    names = [n for n in request.query_params.get("usernames", "").split(",") if n]
    if not names or len(names) > _MAX_NAMES:
        return invalid_request(
            "usernames", ",".join(names), "The number of values must be between 1 and 100"
        )
    return Answer(200, _users(sim, names))


async def x_user_by_username(sim: Simulator, request: Request) -> Answer:
    no = refused(sim, request)
    if no is not None:
        return no
    key, item = _lookup(sim, request.path_params["username"], "username")
    return Answer(200, {key: item if key == "data" else [item]})
