"""The real CLI in child processes, as a person or a scheduler would start it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PYTHON_CLI = "from audience.cli import main; raise SystemExit(main())"


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
