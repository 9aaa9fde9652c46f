"""What accounts publish, as the engagement reads ask for it: GitHub releases and YouTube uploads.

Both follow the account's simulated posting (simulator/feeds.py, PostLog): the items of its own
(not its reposts) added on the days its post count rises are its releases or uploads, with the
interactions feeds.py draws from the organic audience. A repository that shows no post count
(GitHub repositories have none) releases on about one day in RELEASE_EVERY_DAYS (seeded by
its handle: our assumption). Endpoints (shared/docs/audience-apis.md 2.3, 2.4):

    /github/repos/{o}/{r}/releases          newest first, per_page 30 (at most 100), page N,
                                            Link header; 404 for an unknown repository
    /youtube/youtube/v3/playlistItems       the uploads playlist ("UU" + the channel id's
                                            tail), newest first, maxResults 0-50 (default 5),
                                            pageToken; 404 playlistNotFound otherwise
    /youtube/youtube/v3/videos              id=a,b,... (at most 50), statistics as JSON
                                            strings; unknown ids are left out

YouTube's `channels` gives `contentDetails.relatedPlaylists.uploads` when asked for
`part=contentDetails` (simulator/platforms/youtube.py). Each call costs 1 quota unit on the
real API; the simulator counts them in its statistics (`youtube:requests`).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.requests import Request

from simulator.feeds import REPOST, PostLog
from simulator.follow_log import day_ms, iso_ms, stable_hash
from simulator.list_requests import int_param
from simulator.platforms.youtube import invalid_key
from simulator.styles import google_error
from simulator.types import Answer
from simulator.world import channel_id_for, numeric_id

if TYPE_CHECKING:
    from simulator.platforms import Handler
    from simulator.server import Simulator

RELEASE_EVERY_DAYS = 21
VIEWS_PER_LIKE = 25  # about 4% of viewers like a video (our assumption)
_YT = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_RELEASES_404 = {
    "message": "Not Found",
    "documentation_url": "https://docs.github.com/rest/releases/releases#list-releases",
    "status": "404",
}


def published(sim: Simulator, platform: str, handle: str) -> tuple[PostLog | None, np.ndarray]:
    """The account's post log and its own items published up to today, newest first."""
    log = sim.audiences.posts(platform, handle)
    if log is None:
        return None, np.zeros(0, np.int64)
    items = log.visible(sim.audiences.day(log))
    return log, items[log.kind[items] != REPOST]


# --- GitHub releases -------------------------------------------------------------------------


def release_times(sim: Simulator, handle: str) -> list[int]:
    """Epoch ms of the repository's releases up to today, newest first."""
    log, items = published(sim, "github", handle)
    if log is not None and len(items):
        return [int(ms) for ms in log.sort_ms[items]]
    world = sim.world
    today = min(sim.today, world.last_day)
    rng = np.random.default_rng(zlib.crc32(f"releases:{handle}".encode()))
    days = np.flatnonzero(rng.random(world.days) < 1 / RELEASE_EVERY_DAYS)
    moments = day_ms(world.start) + days * 86_400_000 + rng.integers(0, 86_400_000, len(days))
    return [int(ms) for ms in moments[days <= (today - world.start).days][::-1]]


def _release(handle: str, number: int, ms: int) -> dict[str, Any]:
    owner = handle.split("/")[0]
    ident = int(numeric_id(f"release:{handle}:{number}")) % 200_000_000
    stamp = iso_ms(ms)[:19] + "Z"
    api = f"https://api.github.com/repos/{handle}/releases/{ident}"
    tag = f"v1.{number}.0"
    return {
        "url": api,
        "html_url": f"https://github.com/{handle}/releases/tag/{tag}",
        "assets_url": f"{api}/assets",
        "upload_url": f"https://uploads.github.com/repos/{handle}/releases/{ident}/assets{{?name,label}}",
        "tarball_url": f"https://api.github.com/repos/{handle}/tarball/{tag}",
        "zipball_url": f"https://api.github.com/repos/{handle}/zipball/{tag}",
        "id": ident,
        "node_id": f"RE_sim{ident}",
        "tag_name": tag,
        "target_commitish": "main",
        "name": tag,
        "draft": False,
        "prerelease": False,
        "created_at": iso_ms(ms - 600_000)[:19] + "Z",
        "published_at": stamp,
        "author": {"login": owner, "id": int(numeric_id(f"github:{owner}")), "type": "User"},
        "assets": [],
        "body": f"Release {tag}",
    }


async def github_releases(sim: Simulator, request: Request) -> Answer:
    if not request.headers.get("user-agent"):
        return Answer(403, "Request forbidden by administrative rules.")
    handle = f"{request.path_params['owner']}/{request.path_params['repo']}".lower()
    if sim.state("github", handle) is None:
        return Answer(404, _RELEASES_404)
    query = request.query_params
    per_page = int_param(query.get("per_page"))
    per_page = 30 if per_page is None or per_page < 1 else min(per_page, 100)
    page = max(int_param(query.get("page")) or 1, 1)
    times = release_times(sim, handle)
    total = len(times)
    chunk = range((page - 1) * per_page, min(page * per_page, total))
    body = [_release(handle, total - i, times[i]) for i in chunk]
    last = max(-(-total // per_page), 1)
    base = str(request.url.replace(query=""))
    links = []
    if page < last:
        links += [f'<{base}?per_page={per_page}&page={p}>; rel="{r}"' for r, p in (("next", page + 1), ("last", last))]  # fmt: skip
    if page > 1:
        links += [f'<{base}?per_page={per_page}&page={p}>; rel="{r}"' for r, p in (("prev", min(page - 1, last)), ("first", 1))]  # fmt: skip
    return Answer(200, body, {"link": ", ".join(links)} if links else {})


# --- YouTube uploads -------------------------------------------------------------------------


def uploads_playlist(channel: str) -> str:
    return "UU" + channel[2:]


def video_id(log: PostLog, index: int) -> str:
    h = stable_hash(log.key(index), "video")
    return "".join(_YT[(h >> (6 * i)) & 63] for i in range(10)) + _YT[((h >> 60) & 15) * 4]


def _channel_of(sim: Simulator, playlist: str) -> str | None:
    for handle in sim.world.handles("youtube"):
        channel = handle if handle.startswith("UC") else channel_id_for(handle)
        if uploads_playlist(channel) == playlist:
            return handle
    return None


def _key_refused(sim: Simulator, request: Request) -> Answer | None:
    key = request.query_params.get("key")
    if not key or sim.credentials.get("youtube_api_key") not in (None, key):
        return invalid_key()
    return None


async def youtube_playlist_items(sim: Simulator, request: Request) -> Answer:
    refused = _key_refused(sim, request)
    if refused:
        return refused
    query = request.query_params
    playlist = query.get("playlistId", "")
    handle = _channel_of(sim, playlist)
    state = sim.state("youtube", handle) if handle else None
    if handle is None or state is None or state.status == "suspended":
        message = "The playlist identified with the request's <code>playlistId</code> parameter cannot be found."
        return Answer(404, google_error(404, message, "youtube.playlistItem", "playlistNotFound"))
    size = int_param(query.get("maxResults"))
    size = 5 if size is None else min(max(size, 0), 50)
    start = int_param(query.get("pageToken", "").removeprefix("CAU")) or 0
    log, items = published(sim, "youtube", handle)
    page = items[start : start + size].tolist()
    body: dict[str, Any] = {
        "kind": "youtube#playlistItemListResponse",
        "etag": f"sim{stable_hash(playlist, start) % 10**12:x}",
        "items": [
            {
                "kind": "youtube#playlistItem",
                "etag": f"sim{stable_hash(playlist, i) % 10**12:x}",
                "id": f"{playlist}.{i}",
                "contentDetails": {
                    "videoId": video_id(log, i),
                    "videoPublishedAt": iso_ms(int(log.sort_ms[i]))[:19] + "Z",
                },
            }
            for i in page
            if log is not None
        ],
        "pageInfo": {"totalResults": len(items), "resultsPerPage": size},
    }
    if start + size < len(items) and size:
        body["nextPageToken"] = f"CAU{start + size}"
    return Answer(200, body)


def _video(log: PostLog, index: int) -> dict[str, Any]:
    likes = int(log.likes[index])
    return {
        "kind": "youtube#video",
        "etag": f"sim{stable_hash(log.key(index), 'etag') % 10**12:x}",
        "id": video_id(log, index),
        "snippet": {
            "publishedAt": iso_ms(int(log.sort_ms[index]))[:19] + "Z",
            "title": f"video {index}",
        },
        "statistics": {
            "viewCount": str(likes * VIEWS_PER_LIKE + int(log.reposts[index])),
            "likeCount": str(likes),
            "favoriteCount": "0",
            "commentCount": str(int(log.replies[index])),
        },
    }


async def youtube_videos(sim: Simulator, request: Request) -> Answer:
    refused = _key_refused(sim, request)
    if refused:
        return refused
    wanted = [i for i in request.query_params.get("id", "").split(",") if i]
    if len(wanted) > 50:
        return Answer(
            400, google_error(400, "Too many ids", "youtube.parameter", "invalidCriteria")
        )
    found = sim.audiences.videos(video_id)
    shown = [found[v] for v in wanted if v in found]
    items = [_video(log, i) for log, i in shown if log.day[i] <= sim.audiences.day(log)]
    body = {
        "kind": "youtube#videoListResponse",
        "etag": f"sim{stable_hash(*wanted) % 10**12:x}",
        "items": items,
        "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
    }
    return Answer(200, body)


ROUTES: list[tuple[str, str, Handler, str]] = [  # registered by simulator.server
    ("github", "/github/repos/{owner}/{repo}/releases", github_releases, "GET"),
    ("youtube", "/youtube/youtube/v3/playlistItems", youtube_playlist_items, "GET"),
    ("youtube", "/youtube/youtube/v3/videos", youtube_videos, "GET"),
]
