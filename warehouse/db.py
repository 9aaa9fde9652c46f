"""Opening the DuckDB warehouse: one writer at a time, clear messages when it is busy."""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb

from audience.errors import WarehouseBusy, WarehouseError
from warehouse.migrations import apply_migrations, check_schema

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


def _connect(path: Path, read_only: bool, timeout_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise WarehouseError(f"warehouse {path}: cannot open: {exc}") from None
            if time.monotonic() >= deadline:
                raise WarehouseBusy(_busy_message(path, exc, read_only)) from None
            time.sleep(delay + random.random() * delay)
            delay = min(delay * 2, 1.0)
        except duckdb.Error as exc:
            raise WarehouseError(f"warehouse {path}: cannot open: {exc}") from None


@contextmanager
def open_warehouse(
    path: Path, *, read_only: bool = False, timeout_s: float = 10.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; a writer brings the schema up to date, a reader checks it.

    The lock is held only while the block runs, so analysts can read between runs.
    """
    if read_only:
        if not path.exists():
            raise WarehouseError(
                f"no warehouse at {path}: import history or run the tracker first "
                "(audience import FILE.csv, audience demo)"
            )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(path, read_only, timeout_s)
    try:
        if read_only:
            check_schema(con, path)
        else:
            apply_migrations(con)
        yield con
    finally:
        con.close()
