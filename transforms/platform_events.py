"""Platform events: the platform-days on which enough tracked accounts moved together (pure).

A purge or a surge moves many accounts of a platform the same day; the anomalies of those
days are attributed to the platform, never to the account (transforms.anomalies). Each
account-day's move counts by transforms.signals.moved_unusually; transforms.compute counts
them per platform-day.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from core.detection import DetectionSettings
from transforms.verdicts import poisson_tail

MIN_USUAL_SHARE = 0.005  # a platform's usual share of unusual moves is taken as at least this


def co_movement_events(counts: pl.DataFrame, t: DetectionSettings) -> pl.DataFrame:
    """Platform-days where enough of the platform's accounts moved together: platform events.

    Enough is `platform_event_share` of them (at least `platform_event_min_accounts`), or, where
    at least `platform_event_many` accounts are tracked, a count that the platform's usual share
    of unusual moves (its median day's) makes less likely than `platform_event_max_chance`: a
    purge that touches 10% of hundreds of accounts is no coincidence.
    """
    days = counts.group_by("platform", "day").agg(
        pl.col("accounts", "moved_up", "moved_down").sum()
    )
    moved = ("moved_up", "moved_down")
    usual = (
        days.filter(pl.col("accounts") >= 10)
        .group_by("platform")
        .agg((pl.col(c) / pl.col("accounts")).median().alias(f"usual_{c}") for c in moved)
    )
    days = days.join(usual, on="platform", how="left")
    accounts = days.get_column("accounts").to_numpy()
    out = []
    for c in moved:
        count = days.get_column(c).to_numpy()
        usual_share = np.maximum(
            days.get_column(f"usual_{c}").fill_null(0.0).to_numpy(), MIN_USUAL_SHARE
        )
        chance = np.array(
            [poisson_tail(k, n * p) for k, n, p in zip(count, accounts, usual_share, strict=True)]
        )
        rare = (accounts >= t.platform_event_many) & (chance <= t.platform_event_max_chance)
        share = count / np.maximum(accounts, 1)
        enough = count >= t.platform_event_min_accounts
        out.append(pl.Series(f"event_{c[6:]}", enough & ((share >= t.platform_event_share) | rare)))
    return days.drop(f"usual_{c}" for c in moved).with_columns(out)
