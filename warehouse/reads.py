"""The listings the commands print: accounts with their latest figure, the anomalies (filtered,
newest first), the findings of a run by verdict, and the last analysed day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import duckdb

from warehouse.query import fetch_one


def last_analysed_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest day daily_metrics holds (None: nothing analysed yet)."""
    row = fetch_one(con, "SELECT max(day) FROM daily_metrics")
    return row[0] if row and isinstance(row[0], date) else None


def account_listing(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every account in the warehouse with its figure of the last day it was seen."""
    rows: list[dict[str, Any]] = (
        con.sql(
            """
            SELECT a.platform, a.handle, a.tracked, a.status, a.first_seen, a.last_seen,
                   s.followers AS latest_followers, array_to_string(a.tags, ',') AS tags
            FROM accounts a LEFT JOIN snapshots s
              ON s.platform = a.platform AND s.handle = a.handle AND s.day = a.last_seen
            ORDER BY a.platform, a.handle
            """
        )
        .pl()
        .to_dicts()
    )
    return rows


def anomaly_listing(
    con: duckdb.DuckDBPyConnection,
    columns: Sequence[str],
    *,
    since: date | None = None,
    platform: str | None = None,
    suspected: bool = False,
) -> duckdb.DuckDBPyRelation:
    """The anomalies' `columns` (names of the anomalies table, from the caller's fixed list),
    on or after `since`, of `platform`, only suspected purchases: newest first."""
    clauses: list[str] = []
    params: list[object] = []
    if since:
        clauses.append("day >= ?")
        params.append(since)
    if platform:
        clauses.append("platform = ?")
        params.append(platform)
    if suspected:
        clauses.append("suspected_purchase")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    # the column names are the caller's fixed list; the filters are parameters
    return con.sql(
        f"SELECT {', '.join(columns)} FROM anomalies {where} ORDER BY day DESC, platform, handle",
        params=params,
    )


def findings_by_verdict(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every anomaly with its verdict: suspected purchases first, then those pending, by day."""
    rows: list[dict[str, Any]] = (
        con.sql(
            "SELECT day, platform, handle, kind, verdict, suspected_purchase, explanation "
            "FROM anomalies ORDER BY suspected_purchase DESC, verdict = 'pending' DESC, day"
        )
        .pl()
        .to_dicts()
    )
    return rows
