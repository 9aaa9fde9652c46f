"""What `audience audit` reads of one account: its history, its analysis, its flagged days and
the platform events of its platform. Each read returns a typed record (None when absent)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import TypeVar

import duckdb

from warehouse.query import fetch_one
from warehouse.records import AnomalyFacts
from warehouse.report_reads import chart_days

R = TypeVar("R")


def _columns(record: type) -> str:
    return ", ".join(f.name for f in fields(record))


def _first(
    con: duckdb.DuckDBPyConnection, record: type[R], rest: str, params: list[object]
) -> R | None:
    """The first row of `SELECT <the record's fields> <rest>` as the record, None if none."""
    row = fetch_one(con, f"SELECT {_columns(record)} {rest}", params)
    return record(*row) if row else None


@dataclass(frozen=True)
class AccountFacts:
    tracked: bool
    display_name: str | None


@dataclass(frozen=True)
class History:
    """The account's snapshots through the audited day: span, count, latest figures."""

    first_day: date
    last_day: date
    days: int
    followers: float | None
    following: float | None
    posts: float | None
    collected: int  # days collected from the platform's API
    rebuilt: int  # days rebuilt by a backfill (GitHub's stargazers; the rest imported)


@dataclass(frozen=True)
class AccountMetrics:
    """The account's row of `account_metrics` (the columns the audit shows)."""

    size_tier: str | None
    growth_abs_7: float | None
    growth_abs_28: float | None
    growth_rel_28: float | None
    growth_abs_90: float | None
    growth_rel_90: float | None
    avg_daily_gain_28: float | None
    growth_percentile: float | None
    next_milestone: int | None
    milestone_date: date | None
    follower_following_ratio: float | None
    followers_per_post_90: float | None
    growth_consistency: float | None
    flagged_growth_share_90: float | None
    engagement_rate: float | None  # median interactions per post / followers (migration 0011)
    engagement_day: date | None
    engagement_tier_median: float | None  # of the other tracked accounts of platform and tier
    engagement_tier_accounts: int | None
    engagement_vs_tier: float | None
    engagement_comparison: str | None


@dataclass(frozen=True)
class Baseline:
    """The account's latest robust baseline of daily gains (what a purchase must stand out of)."""

    baseline_median: float | None
    baseline_sigma: float | None


@dataclass(frozen=True)
class FlaggedDay(AnomalyFacts):
    """One of the account's anomalies (the columns the audit shows)."""

    excess: float | None
    gain: float | None
    retention_7: float | None
    retention_30: float | None
    window_start: date | None
    verdict: str
    confidence: str
    evidence: list[str] | None


@dataclass(frozen=True)
class PlatformEvent:
    """A platform event on a day the account has no anomaly of its own, with its move that day."""

    day: date
    kind: str
    platform: str
    thresholds: str | None
    robust_z: float | None
    daily_gain: float | None


def account_facts(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str
) -> AccountFacts | None:
    return _first(
        con, AccountFacts, "FROM accounts WHERE platform = ? AND handle = ?", [platform, handle]
    )


def history(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str, as_of: date
) -> History | None:
    """None when the warehouse has no figure of the account through `as_of`."""
    row = fetch_one(
        con,
        "SELECT min(day) AS first_day, max(day) AS last_day, count(*) AS days, "
        "arg_max(followers, day) AS followers, arg_max(following, day) AS following, "
        "arg_max(posts, day) AS posts, count(*) FILTER (WHERE source LIKE 'api:%') AS collected, "
        "count(*) FILTER (WHERE source LIKE 'backfill:%') AS rebuilt "
        "FROM snapshots WHERE platform = ? AND handle = ? AND day <= ?",
        [platform, handle, as_of],
    )
    return History(*row) if row and row[2] else None


def analysed_through(con: duckdb.DuckDBPyConnection) -> date | None:
    row = fetch_one(con, "SELECT analysed_through FROM analysis_state")
    return row[0] if row else None


def account_metrics(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str
) -> AccountMetrics | None:
    return _first(
        con,
        AccountMetrics,
        "FROM account_metrics WHERE platform = ? AND handle = ?",
        [platform, handle],
    )


def latest_baseline(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str, as_of: date
) -> Baseline | None:
    return _first(
        con,
        Baseline,
        "FROM daily_metrics WHERE platform = ? AND handle = ? AND day <= ? "
        "AND baseline_sigma IS NOT NULL ORDER BY day DESC LIMIT 1",
        [platform, handle, as_of],
    )


def followers_by_day(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str, as_of: date
) -> list[tuple[date, float]]:
    """Every snapshot's followers through `as_of` (the audit's chart)."""
    rows = con.execute(
        "SELECT day, followers FROM snapshots WHERE platform = ? AND handle = ? AND day <= ? "
        "ORDER BY day",
        [platform, handle, as_of],
    ).fetchall()
    return [(d, float(f)) for d, f in rows]


def flagged_days(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str, as_of: date
) -> list[FlaggedDay]:
    rows = con.execute(
        f"SELECT {_columns(FlaggedDay)} FROM anomalies WHERE platform = ? AND handle = ? "
        "AND day <= ? ORDER BY day, kind",
        [platform, handle, as_of],
    ).fetchall()
    return [FlaggedDay(*row) for row in rows]


def platform_events(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str, as_of: date
) -> list[PlatformEvent]:
    """Its platform's events on days it has no flag of its own, with its z and gain those days."""
    rows = con.execute(
        """
        SELECT e.day, e.kind, e.platform, e.thresholds, m.robust_z, m.daily_gain
        FROM (
            SELECT platform, day, kind, any_value(thresholds) AS thresholds FROM anomalies
            WHERE platform = $platform AND attribution = 'platform_event' AND day <= $as_of
            GROUP BY ALL
        ) e
        JOIN daily_metrics m
          ON m.platform = e.platform AND m.handle = $handle AND m.day = e.day AND m.observed
        WHERE NOT EXISTS (
            SELECT 1 FROM anomalies o
            WHERE o.platform = e.platform AND o.handle = $handle AND o.day = e.day
        )
        ORDER BY e.day, e.kind
        """,
        {"platform": platform, "handle": handle, "as_of": as_of},
    ).fetchall()
    return [PlatformEvent(*row) for row in rows]


@dataclass(frozen=True)
class RecentDay:
    """One calendar day of the account's last days, as Social Blade lists them (None: no figure
    that day; a gain after a gap is the whole gap's change)."""

    day: date
    followers: float | None
    gain: float | None
    following: float | None
    posts: float | None
    views: float | None


def recent_days(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str, as_of: date, days: int = 30
) -> list[RecentDay]:
    """The last `days` calendar days through the account's last figure up to `as_of`, newest
    first, each with its figure and the change since the figure before it."""
    rows = con.execute(
        """
        WITH s AS (
            SELECT day, followers, following, posts, views,
                   followers - lag(followers) OVER (ORDER BY day) AS gain
            FROM snapshots WHERE platform = $platform AND handle = $handle AND day <= $as_of
        ), span AS (SELECT max(day) AS last FROM s)
        SELECT d.day::DATE, s.followers, s.gain, s.following, s.posts, s.views
        FROM span, range(span.last - ($days - 1)::INTEGER, span.last + 1, INTERVAL 1 DAY) AS d(day)
        LEFT JOIN s ON s.day = d.day::DATE
        ORDER BY d.day DESC
        """,
        {"platform": platform, "handle": handle, "as_of": as_of, "days": days},
    ).fetchall()
    return [RecentDay(*row) for row in rows]


def peer_group(con: duckdb.DuckDBPyConnection, platform: str, size_tier: str | None) -> int:
    """How many of the platform's accounts share the size tier (a percentile's comparison group)."""
    row = fetch_one(
        con,
        "SELECT count(*) FROM account_metrics WHERE platform = ? AND size_tier = ?",
        [platform, size_tier],
    )
    return int(row[0]) if row else 0


def chart_rows(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str, as_of: date
) -> list[dict[str, object]]:
    """Every analysed day of the account through `as_of`, for its chart (report_reads.chart_days)."""
    found = chart_days(con, date(1, 1, 1), as_of, [(platform, handle)])
    frame = found.get((platform, handle))
    return [] if frame is None else frame.to_dicts()
