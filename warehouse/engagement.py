"""The `engagement` table (migration 0011): writing a night's samples, reading the latest rates
for account_metrics and the daily interactions around a jump."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl

from warehouse.analysis_store import insert_frame
from warehouse.query import registered

RATE_MAX_AGE_DAYS = 7  # account_metrics takes a rate no older than this before its day


def followers_on(
    con: duckdb.DuckDBPyConnection, day: date, accounts: list[tuple[str, str]]
) -> dict[tuple[str, str], float]:
    """Each account's audience on `day` (its latest figure up to it, within 7 days)."""
    if not accounts:
        return {}
    frame = pl.DataFrame(
        {"platform": [p for p, _ in accounts], "handle": [h for _, h in accounts]},
        schema={"platform": pl.String, "handle": pl.String},
    )
    with registered(con, "_wanted", frame):
        rows = con.execute(
            """
            SELECT s.platform, s.handle, arg_max(s.followers, s.day)
            FROM snapshots s JOIN _wanted w USING (platform, handle)
            WHERE s.day <= ? AND s.day > ? AND s.followers IS NOT NULL
            GROUP BY ALL
            """,
            [day, day - timedelta(days=RATE_MAX_AGE_DAYS)],
        ).fetchall()
    return {(p, h): float(f) for p, h, f in rows}


def store_engagement(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> int:
    """The night's rows (the table's columns) replace any of the same account and day."""
    if not rows.height:
        return 0
    with registered(con, "_rows", rows):
        con.execute(
            "DELETE FROM engagement e USING _rows r "
            "WHERE e.platform = r.platform AND e.handle = r.handle AND e.day = r.day"
        )
    insert_frame(con, "engagement", rows)
    return rows.height


def latest_rates(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    """platform, handle, engagement_rate, engagement_day: each account's newest rate up to
    `as_of`, no older than RATE_MAX_AGE_DAYS."""
    frame: pl.DataFrame = con.sql(
        """
        SELECT platform, handle, arg_max(engagement_rate, day) AS engagement_rate,
               max(day) AS engagement_day
        FROM engagement
        WHERE engagement_rate IS NOT NULL AND day <= ? AND day > ?
        GROUP BY ALL
        """,
        params=[as_of, as_of - timedelta(days=RATE_MAX_AGE_DAYS)],
    ).pl()
    return frame


def daily_interactions(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str, first: date, last: date
) -> dict[date, float]:
    """The median interactions per post of each day with a sample, `first` to `last`."""
    rows = con.execute(
        "SELECT day, median_interactions FROM engagement WHERE platform = ? AND handle = ? "
        "AND day BETWEEN ? AND ? AND median_interactions IS NOT NULL ORDER BY day",
        [platform, handle, first, last],
    ).fetchall()
    return {d: float(m) for d, m in rows}


def interaction_evidence(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    """platform, handle, day, median_interactions of every sampled day up to `as_of`: what the
    verdicts read around each growth anomaly (transforms.engagement.jump_reading)."""
    sql = (
        "SELECT platform, handle, day, median_interactions FROM engagement "
        "WHERE day <= ? AND median_interactions IS NOT NULL"
    )
    frame: pl.DataFrame = con.sql(sql, params=[as_of]).pl()
    return frame


def tier_rates(con: duckdb.DuckDBPyConnection, platform: str) -> pl.DataFrame:
    """platform, handle, size_tier, engagement_rate of the platform's analysed accounts with a
    rate (`account_metrics`): the group an account audited without history is compared with
    (transforms.engagement.tier_comparison)."""
    frame: pl.DataFrame = con.sql(
        "SELECT platform, handle, size_tier, engagement_rate FROM account_metrics "
        "WHERE platform = ? AND engagement_rate IS NOT NULL AND size_tier IS NOT NULL",
        params=[platform],
    ).pl()
    return frame
