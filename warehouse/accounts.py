"""Tracking accounts by hand (`audience accounts add|remove`): the accounts table's flag."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb


def track(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str, tags: Sequence[str] = ()
) -> None:
    """Track an account (added when new), its tags joined to those it has."""
    con.execute(
        """
        INSERT INTO accounts (platform, handle, tracked, tags) VALUES (?, ?, true, ?)
        ON CONFLICT (platform, handle) DO UPDATE SET tracked = true,
            tags = list_distinct(list_concat(accounts.tags, excluded.tags)), updated_at = now()
        """,
        [platform, handle, list(tags)],
    )


def untrack(con: duckdb.DuckDBPyConnection, platform: str, handle: str) -> bool:
    """Stop tracking an account, its history kept; False when the warehouse has no such account."""
    row = con.execute(
        "UPDATE accounts SET tracked = false, updated_at = now() WHERE platform = ? AND handle = ? "
        "RETURNING handle",
        [platform, handle],
    ).fetchall()
    return bool(row)


def known(con: duckdb.DuckDBPyConnection, platform: str, handle: str) -> bool:
    """Whether the warehouse has the account (tracked or not)."""
    row = con.execute(
        "SELECT 1 FROM accounts WHERE platform = ? AND handle = ?", [platform, handle]
    ).fetchall()
    return bool(row)


def platform_ids(con: duckdb.DuckDBPyConnection, platform: str) -> dict[tuple[str, str], str]:
    """The platform's own ids of its accounts, as the count collection stored them."""
    rows = con.execute(
        "SELECT platform, handle, platform_id FROM accounts "
        "WHERE platform = ? AND platform_id IS NOT NULL",
        [platform],
    ).fetchall()
    return {(str(p), str(h)): str(i) for p, h, i in rows}


def tracked(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The accounts tracked by hand (`audience accounts add`), by platform and handle."""
    rows = con.execute(
        "SELECT platform, handle FROM accounts WHERE tracked ORDER BY platform, handle"
    ).fetchall()
    return [(str(p), str(h)) for p, h in rows]
