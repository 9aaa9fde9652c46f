"""Small query helpers shared by the warehouse modules."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame: object) -> Iterator[None]:
    """`frame` readable as the view `name` for the block, unregistered after it. On an error
    the name is dropped quietly: after Ctrl-C DuckDB's transaction is aborted and dropping it
    fails too ("Current transaction is aborted"), which must not hide the interruption."""
    con.register(name, frame)
    try:
        yield
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.unregister(name)
        raise
    con.unregister(name)
