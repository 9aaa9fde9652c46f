"""Twitch Helix: GET /helix/users and /helix/channels/followers (shapes from docs/platform-apis.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from simulator.platforms.common import bearer
from simulator.types import Answer
from simulator.world import numeric_id

if TYPE_CHECKING:
    from simulator.server import Simulator


def _twitch_auth(sim: Simulator, request: Request) -> Answer | None:
    if not request.headers.get("client-id"):
        return Answer(
            401, {"error": "Unauthorized", "status": 401, "message": "Client-Id header is missing"}
        )
    token = bearer(request)
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
