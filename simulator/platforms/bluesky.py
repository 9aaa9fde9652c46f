"""Bluesky: app.bsky.actor.getProfile and getProfiles (shapes from docs/platform-apis.md).

`profile_view` and `resolve_actor` also serve the follower lists of simulator/followers.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from simulator.types import Answer
from simulator.world import Figures, did_for

if TYPE_CHECKING:
    from simulator.server import Simulator


def profile_view(sim: Simulator, handle: str, state: Figures) -> dict[str, Any]:
    """An app.bsky.actor.defs#profileViewDetailed of `handle` with today's figures."""
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


def resolve_actor(sim: Simulator, actor: str) -> str:
    """The handle an actor names: a handle (any case, with or without "@") or a known DID."""
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
    handle = resolve_actor(sim, actor)
    state = sim.state("bluesky", handle)
    if state is None:
        return Answer(400, {"error": "InvalidRequest", "message": "Profile not found"})
    if state.status == "suspended":
        return Answer(400, {"error": "AccountTakedown", "message": "Account has been suspended"})
    if state.status == "deactivated":
        return Answer(400, {"error": "AccountDeactivated", "message": "Account is deactivated"})
    return Answer(200, profile_view(sim, handle, state))


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
        handle = resolve_actor(sim, actor)
        state = sim.state("bluesky", handle)
        if state is not None and state.status == "active":
            profiles.append(profile_view(sim, handle, state))
    return Answer(200, {"profiles": profiles})
