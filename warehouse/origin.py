"""Which warehouse `audience demo` made: the only kind it may ever replace.

The demo creates its warehouse with a row in `demo_origin` and records there, when it
finishes, how many snapshots and accounts it left. A warehouse without that row, or holding
more than the demo left (an import, `accounts add`, a run since), is someone's data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.db import open_warehouse
from warehouse.query import fetch_one

_COUNTS = "SELECT (SELECT count(*) FROM snapshots), (SELECT count(*) FROM accounts)"


def create_demo_warehouse(path: Path) -> None:
    """Create the warehouse at `path` (which must not exist), marked as the demo's."""
    if path.exists():
        raise FileExistsError(path)
    with open_warehouse(path) as con:
        con.execute("INSERT INTO demo_origin (created_at) VALUES (?)", [datetime.now(UTC)])


def finish_demo_warehouse(path: Path) -> None:
    """Record what the demo left in its warehouse."""
    with open_warehouse(path) as con:
        counts = fetch_one(con, _COUNTS)
        con.execute(
            "UPDATE demo_origin SET finished_at = ?, snapshots = ?, accounts = ?",
            [datetime.now(UTC), *(counts or (None, None))],
        )


def not_the_demos(path: Path) -> str | None:
    """Why the existing file at `path` is not a warehouse the demo made and alone wrote (None: it is).

    Read only: the file is not changed, whatever it holds.
    """
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            marked = fetch_one(
                con,
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = 'main' AND table_name = 'demo_origin'",
            )
            origin = (
                fetch_one(con, "SELECT snapshots, accounts FROM demo_origin")
                if marked and marked[0]
                else None
            )
            if origin is None:
                return "a warehouse the demo did not create"
            counts = fetch_one(con, _COUNTS)
    except duckdb.Error as exc:
        return f"not a warehouse the demo created ({str(exc).splitlines()[0]})"
    if origin[0] is not None and tuple(origin) != tuple(counts or ()):
        return (
            f"a demo warehouse that holds data the demo did not write ({counts[0] if counts else 0:,} "
            f"snapshots and {counts[1] if counts else 0:,} accounts; the demo left {origin[0]:,} and "
            f"{origin[1]:,})"
        )
    return None
