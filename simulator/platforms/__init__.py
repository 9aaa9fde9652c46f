"""Route handlers that answer like each platform's API (shapes from docs/platform-apis.md).

One module per platform; ROUTES lists them all for the server, Handler is their type.
"""

from __future__ import annotations

from simulator.platforms.bluesky import bluesky_profile, bluesky_profiles
from simulator.platforms.common import Handler
from simulator.platforms.github import github_repo, github_user
from simulator.platforms.instagram import instagram_discovery
from simulator.platforms.mastodon import mastodon_lookup
from simulator.platforms.reddit import reddit_about, reddit_token
from simulator.platforms.twitch import twitch_followers, twitch_users
from simulator.platforms.x import x_user_by_username, x_users_by
from simulator.platforms.youtube import youtube_channels

__all__ = ["ROUTES", "Handler"]

ROUTES: list[tuple[str, str, Handler, str]] = [  # (platform, path, handler, method)
    ("mastodon", "/mastodon/{host}/api/v1/accounts/lookup", mastodon_lookup, "GET"),
    ("bluesky", "/bluesky/xrpc/app.bsky.actor.getProfile", bluesky_profile, "GET"),
    ("bluesky", "/bluesky/xrpc/app.bsky.actor.getProfiles", bluesky_profiles, "GET"),
    ("github", "/github/users/{user}", github_user, "GET"),
    ("github", "/github/repos/{owner}/{repo}", github_repo, "GET"),
    ("youtube", "/youtube/youtube/v3/channels", youtube_channels, "GET"),
    ("x", "/x/2/users/by", x_users_by, "GET"),
    ("x", "/x/2/users/by/username/{username}", x_user_by_username, "GET"),
    ("twitch", "/twitch/helix/users", twitch_users, "GET"),
    ("twitch", "/twitch/helix/channels/followers", twitch_followers, "GET"),
    ("reddit", "/reddit/api/v1/access_token", reddit_token, "POST"),
    ("reddit", "/reddit/r/{name}/about", reddit_about, "GET"),
    ("reddit", "/reddit/user/{name}/about", reddit_about, "GET"),
    ("instagram", "/instagram/{ig_id}", instagram_discovery, "GET"),
]
