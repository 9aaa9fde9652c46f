"""The platform simulator as the tests run it: its world, its credentials, its environment."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date

from simulator.audiences import AccountSpec
from simulator.sample import SAMPLE_DAYS, SAMPLE_EVENTS, SAMPLE_SEED, SAMPLE_SPECS, SAMPLE_START
from simulator.server import Simulator, SimulatorServer
from simulator.world import World

SIM_SECRETS = {
    "AUDIENCE_YOUTUBE_API_KEY": "sim-youtube-key",
    "AUDIENCE_X_BEARER_TOKEN": "sim-x-bearer",
    "AUDIENCE_TWITCH_CLIENT_ID": "sim-twitch-id",
    "AUDIENCE_TWITCH_TOKEN": "sim-twitch-token",
    "AUDIENCE_REDDIT_CLIENT_ID": "sim-reddit-id",
    "AUDIENCE_REDDIT_CLIENT_SECRET": "sim-reddit-secret",
    "AUDIENCE_INSTAGRAM_TOKEN": "sim-ig-token",
    "AUDIENCE_PLATFORMS__INSTAGRAM__ACCOUNT_ID": "1784140",
}


def sim_world() -> World:
    """The bundled sample's accounts, and 25 more on every platform."""
    extra = [
        AccountSpec(platform, handle.format(i), 500 + 37 * i, 3 + i % 7)
        for i in range(25)
        for platform, handle in (
            ("mastodon", "user{}@sim" + str(i % 3) + ".social"),
            ("bluesky", "user{}.bsky.social"),
            ("github", "user{}"),
            ("x", "user_{}"),
            ("youtube", "@chan{}"),
            ("twitch", "streamer{}"),
            ("reddit", "r/sub{}"),
            ("instagram", "insta.{}"),
        )
    ]
    return World([*SAMPLE_SPECS, *extra], SAMPLE_START, SAMPLE_DAYS, SAMPLE_SEED, SAMPLE_EVENTS)


def sim_simulator() -> Simulator:
    """A simulator over sim_world() that expects the SIM_SECRETS credentials."""
    return Simulator(
        sim_world(),
        seed=7,
        credentials={
            "youtube_api_key": SIM_SECRETS["AUDIENCE_YOUTUBE_API_KEY"],
            "x_bearer_token": SIM_SECRETS["AUDIENCE_X_BEARER_TOKEN"],
            "twitch_token": SIM_SECRETS["AUDIENCE_TWITCH_TOKEN"],
            "reddit_client_id": SIM_SECRETS["AUDIENCE_REDDIT_CLIENT_ID"],
            "reddit_client_secret": SIM_SECRETS["AUDIENCE_REDDIT_CLIENT_SECRET"],
            "instagram_token": SIM_SECRETS["AUDIENCE_INSTAGRAM_TOKEN"],
        },
    )


def sim_environ(server: SimulatorServer, **extra: str) -> dict[str, str]:
    """Environment that points every collector at the simulator, with fast retries."""
    return server.environ() | SIM_SECRETS | extra


@contextmanager
def serving(
    specs: Sequence[AccountSpec], start: date, days: int, seed: int, **credentials: str
) -> Iterator[SimulatorServer]:
    """A simulator over the given accounts on loopback, expecting `credentials`."""
    world = World(list(specs), start, days, seed=seed)
    with SimulatorServer(Simulator(world, credentials=credentials)) as running:
        yield running
