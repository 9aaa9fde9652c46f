"""Mastodon: GET /api/v1/accounts/lookup on any server (shapes from docs/platform-apis.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from simulator.types import Answer
from simulator.world import numeric_id

if TYPE_CHECKING:
    from simulator.server import Simulator


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
