"""What `audience backfill` keeps and writes: the stargazer pages read so far (the cursor of
an interrupted backfill), the stars per day they hold, and the rebuilt days that may be
written (never over a collected or imported figure)."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import polars as pl

from warehouse.query import fetch_one

BACKFILL_SOURCE = "backfill:"  # every source value a backfill writes starts so


def pages_stored(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str
) -> tuple[int, int, int]:
    """(pages kept, the last page number kept, its stars): the cursor. The next page to read
    is the one after the last, or the last again when it was not full (stars given since fill
    it up)."""
    row = fetch_one(
        con,
        "SELECT count(*), coalesce(max(page), 0), coalesce(arg_max(len(starred_at), page), 0) "
        "FROM backfill_pages WHERE platform = ? AND handle = ?",
        [platform, handle],
    )
    return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)


def store_pages(
    con: duckdb.DuckDBPyConnection,
    platform: str,
    handle: str,
    pages: list[tuple[int, list[datetime]]],
    fetched_at: datetime,
) -> None:
    """Keep pages read (number, timestamps); the caller owns the transaction. One statement
    for the pages (executemany's one per page took 0.1 s for ten pages of 100)."""
    con.execute(
        "INSERT OR REPLACE INTO backfill_pages "
        "SELECT $platform, $handle, unnest($numbers::INTEGER[]), "
        "unnest($stamps::TIMESTAMPTZ[][]), $fetched_at",
        {
            "platform": platform,
            "handle": handle,
            "numbers": [number for number, _ in pages],
            "stamps": [stamps for _, stamps in pages],
            "fetched_at": fetched_at,
        },
    )


def stars_per_day(con: duckdb.DuckDBPyConnection, platform: str, handle: str) -> pl.DataFrame:
    """day (UTC), stars given that day, of the pages kept; oldest day first."""
    frame: pl.DataFrame = con.sql(
        """
        SELECT timezone('UTC', t)::DATE AS day, count(*)::BIGINT AS stars
        FROM (SELECT unnest(starred_at) AS t FROM backfill_pages WHERE platform = ? AND handle = ?)
        GROUP BY ALL ORDER BY day
        """,
        params=[platform, handle],
    ).pl()
    return frame


def kept_days(con: duckdb.DuckDBPyConnection, platform: str, handle: str) -> pl.DataFrame:
    """The account's days whose figure was collected or imported (day, followers, source):
    a backfill never writes over them."""
    frame: pl.DataFrame = con.sql(
        "SELECT day, followers, source FROM snapshots WHERE platform = ? AND handle = ? "
        "AND NOT starts_with(source, ?) ORDER BY day",
        params=[platform, handle, BACKFILL_SOURCE],
    ).pl()
    return frame


def clear_pages(con: duckdb.DuckDBPyConnection, platform: str, handle: str) -> None:
    con.execute("DELETE FROM backfill_pages WHERE platform = ? AND handle = ?", [platform, handle])


def account_snapshots(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str, as_of: date
) -> pl.DataFrame:
    """One account's snapshots through `as_of`, as upsert_snapshots takes them."""
    frame: pl.DataFrame = con.sql(
        "SELECT platform, handle, day, followers, following, posts, views, observed_at, source "
        "FROM snapshots WHERE platform = ? AND handle = ? AND day <= ? ORDER BY day",
        params=[platform, handle, as_of],
    ).pl()
    return frame


def scratch_warehouse() -> duckdb.DuckDBPyConnection:
    """An empty warehouse in memory (every migration applied): analyses that are not stored."""
    from warehouse.migrations import apply_migrations

    con = duckdb.connect(":memory:")
    apply_migrations(con)
    return con
