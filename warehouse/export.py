"""The tables `audience export` writes, and writing one of them to a Parquet or CSV file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

# every table the README documents (its warehouse table); not the internal ones:
# schema_migrations, analysis_state, alerts_staged and demo_origin (the demo's mark on a
# warehouse it created, of no use outside it)
EXPORTED = (
    "accounts",
    "snapshots",
    "daily_metrics",
    "anomalies",
    "account_metrics",
    "runs",
    "collection_log",
    "engagement",
    "backfill_pages",
    "follower_samples",
    "sample_summaries",
    "sample_progress",
    "import_replacements",
    "imports",
    "alerts",
)


def export_table(con: duckdb.DuckDBPyConnection, table: str, target: Path, fmt: str) -> int:
    """Write TABLE (one of EXPORTED) whole to TARGET as `parquet` or `csv`; how many rows."""
    if table not in EXPORTED:
        raise ValueError(f"{table!r} is not an exported table")
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
    # the table name is one of the fixed list above; the path is a string literal
    quoted = str(target).replace("'", "''")
    rows = con.execute(f"COPY (SELECT * FROM {table}) TO '{quoted}' ({options})").fetchall()
    return int(rows[0][0])
