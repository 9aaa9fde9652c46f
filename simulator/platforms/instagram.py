"""Instagram Graph API: business discovery of another account (shapes from docs/platform-apis.md)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette.requests import Request

from simulator.types import Answer
from simulator.world import numeric_id

if TYPE_CHECKING:
    from simulator.server import Simulator

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
