"""Small query helpers shared by the warehouse modules."""

from __future__ import annotations

from typing import Any

import duckdb


def fetch_one(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> tuple[Any, ...] | None:
    """First row of a query, with the result drained.

    DuckDB 2.0 keeps an unfinished result open after fetchone(), which blocks the next
    con.sql() on the connection; fetchall() completes it.
    """
    rows = con.execute(sql, params or []).fetchall()
    return tuple(rows[0]) if rows else None
