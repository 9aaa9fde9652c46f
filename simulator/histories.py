"""Synthetic histories in the import format, written to CSV files (for tests and benchmarks).

write_history       simulated accounts (the simulator's audiences) over a span of days
write_bulk_history  a large file fast (a random walk per account), for import at scale
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np

from simulator.audiences import generate
from simulator.sample import history_csv
from simulator.worlds import spread

BULK_HANDLES = {
    "github": "user{}",
    "x": "acct_{}",
    "mastodon": "user{}@example.social",
    "bluesky": "user{}.bsky.social",
    "twitch": "streamer{}",
    "reddit": "r/sub{}",
    "instagram": "insta.{}",
    "youtube": "@chan{}",
}


def write_history(
    path: Path, accounts: int, days: int, seed: int = 5, start: date = date(2024, 6, 1)
) -> Path:
    """A CSV in the import format: `accounts` simulated accounts over `days` days."""
    world = spread(accounts, days=days, seed=seed, start=start)
    generated = generate(world.specs, world.start, world.days, world.seed)
    path.write_text(history_csv(generated.snapshots), encoding="utf-8")
    return path


def write_bulk_history(path: Path, rows: int) -> None:
    """`rows` rows in the import format, fast: rows / 100 accounts of every platform x 100 days."""
    days = 100
    accounts = max(rows // days, 1)
    rng = np.random.default_rng(0)
    platforms = list(BULK_HANDLES)
    start = date(2024, 1, 1)
    dates = [(start + timedelta(d)).isoformat() for d in range(days)]
    with path.open("w", encoding="utf-8") as out:
        out.write("platform,handle,date,followers,following,posts\n")
        for a in range(accounts):
            platform = platforms[a % len(platforms)]
            handle = BULK_HANDLES[platform].format(a)
            followers = np.cumsum(rng.poisson(20, days)) + int(rng.integers(100, 10**6))
            out.writelines(
                f"{platform},{handle},{dates[d]},{followers[d]},{300 + d % 5},{1000 + d}\n"
                for d in range(days)
            )
