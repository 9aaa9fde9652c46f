"""Importing CSV history into the warehouse: validate everything, then write it all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from audience.errors import ImportRejected, Problem, WarehouseError
from audience.importer import Progress, read_history
from warehouse.db import open_warehouse
from warehouse.runs import finish_run, start_run
from warehouse.snapshots import WriteCounts, conflicts_with_observed, upsert_snapshots


@dataclass(frozen=True)
class ImportSummary:
    run_id: str
    rows: int
    accounts: int
    duplicates: int
    written: WriteCounts


def import_history(
    paths: Sequence[Path],
    warehouse: Path,
    today: date,
    *,
    progress: Progress | None = None,
    lock_timeout_s: float = 10.0,
) -> ImportSummary:
    """Validate `paths` together and load them in one transaction; raise ImportRejected on any problem."""
    history = read_history(paths, today, progress)
    frame = history.frame
    with open_warehouse(warehouse, timeout_s=lock_timeout_s) as con:
        try:
            con.execute("BEGIN TRANSACTION")
            clashes = conflicts_with_observed(con, frame)
            if clashes.height:
                con.execute("ROLLBACK")
                located = frame.join(clashes, on=["platform", "handle", "day"]).sort("file", "line")
                raise ImportRejected(
                    [
                        Problem(
                            r["file"],
                            r["line"],
                            "followers",
                            f"{r['followers']} contradicts {r['observed_followers']} collected by "
                            f"the tracker ({r['source']}) for {r['platform']}:{r['handle']} on {r['day']}",
                        )
                        for r in located.head(20).iter_rows(named=True)
                    ],
                    located.height,
                )
            run_id = start_run(con, "import")
            written = upsert_snapshots(con, frame, staged=True)
            for name, digest, rows in history.files:
                con.execute(
                    "INSERT INTO imports VALUES (?, ?, ?, ?, now())", [run_id, name, digest, rows]
                )
            accounts = frame.select("platform", "handle").unique().height
            summary = ImportSummary(run_id, frame.height, accounts, history.duplicates, written)
            finish_run(
                con,
                run_id,
                "ok",
                {
                    "files": [f[0] for f in history.files],
                    "rows": frame.height,
                    "accounts": accounts,
                    "inserted": written.inserted,
                    "updated": written.updated,
                    "unchanged": written.unchanged,
                    "duplicates": history.duplicates,
                },
            )
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise WarehouseError(f"import failed and was rolled back: {exc}") from None
    return summary
