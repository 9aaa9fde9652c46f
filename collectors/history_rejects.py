"""The rejects files of --skip-invalid: each input's refused lines, as they were, with the reason."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from core.errors import AudienceError, shown


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
                for number, raw in enumerate(source, start=1):
                    text = raw.rstrip(b"\r\n")
                    if number == 1:
                        out.write(text.removeprefix(b"\xef\xbb\xbf") + b",source_line,reason\n")
                    elif number in wanted:
                        out.write(text + f",{number},{_quoted(shown(wanted[number]))}\n".encode())
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
