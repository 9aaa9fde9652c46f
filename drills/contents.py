"""What a warehouse holds, read back to compare, check and search it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from warehouse.db import open_warehouse

# content compared between a crashed-then-finished warehouse and one never crashed: every
# column but the clocks (when a row was written, detected, computed)
CONTENT = {
    "snapshots": "platform, handle, day, followers, following, posts, views, source",
    "daily_metrics": "* EXCLUDE (computed_at)",
    "anomalies": "* EXCLUDE (detected_at)",
    "account_metrics": "*",
    "accounts": "platform, handle, tracked, first_seen, last_seen",
}


def table_rows(warehouse: Path) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """Every user table and all its rows, tables by name, rows in order."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
            ).fetchall()
        ]
        for table in tables:
            yield table, con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def content_digest(warehouse: Path) -> str:
    """A digest of what analysts see (no clocks), to compare two warehouses."""
    digest = hashlib.sha256()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table, columns in CONTENT.items():
            rows = con.execute(f"SELECT {columns} FROM {table} ORDER BY ALL").fetchall()
            digest.update(f"{table}:{len(rows)}:{rows!r}".encode())
    return digest.hexdigest()


def integrity(warehouse: Path) -> list[str]:
    """Problems in a warehouse (none expected): it opens, its migrations hold, no duplicates."""
    problems = []
    try:
        with open_warehouse(warehouse, timeout_s=5) as con:  # replays the WAL, checks migrations
            checks = {
                "duplicate metric days": "SELECT count(*) - count(DISTINCT (platform, handle, day)) FROM daily_metrics",
                "duplicate snapshots": "SELECT count(*) - count(DISTINCT (platform, handle, day)) FROM snapshots",
                "metrics without snapshots": "SELECT count(*) FROM daily_metrics m ANTI JOIN snapshots s USING (platform, handle)",
                "anomalies without metrics": "SELECT count(*) FROM anomalies a ANTI JOIN daily_metrics m USING (platform, handle, day)",
                "negative counts": "SELECT count(*) FROM snapshots WHERE followers < 0",
            }
            for name, sql in checks.items():
                found = con.execute(sql).fetchall()[0][0]
                if found:
                    problems.append(f"{name}: {found}")
    except Exception as exc:  # the point is to report any failure to open, whatever it is
        problems.append(f"does not open: {type(exc).__name__}: {exc}")
    return problems
