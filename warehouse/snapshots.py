"""Writing snapshots and keeping `accounts` in step with them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from warehouse.query import fetch_one, registered

FIGURES = ("followers", "following", "posts", "views")
_CHANGED = " OR ".join(f"s.{c} IS DISTINCT FROM i.{c}" for c in FIGURES)


@dataclass(frozen=True)
class WriteCounts:
    inserted: int
    updated: int
    unchanged: int


def _staged_figure(frame: pl.DataFrame, figure: str) -> str:
    """The figure as staged: the batch's, or the stored one where the batch's Boolean column
    `{figure}_given` says the batch does not give it (its file has no such column)."""
    flag = f"{figure}_given"
    if flag not in frame.columns:
        return f"b.{figure}"
    return f"CASE WHEN b.{flag} THEN b.{figure} ELSE s.{figure} END AS {figure}"


def _stage(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> None:
    """Put the batch in a temp table with the snapshots' columns (missing ones are NULL).

    A figure the batch does not give (`{figure}_given` false) is staged as the stored one, so
    it neither conflicts with nor replaces what is stored, and a new row gets NULL.
    """
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
    figures = ", ".join(_staged_figure(frame, c) for c in FIGURES)
    join = "LEFT JOIN snapshots s USING (platform, handle, day)" if "s." in figures else ""
    with registered(con, "_batch", frame):
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _incoming AS
            SELECT platform, handle, day, {figures},
                   coalesce(b.observed_at, day::TIMESTAMPTZ) AS observed_at,
                   b.source, b.run_id, b.payload::JSON AS payload, now() AS written_at,
                   b.followers_rounding
            FROM _batch b {join}
            """
        )


def _differs(figure: str, what: str) -> str:
    """SQL: `what` about the staged figure when it differs from the stored one, else NULL."""
    return f"CASE WHEN s.{figure} IS DISTINCT FROM i.{figure} THEN {what} END"


def _value(column: str) -> str:
    return f"coalesce({column}::VARCHAR, 'blank')"


def conflicts_with_observed(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> pl.DataFrame:
    """Rows of `frame` that contradict a figure the tracker itself collected that day.

    One row per account and day: platform, handle, day, `figures` (those that differ, comma-
    separated), `detail` (`followers 90 contradicts 100, ...`) and `observed_source` (where
    the stored figures came from, `api:<platform>`). Leaves `frame` staged for
    `upsert_snapshots(..., staged=True)`.
    """
    _stage(con, frame)
    figures = ", ".join(_differs(c, f"'{c}'") for c in FIGURES)
    detail = ", ".join(
        _differs(c, f"'{c} ' || {_value(f'i.{c}')} || ' contradicts ' || {_value(f's.{c}')}")
        for c in FIGURES
    )
    clashes: pl.DataFrame = con.sql(
        f"""
        SELECT i.platform, i.handle, i.day, concat_ws(', ', {figures}) AS figures,
               concat_ws(', ', {detail}) AS detail, s.source AS observed_source
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
    if inserted == frame.height:  # all new: no stored row to join or replace
        _insert_new(con)
    else:
        _insert_or_replace(con)
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


_KEY = ("platform", "handle", "day")


def _empty(con: duckdb.DuckDBPyConnection) -> bool:
    row = fetch_one(con, "SELECT count(*) FROM snapshots")
    return row is not None and row[0] == 0


def _table_sql(con: duckdb.DuckDBPyConnection, table: str) -> str:
    row = fetch_one(con, "SELECT sql FROM duckdb_tables() WHERE table_name = ?", [table])
    if row is None:
        raise RuntimeError(f"no table {table!r} in the warehouse")
    return str(row[0])


def _insert_new(con: duckdb.DuckDBPyConnection) -> None:
    """Append `_incoming`, whose rows are all new. Into an empty `snapshots` (a first import)
    the rows go in without the key, built once at the end (_bulk_insert)."""
    if _empty(con):
        definition = _table_sql(con, "snapshots")
        if definition.startswith("CREATE TABLE snapshots(") and definition.endswith(_KEY_SQL):
            _bulk_insert(con, definition)
            return
    con.execute("INSERT INTO snapshots BY NAME SELECT * FROM _incoming")


_KEY_SQL = ', PRIMARY KEY(platform, handle, "day"));'  # how DuckDB ends snapshots' definition


def _bulk_insert(con: duckdb.DuckDBPyConnection, definition: str) -> None:
    """Fill the empty `snapshots` (of `definition`) from `_incoming`, its primary key built
    once at the end.

    DuckDB checks a primary key row by row as rows go in: for a first import of ten million
    rows that is most of the import's time, where building the key once over the loaded rows
    (ALTER TABLE ... ADD PRIMARY KEY) costs a fraction. So the rows go into a table made from
    `snapshots`' own definition without its key, the key is added, and that table takes
    `snapshots`' place, all inside the caller's transaction. The result is checked to have
    `snapshots`' definition exactly (columns, defaults, NOT NULL, CHECKs, key).
    """
    con.execute(definition.replace("snapshots(", "_snapshots_bulk(", 1)[: -len(_KEY_SQL)] + ");")
    for column in _KEY:  # a key's columns are NOT NULL; the definition leaves that to the key
        con.execute(f'ALTER TABLE _snapshots_bulk ALTER COLUMN "{column}" SET NOT NULL')
    con.execute("INSERT INTO _snapshots_bulk BY NAME SELECT * FROM _incoming")
    con.execute(f"ALTER TABLE _snapshots_bulk ADD PRIMARY KEY ({', '.join(_KEY)})")
    con.execute("DROP TABLE snapshots")
    con.execute("ALTER TABLE _snapshots_bulk RENAME TO snapshots")
    rebuilt = _table_sql(con, "snapshots")
    if rebuilt != definition:
        raise RuntimeError(
            f"the bulk-loaded snapshots table differs: {rebuilt!r} != {definition!r}"
        )


def _insert_or_replace(con: duckdb.DuckDBPyConnection) -> None:
    """Staged rows that are new or differ from the stored ones go in, replacing those."""
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
