"""Shared fixtures: a real DuckDB file per test, CSV writers, and the CLI's real entry point."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from audience.cli import main
from warehouse.db import open_warehouse


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "audience.duckdb"


@pytest.fixture
def con(warehouse_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with open_warehouse(warehouse_path) as connection:
        yield connection


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """write_csv("name.csv", "header\\nrow\\n") -> path"""

    def write(name: str, text: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return write


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Result]:
    """Run `audience ARGS` in-process through main(), from an empty working directory."""
    monkeypatch.chdir(tmp_path)
    for name in ("AUDIENCE_WAREHOUSE", "AUDIENCE_CONFIG"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> Result:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def table_digest(path: Path) -> str:
    """A digest of every user table's content, to prove a refused command changed nothing."""
    with duckdb.connect(str(path), read_only=True) as c:
        tables = [
            r[0]
            for r in c.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
            ).fetchall()
        ]
        digest = hashlib.sha256()
        for table in tables:
            rows = c.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            digest.update(f"{table}:{rows!r}".encode())
    return digest.hexdigest()
