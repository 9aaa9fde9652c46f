"""Two imports started together, and readers during a write: each waits or is told "busy"."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from drills.cli import (
    clean_environ,
    cli_command,
    data_rows,
    hold_write_command,
    remove_warehouse,
)


@dataclass
class ConcurrencyResult:
    pairs: int = 0
    both_ok: int = 0
    one_busy: int = 0
    unclear: list[str] = field(default_factory=list)  # an exit that is neither ok nor "busy"
    rows_wrong: int = 0
    readers: int = 0
    readers_told_busy: int = 0


def concurrent_imports(
    workdir: Path,
    first: Path,
    second: Path,
    pairs: int,
    lock_timeout_s: float,
    readers: int = 3,
) -> ConcurrencyResult:
    """Start two imports together `pairs` times; then `readers` readers while a writer holds
    the warehouse in the middle of its transaction."""
    env = clean_environ(AUDIENCE_WAREHOUSE__LOCK_TIMEOUT_S=str(lock_timeout_s))
    result = ConcurrencyResult()
    lines = {p: data_rows(p) for p in (first, second)}
    for i in range(pairs):
        _import_pair(workdir / f"pair-{i}.duckdb", (first, second), lines, env, result)
    _read_during_write(workdir, env, readers, result)
    return result


def _import_pair(
    target: Path,
    files: tuple[Path, Path],
    lines: dict[Path, int],
    env: dict[str, str],
    result: ConcurrencyResult,
) -> None:
    """Two imports into a new warehouse at once: both succeed, or one is told "busy"; the
    warehouse then holds the rows of those that succeeded."""
    remove_warehouse(target)
    procs = [
        subprocess.Popen(
            cli_command(target, "import", str(f)),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files
    ]
    outs = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    for p in procs:
        for stream in (p.stdout, p.stderr):
            if stream:
                stream.close()
    result.pairs += 1
    codes = [c for c, _ in outs]
    imported = sum(lines[f] for f, (c, _) in zip(files, outs, strict=True) if c == 0)
    if codes == [0, 0]:
        result.both_ok += 1
    elif sorted(codes) == [0, 2] and any("is busy" in e for c, e in outs if c == 2):
        result.one_busy += 1
    else:
        result.unclear.append(f"exit {codes}: {[e.strip()[:200] for _, e in outs]}")
    with duckdb.connect(str(target), read_only=True) as con:
        stored = con.execute("SELECT count(*) FROM snapshots").fetchall()[0][0]
    result.rows_wrong += stored != imported


def _read_during_write(
    workdir: Path, env: dict[str, str], readers: int, result: ConcurrencyResult
) -> None:
    """Readers while a writer is in the middle of its transaction (held there, so that the
    readers meet it whatever the machine's speed): each is told "busy" in one line."""
    target = workdir / "read-during-write.duckdb"
    remove_warehouse(target)
    ready, stop = workdir / "writer.ready", workdir / "writer.stop"
    for flag in (ready, stop):
        flag.unlink(missing_ok=True)
    writer = subprocess.Popen(
        hold_write_command(target, ready, stop),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reader_env = env | {"AUDIENCE_WAREHOUSE__LOCK_TIMEOUT_S": "0"}
    try:
        while writer.poll() is None and not ready.exists():
            time.sleep(0.01)
        for _ in range(readers if writer.poll() is None else 0):
            read = subprocess.run(
                cli_command(target, "query", "SELECT count(*) FROM snapshots"),
                env=reader_env,
                capture_output=True,
                text=True,
            )
            result.readers += 1
            if read.returncode == 2 and "is busy" in read.stderr and read.stderr.count("\n") == 1:
                result.readers_told_busy += 1
            else:
                result.unclear.append(f"reader exit {read.returncode}: {read.stderr.strip()[:200]}")
    finally:
        stop.touch()
        writer.wait(timeout=120)
