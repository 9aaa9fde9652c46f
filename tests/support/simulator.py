"""The platform simulator as the tests run it: its world, its credentials, its environment."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import duckdb

from core.settings import Settings
from pipeline.analyse import run_analysis
from pipeline.import_history import import_history
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


def _imported(world: World, accounts: Sequence[tuple[str, str]], folder: Path, today: date) -> Path:
    """A new warehouse in `folder` with the accounts' simulated follower counts, imported as a
    CSV up to `today`."""
    rows = ["platform,handle,date,followers"]
    for platform, handle in accounts:
        history = world.history(platform, handle)
        assert history is not None
        rows += [
            f"{platform},{handle},{world.start + timedelta(days=d)},{n}"
            for d, n in enumerate(history[0])
        ]
    csv = folder / "h.csv"
    csv.write_text("\n".join(rows) + "\n")
    warehouse = folder / "wh.duckdb"
    import_history([csv], warehouse, today)
    return warehouse


def import_counts(world: World, platform: str, handle: str, folder: Path, today: date) -> Path:
    """A new warehouse in `folder` with the account's simulated follower counts, imported as a
    CSV up to `today`."""
    return _imported(world, [(platform, handle)], folder, today)


@contextmanager
def serving(
    specs: Sequence[AccountSpec], start: date, days: int, seed: int, **credentials: str
) -> Iterator[SimulatorServer]:
    """A simulator over the given accounts on loopback, expecting `credentials`."""
    world = World(list(specs), start, days, seed=seed)
    with SimulatorServer(Simulator(world, credentials=credentials)) as running:
        yield running


def analysed_history(
    world: World, accounts: Sequence[tuple[str, str]], folder: Path, settings: Settings
) -> Path:
    """A warehouse in `folder` holding the accounts' simulated daily counts up to the world's
    last day (imported as a history file), analysed on that day."""
    warehouse = _imported(world, accounts, folder, world.last_day)
    run_analysis(warehouse, settings, world.last_day)
    return warehouse


def jump_sample_and_anomaly(
    warehouse: Path, handle: str, day: date
) -> tuple[list[dict[str, object]], list[tuple[object, ...]]]:
    """The done jump samples' summaries, and the (verdict, evidence, explanation) of the
    account's anomaly of `day`."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        summaries = con.sql(
            "SELECT * FROM sample_summaries WHERE kind = 'jump' AND status = 'done'"
        ).pl()
        anomaly = con.sql(
            "SELECT verdict, evidence, explanation FROM anomalies WHERE handle = ? AND day = ?",
            params=[handle, day],
        ).fetchall()
    return summaries.to_dicts(), anomaly
