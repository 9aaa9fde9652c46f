"""The simulator's GitHub releases and YouTube uploads (simulator/uploads.py) over real HTTP:
the real shapes and orders, and uploads on the days the account's post count rises."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import httpx
import pytest

from simulator.audiences import AccountSpec
from simulator.server import SimulatorServer
from simulator.world import channel_id_for
from tests.support.simulator import serving

START = date(2024, 3, 1)
DAYS = 60
CHANNEL = "@weekly"
REPO = "acme/tool"
KEY = "sim-youtube-key"
SPECS = [
    AccountSpec("youtube", CHANNEL, 20_000, 30, following=None, posts_per_day=0.5),
    AccountSpec("github", REPO, 1_500, 8, following=None, posts_per_day=None),
]


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with serving(SPECS, START, DAYS, 3, youtube_api_key=KEY) as running:
        yield running


def test_uploads_come_through_the_uploads_playlist_on_the_days_posts_rise(
    server: SimulatorServer,
) -> None:
    api = f"{server.url}/youtube/youtube/v3"
    channel = channel_id_for(CHANNEL)
    with httpx.Client() as client:
        found = client.get(
            f"{api}/channels", params={"part": "contentDetails", "id": channel, "key": KEY}
        ).json()
        uploads = found["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
        assert uploads == "UU" + channel[2:]
        entries: list[dict[str, str]] = []
        token: str | None = None
        while True:
            params = {"part": "contentDetails", "playlistId": uploads, "maxResults": "50"}
            page = client.get(
                f"{api}/playlistItems",
                params=params | {"key": KEY} | ({"pageToken": token} if token else {}),
            ).json()
            assert page["kind"] == "youtube#playlistItemListResponse"
            entries += [e["contentDetails"] for e in page["items"]]
            token = page.get("nextPageToken")
            if not token:
                break
        missing = client.get(f"{api}/playlistItems", params={"playlistId": "UUnothing", "key": KEY})
        refused = client.get(f"{api}/videos", params={"id": "x", "key": "wrong"})
        videos = client.get(
            f"{api}/videos",
            params={
                "part": "statistics",
                "id": ",".join(e["videoId"] for e in entries[:50]),
                "key": KEY,
            },
        ).json()
    assert missing.status_code == 404
    assert missing.json()["error"]["errors"][0]["reason"] == "playlistNotFound"
    assert refused.status_code == 400
    published = [
        datetime.fromisoformat(e["videoPublishedAt"].replace("Z", "+00:00")) for e in entries
    ]
    assert published == sorted(published, reverse=True)  # newest first
    history = server.simulator.world.history("youtube", CHANNEL)
    assert history is not None
    posts = [p or 0 for p in history[1]]
    per_day = Counter(d.date() for d in published if d.date() > START)
    rises = {
        START + timedelta(days=d): posts[d] - posts[d - 1]
        for d in range(1, DAYS)
        if posts[d] > posts[d - 1]
    }
    assert per_day == rises  # one upload for each post the count gained, on its day
    assert len(videos["items"]) == 50
    stats = videos["items"][0]["statistics"]
    assert all(isinstance(stats[k], str) for k in ("viewCount", "likeCount", "commentCount"))
    assert int(stats["viewCount"]) >= int(stats["likeCount"])


def test_releases_are_listed_newest_first_with_pages(server: SimulatorServer) -> None:
    headers = {"User-Agent": "test"}
    root = f"{server.url}/github/repos/{REPO}/releases"
    with httpx.Client(headers=headers) as client:
        first = client.get(root, params={"per_page": "1"})
        everything = client.get(root, params={"per_page": "100"}).json()
        unknown = client.get(f"{server.url}/github/repos/acme/nothing/releases")
    assert first.status_code == 200
    assert len(everything) >= 2
    assert first.json() == everything[:1]
    assert 'rel="next"' in first.headers["link"]
    stamps = [r["published_at"] for r in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert {"tag_name", "name", "draft", "prerelease", "created_at", "author", "assets"} <= set(
        everything[0]
    )
    last_day = START + timedelta(days=DAYS - 1)
    assert all(date.fromisoformat(s[:10]) <= last_day for s in stamps)
    assert unknown.status_code == 404
