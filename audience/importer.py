"""Reading and validating CSV history files (the import format of DESIGN.md).

Validation is vectorised in Polars so a million rows take about a second. A file is read in
blocks that end on a line break, which gives real progress and exact line numbers: the format
is one record per line (a quoted field may not contain a line break).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from audience.errors import ImportRejected, Problem
from audience.platforms import PLATFORMS

REQUIRED = ("platform", "handle", "date", "followers")
OPTIONAL = ("following", "posts", "views")
COUNTS = ("followers", "following", "posts", "views")
KEY = ("platform", "handle", "day")
BLOCK_BYTES = 8 << 20
MAX_COUNT_DIGITS = 15  # a quadrillion followers is not a real audience, and fits BIGINT
SHOWN_PROBLEMS = 20

Progress = Callable[[int], None]  # called with the number of bytes just read


@dataclass
class History:
    """Validated rows of one import call, with one row per account and day."""

    frame: pl.DataFrame  # platform, handle, day, followers..views, source, file, line
    files: list[tuple[str, str, int]] = field(default_factory=list)  # (name, sha256, rows)
    duplicates: int = 0  # identical repeated rows, dropped


def _header(path: Path, first_line: bytes) -> tuple[list[str], list[Problem]]:
    name = str(path)
    text = first_line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    columns = next(csv.reader([text]), [])
    columns = [c.strip().lower() for c in columns]
    problems = []
    if not any(columns):
        return columns, [Problem(name, 1, "header", "empty file: expected a header row")]
    for column in REQUIRED:
        if column not in columns:
            problems.append(Problem(name, 1, column, "required column is missing"))
    for column in columns:
        if column not in REQUIRED + OPTIONAL:
            allowed = ", ".join(REQUIRED + OPTIONAL)
            problems.append(
                Problem(name, 1, column or "(blank)", f"unknown column (allowed: {allowed})")
            )
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            problems.append(Problem(name, 1, column, "column appears twice"))
        seen.add(column)
    return columns, problems


def _blocks(handle: io.BufferedReader, progress: Progress | None) -> Iterator[bytes]:
    """Yield the rest of the file in blocks that end on a line break."""
    carry = b""
    while True:
        chunk = handle.read(BLOCK_BYTES)
        if progress:
            progress(len(chunk))
        if not chunk:
            if carry.strip():
                yield carry if carry.endswith(b"\n") else carry + b"\n"
            return
        chunk = carry + chunk
        cut = chunk.rfind(b"\n")
        if cut < 0:
            carry = chunk
            continue
        carry = chunk[cut + 1 :]
        yield chunk[: cut + 1]


def _ragged_lines(name: str, columns: list[str], block: bytes, first_line: int) -> list[Problem]:
    """Locate malformed records exactly (slow path, only for a block Polars refused)."""
    problems = []
    text = block.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text))
    start = 1
    for record in reader:
        line = first_line + start - 1
        if len(record) != len(columns) and any(v.strip() for v in record):
            problems.append(
                Problem(name, line, "row", f"expected {len(columns)} fields, found {len(record)}")
            )
        if reader.line_num - start > 0:
            problems.append(Problem(name, line, "row", "a quoted field spans lines (not allowed)"))
        start = reader.line_num + 1
    if not problems:
        problems.append(Problem(name, first_line, "row", "cannot parse this block as CSV"))
    return problems


def _parse_block(
    name: str, columns: list[str], block: bytes, first_line: int
) -> pl.DataFrame | list[Problem]:
    try:
        frame = pl.read_csv(
            block,
            has_header=False,
            new_columns=columns,
            infer_schema=False,
            quote_char='"',
            encoding="utf8-lossy",
        )
    except pl.exceptions.PolarsError:
        return _ragged_lines(name, columns, block, first_line)
    if frame.height != block.count(b"\n") - block.count(b"\n\n") and b'"' in block:
        return _ragged_lines(name, columns, block, first_line)
    return frame


def _count_checks(column: str, required: bool) -> list[tuple[pl.Expr, str | pl.Expr]]:
    value = pl.col(column)
    shown = pl.lit("'") + value.str.slice(0, 40) + pl.lit("'")
    checks: list[tuple[pl.Expr, str | pl.Expr]] = []
    if required:
        checks.append((value.is_null(), "required value is missing"))
    checks += [
        (value.str.contains(r"^-[0-9]+$"), pl.lit("negative count ") + shown),
        (
            value.is_not_null() & ~value.str.contains(r"^-?[0-9]+$"),
            pl.lit("not a whole number: ") + shown,
        ),
        (
            value.str.contains(rf"^[0-9]{{{MAX_COUNT_DIGITS + 1},}}$"),
            pl.lit(f"implausibly large count (more than {MAX_COUNT_DIGITS} digits)"),
        ),
    ]
    return checks


def _canonical_handles() -> pl.Expr:
    """The vectorised twin of platforms.canonical_handle (same table, same rules)."""
    handle = pl.col("handle")
    expr = handle
    for spec in PLATFORMS.values():
        value = handle
        if spec.strip_at:
            value = value.str.strip_prefix("@")
        if spec.lowercase:
            value = value.str.to_lowercase()
        elif spec.name == "youtube":
            value = (
                pl.when(value.str.starts_with("@")).then(value.str.to_lowercase()).otherwise(value)
            )
        if spec.name == "reddit":
            value = value.str.to_lowercase().str.strip_prefix("/")
        expr = pl.when(pl.col("platform") == spec.name).then(value).otherwise(expr)
    return expr


def _handle_valid() -> pl.Expr:
    expr = pl.lit(False)
    for spec in PLATFORMS.values():
        expr = (
            pl.when(pl.col("platform") == spec.name)
            .then(pl.col("handle").str.contains(spec.pattern))
            .otherwise(expr)
        )
    return expr


def _validate_block(
    frame: pl.DataFrame, name: str, first_line: int, today: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (valid typed rows, problems) for one parsed block."""
    for column in OPTIONAL:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    frame = frame.with_columns(
        [pl.col(c).str.strip_chars().replace("", None) for c in REQUIRED + OPTIONAL]
    ).with_columns(
        pl.int_range(first_line, first_line + frame.height, dtype=pl.Int64).alias("line"),
        pl.col("platform").str.to_lowercase(),
    )
    frame = frame.with_columns(_canonical_handles().alias("handle"))
    frame = frame.with_columns(
        pl.col("date").str.to_date("%Y-%m-%d", strict=False).alias("day"),
    )
    supported = ", ".join(sorted(PLATFORMS))
    checks: list[tuple[str, pl.Expr, str | pl.Expr]] = [
        ("platform", pl.col("platform").is_null(), "required value is missing"),
        (
            "platform",
            pl.col("platform").is_not_null() & ~pl.col("platform").is_in(list(PLATFORMS)),
            pl.lit("unknown platform '")
            + pl.col("platform").str.slice(0, 40)
            + pl.lit(f"' (supported: {supported})"),
        ),
        ("handle", pl.col("handle").is_null(), "required value is missing"),
        (
            "handle",
            pl.col("handle").is_not_null()
            & pl.col("platform").is_in(list(PLATFORMS))
            & ~_handle_valid(),
            pl.lit("malformed ")
            + pl.col("platform")
            + pl.lit(" handle '")
            + pl.col("handle").str.slice(0, 60)
            + pl.lit("'"),
        ),
        ("date", pl.col("date").is_null(), "required value is missing"),
        (
            "date",
            pl.col("date").is_not_null()
            & (
                pl.col("day").is_null()
                | ~pl.col("date").str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
            ),
            pl.lit("not a date in YYYY-MM-DD form: '")
            + pl.col("date").str.slice(0, 40)
            + pl.lit("'"),
        ),
        (
            "date",
            pl.col("day") > pl.lit(today),
            pl.lit(f"date is in the future (today is {today.isoformat()}): ") + pl.col("date"),
        ),
    ]
    for column in COUNTS:
        checks += [
            (column, cond, msg) for cond, msg in _count_checks(column, column == "followers")
        ]

    problems = pl.concat(
        [
            frame.filter(cond).select(
                pl.col("line"),
                pl.lit(column).alias("field"),
                (msg if isinstance(msg, pl.Expr) else pl.lit(msg)).alias("reason"),
            )
            for column, cond, msg in checks
        ]
    )
    bad_lines = problems.get_column("line").unique()
    valid = (
        frame.filter(~pl.col("line").is_in(bad_lines.implode()))
        .select(
            "platform",
            "handle",
            "day",
            *[pl.col(c).cast(pl.Int64) for c in COUNTS],
            "line",
        )
        .with_columns(pl.lit(name).alias("file"))
    )
    return valid, problems.with_columns(pl.lit(name).alias("file"))


def _conflicts(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows that repeat an account and day with different figures, as problems."""
    ordered = rows.sort("file_order", "line")
    first = ordered.group_by(KEY, maintain_order=True).first()
    joined = ordered.join(first, on=KEY, suffix="_first").filter(
        (pl.col("file_order") != pl.col("file_order_first"))
        | (pl.col("line") != pl.col("line_first"))
    )
    differs = pl.lit(False)
    detail = []
    for c in COUNTS:
        # blank means unknown: only two known, different figures conflict
        changed = (
            pl.col(c).is_not_null()
            & pl.col(f"{c}_first").is_not_null()
            & (pl.col(c) != pl.col(f"{c}_first"))
        )
        differs = differs | changed
        detail.append(
            pl.when(changed).then(
                pl.lit(f"{c} ")
                + pl.col(f"{c}_first").cast(pl.String).fill_null("blank")
                + pl.lit(" vs ")
                + pl.col(c).cast(pl.String).fill_null("blank")
            )
        )
    return joined.filter(differs).select(
        "file",
        "line",
        pl.lit("date").alias("field"),
        (
            pl.lit("conflicts with ")
            + pl.col("file_first")
            + pl.lit(":")
            + pl.col("line_first").cast(pl.String)
            + pl.lit(" for the same account and day (")
            + pl.concat_str(detail, separator=", ", ignore_nulls=True)
            + pl.lit(")")
        ).alias("reason"),
    )


def read_history(paths: Sequence[Path], today: date, progress: Progress | None = None) -> History:
    """Read and validate CSV history files; raise ImportRejected listing every problem found."""
    valid_parts: list[pl.DataFrame] = []
    problem_parts: list[pl.DataFrame] = []
    header_problems: list[Problem] = []
    files: list[tuple[str, str, int]] = []
    for order, path in enumerate(paths):
        name = str(path)
        try:
            handle = path.open("rb")
        except OSError as exc:
            header_problems.append(Problem(name, 0, "file", f"cannot open: {exc.strerror or exc}"))
            continue
        digest = hashlib.sha256()
        file_rows = 0
        with handle:
            first = handle.readline()
            digest.update(first)
            if progress:
                progress(len(first))
            columns, problems = _header(path, first)
            if problems:
                header_problems.extend(problems)
                continue
            line = 2
            for block in _blocks(handle, progress):
                digest.update(block)
                parsed = _parse_block(name, columns, block, line)
                block_lines = block.count(b"\n")
                if isinstance(parsed, list):
                    header_problems.extend(parsed)
                else:
                    valid, found = _validate_block(parsed, name, line, today)
                    valid_parts.append(valid.with_columns(pl.lit(order).alias("file_order")))
                    problem_parts.append(found)
                    file_rows += parsed.height
                line += block_lines
        files.append((path.name, digest.hexdigest(), file_rows))

    schema = {"file": pl.String, "line": pl.Int64, "field": pl.String, "reason": pl.String}
    problems_frame = pl.concat(
        [p.select(list(schema)) for p in problem_parts] or [pl.DataFrame(schema=schema)]
    )
    rows = pl.concat(valid_parts) if valid_parts else None
    if rows is not None and rows.height:
        problems_frame = pl.concat([problems_frame, _conflicts(rows).select(list(schema))])
    total = len(header_problems) + problems_frame.height
    if total:
        file_rank = {str(p): i for i, p in enumerate(paths)}
        shown = (
            problems_frame.with_columns(
                pl.col("file").replace_strict(file_rank, return_dtype=pl.Int64).alias("order")
            )
            .sort("order", "line")
            .head(SHOWN_PROBLEMS)
        )
        listed = header_problems + [
            Problem(r["file"], r["line"], r["field"], r["reason"])
            for r in shown.iter_rows(named=True)
        ]
        raise ImportRejected(listed[: max(SHOWN_PROBLEMS, len(header_problems))], total)

    if rows is None:
        rows = pl.DataFrame(
            schema={
                "platform": pl.String,
                "handle": pl.String,
                "day": pl.Date,
                **{c: pl.Int64 for c in COUNTS},
                "file": pl.String,
                "line": pl.Int64,
                "file_order": pl.Int32,
            }
        )
    # one row per account and day; a figure blank in one row and known in its twin is kept
    frame = (
        rows.sort("file_order", "line")
        .group_by(KEY, maintain_order=True)
        .agg(
            *[pl.col(c).drop_nulls().first() for c in COUNTS],
            pl.col("file").first(),
            pl.col("line").first(),
            pl.len().alias("copies"),
        )
        .with_columns(
            (pl.lit("import:") + pl.col("file").str.extract(r"([^/\\]+)$", 1)).alias("source")
        )
        .select(*KEY, *COUNTS, "source", "file", "line")
    )
    duplicates = rows.height - frame.height
    return History(frame=frame, files=files, duplicates=duplicates)
