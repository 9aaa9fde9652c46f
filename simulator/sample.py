"""The bundled sample history (audience/data/sample_history.csv): months of synthetic accounts.

Regenerate with `python -m simulator.sample`; a test checks the committed
file is exactly what this produces.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import polars as pl

from simulator.audiences import AccountSpec, Event, Generated, PlatformEvent, generate

SAMPLE_START = date(2024, 6, 1)
SAMPLE_DAYS = 214  # through 2024-12-31
SAMPLE_SEED = 2024
SAMPLE_PATH = Path(__file__).resolve().parent.parent / "audience" / "data" / "sample_history.csv"

SAMPLE_SPECS = [
    AccountSpec("mastodon", "alice@mastodon.social", 4_200, 30, trend=1.3, gap_rate=0.03),
    AccountSpec("mastodon", "bob@fosstodon.org", 900, 5),
    AccountSpec(
        "mastodon",
        "carol@hachyderm.io",
        2_500,
        12,
        events=(Event("burst_purchase", 120, 1_000, retention=0.6),),
    ),
    AccountSpec("mastodon", "dave@mastodon.social", 150, 2, posts_per_day=0.2),
    AccountSpec(
        "bluesky",
        "newsroom.bsky.social",
        48_000,
        200,
        posts_per_day=4,
        events=(Event("viral", 90, 15),),
    ),
    AccountSpec("bluesky", "indie.dev", 1_300, 8, gap_rate=0.05),
    AccountSpec(
        "github",
        "octo-org/widget",
        3_100,
        15,
        posts_per_day=None,
        following=None,
        events=(Event("drip_purchase", 140, 700, days=7, retention=0.3),),
    ),
    AccountSpec("github", "janedoe", 420, 3, following=80, posts_per_day=None),
    AccountSpec("youtube", "@cookingwithsam", 1_200_000, 800, following=None, posts_per_day=0.3),
    AccountSpec("youtube", "@tinychannel", 900, 4, following=None, posts_per_day=0.1),
    AccountSpec(
        "x",
        "growthguru",
        8_000,
        10,
        posts_per_day=2,
        events=(
            Event("burst_purchase", 100, 5_000, retention=0.4),
            Event("churn", 40, 150, days=28),
        ),
    ),
    AccountSpec(
        "instagram",
        "brand.studio",
        20_000,
        20,
        posts_per_day=1,
        events=(Event("glitch", 170, 0.01),),
    ),
    AccountSpec("twitch", "streamer_one", 3_000, 15, following=None),
    AccountSpec("reddit", "r/dataengineering", 150_000, 120, following=None, posts_per_day=None),
]
SAMPLE_EVENTS = [PlatformEvent("mastodon", "purge", 150, 0.02)]


def sample_history() -> Generated:
    """The bundled sample, generated."""
    return generate(SAMPLE_SPECS, SAMPLE_START, SAMPLE_DAYS, SAMPLE_SEED, SAMPLE_EVENTS)


def history_csv(snapshots: pl.DataFrame) -> str:
    """Generated snapshots in the import format (blank where a platform has no such figure)."""
    frame = snapshots.sort("platform", "handle", "date")
    return frame.with_columns(pl.col("date").cast(pl.String)).write_csv(null_value="")


def sample_csv() -> str:
    """The bundled sample in the import format."""
    return history_csv(sample_history().snapshots)


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else SAMPLE_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(sample_csv(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
