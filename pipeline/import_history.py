"""Importing CSV history into the warehouse: validate everything, then write it all or nothing.

A figure already stored is replaced only when asked (`replace`), and each replaced figure is
kept in `import_replacements`. With `skip_invalid`, refused rows are left out (and written to
a rejects file) instead of refusing the call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from collectors.history_files import History, HistoryFile, read_history
from collectors.history_format import PROBLEM_SCHEMA, SHOWN_PROBLEMS, Progress
from collectors.history_rejects import rejects_targets, write_rejects
from core.errors import (
    ImportRejected,
    Interrupted,
    Problem,
    WarehouseError,
    is_interrupt,
    plural,
)
from warehouse.db import begin, commit, open_warehouse, rollback
from warehouse.imports import (
    history_change_day,
    record_import_file,
    record_replacements,
    stored_changes,
)
from warehouse.runs import finish_run, start_run
from warehouse.snapshots import WriteCounts, conflicts_with_observed, upsert_snapshots

KEY = ["platform", "handle", "day"]


@dataclass(frozen=True)
class ImportSummary:
    run_id: str
    rows: int
    accounts: int
    duplicates: int
    written: WriteCounts
    replaced: int = 0  # figures replaced (--replace), each kept in import_replacements
    changes_history: bool = False  # the last analysis is out of date now
    rejected: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PROBLEM_SCHEMA))
    rejects_files: list[Path] = field(default_factory=list)


def _observed_problems(frame: pl.DataFrame, clashes: pl.DataFrame) -> pl.DataFrame:
    """Rows contradicting a figure the tracker collected, as problems (never replaceable)."""
    return (
        frame.select(*KEY, "file", "line")
        .join(clashes, on=KEY)
        .sort("file", "line")
        .select(
            "file",
            "line",
            pl.col("figures").alias("field"),
            (
                pl.col("detail")
                + pl.lit(" collected by the tracker (")
                + pl.col("observed_source")
                + pl.lit(") for ")
                + pl.col("platform")
                + pl.lit(":")
                + pl.col("handle")
                + pl.lit(" on ")
                + pl.col("day").cast(pl.String)
            ).alias("reason"),
        )
    )


def _replace_problems(frame: pl.DataFrame, changes: pl.DataFrame) -> pl.DataFrame:
    """One problem per row that would replace stored figures, with the old and new values."""
    return (
        frame.select(*KEY, "file", "line")
        .join(changes, on=KEY)
        .group_by("file", "line", maintain_order=True)
        .agg(
            pl.col("figure").str.join(", ").alias("field"),
            (
                pl.col("figure")
                + pl.lit(" ")
                + pl.col("old_value").cast(pl.String).fill_null("blank")
                + pl.lit(" -> ")
                + pl.col("new_value").cast(pl.String).fill_null("blank")
            )
            .str.join(", ")
            .alias("values"),
            pl.col("platform").first(),
            pl.col("handle").first(),
            pl.col("day").first(),
            pl.col("old_source").first(),
        )
        .sort("file", "line")
        .select(
            "file",
            "line",
            "field",
            (
                pl.lit("would replace stored figures of ")
                + pl.col("platform")
                + pl.lit(":")
                + pl.col("handle")
                + pl.lit(" on ")
                + pl.col("day").cast(pl.String)
                + pl.lit(" (")
                + pl.col("values")
                + pl.lit(", stored by ")
                + pl.col("old_source")
                + pl.lit("): add --replace to replace them")
            ).alias("reason"),
        )
    )


def import_history(
    paths: Sequence[Path],
    warehouse: Path,
    today: date,
    *,
    progress: Progress | None = None,
    lock_timeout_s: float = 10.0,
    replace: bool = False,
    skip_invalid: bool = False,
    rejects: Path | None = None,
) -> ImportSummary:
    """Validate `paths` together and load them in one transaction; raise ImportRejected on any problem.

    `replace`: figures that differ from stored imported ones replace them (each recorded in
    import_replacements); without it such rows are problems. `skip_invalid`: rows with a
    problem are left out and written to a rejects file (`rejects`, or NAME.rejects.csv next
    to each input) instead of refusing the call.
    """
    targets = rejects_targets(paths, rejects) if skip_invalid else {}
    history = read_history(paths, today, progress, skip_invalid=skip_invalid)
    if not history.frame.height:  # --skip-invalid refused every row: the warehouse is not opened
        raise _nothing_left(history.rejected, paths, targets)
    with open_warehouse(warehouse, timeout_s=lock_timeout_s) as con:
        written_files: list[Path] = []
        try:
            begin(con)
            frame, rejected = _admitted(con, history, replace, skip_invalid)
            if not frame.height:  # every row left contradicts a stored figure
                rollback(con)
                raise _nothing_left(rejected, paths, targets)
            loaded = _load(con, history, frame, paths, replace)
            if rejected.height:
                written_files.extend(write_rejects(rejected, paths, targets))
            summary = ImportSummary(
                loaded.run_id,
                frame.height,
                frame.select("platform", "handle").unique().height,
                history.duplicates,
                loaded.written,
                loaded.replaced,
                loaded.changed_day is not None,
                rejected,
                written_files,
            )
            _finish(con, summary, history.files, loaded.changed_day)
            _commit(con, summary)
        except duckdb.Error as exc:
            rollback(con)
            _remove(written_files)
            if is_interrupt(exc):  # Ctrl-C while DuckDB read the batch: an interruption
                raise KeyboardInterrupt from None
            raise WarehouseError(f"import failed and was rolled back: {exc}") from None
        except Interrupted:  # after the commit: the import and its rejects files stay
            raise
        except BaseException:
            _remove(written_files)
            raise
    return summary


def _commit(con: duckdb.DuckDBPyConnection, summary: ImportSummary) -> None:
    """COMMIT; Ctrl-C while DuckDB commits may come after the commit went through. Then no
    transaction is left to roll back, and the interruption says that the import is in."""
    try:
        commit(con)
    except BaseException as exc:
        if not is_interrupt(exc):
            raise
        try:
            rollback(con)
        except duckdb.Error:  # no transaction left: the commit went through
            raise Interrupted(
                f"interrupted, but only once the import was committed: the warehouse holds "
                f"it (run {summary.run_id}, {plural(summary.rows, 'row')})"
            ) from None
        raise KeyboardInterrupt from None  # rolled back: the warehouse was not changed


def _nothing_left(
    rejected: pl.DataFrame, paths: Sequence[Path], targets: dict[str, Path]
) -> ImportRejected:
    """The refusal of a --skip-invalid call that refused every row: nothing is imported (no
    run is recorded), the refused rows are listed as problems and written to the rejects files
    all the same (exit status 2: refused, the warehouse not changed)."""
    written = write_rejects(rejected, paths, targets)
    rank = {str(p): i for i, p in enumerate(paths)}
    problems = rejected.with_columns(
        pl.col("file").replace_strict(rank, return_dtype=pl.Int64).alias("order")
    ).sort("order", "line", maintain_order=True)
    rows = rejected.select("file", "line").unique().height
    return ImportRejected(
        [
            Problem(r["file"], r["line"], r["field"], r["reason"])
            for r in problems.head(SHOWN_PROBLEMS).iter_rows(named=True)
        ],
        problems.height,
        f"import refused: every row had a problem ({plural(rows, 'row')} refused, written to "
        + ", ".join(str(f) for f in written)
        + "), so nothing was imported; the warehouse was not changed",
    )


@dataclass(frozen=True)
class _Loaded:
    """What loading the batch did, inside the import's transaction."""

    run_id: str
    written: WriteCounts
    replaced: int  # figures replaced (--replace)
    changed_day: date | None  # the earliest analysed day the batch changes


def _admitted(
    con: duckdb.DuckDBPyConnection, history: History, replace: bool, skip_invalid: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Stage the rows that can go in; return them and every refused row's problems.

    A row contradicting a collected figure, or replacing a stored one without `replace`,
    refuses the call (rolled back), or under `skip_invalid` is left out."""
    frame, rejected = history.frame, history.rejected
    refused = _refused(con, frame, replace)
    if refused.height and not skip_invalid:
        rollback(con)
        raise ImportRejected(
            [Problem(**r) for r in refused.head(SHOWN_PROBLEMS).iter_rows(named=True)],
            refused.height,
        )
    if refused.height:
        rejected = pl.concat([rejected, refused])
        frame = frame.join(refused.select("file", "line"), on=["file", "line"], how="anti")
        _refused(con, frame, replace)  # stage what is left
    return frame, rejected


def _load(
    con: duckdb.DuckDBPyConnection,
    history: History,
    frame: pl.DataFrame,
    paths: Sequence[Path],
    replace: bool,
) -> _Loaded:
    """Write the staged batch: its snapshots, its files and the figures it replaces."""
    changes = stored_changes(con) if replace else pl.DataFrame()
    changed_day = history_change_day(con)
    run_id = start_run(con, "import")
    written = upsert_snapshots(con, frame, staged=True)
    for file in history.files:
        record_import_file(con, run_id, file.name, file.sha256, file.rows)
    if changes.height:
        with_files = _with_files(changes, frame, history.files, paths)
        record_replacements(con, run_id, with_files, datetime.now(UTC))
    return _Loaded(run_id, written, changes.height, changed_day)


def _finish(
    con: duckdb.DuckDBPyConnection,
    summary: ImportSummary,
    files: list[HistoryFile],
    changed_day: date | None,
) -> None:
    """Record the run as done, with what it did."""
    written = summary.written
    finish_run(
        con,
        summary.run_id,
        "ok",
        {
            "files": [f.name for f in files],
            "rows": summary.rows,
            "accounts": summary.accounts,
            "inserted": written.inserted,
            "updated": written.updated,
            "unchanged": written.unchanged,
            "duplicates": summary.duplicates,
            "replaced": summary.replaced,
            "rejected": summary.rejected.select("file", "line").unique().height,
            "changes_history": summary.changes_history,
            "earliest_changed_day": changed_day,
        },
    )


def _refused(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, replace: bool) -> pl.DataFrame:
    """Stage `frame`, and return its rows that cannot go in: contradicting collected figures,
    or replacing stored ones without `replace`."""
    parts = [_observed_problems(frame, conflicts_with_observed(con, frame))]
    if not replace:
        parts.append(_replace_problems(frame, stored_changes(con)))
    return pl.concat([p.select(list(PROBLEM_SCHEMA)) for p in parts]).sort("file", "line")


def _with_files(
    changes: pl.DataFrame,
    frame: pl.DataFrame,
    files: list[HistoryFile],
    paths: Sequence[Path],
) -> pl.DataFrame:
    """The replaced figures with the name and sha256 of the file each new value came from."""
    # read_history refuses a call with a file it cannot read: files match paths, in order
    by_path = pl.DataFrame(
        {
            "file": [str(p) for p in paths],
            "file_name": [f.name for f in files],
            "sha256": [f.sha256 for f in files],
        }
    )
    return changes.join(frame.select(*KEY, "file"), on=KEY).join(by_path, on="file", how="left")


def _remove(files: list[Path]) -> None:
    for path in files:
        path.unlink(missing_ok=True)
