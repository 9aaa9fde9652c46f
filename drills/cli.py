"""The real CLI in child processes, as a person or a scheduler would start it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PYTHON_CLI = "from audience.cli import main; raise SystemExit(main())"


# A writer in the middle of its transaction, held there until told to stop (or 60 s pass): the
# warehouse stays locked for as long as a drill needs, whatever the machine's speed
HOLD_WRITE = """
import pathlib, sys, time
from warehouse.db import open_warehouse
path, ready, stop = map(pathlib.Path, sys.argv[1:4])
with open_warehouse(path) as con:
    con.execute("BEGIN")
    con.execute("INSERT INTO accounts (platform, handle, tracked) VALUES ('github', 'held', true)")
    ready.touch()
    deadline = time.monotonic() + 60
    while not stop.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    con.execute("ROLLBACK")
"""


def hold_write_command(warehouse: Path, ready: Path, stop: Path) -> list[str]:
    """A process that holds the warehouse in a write transaction from `ready` until `stop`."""
    return [sys.executable, "-c", HOLD_WRITE, str(warehouse), str(ready), str(stop)]


def cli_command(warehouse: Path, *args: str) -> list[str]:
    """`audience --warehouse WAREHOUSE ARGS...` in a new Python process."""
    return [sys.executable, "-c", PYTHON_CLI, "--warehouse", str(warehouse), *args]


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without any AUDIENCE_ setting, plus `extra`."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AUDIENCE_")} | extra


def remove_warehouse(path: Path) -> None:
    for suffix in ("", ".wal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def data_rows(csv: Path) -> int:
    with csv.open(encoding="utf-8") as lines:
        return sum(1 for _ in lines) - 1
