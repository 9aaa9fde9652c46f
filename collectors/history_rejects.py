"""The rejects files of --skip-invalid: each input's refused lines, as they were, with the reason."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import polars as pl

from core.errors import AudienceError, os_reason, shown


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
    (one CSV per input that had any: the input's header plus `source_line,reason`).

    The line stays as it was read, so that it can be fixed and imported again; the reason,
    which quotes values of the line, is escaped with `shown` as on stderr (never a raw
    terminal escape)."""
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
                _copy_refused(source, out, wanted)
        except OSError as exc:
            for done in written:
                done.unlink(missing_ok=True)
            raise AudienceError(
                f"cannot write the rejects file {str(target)!r}: {os_reason(exc)}; "
                "nothing was imported"
            ) from None
    return written


def _copy_refused(source: BinaryIO, out: BinaryIO, wanted: dict[int, str]) -> None:
    """The header, then each refused record as it was read, followed by its line number and
    reason. A record whose quotes stay open at the end of its line goes on over the next
    lines, as the reader read it ("a quoted field spans lines"): those lines are copied with
    it, so that the rejects file holds the whole record and stays a well-formed CSV."""
    started: int | None = None  # the first line of a record still inside quotes
    inside, ending = False, b""
    for number, raw in enumerate(source, start=1):
        text = raw.rstrip(b"\r\n")
        if number == 1:
            out.write(text.removeprefix(b"\xef\xbb\xbf") + b",source_line,reason\n")
            continue
        if started is None and number not in wanted:
            continue
        if started is None:
            started, inside = number, False
        else:
            out.write(ending)  # the line break inside the record, as it was
        out.write(text)
        inside ^= text.count(b'"') % 2 == 1
        ending = raw[len(text) :]
        if not inside:
            out.write(f",{started},{_quoted(shown(wanted[started]))}\n".encode())
            started = None
    if started is not None:  # quotes open to the end of the file
        out.write(f",{started},{_quoted(shown(wanted[started]))}\n".encode())


def _quoted(text: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([text])
    return buffer.getvalue()
