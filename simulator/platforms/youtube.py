"""YouTube Data API v3: GET /youtube/v3/channels (shapes from docs/platform-apis.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

from simulator.styles import google_error
from simulator.types import Answer
from simulator.world import Figures, channel_id_for

if TYPE_CHECKING:
    from simulator.server import Simulator

_FILTERS = ("id", "forHandle", "forUsername")


def _youtube_item(sim: Simulator, handle: str, state: Figures, parts: list[str]) -> dict[str, Any]:
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
    item: dict[str, Any] = {
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
    if "contentDetails" in parts:  # the uploads playlist: the channel id with UC -> UU
        item["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": "UU" + channel[2:]}}
    return item


def invalid_key() -> Answer:
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


def _incompatible_filters() -> Answer:
    return Answer(
        400,
        google_error(
            400,
            "Incompatible parameters specified in the request: id, forHandle",
            "youtube.parameter",
            "incompatibleParameters",
        ),
    )


def _wanted(sim: Simulator, query: QueryParams) -> list[str] | Answer:
    """The handles the one filter given names (in the order asked), or the refusal of too many ids."""
    if query.get("id"):
        by_id = {
            (h if h.startswith("UC") else channel_id_for(h)): h
            for h in sim.world.handles("youtube")
        }
        ids = query["id"].split(",")
        if len(ids) > 50:
            return Answer(
                400, google_error(400, "Too many ids", "youtube.parameter", "invalidCriteria")
            )
        return [by_id[i] for i in ids if i in by_id]
    if query.get("forHandle"):
        handle = "@" + query["forHandle"].lower().removeprefix("@")
        return [handle] if handle in sim.world.handles("youtube") else []
    name = query["forUsername"].lower()  # a legacy username (case-insensitive)
    return [h for h in sim.world.handles("youtube") if h.lower() == name]


def _channel_list(sim: Simulator, wanted: list[str], parts: list[str]) -> dict[str, Any]:
    items = []
    for handle in wanted:
        state = sim.state("youtube", handle)
        if state is not None and state.status != "suspended":  # terminated channels vanish
            items.append(_youtube_item(sim, handle, state, parts))
    body: dict[str, Any] = {
        "kind": "youtube#channelListResponse",
        "etag": "RuuXzTIr0OoDqI4S0RU6n4FqKEM",
        "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
    }
    if items:  # a miss has no items key at all
        body["items"] = items
    return body


async def youtube_channels(sim: Simulator, request: Request) -> Answer:
    query = request.query_params
    key = query.get("key")
    if not key or (sim.credentials.get("youtube_api_key") not in (None, key)):
        return invalid_key()
    if len([f for f in _FILTERS if query.get(f)]) != 1:
        return _incompatible_filters()
    wanted = _wanted(sim, query)
    if isinstance(wanted, Answer):
        return wanted
    parts = query.get("part", "").split(",")
    return Answer(200, _channel_list(sim, wanted, parts))
