"""audience serve: starts a local Prefect server when none is set, says so, and serves the schedule."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from flows.api import STATE_FILE


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_starts_a_local_server_and_schedules_the_nightly_run(tmp_path: Path) -> None:
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AUDIENCE_"))}
    env |= {"PREFECT_HOME": str(tmp_path / "home"), "PREFECT_UI_ENABLED": "false"}
    script = Path(sys.executable).parent / "audience"
    with subprocess.Popen(
        [str(script), "--warehouse", str(tmp_path / "w.duckdb"), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.startswith(
                f"no PREFECT_API_URL set: started a local Prefect server at http://127.0.0.1:{port}"
            )
            assert proc.stdout.readline().startswith(
                "serving the nightly flow on cron '30 3 * * *' (Europe/Berlin)"
            )
            api = f"http://127.0.0.1:{port}/api"
            deadline = time.monotonic() + 60
            deployments: list[dict[str, object]] = []
            while time.monotonic() < deadline and not deployments:
                deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=5).json()
                time.sleep(0.5)
            assert [d["name"] for d in deployments] == ["nightly"]
            [schedule] = deployments[0]["schedules"]  # type: ignore[misc]
            assert schedule["schedule"]["cron"] == "30 3 * * *"
            assert schedule["schedule"]["timezone"] == "Europe/Berlin"
        finally:
            proc.send_signal(signal.SIGTERM)  # a service manager's stop; Ctrl-C takes its path
            proc.wait(timeout=60)
        # the runner scheduled the flow through the started server, not a temporary API of its
        # own ("Cannot schedule flows on an ephemeral server")
        assert "ephemeral" not in proc.stdout.read()
    assert not (tmp_path / "home" / STATE_FILE).exists()  # nor is it recorded as kept
    with pytest.raises(httpx.HTTPError):  # the server went with it
        httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
