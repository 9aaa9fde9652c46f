"""Reading and validating CSV history files (the import format of DESIGN.md) into the history
frame: one row per account and day.

A file is read in blocks that end on a line break (`collectors.history_decode`), which gives
real progress and exact line numbers; each block is validated in Polars
(`collectors.history_checks`).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from collectors.history_checks import conflicts, validate_block
from collectors.history_decode import (
    blocks,
    encoding_problem,
    file_problem,
    not_utf8,
    parse_block,
    read_header,
)
from collectors.history_format import (
    COUNTS,
    GIVEN,
    KEY,
    PROBLEM_SCHEMA,
    SHOWN_PROBLEMS,
    Progress,
)
from core.errors import ImportRejected, Problem

BLOCK_BYTES = 8 << 20

# the rows of a call before they are merged to one per account and day
_ROWS_SCHEMA = {
    "platform": pl.String,
    "handle": pl.String,
    "day": pl.Date,
    **{c: pl.Int64 for c in COUNTS},
    **{g: pl.Boolean for g in GIVEN},
    "file": pl.String,
    "line": pl.Int64,
    "file_order": pl.Int32,
}


@dataclass(frozen=True)
class HistoryFile:
    """A file read whole: its name, the sha256 of its bytes and its rows."""

    name: str
    sha256: str
    rows: int


@dataclass
class History:
    """Validated rows of one import call, with one row per account and day."""

    # platform, handle, day, followers..views, following_given..views_given (the file has
    # that column: a figure not given leaves the stored one as it is), source, file, line
    frame: pl.DataFrame
    files: list[HistoryFile] = field(default_factory=list)
    duplicates: int = 0  # identical repeated rows, dropped
    # rows refused under --skip-invalid: file, line, field, reason (one row per problem)
    rejected: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PROBLEM_SCHEMA))


def read_history(
    paths: Sequence[Path],
    today: date,
    progress: Progress | None = None,
    *,
    skip_invalid: bool = False,
) -> History:
    """Read and validate CSV history files; raise ImportRejected listing every problem found.

    With `skip_invalid`, a problem of a row (a bad value, a malformed record, a conflict with
    an earlier row) leaves that row out instead (History.rejected); a problem of a whole file
    (cannot open, not UTF-8, its header, no data rows) still refuses the call.
    """
    reader = _Reader(today, progress, skip_invalid)
    for order, path in enumerate(paths):
        reader.read_file(path, order)

    schema = PROBLEM_SCHEMA
    problems = pl.concat(
        [p.select(list(schema)) for p in reader.problems] or [pl.DataFrame(schema=schema)]
    )
    rows = pl.concat(reader.valid) if reader.valid else None
    repeats = rows is not None and rows.height > 0 and not _one_run_per_account(rows)
    if repeats and rows is not None:
        problems = pl.concat([problems, conflicts(rows).select(list(schema))])
    _refuse(reader.refusals, problems, paths, skip_invalid)
    if rows is not None and problems.height:  # --skip-invalid: leave those rows out
        rows = rows.join(problems.select("file", "line"), on=["file", "line"], how="anti").sort(
            "file_order", "line"
        )
    if rows is None:
        rows = pl.DataFrame(schema=_ROWS_SCHEMA)
    frame = _one_row_per_day(rows) if repeats else _as_frame(rows)
    duplicates = rows.height - frame.height
    return History(frame=frame, files=reader.files, duplicates=duplicates, rejected=problems)


@dataclass
class _Reader:
    """Reads the files of one call block by block, keeping what they hold."""

    today: date
    progress: Progress | None
    skip_invalid: bool
    valid: list[pl.DataFrame] = field(default_factory=list)  # valid rows, per block
    problems: list[pl.DataFrame] = field(default_factory=list)  # problems of rows, per block
    refusals: list[Problem] = field(default_factory=list)  # problems that refuse the call
    files: list[HistoryFile] = field(default_factory=list)

    def read_file(self, path: Path, order: int) -> None:
        name = str(path)
        try:
            handle = path.open("rb")
        except OSError as exc:
            self.refusals.append(Problem(name, 0, "file", f"cannot open: {exc.strerror or exc}"))
            return
        digest = hashlib.sha256()
        with handle:
            first = handle.readline()
            digest.update(first)
            if self.progress:
                self.progress(len(first))
            encoding = encoding_problem(name, first)
            columns, problems = ([], [encoding]) if encoding else read_header(path, first)
            if problems:
                self.refusals.extend(problems)
                return
            refused = len(self.refusals)
            rows = self._read_blocks(handle, name, columns, order, digest.update)
        if not rows and len(self.refusals) == refused:
            # a header and nothing else (an export cut short, the wrong file): refused, so
            # that an import of nothing never records a run
            self.refusals.append(
                file_problem(name, "no data rows below the header: nothing to import")
            )
            return
        self.files.append(HistoryFile(path.name, digest.hexdigest(), rows))

    def _read_blocks(
        self,
        handle: io.BufferedReader,
        name: str,
        columns: list[str],
        order: int,
        digest: Callable[[bytes], None],
    ) -> int:
        """Read the rest of a file (each block goes to `digest` too); return its rows read."""
        rows = 0
        line = 2
        for block in blocks(handle, self.progress, BLOCK_BYTES):
            digest(block)
            try:
                block.decode("utf-8")
            except UnicodeDecodeError as exc:
                at = line + block.count(b"\n", 0, exc.start)
                self.refusals.append(not_utf8(name, at, block, exc))
                break
            rows += self._read_block(name, columns, block, line, order)
            line += block.count(b"\n")
        return rows

    def _read_block(
        self, name: str, columns: list[str], block: bytes, line: int, order: int
    ) -> int:
        """Parse and validate one block whose first line is `line`; return its rows read."""
        parsed = parse_block(name, columns, block, line)
        malformed = 0
        if isinstance(parsed, tuple):
            # malformed records are problems of their rows, listed with the block's others
            # (and left out under --skip-invalid); the well-formed ones are checked as usual
            parsed, ragged = parsed
            if ragged:
                self.problems.append(pl.DataFrame([vars(p) for p in ragged], schema=PROBLEM_SCHEMA))
                malformed = len({p.line for p in ragged})
        valid, found = validate_block(parsed, name, line, self.today)
        self.valid.append(valid.with_columns(pl.lit(order).alias("file_order")))
        self.problems.append(found)
        return parsed.height + malformed


def _refuse(
    refusals: list[Problem], problems: pl.DataFrame, paths: Sequence[Path], skip_invalid: bool
) -> None:
    """Raise ImportRejected when the call has a problem that refuses it: any problem of a file,
    or of a row unless `skip_invalid`."""
    total = len(refusals) + (0 if skip_invalid else problems.height)
    if not total:
        return
    file_rank = {str(p): i for i, p in enumerate(paths)}
    shown = (
        problems.with_columns(
            pl.col("file").replace_strict(file_rank, return_dtype=pl.Int64).alias("order")
        )
        .sort("order", "line")
        .head(SHOWN_PROBLEMS)
    )
    listed = refusals + [
        Problem(r["file"], r["line"], r["field"], r["reason"])
        for r in ([] if skip_invalid else shown.iter_rows(named=True))
    ]
    raise ImportRejected(listed[: max(SHOWN_PROBLEMS, len(refusals))], total)


def _one_run_per_account(rows: pl.DataFrame) -> bool:
    """True when no account and day can repeat: each account's rows are one run of lines with
    days rising (a file written account by account, as exports are). Then the rows need no
    grouping: checking this takes a few passes, where grouping 10 million rows by account and
    day took 25 s (conflicts and merging). Otherwise the rows are grouped."""
    new_run = (pl.col("platform") != pl.col("platform").shift()) | (
        pl.col("handle") != pl.col("handle").shift()
    )
    flags = rows.select(
        new_run.fill_null(True).alias("new_run"),
        (pl.col("day") > pl.col("day").shift()).fill_null(True).alias("rising"),
    )
    if not (flags["new_run"] | flags["rising"]).all():
        return False
    starts = rows.filter(flags["new_run"]).select("platform", "handle")
    return starts.n_unique() == starts.height


def _source() -> pl.Expr:
    """`import:<file name>` for each row, from its file's path."""
    return pl.lit("import:") + pl.col("file").str.extract(r"([^/\\]+)$", 1)


def _as_frame(rows: pl.DataFrame) -> pl.DataFrame:
    """The history frame of rows that hold one row per account and day already, in their
    order (file, then line), as _one_row_per_day gives it."""
    files = rows.get_column("file").unique()
    named = pl.DataFrame({"file": files}).with_columns(_source().alias("source"))
    sources = dict(zip(named["file"], named["source"], strict=True))
    return rows.with_columns(
        pl.col("file").replace_strict(sources, return_dtype=pl.String).alias("source")
    ).select(*KEY, *COUNTS, *GIVEN, "source", "file", "line")


def _one_row_per_day(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per account and day; a figure blank in one row and known in its twin is kept."""
    return (
        rows.sort("file_order", "line")
        .group_by(KEY, maintain_order=True)
        .agg(
            *[pl.col(c).drop_nulls().first() for c in COUNTS],
            *[pl.col(g).any() for g in GIVEN],
            pl.col("file").first(),
            pl.col("line").first(),
            pl.len().alias("copies"),
        )
        .with_columns(_source().alias("source"))
        .select(*KEY, *COUNTS, *GIVEN, "source", "file", "line")
    )
