"""Ctrl-C while an import writes: one line, exit 130, the warehouse as it was (issue 12.4)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from audience.cli import SAMPLE, main
from simulator.histories import write_bulk_history
from tests.support.warehouse import table_digest

ROOT = Path(__file__).resolve().parent.parent


def interrupt_once_it_writes(child: subprocess.Popen[Any], warehouse: Path, size: int) -> None:
    """Ctrl-C to `child` once the warehouse file grows past `size`: DuckDB writes a large
    transaction's row groups into the file as they fill, so its writing phase has begun."""
    while child.poll() is None and warehouse.stat().st_size == size:
        time.sleep(0.005)
    assert child.poll() is None, "the command finished before it was seen writing"
    child.send_signal(signal.SIGINT)


def test_ctrl_c_while_an_import_writes(tmp_path: Path) -> None:
    warehouse = tmp_path / "audience.duckdb"
    assert main(["-q", "--warehouse", str(warehouse), "import", str(SAMPLE)]) == 0
    big = tmp_path / "big.csv"
    write_bulk_history(big, 1_000_000)  # its write phase takes a second or two
    digest, size = table_digest(warehouse), warehouse.stat().st_size

    child = subprocess.Popen(
        [sys.executable, "-m", "audience.cli", "--warehouse", str(warehouse), "import", str(big)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell's background job starts with SIGINT ignored; a terminal's Ctrl-C would not be
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # validation reads only the CSV: the file grows when the import writes
    interrupt_once_it_writes(child, warehouse, size)
    out, err = child.communicate(timeout=120)

    assert child.returncode == 130, err
    assert err.strip() == "interrupted: the warehouse was not changed"
    assert "Traceback" not in out + err
    assert not Path(f"{warehouse}.wal").exists()
    assert table_digest(warehouse) == digest
    assert warehouse.stat().st_size == size
    assert os.access(warehouse, os.W_OK)


def _imported(tmp_path: Path) -> tuple[Path, int]:
    """A warehouse of 250,000 days (an analysis that writes for a second or so); its size."""
    warehouse = tmp_path / "audience.duckdb"
    history = tmp_path / "history.csv"
    write_bulk_history(history, 250_000)
    assert main(["-q", "--warehouse", str(warehouse), "import", str(history)]) == 0
    return warehouse, warehouse.stat().st_size


def _run_skip_collect(
    warehouse: Path, env: dict[str, str], log: Path, **popen: Any
) -> subprocess.Popen[bytes]:
    """`audience run --skip-collect` in a child, its stderr to `log` (a file, not a pipe:
    Prefect's logs never block the run), SIGINT as a terminal's job has it."""
    command = ["-m", "audience.cli", "--warehouse", str(warehouse), "run", "--skip-collect"]
    with log.open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            **popen,
        )


@pytest.mark.usefixtures("prefect_api")
def test_ctrl_c_while_a_run_analyses(tmp_path: Path) -> None:
    """`run` is several transactions (collection, analysis, alerts): Ctrl-C during the analysis
    rolls the analysis back, keeps what was stored before, and says so in one line."""
    warehouse, size = _imported(tmp_path)
    digest = table_digest(warehouse)
    from prefect.settings import get_current_settings

    # the session's Prefect API (starting another would take longer than the whole run)
    env = os.environ | {"PREFECT_API_URL": str(get_current_settings().api.url)}
    log = tmp_path / "stderr.txt"
    child = _run_skip_collect(warehouse, env, log)
    interrupt_once_it_writes(child, warehouse, size)  # the analysis writes its metrics
    child.wait(timeout=120)
    err = log.read_text()

    assert child.returncode == 130, err
    assert err.strip().splitlines()[-1] == (
        "interrupted: the step under way was rolled back; what earlier steps stored "
        "(each is one transaction: collection, analysis, alerts) stays"
    )
    assert "Traceback" not in err
    assert "leaked" not in err  # no native library's teardown noise after it
    assert table_digest(warehouse) == digest
    assert warehouse.stat().st_size == size


def test_ctrl_c_at_a_terminal_with_prefects_temporary_api(tmp_path: Path) -> None:
    """A terminal's Ctrl-C goes to the whole foreground process group, which held Prefect's
    temporary API server too: it died at once, and the interrupted flow run kept trying to
    record its crash in it for about 150 s, then the command ended as an internal error
    (ConnectError, exit 1). The server is now deaf to it: the crash is recorded, the command
    says what stays (exit 130), and it stops the server before it leaves."""
    warehouse, size = _imported(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect")}  # no API set, none kept: the temporary
    log = tmp_path / "stderr.txt"
    # a process group of its own, as a terminal's foreground job
    child = _run_skip_collect(warehouse, env, log, start_new_session=True)
    while child.poll() is None and warehouse.stat().st_size == size:
        time.sleep(0.005)
    assert child.poll() is None, "the run finished before it was seen writing"
    os.killpg(child.pid, signal.SIGINT)  # what a terminal does
    child.wait(timeout=300)
    err = log.read_text()

    assert child.returncode == 130, err
    import sqlite3  # the temporary server's database, in PREFECT_HOME: the crash is recorded

    with contextlib.closing(sqlite3.connect(tmp_path / "prefect" / "prefect.db")) as db:
        assert db.execute("SELECT state_type FROM flow_run").fetchall() == [("CRASHED",)]
    assert err.strip().splitlines()[-1].startswith("interrupted: the step under way was rolled")
    for _ in range(100):  # nothing of the group is left: no server either
        if not _group_alive(child.pid):
            break
        time.sleep(0.05)
    assert not _group_alive(child.pid)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
