"""Reading a history file's bytes: its encoding, its header, blocks that end on a line break,
and the CSV records of a block (exact line numbers: one record per line, a quoted field may not
contain a line break)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from collectors.history_format import OPTIONAL, REQUIRED, Progress
from core.errors import Problem

SEPARATORS = (";", "\t", "|")


@dataclass(frozen=True)
class FileProblem(Problem):
    """A problem of a whole file (its encoding, its separator): shown as `FILE: REASON`."""

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


def file_problem(name: str, reason: str) -> FileProblem:
    return FileProblem(name, 0, "file", reason)


def encoding_problem(name: str, first_line: bytes) -> Problem | None:
    """The file is not UTF-8 text: say what it looks like (its first line tells)."""
    for magic, kind in _ARCHIVES:
        if first_line.startswith(magic):
            return file_problem(name, f"not a CSV file but {kind}: give the CSV file itself")
    utf16 = first_line.startswith((b"\xff\xfe", b"\xfe\xff"))
    if utf16 or _utf16_text(first_line):
        return file_problem(name, "not UTF-8 text (looks like UTF-16): save it as UTF-8")
    if b"\x00" in first_line:
        return file_problem(name, "not a CSV file (binary data: NUL bytes on its first line)")
    try:
        first_line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return not_utf8(name, 1, first_line, exc)
    return None


_ARCHIVES = (
    (b"\x1f\x8b", "a gzip archive"),
    (b"PK\x03\x04", "a zip archive (or an Excel workbook)"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"(\xb5/\xfd", "a zstd archive"),
    (b"\xd0\xcf\x11\xe0", "an old Excel or Word document"),
)


def _utf16_text(line: bytes) -> bool:
    """UTF-16 without its mark: ASCII text with a NUL beside every character."""
    pairs = line[: len(line) // 2 * 2]
    return len(pairs) >= 4 and (
        pairs[1::2].count(0) == len(pairs) // 2 or pairs[0::2].count(0) == len(pairs) // 2
    )


def not_utf8(name: str, line: int, data: bytes, exc: UnicodeDecodeError) -> Problem:
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


def read_header(path: Path, first_line: bytes) -> tuple[list[str], list[Problem]]:
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
    if not set(columns) & set(REQUIRED + OPTIONAL):  # no column named: data, or another file
        first = text if len(text) <= 60 else text[:57] + "..."
        return columns, [
            Problem(
                name,
                1,
                "header",
                f"no header row: the first line {first!r} names none of the columns; it must "
                f"be the header ({','.join(REQUIRED)}, then any of {','.join(OPTIONAL)})",
            )
        ]
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


def blocks(
    handle: io.BufferedReader, progress: Progress | None, block_bytes: int
) -> Iterator[bytes]:
    """Yield the rest of the file in blocks that end on a line break."""
    carry = b""
    while True:
        chunk = handle.read(block_bytes)
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
    """Read a block record by record (slow path: a block Polars refused, or one it might have
    read wrongly: quotes, blank lines, a record short of fields).

    Returns the well-formed records (with their `line`) and a problem per malformed one;
    blank lines are skipped.
    """
    problems = []
    good: list[list[str]] = []
    lines: list[int] = []
    text = block.decode("utf-8", errors="replace")
    csv.field_size_limit(max(len(text), csv.field_size_limit()))  # a long field is a value
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
    frame = pl.DataFrame(
        [pl.Series(c, [r[i] for r in good], dtype=pl.String) for i, c in enumerate(columns)]
    ).with_columns(pl.Series("line", lines, dtype=pl.Int64))
    return frame, problems


def parse_block(
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
    # Polars fills a record short of fields with nulls (a stored figure erased by --replace)
    # and reads a blank line as a row of nulls: a block is read exactly when it has quotes
    # (a separator may be a value) or its separators are not one record's per row
    if b'"' in block or block.count(b",") != frame.height * (len(columns) - 1):
        return _ragged_lines(name, columns, block, first_line)
    return frame
