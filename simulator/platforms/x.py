"""X API v2: GET /2/users/by?usernames=... (shapes from docs/platform-apis.md)."""

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


def _invalid_count(names: list[str]) -> Answer:
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


def _not_found(name: str) -> dict[str, Any]:
    return {
        "value": name,
        "detail": f"Could not find user with usernames: [{name}].",
        "title": "Not Found Error",
        "resource_type": "user",
        "parameter": "usernames",
        "resource_id": name,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def _suspended(name: str) -> dict[str, Any]:
    return {
        "parameter": "usernames",
        "resource_id": name,
        "value": name,
        "detail": f"User has been suspended: [{name}].",
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


def _users(sim: Simulator, names: list[str]) -> dict[str, Any]:
    """The users found under `data`, the missing and suspended under `errors` (keys only if any)."""
    data, errors = [], []
    for name in names:
        state = sim.state("x", name.lower())
        if state is None:
            errors.append(_not_found(name))
        elif state.status == "suspended":
            errors.append(_suspended(name))
        else:
            data.append(_user(sim, name, state))
    body: dict[str, Any] = {}
    if data:
        body["data"] = data
    if errors:
        body["errors"] = errors
    return body


async def x_users_by(sim: Simulator, request: Request) -> Answer:
    token = bearer(request)
    if token is None or sim.credentials.get("x_bearer_token") not in (None, token):
        return _unauthorized()
    names = [n for n in request.query_params.get("usernames", "").split(",") if n]
    if not names or len(names) > _MAX_NAMES:
        return _invalid_count(names)
    return Answer(200, _users(sim, names))
