"""Data in and out of the warehouse: `import` (CSV history), `export` (one file per table) and
`check` (every block and invariant of the file)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from audience.cli.context import Context, UserPath, pass_context
from core.errors import AudienceError, os_reason, plural, shown
from warehouse.export import EXPORTED

if TYPE_CHECKING:
    from pipeline.import_history import ImportSummary


def _progress_bar(
    total: int, enabled: bool
) -> tuple[Callable[[int], None] | None, Callable[[], None]]:
    """A byte-count progress bar on stderr when it is a terminal (and the input is large)."""
    if not enabled or total < 4 << 20 or not sys.stderr.isatty():
        return None, lambda: None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),  # stdout stays clean for the result line
        transient=True,
    )
    task = bar.add_task("import", total=total)
    bar.start()
    return (lambda n: bar.advance(task, n)), bar.stop


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=UserPath(path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="Let figures that differ from stored imported ones replace them (each replaced figure "
    "is kept in the import_replacements table).",
)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Load the valid rows and leave out the refused ones, listing each and writing them to "
    "a rejects file (NAME.rejects.csv next to the input, or --rejects).",
)
@click.option(
    "--rejects",
    type=UserPath(dir_okay=False, path_type=Path),
    help="With --skip-invalid and one input file: where to write its refused rows.",
)
@pass_context
def import_command(
    obj: Context,
    files: tuple[Path, ...],
    replace: bool,
    skip_invalid: bool,
    rejects: Path | None,
) -> None:
    """Load history from CSV files (platform,handle,date,followers[,following,posts,views]).

    All files are validated together and loaded in one transaction: any problem refuses the
    whole call, with every problem listed as FILE:LINE: FIELD: REASON, and nothing changes.
    Re-importing a file, or identical duplicate rows, change nothing. A row whose figures
    differ from stored ones is refused unless --replace is given. --skip-invalid loads the
    valid rows and writes the refused ones, with the reason, to a rejects file; when it
    refuses every row, nothing is imported (exit status 2). A file with no data rows below
    its header is refused.
    """
    from pipeline.import_history import import_history

    if rejects is not None and not skip_invalid:
        raise click.UsageError("--rejects goes with --skip-invalid")
    total = sum(f.stat().st_size for f in files if f.is_file())
    progress, stop = _progress_bar(total, not obj.quiet)
    try:
        summary = import_history(
            list(files),
            obj.warehouse,
            datetime.now(UTC).date(),
            progress=progress,
            lock_timeout_s=obj.settings.warehouse.lock_timeout_s,
            replace=replace,
            skip_invalid=skip_invalid,
            rejects=rejects,
        )
    finally:
        stop()
    _describe_import(obj, summary)


def _describe_import(obj: Context, summary: ImportSummary) -> None:
    """The result line on stdout, the refused rows (the first few) and what to do next."""
    from collectors.history_format import SHOWN_PROBLEMS
    from collectors.history_rejects import refused_rows

    w = summary.written
    refused = summary.rejected.select("file", "line").unique().height
    rows = refused_rows(summary.rejected)
    click.echo(
        f"imported {plural(summary.rows, 'row')} for {plural(summary.accounts, 'account')} "
        f"into {shown(str(obj.warehouse))}: "
        f"{w.inserted:,} new, {w.updated:,} changed, {w.unchanged:,} unchanged"
        + (
            f", {plural(summary.duplicates, 'identical duplicate row')} skipped"
            if summary.duplicates
            else ""
        )
        + (f", {plural(summary.replaced, 'stored figure')} replaced" if summary.replaced else "")
        + (
            f"; {plural(refused, 'row')} refused, written to "
            + ", ".join(shown(str(f)) for f in summary.rejects_files)
            if refused
            else ""
        )
    )
    if refused:
        for row in rows.head(SHOWN_PROBLEMS).iter_rows(named=True):
            click.echo(shown(f"refused {row['file']}:{row['line']}: {row['why']}"), err=True)
        if rows.height > SHOWN_PROBLEMS:
            click.echo(
                f"... and {plural(rows.height - SHOWN_PROBLEMS, 'more refused row')} "
                "(all in the rejects file)",
                err=True,
            )
    if summary.changes_history:
        obj.say("the import changed analysed history: run `audience run --skip-collect` to refresh")
    else:
        obj.say("next: audience run --skip-collect   (analyse the history)")


def _export_refusal(output: Path, fmt: str) -> str | None:
    """Why `export` cannot write into OUTPUT (None: it can), found before anything is written."""
    if not output.exists():
        return None
    if not output.is_dir():
        return f"{str(output)!r} is not a folder"
    if not os.access(output, os.W_OK | os.X_OK):
        return f"the folder {str(output)!r} is not writable"
    for table in EXPORTED:
        target = output / f"{table}.{fmt}"
        if target.exists() and not target.is_file():
            return f"{str(target)!r} exists and is not a file: remove it or choose another --output"
    return None


def _remove_folders(folders: list[Path]) -> None:
    """Remove the (empty) folders an export created, deepest first."""
    for folder in folders:
        with suppress(OSError):
            folder.rmdir()


def _staging_folder(output: Path) -> Path:
    """A new temporary folder next to OUTPUT (its parents created), or one clear refusal."""
    import tempfile

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        return Path(
            tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
        )
    except OSError as exc:
        raise AudienceError(
            f"export refused, nothing was written: cannot create a folder in "
            f"{str(output.parent)!r} ({os_reason(exc)})"
        ) from None


def _export_into(obj: Context, staging: Path, output: Path, fmt: str) -> list[str]:
    """Write every table into STAGING, then move the files into OUTPUT; what was written."""
    from warehouse.export import export_table

    written = []
    with obj.open(read_only=True) as con:
        for table in EXPORTED:
            count = export_table(con, table, staging / f"{table}.{fmt}", fmt)
            written.append(f"{table} ({plural(count, 'row')})")
    if output.exists():  # an earlier export: each file replaced whole, once all are written
        for table in EXPORTED:
            (staging / f"{table}.{fmt}").replace(output / f"{table}.{fmt}")
        staging.rmdir()
    else:
        staging.rename(output)
    return written


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv"]),
    default="parquet",
    show_default=True,
    help="File format of the export.",
)
@click.option(
    "--output",
    type=UserPath(file_okay=False, path_type=Path),
    default=Path("export"),
    show_default=True,
    help="Folder to write one file per table into.",
)
@pass_context
def export_command(obj: Context, fmt: str, output: Path) -> None:
    """Export the warehouse's tables, one file each, for any other tool.

    Every target is checked first, the files are written into a temporary folder next to
    OUTPUT and moved into it only once every one is complete: a failed or refused export
    leaves no partial output.
    """
    import shutil

    why = _export_refusal(output, fmt)
    if why:
        raise AudienceError(f"export refused, nothing was written: {why}")
    created = [p for p in (output.parent, *output.parent.parents) if not p.exists()]
    try:
        staging = _staging_folder(output)
        try:
            written = _export_into(obj, staging, output, fmt)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        _remove_folders(created)
        raise
    click.echo(f"exported to {shown(str(output))}/: " + ", ".join(written))


@click.command("check")
@pass_context
def check_command(obj: Context) -> None:
    """Check the warehouse: every block of the file, the migrations, the rows' invariants.

    Reads every value of every table (DuckDB verifies each block's checksum as it reads it),
    compares the applied migrations with their files, and tests the invariants the tables
    keep (one snapshot per account and day, no orphan rows, no negative counts, no day after
    today, ...). Prints what it checked, then one line per problem. Never writes. Exit
    status: 0 clean, 5 damaged.
    """
    from warehouse.db import inspect_warehouse

    report = inspect_warehouse(
        obj.warehouse,
        datetime.now(UTC).date(),
        timeout_s=obj.settings.warehouse.lock_timeout_s,
    )
    click.echo(f"checked warehouse {obj.warehouse}:")
    for line in report.checked:
        click.echo(f"  {line}")
    for problem in report.problems:
        click.echo(f"problem: {problem}")
    if report.problems:
        click.echo(
            f"warehouse {obj.warehouse} is damaged: {plural(len(report.problems), 'problem')}; "
            "restore it from a backup (no command writes into it meanwhile)",
            err=True,
        )
        raise click.exceptions.Exit(5)
    doubt = any("fail their checksum" in line for line in report.checked)
    click.echo(
        "no problem found in the data (see the blocks line)" if doubt else "no problem found"
    )
