"""Writing snapshots and keeping `accounts` in step with them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from warehouse.query import fetch_one

FIGURES = ("followers", "following", "posts", "views")
_CHANGED = " OR ".join(f"s.{c} IS DISTINCT FROM i.{c}" for c in FIGURES)


@dataclass(frozen=True)
class WriteCounts:
    inserted: int
    updated: int
    unchanged: int


def _stage(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> None:
    """Put the batch in a temp table with the snapshots' columns (missing ones are NULL)."""
    columns: dict[str, Any] = {
        "observed_at": pl.Datetime("us", "UTC"),
        "run_id": pl.String,
        "payload": pl.String,
        "followers_rounding": pl.String,
        **{c: pl.Int64 for c in FIGURES},
    }
    for name, dtype in columns.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
    con.register("_batch", frame)
    try:
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _incoming AS
            SELECT platform, handle, day, followers, following, posts, views,
                   coalesce(observed_at, day::TIMESTAMPTZ) AS observed_at,
                   source, run_id, payload::JSON AS payload, now() AS written_at, followers_rounding
            FROM _batch
            """
        )
    finally:
        con.unregister("_batch")


def conflicts_with_observed(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> pl.DataFrame:
    """Rows of `frame` that contradict a figure the tracker itself collected that day.

    Leaves `frame` staged for `upsert_snapshots(..., staged=True)`.
    """
    _stage(con, frame)
    clashes: pl.DataFrame = con.sql(
        f"""
        SELECT i.platform, i.handle, i.day, i.followers, s.followers AS observed_followers, s.source
        FROM _incoming i JOIN snapshots s USING (platform, handle, day)
        WHERE s.source LIKE 'api:%' AND ({_CHANGED})
        ORDER BY i.platform, i.handle, i.day
        """
    ).pl()
    return clashes


def upsert_snapshots(
    con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, *, staged: bool = False
) -> WriteCounts:
    """Insert or replace one row per account and day; identical rows are left untouched.

    The caller owns the transaction. `frame` has platform, handle, day, followers and source,
    optionally following, posts, views, observed_at, run_id and payload. `staged`: the frame
    is already in the staging table (conflicts_with_observed put it there), so it is not
    written there again.
    """
    if not staged:
        _stage(con, frame)
    row = fetch_one(
        con,
        f"""
        SELECT count(*) FILTER (WHERE s.day IS NULL),
               count(*) FILTER (WHERE s.day IS NOT NULL AND ({_CHANGED}))
        FROM _incoming i LEFT JOIN snapshots s USING (platform, handle, day)
        """,
    )
    inserted, updated = (int(row[0]), int(row[1])) if row else (0, 0)
    con.execute(
        f"""
        INSERT INTO snapshots BY NAME
        SELECT i.* FROM _incoming i LEFT JOIN snapshots s USING (platform, handle, day)
        WHERE s.day IS NULL OR {_CHANGED}
        ON CONFLICT (platform, handle, day) DO UPDATE SET
            followers = excluded.followers, following = excluded.following,
            posts = excluded.posts, views = excluded.views, observed_at = excluded.observed_at,
            source = excluded.source, run_id = excluded.run_id, payload = excluded.payload,
            written_at = excluded.written_at, followers_rounding = excluded.followers_rounding
        """
    )
    con.execute(
        """
        INSERT INTO accounts (platform, handle, first_seen, last_seen)
        SELECT platform, handle, min(day), max(day) FROM _incoming GROUP BY ALL
        ON CONFLICT (platform, handle) DO UPDATE SET
            first_seen = least(coalesce(accounts.first_seen, excluded.first_seen), excluded.first_seen),
            last_seen = greatest(coalesce(accounts.last_seen, excluded.last_seen), excluded.last_seen)
        """
    )
    con.execute("DROP TABLE _incoming")
    return WriteCounts(inserted, updated, frame.height - inserted - updated)
