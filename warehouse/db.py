"""Opening the DuckDB warehouse: one writer at a time, clear messages when it is busy.

A writer first verifies every block of the file (warehouse.integrity), so a damaged warehouse
is refused before anything writes into it; a writer interrupted (Ctrl-C) or failing has its
open transaction rolled back and the blocks that transaction had written given back to the
file system, so the file is as it was, size included.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from datetime import date
from pathlib import Path

import duckdb

from core.errors import (
    INTERRUPTED,
    MigrationError,
    WarehouseBusy,
    WarehouseDamaged,
    WarehouseError,
    is_interrupt,
    os_reason,
    shown,
)
from warehouse.integrity import (
    BLOCK_SIZE,
    CheckReport,
    block_count,
    check_warehouse,
    damaged,
    every_block_matches,
    failing_blocks,
    first_line,
    in_use_damage,
    looks_damaged,
    pinned,
    read_every_block,
    reading,
)
from warehouse.migrations import apply_migrations, check_schema

# The storage format every warehouse is created in: DuckDB 2.0 would otherwise write its own
# format (storage version 69), which no 1.x client opens. v1.2.0 (storage version 65) is read
# by every DuckDB from 1.2.0 on (1.2 to 1.5, 2.x); a file keeps the format it was created
# with, whoever writes to it later. v1.0.0 (version 64, also read by 0.10 to 1.1) would make
# every checkpoint rewrite the indexes into new blocks, so the file could never shrink back.
STORAGE_COMPATIBILITY = "v1.2.0"

_PID = re.compile(r"\(PID (\d+)\)")


def resolve_path(
    option: str | Path | None, configured: Path, environ: Mapping[str, str] | None = None
) -> Path:
    """--warehouse wins, then AUDIENCE_WAREHOUSE, then the configured path."""
    env = os.environ if environ is None else environ
    if option:
        return Path(option)
    if env.get("AUDIENCE_WAREHOUSE"):
        return Path(env["AUDIENCE_WAREHOUSE"])
    return configured


def _busy_message(path: Path, exc: Exception, read_only: bool) -> str:
    pid = _PID.search(str(exc))
    holder = f"process {pid.group(1)}" if pid else "another process"
    want = "read" if read_only else "write"
    return (
        f"warehouse {path} is busy: {holder} is writing to it (a run or an import); "
        f"cannot {want} until it finishes, try again in a moment"
    )


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, creating a new file in the storage format 1.x clients read.

    Every code path that creates a warehouse file goes through here (the CLI, the demo,
    tests and benchmarks, via open_warehouse or directly).
    """
    config: dict[str, str | bool | int | float | list[str]] = (
        {} if read_only else {"storage_compatibility_version": STORAGE_COMPATIBILITY}
    )
    return duckdb.connect(str(path), read_only=read_only, config=config)


# a DuckDB file's main header: an 8-byte checksum, then these magic bytes
DUCKDB_MAGIC = b"DUCK"


def _not_duckdb(path: Path) -> str | None:
    """Why an existing, non-empty file at `path` is no DuckDB database, or None. DuckDB opens
    some other files (an existing CSV) as an empty in-memory database: what a writer then
    wrote would be lost without a word, so they are refused before it connects."""
    try:
        with reading(path) as file:
            head = file.read(12)
    except (FileNotFoundError, IsADirectoryError):
        return None
    if not head or head[8:12] == DUCKDB_MAGIC:
        return None
    start = head[:8]
    text = start.decode("ascii", "replace")
    # text as text ('platform'); bytes as bytes, escaped once (b'\xfe\xd3[\x1fG')
    begins = repr(text) if start.isascii() and text.isprintable() else repr(start)
    return f"it is not a DuckDB database file (it begins with {begins})"


def _connect(path: Path, read_only: bool, timeout_s: float) -> duckdb.DuckDBPyConnection:
    why = _not_duckdb(path)
    if why is not None:
        raise WarehouseError(
            f"warehouse {path}: {why}; give --warehouse (or AUDIENCE_WAREHOUSE) a warehouse "
            "file or a new path"
        )
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            if looks_damaged(exc):
                raise damaged(path, f"it does not open: {first_line(exc)}") from None
            if "lock" not in str(exc).lower():
                raise WarehouseError(f"warehouse {path}: cannot open: {exc}") from None
            if time.monotonic() >= deadline:
                raise WarehouseBusy(_busy_message(path, exc, read_only)) from None
            time.sleep(delay + random.random() * delay)
            delay = min(delay * 2, 1.0)
        except duckdb.Error as exc:
            if looks_damaged(exc):
                raise damaged(path, f"it does not open: {first_line(exc)}") from None
            raise WarehouseError(f"warehouse {path}: cannot open: {exc}") from None


def _roll_back(con: duckdb.DuckDBPyConnection) -> None:
    with suppress(duckdb.Error, RuntimeError):  # none open: the caller rolled back, or never began
        con.execute("ROLLBACK")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _give_back(path: Path) -> None:
    """Let DuckDB truncate the blocks a rolled-back transaction had written to the file.

    A large transaction writes its row groups to the file as it goes; after the rollback they
    are free blocks at the end of the file, which DuckDB truncates only at a checkpoint that
    has something to write (a CHECKPOINT with nothing committed is skipped): hence the empty
    committed transaction first. In a fresh connection, so that the checkpoint does not write
    back indexes the rolled-back transaction had grown in memory. Best effort: the caller is
    already failing.
    """
    try:
        con = connect(path)
    except duckdb.Error:
        return  # another writer took the lock meanwhile: its own checkpoint will truncate
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TABLE _audience_checkpoint (x INTEGER)")
        con.execute("DROP TABLE _audience_checkpoint")
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    except (duckdb.Error, RuntimeError):
        pass
    finally:
        con.close()


# Files this process has read whole, or written itself, as (size, mtime) after: a writer that
# opens the same unchanged file again (a nightly run opens it for each step) skips the scan.
_verified: dict[Path, tuple[int, int]] = {}


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _verify(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    key = path.resolve()
    stamp = _stamp(path)
    if stamp is not None and _verified.get(key) == stamp:
        return
    block_size, blocks, free = block_count(con)
    if not every_block_matches(path, block_size, blocks, free):
        if block_size == BLOCK_SIZE and free == 0:  # no free block: a failing one is damage
            damage = in_use_damage(failing_blocks(path, blocks) or [], blocks, free)
            if damage is not None:  # as `audience check` says it
                raise damaged(path, damage)
        read_every_block(con, path)  # a block fails (a free one may) or the layout is unknown
    if stamp is not None:
        _verified[key] = stamp


class WarehouseInterrupted(KeyboardInterrupt):
    """Ctrl-C while a writer held the warehouse: its work was rolled back."""

    def __str__(self) -> str:
        return INTERRUPTED


@contextmanager
def open_warehouse(
    path: Path, *, read_only: bool = False, timeout_s: float = 10.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; a writer checks the file and brings the schema up to date, a
    reader checks the schema.

    The lock is held only while the block runs, so analysts can read between runs. In a
    writer, an exception (Ctrl-C included) rolls back the open transaction and gives its
    blocks back; a damaged file raises WarehouseDamaged, before anything is written.
    """
    if read_only:
        if not path.exists():
            raise WarehouseError(
                f"no warehouse at {path}: import history or run the tracker first "
                "(audience import FILE.csv, audience demo)"
            )
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(
                f"cannot make the warehouse's folder {shown(str(path.parent))}: {os_reason(exc)}"
            ) from None
    existed = path.exists()
    size = _size(path)
    con = _connect(path, read_only, timeout_s)
    with ExitStack() as stack:
        _pinned_until_closed(stack, con, path)
        if not read_only and existed:
            _verify(con, path)
        try:
            if read_only:
                check_schema(con, path)
            else:
                apply_migrations(con)
            yield con
        except BaseException as exc:
            # DuckDB's error, or a caller's WarehouseError quoting it (a block read while writing)
            hurt = (
                isinstance(exc, duckdb.Error | WarehouseError)
                and not isinstance(exc, MigrationError)
                and looks_damaged(exc)
            )
            if isinstance(exc, WarehouseDamaged):
                raise
            if not read_only and not hurt:
                _roll_back(con)
                con.close()
                if _size(path) > size:  # the rolled-back work grew the file (else it is as it was)
                    _give_back(path)
            if hurt:
                raise damaged(path, first_line(exc)) from None
            if is_interrupt(exc) and not isinstance(exc, WarehouseInterrupted):
                raise WarehouseInterrupted() from None
            raise
        else:
            if not read_only:
                con.close()
                stamp = _stamp(path)
                if stamp is not None:
                    _verified[path.resolve()] = stamp


def inspect_warehouse(path: Path, today: date, *, timeout_s: float = 10.0) -> CheckReport:
    """`audience check`: open read-only (whatever its schema) and run every check; never writes."""
    if not path.exists():
        raise WarehouseError(f"no warehouse at {path}: nothing to check")
    try:
        con = _connect(path, True, timeout_s)
    except WarehouseDamaged as exc:
        return CheckReport(problems=[f"file: {exc.reason}"])
    with ExitStack() as stack:
        _pinned_until_closed(stack, con, path)  # its blocks are read with DuckDB's lock held
        return check_warehouse(con, path, today)


def _pinned_until_closed(stack: ExitStack, con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """The file pinned (warehouse.integrity.pinned) until `stack` closes, and `con` closed
    by `stack` before the pinned handle: DuckDB's lock lasts while a handle of ours is open."""
    try:
        stack.enter_context(pinned(path))
    finally:
        stack.callback(con.close)  # also when the pin fails: the connection is closed then


def begin(con: duckdb.DuckDBPyConnection) -> None:
    """Start a transaction: what follows is written whole or not at all."""
    con.execute("BEGIN TRANSACTION")


def commit(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("COMMIT")


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("ROLLBACK")


@contextmanager
def in_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction: committed at the end, rolled back on any error (Ctrl-C included)."""
    begin(con)
    try:
        yield
        commit(con)
    except BaseException:
        rollback(con)
        raise
