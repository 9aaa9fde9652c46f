"""The nightly engagement step: read each tracked account's recent posts (collectors.engagement),
summarise them (transforms.engagement) and store one row per account and day (`engagement`).

It runs after the counts are stored, in its own transaction: whatever happens here (a platform
answering 500, a timeout, a bug of a reader) costs only engagement rows, never the night's
counts. Accounts whose read failed get a row with the outcome and its reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import httpx
import polars as pl

from collectors.engagement import read_engagement
from collectors.rate_gate import Clock
from core.engagement import EngagementSample
from core.settings import Settings
from pipeline.collect import tracked_accounts
from transforms.engagement import summarise, tier_comparison
from warehouse.accounts import platform_ids
from warehouse.db import in_transaction, open_warehouse
from warehouse.engagement import followers_on, latest_rates, store_engagement

SCHEMA = pl.Schema(
    {
        "platform": pl.String(),
        "handle": pl.String(),
        "day": pl.Date(),
        "outcome": pl.String(),
        "reason": pl.String(),
        "posts_sampled": pl.Int32(),
        "median_interactions": pl.Float64(),
        "total_interactions": pl.Int64(),
        "followers": pl.Float64(),
        "engagement_rate": pl.Float64(),
        "views": pl.Int64(),
        "latest_release": pl.Date(),
        "releases_30": pl.Int32(),
        "requests": pl.Int32(),
        "observed_at": pl.Datetime("us", "UTC"),
    }
)


@dataclass
class EngagementSummary:
    day: date
    accounts: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    stored: int = 0

    def describe(self) -> str:
        if not self.accounts:
            return f"engagement for {self.day}: no account to read"
        counts = ", ".join(
            f"{n} {o}" for o, n in sorted(self.outcomes.items(), key=lambda kv: -kv[1])
        )
        return f"engagement for {self.day}: {self.accounts} accounts read ({counts}); {self.stored} rows stored"


def engagement_rows(
    samples: list[EngagementSample],
    day: date,
    followers: dict[tuple[str, str], float],
    observed_at: datetime,
) -> pl.DataFrame:
    """The `engagement` rows of the night's samples."""
    rows = []
    for s in samples:
        audience = followers.get((s.platform, s.handle))
        summary = summarise(s.interactions, audience)
        rows.append(
            {
                "platform": s.platform,
                "handle": s.handle,
                "day": day,
                "outcome": s.outcome,
                "reason": s.reason or None,
                "posts_sampled": summary.posts_sampled if s.outcome == "ok" else None,
                "median_interactions": summary.median_interactions,
                "total_interactions": summary.total_interactions,
                "followers": audience,
                "engagement_rate": summary.engagement_rate,
                "views": s.views,
                "latest_release": s.latest_release,
                "releases_30": s.releases_30,
                "requests": s.requests,
                "observed_at": observed_at,
            }
        )
    return pl.DataFrame(rows, schema=SCHEMA)


def collect_engagement(
    warehouse: Path,
    settings: Settings,
    day: date,
    *,
    accounts: list[tuple[str, str]] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    now: datetime | None = None,
) -> EngagementSummary:
    """Read and store the night's engagement of the tracked accounts (or `accounts`)."""
    summary = EngagementSummary(day)
    if not settings.engagement.enabled:
        return summary
    wanted = accounts if accounts is not None else tracked_accounts(warehouse, settings)
    known: dict[tuple[str, str], str] = {}
    if warehouse.exists():  # Mastodon's ids: its engagement reads without a lookup each
        # (as a reader: a writer's open checks the whole file, which tracked_accounts did)
        with open_warehouse(
            warehouse, read_only=True, timeout_s=settings.warehouse.lock_timeout_s
        ) as con:
            known = platform_ids(con, "mastodon")
    samples = read_engagement(wanted, settings, day, transport, clock, known)
    summary.accounts = len(samples)
    summary.outcomes = dict(Counter(s.outcome for s in samples))
    if not samples:
        return summary
    with (
        open_warehouse(warehouse, timeout_s=settings.warehouse.lock_timeout_s) as con,
        in_transaction(con),
    ):
        followers = followers_on(con, day, [(s.platform, s.handle) for s in samples])
        rows = engagement_rows(samples, day, followers, now or datetime.now(UTC))
        summary.stored = store_engagement(con, rows)
    return summary


def with_engagement(
    con: duckdb.DuckDBPyConnection, summary: pl.DataFrame, as_of: date
) -> pl.DataFrame:
    """account_metrics' rows with each account's latest engagement rate (up to `as_of`) and
    its comparison with the other tracked accounts of its platform and size tier."""
    rates = latest_rates(con, as_of)
    joined = summary.join(rates, on=["platform", "handle"], how="left")
    return tier_comparison(joined)
