"""Proof against a real Prefect server: deploy from prefect.yaml, a process worker runs it.

prefect server start -> work pool -> prefect deploy --all -> prefect deployment run
-> prefect worker start --run-once -> the flow run completes, snapshots land
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from simulator.server import SimulatorServer
from tests.support.simulator import sim_environ

ROOT = Path(__file__).resolve().parent.parent
PREFECT = str(Path(sys.executable).parent / "prefect")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 180) -> str:
    done = subprocess.run(
        [PREFECT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_deployment_runs_on_a_real_prefect_server(sim: SimulatorServer, tmp_path: Path) -> None:
    port = _port()
    api = f"http://127.0.0.1:{port}/api"
    warehouse, config = tmp_path / "w.duckdb", tmp_path / "audience.toml"
    config.write_text(
        '[[accounts]]\nplatform = "github"\nhandle = "octo-org/widget"\n'
        '[[accounts]]\nplatform = "mastodon"\nhandle = "alice@mastodon.social"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AUDIENCE_"))}
    env |= sim_environ(sim) | {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "AUDIENCE_HOME": str(ROOT),
        "AUDIENCE_CONFIG": str(config),
        "AUDIENCE_WAREHOUSE": str(warehouse),
        "AUDIENCE_REPORT__PATH": str(tmp_path / "report.html"),
    }
    server_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    with subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as server:
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "prefect server did not answer in 120 s"
                assert server.poll() is None, "prefect server exited"
                time.sleep(0.5)
            _run(["work-pool", "create", "local-process", "--type", "process"], env, tmp_path)
            _run(["--no-prompt", "deploy", "--all"], env, ROOT)
            _run(
                ["deployment", "run", "nightly/nightly", "--param", "as_of=2024-12-31"],
                env,
                tmp_path,
            )
            _run(
                ["worker", "start", "--pool", "local-process", "--run-once"],
                env,
                tmp_path,
                timeout=300,
            )
            runs = httpx.post(f"{api}/flow_runs/filter", json={"limit": 10}, timeout=10).json()
            states = sorted(r["state_type"] for r in runs)
            # the run we triggered completed; the cron schedule has queued the next nights
            assert states.count("COMPLETED") == 1, runs
            assert set(states) == {"COMPLETED", "SCHEDULED"}, states
        finally:
            server.terminate()
            server.wait(timeout=30)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(
            "SELECT platform, day::VARCHAR, source FROM snapshots ORDER BY 1"
        ).fetchall() == [
            ("github", "2024-12-31", "api:github"),
            ("mastodon", "2024-12-31", "api:mastodon"),
        ]
