"""What the follower lists and the feeds share: reading their requests (Bluesky XRPC's actor
and limit; Mastodon's account path, limit, max_id/since_id and Link header), their refusals,
and Bluesky's fake content ids."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.requests import Request

from simulator.platforms.bluesky import resolve_actor
from simulator.types import Answer
from simulator.world import Figures, numeric_id

if TYPE_CHECKING:
    from simulator.server import Simulator

# --- Bluesky ---------------------------------------------------------------------------------


def invalid(message: str) -> Answer:
    return Answer(400, {"error": "InvalidRequest", "message": message})


def fake_cid(did: str) -> str:
    return "bafyrei" + did.removeprefix("did:plc:")[:24] + "fakecid"


def xrpc_limit(raw: str | None, default: int, top: int) -> int | Answer:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return invalid("Error: limit must be an integer")
    if not 1 <= value <= top:
        return invalid(f"Error: limit must be >= 1 and <= {top}")
    return value


def xrpc_target(sim: Simulator, request: Request) -> tuple[str, str, Figures | None, int] | Answer:
    """(actor, handle, figures, limit) of an XRPC list request, or its 400."""
    query = request.query_params
    actor = query.get("actor")
    if not actor:
        return invalid('Error: Params must have the property "actor"')
    limit = xrpc_limit(query.get("limit"), 50, 100)
    if isinstance(limit, Answer):
        return limit
    handle = resolve_actor(sim, actor)
    return actor, handle, sim.state("bluesky", handle), limit


# --- Mastodon --------------------------------------------------------------------------------


def mastodon_account(sim: Simulator, request: Request) -> tuple[str, str, Figures] | Answer:
    """(host, handle, figures) of the simulated account the path names on its home server,
    or the 404."""
    host = request.path_params["host"].lower()
    for handle in sim.world.handles("mastodon"):
        if (
            handle.endswith(f"@{host}")
            and numeric_id(f"mastodon:{handle}") == request.path_params["id"]
        ):
            state = sim.state("mastodon", handle)
            if state is not None:
                return host, handle, state
    return Answer(404, {"error": "Record not found"})


def id_window(ids: np.ndarray, query: Any) -> np.ndarray:
    """Which ids max_id and since_id keep (strictly below, strictly above)."""
    keep = np.ones(len(ids), dtype=bool)
    max_id, since_id = int_param(query.get("max_id")), int_param(query.get("since_id"))
    if max_id is not None:
        keep &= ids < max_id
    if since_id is not None:
        keep &= ids > since_id
    return keep


def mastodon_limit(raw: str | None, default: int) -> int:
    """Rails' limit_param: absent -> default; else |to_i| clamped to twice the default."""
    if raw is None:
        return default
    digits = raw.strip().lstrip("+-")
    number = int(digits) if digits.isdigit() else 0
    return min(number, 2 * default)


def mastodon_links(request: Request, limit: int, ids: list[int], prev_key: str) -> dict[str, str]:
    """next when the page is full (max_id of the last), prev when not empty."""
    base = str(request.url.replace(query=""))
    links = []
    if ids and len(ids) == limit:
        links.append(f'<{base}?limit={limit}&max_id={ids[-1]}>; rel="next"')
    if ids:
        links.append(f'<{base}?limit={limit}&{prev_key}={ids[0]}>; rel="prev"')
    return {"Link": ", ".join(links)} if links else {}


def int_param(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.isdigit() else None
