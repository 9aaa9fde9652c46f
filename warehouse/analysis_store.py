"""What an analysis run writes: daily_metrics (in chunks, as they are computed), anomalies,
account_metrics and analysis_state; and the temporary tables that shadow them in an analysis
as of a past day. The writes join the temporary table `_accounts` of
warehouse.analysis_load.load_snapshots.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import duckdb
import numpy as np
import polars as pl

from core.errors import AudienceError
from warehouse.query import fetch_one, registered

WRITE_BATCH_ROWS = 500_000  # new days gathered into one INSERT
DUCKDB_MEMORY = "256MB"  # DuckDB's buffer memory while analysing
# the analysis' tables, shadowed by temporary ones in an analysis as of a past day
ANALYSIS_TABLES = ("daily_metrics", "anomalies", "account_metrics", "analysis_state")


@contextmanager
def capped_memory(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB's memory capped to DUCKDB_MEMORY: the blocks it writes go to the file, not to a
    cache. On an error (Ctrl-C included) the transaction is aborted: the caller rolls it back
    and closes the connection, its setting with it; a RESET then would only fail."""
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    yield
    con.execute("RESET memory_limit")


def delete_rewritten_metrics(con: duckdb.DuckDBPyConnection, full: bool) -> None:
    """Delete the daily metrics a run rewrites: all of them, or the new accounts' after their
    last day kept (the plan's windows)."""
    if full:
        con.execute("DELETE FROM daily_metrics")
        return
    con.execute(
        """
        DELETE FROM daily_metrics d USING _windows w, _accounts a
        WHERE w.new AND a.aid = w.aid AND d.platform = a.platform AND d.handle = a.handle
          AND (w.after IS NULL OR d.day > w.after)
        """
    )


class MetricsWriter:
    """Appends chunks of padded metrics to daily_metrics, through DuckDB's replacement scan of
    the arrays (NaN arrives as NULL). The rows to keep of many chunks (all of a rebuild's, the
    few new days of a night's) are gathered first, WRITE_BATCH_ROWS at a time: a night is one
    INSERT, not one per chunk, and a rebuild's INSERTs are large enough for DuckDB to write
    them with all its threads."""

    def __init__(self, con: duckdb.DuckDBPyConnection, now: datetime) -> None:
        self.con, self.now = con, now
        self.pending: list[dict[str, np.ndarray]] = []
        self.pending_rows = 0
        self.days = 0
        self.accounts: set[int] = set()
        self.seconds = 0.0

    def add(self, metrics: dict[str, np.ndarray]) -> None:
        started = time.perf_counter()
        keep = metrics["keep"]
        rows = int(keep.sum())
        if not rows:
            return
        self.pending.append(
            metrics if rows == len(keep) else {n: values[keep] for n, values in metrics.items()}
        )
        self.pending_rows += rows
        self.seconds += time.perf_counter() - started  # flush() counts its own
        if self.pending_rows >= WRITE_BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        started = time.perf_counter()
        if self.pending:
            gathered = {n: np.concatenate([p[n] for p in self.pending]) for n in self.pending[0]}
            self._insert(gathered, self.pending_rows)
            self.pending, self.pending_rows = [], 0
        self.seconds += time.perf_counter() - started

    def _insert(self, metrics: dict[str, np.ndarray], rows: int) -> None:
        _metrics = metrics  # read by DuckDB's replacement scan
        # rows in any order: DuckDB then writes with all its threads (11 million rows of a
        # rebuild on 2 cores: about half the time); the table has no order to keep (no key,
        # readers sort). As for capped_memory, an error leaves the setting to the connection,
        # which the caller closes.
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute(
            """
            INSERT INTO daily_metrics BY NAME
            SELECT a.platform, a.handle, (DATE '1970-01-01' + m.day::INTEGER) AS day,
                   m.* EXCLUDE (aid, day, spread_days, keep),
                   nullif(m.spread_days, 0)::INTEGER AS spread_days, ?::TIMESTAMPTZ AS computed_at
            FROM _metrics m JOIN _accounts a USING (aid) WHERE m.keep
            """,
            [self.now],
        )
        self.con.execute("RESET preserve_insertion_order")
        del _metrics
        self.days += rows
        self.accounts.update(np.unique(metrics["aid"][metrics["keep"]]).tolist())


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Append a frame's rows to a table, by column name (DuckDB casts them to the table's types)."""
    with registered(con, "_frame", frame):
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frame")


def replace_anomalies(
    con: duckdb.DuckDBPyConnection, anomalies: pl.DataFrame, write_from: date | None
) -> None:
    """The stored anomalies from `write_from` on (all when None) replaced by `anomalies`."""
    since = "" if write_from is None else f"WHERE day >= DATE '{write_from}'"
    con.execute(f"DELETE FROM anomalies {since}")
    insert_frame(con, "anomalies", anomalies)


def replace_account_metrics(con: duckdb.DuckDBPyConnection, summary: pl.DataFrame) -> None:
    """account_metrics holds `summary`'s rows, one per account, and nothing else."""
    con.execute("DELETE FROM account_metrics")
    if summary.height:
        insert_frame(con, "account_metrics", summary)


def write_state(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    watermark: datetime,
    now: datetime,
    *,
    inputs_digest: str | None = None,
    detection: str | None = None,
) -> None:
    """The analysis watermark, with what the analysis was computed from (in the caller's
    transaction: the same as its results, so it never outlives them)."""
    con.execute(
        "INSERT OR REPLACE INTO analysis_state (id, analysed_through, written_watermark, "
        "updated_at, inputs_digest, detection) VALUES (1, ?, ?, ?, ?, ?)",
        [as_of, watermark, now, inputs_digest, detection],
    )


def shadow_analysis_tables(con: duckdb.DuckDBPyConnection) -> str:
    """Empty temporary copies of ANALYSIS_TABLES, which shadow the stored ones for the rest of
    the connection's life; returns the warehouse's database name, quoted."""
    row = fetch_one(con, "SELECT current_database()")
    database = '"' + str(row[0] if row else "").replace('"', '""') + '"'
    con.execute("SET temp_directory = ''")  # never spill next to the warehouse
    for table in ANALYSIS_TABLES:
        ddl = fetch_one(
            con,
            "SELECT sql FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ?",
            [table],
        )
        if ddl is None:
            raise AudienceError(f"the warehouse has no {table} table")
        con.execute(str(ddl[0]).replace("CREATE TABLE ", "CREATE TEMP TABLE ", 1))
    return database


def shadow_snapshots(con: duckdb.DuckDBPyConnection, database: str, as_of: date) -> None:
    """A temporary view that shows only the snapshots up to `as_of`, for the connection's life."""
    con.execute(
        f"CREATE TEMP VIEW snapshots AS SELECT * FROM {database}.main.snapshots "
        f"WHERE day <= DATE '{as_of}'"
    )
