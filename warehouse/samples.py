"""Follower samples (migrations 0010, 0012): the sampled followers with their judgement, each
sample's summary, a queued one's progress, the growth anomalies still to sample, and what the analysis and the audit read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import duckdb
import polars as pl

from core.samples import SampledProfile

SUMMARY_COLUMNS = (
    "sample_id",
    "platform",
    "handle",
    "day",
    "kind",
    "status",
    "what",
    "size",
    "flagged",
    "share",
    "share_low",
    "share_high",
    "baseline_size",
    "baseline_share",
    "p_value",
    "fisher_p_value",
    "note",
    "sampled_at",
)


def sample_id(platform: str, handle: str, day: date, kind: str) -> str:
    return f"{platform}:{handle}:{day.isoformat()}:{kind}"


def store_sample(
    con: duckdb.DuckDBPyConnection,
    ident: str,
    account: tuple[str, str, date, str],
    judged: Sequence[tuple[SampledProfile, bool, Sequence[str]]],
    sampled_at: datetime,
) -> None:
    """Replace sample `ident`'s followers (profile, looks inauthentic, signals); the caller owns
    the transaction."""
    platform, handle, day, kind = account
    con.execute("DELETE FROM follower_samples WHERE sample_id = ?", [ident])
    profiles = [p for p, _, _ in judged]
    columns = {  # one statement, a list a column (executemany took 0.3 s for 100 rows)
        "follower_id": ("VARCHAR", [p.follower_id for p in profiles]),
        "position": ("INTEGER", [p.position for p in profiles]),
        "arrival_day": ("DATE", [p.arrival_day for p in profiles]),
        "followed_at": ("TIMESTAMPTZ", [p.followed_at for p in profiles]),
        "created_at": ("TIMESTAMPTZ", [p.created_at for p in profiles]),
        "has_avatar": ("BOOLEAN", [p.has_avatar for p in profiles]),
        "posts": ("BIGINT", [p.posts for p in profiles]),
        "followers": ("BIGINT", [p.followers for p in profiles]),
        "following": ("BIGINT", [p.following for p in profiles]),
        "looks_inauthentic": ("BOOLEAN", [flagged for _, flagged, _ in judged]),
        "signals": ("VARCHAR[]", [list(signals) for _, _, signals in judged]),
    }
    listed = ", ".join(f"unnest(${name}::{type_}[])" for name, (type_, _) in columns.items())
    con.execute(
        f"INSERT INTO follower_samples SELECT $ident, $platform, $handle, $day, $kind, {listed}, "
        "$sampled_at",
        {name: values for name, (_, values) in columns.items()}
        | {
            "ident": ident,
            "platform": platform,
            "handle": handle,
            "day": day,
            "kind": kind,
            "sampled_at": sampled_at,
        },
    )


def store_summary(con: duckdb.DuckDBPyConnection, summary: dict[str, Any]) -> None:
    """Insert or replace one sample's summary (keys: SUMMARY_COLUMNS; missing ones null)."""
    con.execute(
        f"INSERT OR REPLACE INTO sample_summaries ({', '.join(SUMMARY_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in SUMMARY_COLUMNS)})",
        [summary.get(c) for c in SUMMARY_COLUMNS],
    )


def store_progress(
    con: duckdb.DuckDBPyConnection,
    ident: str,
    account: tuple[str, str, date],
    figures: tuple[int, int, int],
    state: str,
    updated_at: datetime,
) -> None:
    """Insert or replace a queued sample's progress (figures: requests, needed, restarts;
    state: pipeline.sample_progress's JSON); the caller owns the transaction."""
    con.execute(
        "INSERT OR REPLACE INTO sample_progress VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [ident, *account, *figures, state, updated_at],
    )


def drop_progress(con: duckdb.DuckDBPyConnection, ident: str) -> None:
    """A sample taken or refused keeps no progress."""
    con.execute("DELETE FROM sample_progress WHERE sample_id = ?", [ident])


def progress_of(con: duckdb.DuckDBPyConnection, platform: str) -> dict[str, str]:
    """The stored progress (JSON) of the platform's queued samples, by sample id."""
    rows = con.execute(
        "SELECT sample_id, state FROM sample_progress WHERE platform = ?", [platform]
    ).fetchall()
    return {str(ident): str(state) for ident, state in rows}


def to_sample(
    con: duckdb.DuckDBPyConnection, since: date, platforms: Sequence[str]
) -> pl.DataFrame:
    """Growth anomalies of the account's own from `since` on, and queued ones of any age (a
    sample the budget cut, on the nights or by `audit --sample`), on the platforms given, with
    no finished (or refused) jump sample yet: queued ones first, then the newest. Columns:
    platform, handle, day, kind, window_start, followers, followers_before, queued."""
    frame: pl.DataFrame = con.sql(
        """
        SELECT a.platform, a.handle, a.day, a.kind, a.window_start, a.followers,
               a.followers_before, coalesce(s.status = 'queued', false) AS queued
        FROM anomalies a
        LEFT JOIN sample_summaries s
          ON s.platform = a.platform AND s.handle = a.handle AND s.day = a.day
         AND s.kind = 'jump'
        WHERE a.kind IN ('spike', 'drip') AND a.attribution = 'account'
          AND (a.day >= $since OR s.status = 'queued')
          AND list_contains($platforms, a.platform)
          AND (s.status IS NULL OR s.status = 'queued')
        ORDER BY queued DESC, a.day DESC, a.platform, a.handle
        """,
        params={"since": since, "platforms": list(platforms)},
    ).pl()
    return frame


def sampled_since_analysis(con: duckdb.DuckDBPyConnection) -> date | None:
    """The oldest day of a finished jump sample stored after the last analysis (whose anomaly
    that analysis could not judge with it); None when there is none."""
    row = con.execute(
        """
        SELECT min(s.day) FROM sample_summaries s, analysis_state a
        WHERE s.kind = 'jump' AND s.status = 'done' AND s.sampled_at > a.updated_at
        """
    ).fetchone()
    return row[0] if row and isinstance(row[0], date) else None


def growth_anomaly(con: duckdb.DuckDBPyConnection, platform: str, handle: str) -> pl.DataFrame:
    """The account's largest growth anomaly of its own (the one `audit --sample` samples), as
    to_sample's columns; empty when there is none."""
    frame: pl.DataFrame = con.sql(
        """
        SELECT platform, handle, day, kind, window_start, followers, followers_before,
               false AS queued
        FROM anomalies
        WHERE platform = ? AND handle = ? AND kind IN ('spike', 'drip')
          AND attribution = 'account'
        ORDER BY coalesce(excess, gain, 0) DESC, day DESC LIMIT 1
        """,
        params=[platform, handle],
    ).pl()
    return frame


def daily_counts(con: duckdb.DuckDBPyConnection, platform: str, handle: str) -> pl.DataFrame:
    """day, followers of the account's stored snapshots, oldest first (to place list positions
    in time)."""
    frame: pl.DataFrame = con.sql(
        "SELECT day, followers FROM snapshots WHERE platform = ? AND handle = ? "
        "AND followers IS NOT NULL ORDER BY day",
        params=[platform, handle],
    ).pl()
    return frame


def sample_evidence(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The finished jump samples compared with a baseline: what the verdicts read (platform,
    handle, day, what, size, flagged, share, share_low, share_high, baseline_share, p_value)."""
    frame: pl.DataFrame = con.sql(
        """
        SELECT platform, handle, day, what, size, flagged, share, share_low, share_high,
               baseline_share, p_value
        FROM sample_summaries
        WHERE kind = 'jump' AND status = 'done' AND baseline_share IS NOT NULL
        """
    ).pl()
    return frame


def account_samples(con: duckdb.DuckDBPyConnection, platform: str, handle: str) -> pl.DataFrame:
    """Every sample summary of one account (for its audit), newest day first."""
    frame: pl.DataFrame = con.sql(
        f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM sample_summaries "
        "WHERE platform = ? AND handle = ? ORDER BY day DESC, kind DESC",
        params=[platform, handle],
    ).pl()
    return frame


def sampled_followers(con: duckdb.DuckDBPyConnection, ident: str) -> pl.DataFrame:
    """One sample's followers with their judgement, in list order."""
    frame: pl.DataFrame = con.sql(
        "SELECT * EXCLUDE (sample_id) FROM follower_samples WHERE sample_id = ? "
        "ORDER BY position NULLS LAST, followed_at, follower_id",
        params=[ident],
    ).pl()
    return frame
