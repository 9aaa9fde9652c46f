"""What the HTML report reads: every account's line with its verdict, the anomalies through the
report's day, and the followers by day its charts draw."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import duckdb
import polars as pl


@dataclass(frozen=True)
class AccountLine:
    """One account's row of the report's overview (`account_metrics` with the account's name)."""

    platform: str
    handle: str
    display_name: str | None
    account_verdict: str | None
    account_confidence: str | None
    followers: float | None
    growth_rel_28: float | None
    growth_percentile: float | None
    suspected_purchases_90: int | None
    suspected_purchases_all: int | None
    next_milestone: int | None
    milestone_date: date | None


_FROM_ACCOUNTS = {"display_name"}
ACCOUNT_LINE_COLUMNS = ", ".join(
    f"{'a' if f.name in _FROM_ACCOUNTS else 'm'}.{f.name}" for f in fields(AccountLine)
)


def account_lines(con: duckdb.DuckDBPyConnection) -> list[AccountLine]:
    """Accounts that need attention first: bought audience likely, then unusual growth."""
    rows = con.execute(
        f"""
        SELECT {ACCOUNT_LINE_COLUMNS} FROM account_metrics m
        LEFT JOIN accounts a USING (platform, handle)
        ORDER BY CASE m.account_verdict WHEN 'bought_audience_likely' THEN 0
                 WHEN 'unusual_growth_to_review' THEN 1 WHEN 'not_enough_history' THEN 3 ELSE 2 END,
                 m.platform, m.handle
        """
    ).fetchall()
    return [AccountLine(*row) for row in rows]


def anomalies_through(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    frame: pl.DataFrame = con.sql(
        "SELECT * FROM anomalies WHERE day <= ? ORDER BY day", params=[as_of]
    ).pl()
    return frame


def followers_between_days(
    con: duckdb.DuckDBPyConnection, after: date, through: date
) -> pl.DataFrame:
    """Every account's followers by day, after `after` and through `through`."""
    frame: pl.DataFrame = con.sql(
        "SELECT platform, handle, day, followers FROM daily_metrics WHERE day > ? AND day <= ? "
        "ORDER BY day",
        params=[after, through],
    ).pl()
    return frame
