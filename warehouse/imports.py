"""Imports that change history: the stored figures they replace, and whether the analysis is
older than them (the staleness every reading command reports).

The first two functions read the batch `warehouse.snapshots` staged as `_incoming` (by
conflicts_with_observed), so they run before upsert_snapshots writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import polars as pl

from core.errors import plural
from warehouse.query import fetch_one, registered
from warehouse.snapshots import FIGURES


def stored_changes(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Figures of the staged batch that differ from imported figures already stored.

    One row per figure: platform, handle, day, figure, old_value, new_value, old_source. A
    blank figure replacing a known one counts (it would erase it). Figures the tracker
    collected are not here: conflicts_with_observed refuses those.
    """
    parts = " UNION ALL ".join(
        f"""
        SELECT i.platform, i.handle, i.day, '{c}' AS figure, s.{c} AS old_value,
               i.{c} AS new_value, s.source AS old_source
        FROM _incoming i JOIN snapshots s USING (platform, handle, day)
        WHERE s.source NOT LIKE 'api:%' AND s.{c} IS DISTINCT FROM i.{c}
        """
        for c in FIGURES
    )
    changes: pl.DataFrame = con.sql(f"{parts} ORDER BY platform, handle, day, figure").pl()
    return changes


def history_change_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The earliest day the staged batch adds or changes that the last analysis covered
    (None: it only adds days after it, or nothing was analysed yet)."""
    changed = " OR ".join(f"s.{c} IS DISTINCT FROM i.{c}" for c in FIGURES)
    row = fetch_one(
        con,
        f"""
        SELECT min(i.day) FROM _incoming i LEFT JOIN snapshots s USING (platform, handle, day)
        WHERE (s.day IS NULL OR {changed})
          AND i.day <= (SELECT analysed_through FROM analysis_state)
        """,
    )
    return row[0] if row and row[0] is not None else None


def record_replacements(
    con: duckdb.DuckDBPyConnection, run_id: str, changes: pl.DataFrame, at: datetime
) -> None:
    """Keep every replaced figure (changes: stored_changes' columns plus file_name, sha256)."""
    with registered(con, "_replaced", changes):
        con.execute(
            """
            INSERT INTO import_replacements
            SELECT ?, file_name, sha256, platform, handle, day, figure, old_value, new_value,
                   old_source, ?::TIMESTAMPTZ
            FROM _replaced
            """,
            [run_id, at],
        )


@dataclass(frozen=True)
class Stale:
    """The analysis is older than an import that changed history."""

    files: str  # the import's files, comma-separated
    at: datetime  # when that import finished
    later: int  # more such imports since

    def notice(self) -> str:
        more = f" (and {plural(self.later, 'later import')})" if self.later else ""
        return (
            f"note: the analysis is out of date since the import of {self.files} at "
            f"{self.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC{more}, which changed history it covers: "
            "run `audience run --skip-collect` to refresh"
        )


def stale_since(con: duckdb.DuckDBPyConnection) -> Stale | None:
    """The first import that changed analysed history after the last finished analysis run."""
    row = fetch_one(
        con,
        """
        WITH analysed AS (
            SELECT max(finished_at) AS at FROM runs WHERE kind = 'analyze' AND status = 'ok'
        ), changing AS (
            SELECT r.run_id, r.finished_at FROM runs r, analysed a
            WHERE r.kind = 'import' AND r.status = 'ok' AND r.finished_at > a.at
              AND coalesce((r.summary->>'changes_history')::BOOLEAN, false)
        )
        SELECT (SELECT string_agg(file_name, ', ' ORDER BY file_name) FROM imports i
                WHERE i.run_id = first.run_id),
               first.finished_at, (SELECT count(*) - 1 FROM changing)
        FROM (SELECT * FROM changing ORDER BY finished_at LIMIT 1) first
        """,
    )
    if row is None:
        return None
    at = row[1]
    return Stale(str(row[0]), at, int(row[2]))


def record_import_file(
    con: duckdb.DuckDBPyConnection, run_id: str, name: str, digest: str, rows: int
) -> None:
    """One imported file in the imports ledger: its name, digest and rows, for its run."""
    con.execute("INSERT INTO imports VALUES (?, ?, ?, ?, now())", [run_id, name, digest, rows])
