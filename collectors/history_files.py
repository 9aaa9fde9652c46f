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

from core.errors import AudienceError, ImportRejected, Problem
from core.platforms import PLATFORMS

REQUIRED = ("platform", "handle", "date", "followers")
OPTIONAL = ("following", "posts", "views")
COUNTS = ("followers", "following", "posts", "views")
KEY = ("platform", "handle", "day")


def given(column: str) -> str:
    """The flag column that says whether the row's file has `column` at all."""
    return f"{column}_given"


GIVEN = tuple(given(c) for c in OPTIONAL)
BLOCK_BYTES = 8 << 20
MAX_COUNT_DIGITS = 15  # a quadrillion followers is not a real audience, and fits BIGINT
SHOWN_PROBLEMS = 20

Progress = Callable[[int], None]  # called with the number of bytes just read


PROBLEM_SCHEMA = {"file": pl.String, "line": pl.Int64, "field": pl.String, "reason": pl.String}
SEPARATORS = (";", "\t", "|")


@dataclass
class History:
    """Validated rows of one import call, with one row per account and day."""

    # platform, handle, day, followers..views, following_given..views_given (the file has
    # that column: a figure not given leaves the stored one as it is), source, file, line
    frame: pl.DataFrame
    files: list[tuple[str, str, int]] = field(default_factory=list)  # (name, sha256, rows)
    duplicates: int = 0  # identical repeated rows, dropped
    # rows refused under --skip-invalid: file, line, field, reason (one row per problem)
    rejected: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PROBLEM_SCHEMA))


@dataclass(frozen=True)
class FileProblem(Problem):
    """A problem of a whole file (its encoding, its separator): shown as `FILE: REASON`."""

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


def file_problem(name: str, reason: str) -> FileProblem:
    return FileProblem(name, 0, "file", reason)


def _encoding_problem(name: str, first_line: bytes) -> Problem | None:
    """The file is not UTF-8 text: say what it looks like (its first line tells)."""
    if first_line.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in first_line:
        return file_problem(name, "not UTF-8 text (looks like UTF-16): save it as UTF-8")
    try:
        first_line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _not_utf8(name, 1, first_line, exc)
    return None


def _not_utf8(name: str, line: int, data: bytes, exc: UnicodeDecodeError) -> Problem:
    byte = data[exc.start]
    return FileProblem(
        name,
        line,
        "file",
        f"not UTF-8 text (looks like Latin-1 or Windows-1252: byte 0x{byte:02x} on line {line}): "
        "save it as UTF-8",
    )


def _separator_problem(name: str, text: str) -> Problem | None:
    """A header that is a valid one once split on ';' (or a tab, or '|')."""
    for sep in SEPARATORS:
        if sep in text and set(REQUIRED) <= {c.strip().lower() for c in text.split(sep)}:
            return file_problem(name, f"columns are separated by {sep!r}, not ','")
    return None


def _header(path: Path, first_line: bytes) -> tuple[list[str], list[Problem]]:
    name = str(path)
    text = first_line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    columns = next(csv.reader([text]), [])
    columns = [c.strip().lower() for c in columns]
    problems = []
    if not any(columns):
        return columns, [Problem(name, 1, "header", "empty file: expected a header row")]
    separator = _separator_problem(name, text)
    if separator is not None:
        return columns, [separator]
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


def _ragged_lines(
    name: str, columns: list[str], block: bytes, first_line: int
) -> tuple[pl.DataFrame, list[Problem]]:
    """Locate malformed records exactly (slow path, only for a block Polars refused).

    Returns the well-formed records (with their `line`) and a problem per malformed one.
    """
    problems = []
    good: list[list[str]] = []
    lines: list[int] = []
    text = block.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text))
    start = 1
    for record in reader:
        line = first_line + start - 1
        bad = False
        if len(record) != len(columns) and any(v.strip() for v in record):
            problems.append(
                Problem(name, line, "row", f"expected {len(columns)} fields, found {len(record)}")
            )
            bad = True
        if reader.line_num - start > 0:
            problems.append(Problem(name, line, "row", "a quoted field spans lines (not allowed)"))
            bad = True
        if not bad and len(record) == len(columns):
            good.append(record)
            lines.append(line)
        start = reader.line_num + 1
    if not problems:
        problems.append(Problem(name, first_line, "row", "cannot parse this block as CSV"))
    frame = pl.DataFrame(
        [pl.Series(c, [r[i] for r in good], dtype=pl.String) for i, c in enumerate(columns)]
    ).with_columns(pl.Series("line", lines, dtype=pl.Int64))
    return frame, problems


def _parse_block(
    name: str, columns: list[str], block: bytes, first_line: int
) -> pl.DataFrame | tuple[pl.DataFrame, list[Problem]]:
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


def _launched() -> pl.Expr:
    """Each row's platform's first day (platforms.Platform.launched); null for an unknown one."""
    return pl.col("platform").replace_strict(
        {name: spec.launched for name, spec in PLATFORMS.items()},
        default=None,
        return_dtype=pl.Date,
    )


def _validate_block(
    frame: pl.DataFrame, name: str, first_line: int, today: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (valid typed rows, problems) for one parsed block."""
    # a column the file lacks is "not given" (stored figures stay); a blank cell is "unknown"
    frame = frame.with_columns(
        pl.lit(column in frame.columns).alias(given(column)) for column in OPTIONAL
    )
    for column in OPTIONAL:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    if "line" not in frame.columns:
        frame = frame.with_columns(
            pl.int_range(first_line, first_line + frame.height, dtype=pl.Int64).alias("line")
        )
    frame = frame.with_columns(
        [pl.col(c).str.strip_chars().replace("", None) for c in REQUIRED + OPTIONAL]
    ).with_columns(pl.col("platform").str.to_lowercase())
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
        (
            "date",
            pl.col("day") < _launched(),
            pl.lit("date ")
            + pl.col("date")
            + pl.lit(" is before ")
            + pl.col("platform")
            + pl.lit(" existed (its first accounts date from ")
            + _launched().cast(pl.String)
            + pl.lit(")"),
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
            *GIVEN,
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
    (cannot open, not UTF-8, its header) still refuses the call.
    """
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
            encoding = _encoding_problem(name, first)
            columns, problems = ([], [encoding]) if encoding else _header(path, first)
            if problems:
                header_problems.extend(problems)
                continue
            line = 2
            for block in _blocks(handle, progress):
                digest.update(block)
                try:
                    block.decode("utf-8")
                except UnicodeDecodeError as exc:
                    at = line + block.count(b"\n", 0, exc.start)
                    header_problems.append(_not_utf8(name, at, block, exc))
                    break
                parsed = _parse_block(name, columns, block, line)
                block_lines = block.count(b"\n")
                if isinstance(parsed, tuple):
                    parsed, ragged = parsed
                    if not skip_invalid or ragged[0].reason.startswith("cannot parse"):
                        header_problems.extend(ragged)
                        line += block_lines
                        continue
                    problem_parts.append(
                        pl.DataFrame([vars(p) for p in ragged], schema=PROBLEM_SCHEMA)
                    )
                valid, found = _validate_block(parsed, name, line, today)
                valid_parts.append(valid.with_columns(pl.lit(order).alias("file_order")))
                problem_parts.append(found)
                file_rows += parsed.height
                line += block_lines
        files.append((path.name, digest.hexdigest(), file_rows))

    schema = PROBLEM_SCHEMA
    problems_frame = pl.concat(
        [p.select(list(schema)) for p in problem_parts] or [pl.DataFrame(schema=schema)]
    )
    rows = pl.concat(valid_parts) if valid_parts else None
    if rows is not None and rows.height:
        problems_frame = pl.concat([problems_frame, _conflicts(rows).select(list(schema))])
    total = len(header_problems) + (0 if skip_invalid else problems_frame.height)
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
            for r in ([] if skip_invalid else shown.iter_rows(named=True))
        ]
        raise ImportRejected(listed[: max(SHOWN_PROBLEMS, len(header_problems))], total)
    if rows is not None and problems_frame.height:  # --skip-invalid: leave those rows out
        rows = rows.join(problems_frame.select("file", "line"), on=["file", "line"], how="anti")

    if rows is None:
        rows = pl.DataFrame(
            schema={
                "platform": pl.String,
                "handle": pl.String,
                "day": pl.Date,
                **{c: pl.Int64 for c in COUNTS},
                **{g: pl.Boolean for g in GIVEN},
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
            *[pl.col(g).any() for g in GIVEN],
            pl.col("file").first(),
            pl.col("line").first(),
            pl.len().alias("copies"),
        )
        .with_columns(
            (pl.lit("import:") + pl.col("file").str.extract(r"([^/\\]+)$", 1)).alias("source")
        )
        .select(*KEY, *COUNTS, *GIVEN, "source", "file", "line")
    )
    duplicates = rows.height - frame.height
    return History(frame=frame, files=files, duplicates=duplicates, rejected=problems_frame)


def rejects_targets(paths: Sequence[Path], rejects: Path | None) -> dict[str, Path]:
    """Where each input's refused rows go under --skip-invalid: `rejects`, or NAME.rejects.csv
    next to the input. Refuses a target that is one of the inputs, or one shared by several."""
    if rejects is not None and len(paths) > 1:
        raise AudienceError(
            "--rejects takes one input file; with several, each file's rejected rows go "
            "next to it as NAME.rejects.csv"
        )
    targets = {str(p): rejects or p.with_name(f"{p.stem}.rejects.csv") for p in paths}
    inputs = {p.resolve() for p in paths}
    for target in targets.values():
        if target.resolve() in inputs:
            raise AudienceError(
                f"the rejects file {str(target)!r} is an input file: choose another"
            )
    return targets


def refused_rows(rejected: pl.DataFrame) -> pl.DataFrame:
    """One row per refused line (file, line, why: every problem of the line), in order."""
    return (
        rejected.sort("file", "line")
        .group_by("file", "line", maintain_order=True)
        .agg((pl.col("field") + pl.lit(": ") + pl.col("reason")).str.join("; ").alias("why"))
    )


def write_rejects(
    rejected: pl.DataFrame, paths: Sequence[Path], targets: dict[str, Path]
) -> list[Path]:
    """Write each input's refused lines, as they were, with their line number and the reason
    (one CSV per input that had any: the input's header plus `source_line,reason`)."""
    reasons = refused_rows(rejected)
    written: list[Path] = []
    for path in paths:
        mine = reasons.filter(pl.col("file") == str(path))
        if not mine.height:
            continue
        wanted = dict(zip(mine.get_column("line"), mine.get_column("why"), strict=True))
        target = targets[str(path)]
        try:
            with path.open("rb") as source, target.open("wb") as out:
                written.append(target)
                for number, raw in enumerate(source, start=1):
                    text = raw.rstrip(b"\r\n")
                    if number == 1:
                        out.write(text.removeprefix(b"\xef\xbb\xbf") + b",source_line,reason\n")
                    elif number in wanted:
                        out.write(text + f",{number},{_quoted(wanted[number])}\n".encode())
        except OSError as exc:
            for done in written:
                done.unlink(missing_ok=True)
            raise AudienceError(
                f"cannot write the rejects file {str(target)!r}: {exc.strerror or exc}; "
                "nothing was imported"
            ) from None
    return written


def _quoted(text: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([text])
    return buffer.getvalue()
