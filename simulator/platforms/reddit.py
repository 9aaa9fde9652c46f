"""Reddit: the app-only token, then /r/{name}/about and /user/{name}/about (docs/platform-apis.md)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.requests import Request

from simulator.platforms.common import bearer
from simulator.types import Answer
from simulator.world import Figures, numeric_id

if TYPE_CHECKING:
    from simulator.server import Simulator

_BLOCKED = (
    "<html><body><h1>whoa there, pardner!</h1>Your request has been blocked due to a network "
    "policy.</body></html>"
)


async def reddit_token(sim: Simulator, request: Request) -> Answer:

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


def _subreddit(sim: Simulator, name: str, state: Figures) -> Answer:
    handle = f"r/{name}"
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


def _user(name: str, state: Figures) -> Answer:
    if state.status == "suspended":
        return Answer(200, {"kind": "t2", "data": {"is_suspended": True, "name": name}})
    return Answer(
        200,
        {
            "kind": "t2",
            "data": {
                "name": name,
                "id": numeric_id(f"u/{name}")[:4],
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


async def reddit_about(sim: Simulator, request: Request) -> Answer:
    if not (bearer(request) or "").startswith("simtoken-"):
        return Answer(403, _BLOCKED)
    kind = "r" if request.url.path.startswith("/reddit/r/") else "u"
    name = request.path_params["name"].lower()
    state = sim.state("reddit", f"{kind}/{name}")
    if state is None:
        return Answer(404, {"message": "Not Found", "error": 404})
    return _subreddit(sim, name, state) if kind == "r" else _user(name, state)
