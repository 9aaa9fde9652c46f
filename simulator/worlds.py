"""Ready-made worlds: the bundled sample, and N accounts spread over every platform."""

from __future__ import annotations

from datetime import date

import numpy as np

from simulator.audiences import AccountSpec
from simulator.sample import SAMPLE_DAYS, SAMPLE_EVENTS, SAMPLE_SEED, SAMPLE_SPECS, SAMPLE_START
from simulator.world import World, channel_id_for

PLATFORMS = ("mastodon", "bluesky", "github", "youtube", "x", "twitch", "reddit", "instagram")
MASTODON_SERVERS = ("mastodon.social", "fosstodon.org", "hachyderm.io", "sigmoid.social")


def handle_for(platform: str, i: int) -> str:
    """A valid handle for account number i of a platform."""
    return {
        "mastodon": f"user{i}@{MASTODON_SERVERS[i % len(MASTODON_SERVERS)]}",
        "bluesky": f"user{i}.bsky.social",
        "github": f"user{i}" if i % 2 else f"org{i}/repo{i}",
        "youtube": channel_id_for(f"bench{i}"),  # ids batch 50 to a request; @handles do not
        "x": f"user_{i}",
        "twitch": f"streamer{i}",
        "reddit": f"r/sub{i}" if i % 2 else f"u/user{i}",
        "instagram": f"insta.{i}",
    }[platform]


def spread(accounts: int, days: int = 30, seed: int = 1, start: date = date(2024, 6, 1)) -> World:
    """`accounts` organic accounts, evenly over the eight platforms."""
    rng = np.random.default_rng(seed)
    specs = []
    for i in range(accounts):
        platform = PLATFORMS[i % len(PLATFORMS)]
        size = int(rng.lognormal(7, 2)) + 10
        specs.append(
            AccountSpec(
                platform,
                handle_for(platform, i // len(PLATFORMS)),
                size,
                max(size / 500, 0.2),
                following=None if platform in ("youtube", "reddit") else 100,
            )
        )
    return World(specs, start, days, seed)


def sample() -> World:
    return World(list(SAMPLE_SPECS), SAMPLE_START, SAMPLE_DAYS, SAMPLE_SEED, list(SAMPLE_EVENTS))
