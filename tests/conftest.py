"""Shared fixtures: a real DuckDB file per test, CSV writers, the CLI's real entry point, the
platform simulator and an SMTP server on loopback. The helpers they use, and that tests
import, live in tests/support/."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from aiosmtpd.controller import Controller

from audience.cli import main

# Prefect's console handler keeps the stream it was set up with, and pytest's capture closes
# that stream after the test that first ran a flow; runs still log to the Prefect API.
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
from simulator.server import SimulatorServer
from tests.support.cli import Result
from tests.support.simulator import sim_simulator
from tests.support.smtp import Inbox, certificate, smtp_server
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


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Result]:
    """Run `audience ARGS` in-process through main(), from an empty working directory, at the
    piped width unless the test sets COLUMNS (whatever a worker process inherited)."""
    monkeypatch.chdir(tmp_path)
    for name in ("AUDIENCE_WAREHOUSE", "AUDIENCE_CONFIG", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> Result:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One temporary Prefect API for the whole session (starting one costs about 12 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


# --- the platform simulator, over real HTTP on loopback ----------------------------------------


@pytest.fixture(scope="session")
def sim_server() -> Iterator[SimulatorServer]:
    with SimulatorServer(sim_simulator()) as server:
        yield server


@pytest.fixture
def sim(sim_server: SimulatorServer) -> Iterator[SimulatorServer]:
    """The shared simulator with no faults, no limits and the last simulated day."""
    yield sim_server
    sim_server.simulator.reset()


# --- a real SMTP server on loopback (aiosmtpd, STARTTLS, login) ---------------------------------


@pytest.fixture
def smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Controller, Inbox]]:
    cert, key = certificate(tmp_path)
    with smtp_server(cert, key) as server:
        monkeypatch.setenv("AUDIENCE_SMTP_CAFILE", str(cert))
        yield server
