"""The `runs` ledger: every import, analysis and nightly run, with its outcome."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import duckdb


def start_run(con: duckdb.DuckDBPyConnection, kind: str, as_of: date | None = None) -> str:
    """Record a run as started and return its id."""
    run_id = f"{kind}-{uuid.uuid4().hex[:12]}"
    # the wall clock, not now(): DuckDB's now() is the start of the enclosing transaction
    con.execute(
        "INSERT INTO runs (run_id, kind, started_at, as_of, status) VALUES (?, ?, ?, ?, 'running')",
        [run_id, kind, datetime.now(UTC), as_of],
    )
    return run_id


def finish_run(
    con: duckdb.DuckDBPyConnection, run_id: str, status: str, summary: dict[str, Any]
) -> None:
    """Record how a run ended."""
    con.execute(
        "UPDATE runs SET finished_at = ?, status = ?, summary = ?::JSON WHERE run_id = ?",
        [datetime.now(UTC), status, json.dumps(summary, default=str), run_id],
    )
