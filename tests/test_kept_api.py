"""A local Prefect API kept between commands (flows/api.py): the first `run --keep-api` starts
it, the next run finds it and records its flow run there; with none kept, Prefect's temporary
API still serves. And a night with nothing new never imports Great Expectations."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from audience.cli import SAMPLE
from core.settings import load_settings
from flows.api import STATE_FILE
from pipeline.analyse import run_analysis
from pipeline.import_history import import_history

# the real entry point, in a fresh interpreter; says afterwards whether GX was imported
RUN = (
    "import sys\n"
    "from audience.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('modules:', 'great_expectations' in sys.modules, 'flows.nightly' in sys.modules,"
    " file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN, "--warehouse", str(tmp_path / "w.duckdb"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_a_kept_api_is_found_and_records_the_runs(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    import_history([SAMPLE], warehouse, dt.date(2026, 11, 22))
    run_analysis(warehouse, load_settings(None, environ={}), dt.date(2024, 12, 31))
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AUDIENCE_"))}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
        "AUDIENCE_REPORT__PATH": str(tmp_path / "report.html"),
    }
    night = ("run", "--skip-collect", "--as-of", "2024-12-31")
    try:
        first = _run(tmp_path, env, *night, "--keep-api")
        assert first.returncode == 0, first.stderr
        assert "started a local Prefect API at http://127.0.0.1:" in first.stderr
        assert "prefect server stop" in first.stderr  # how to stop it is said
        # nothing new since the analysis: nothing to validate, so GX is never imported
        assert "snapshots: nothing new to check" in first.stderr
        assert "modules: False True" in first.stderr
        url = first.stderr.split("started a local Prefect API at ")[1].split(",")[0]

        second = _run(tmp_path, env, *night)
        assert second.returncode == 0, second.stderr
        assert f"recording the run in the kept local Prefect API at {url}" in second.stderr
        assert "modules: False True" in second.stderr
        assert "(unchanged: nothing it shows has changed since it was written)" in second.stdout

        runs = httpx.post(f"{url}/flow_runs/filter", json={}, timeout=10).json()
        assert sorted(r["state_type"] for r in runs) == ["COMPLETED", "COMPLETED"]
        flows = httpx.post(f"{url}/flows/filter", json={}, timeout=10).json()
        assert {f["id"]: f["name"] for f in flows}[runs[0]["flow_id"]] == "nightly"
        # task runs are recorded from events by the server's recorder: give it a moment
        wanted, names = sorted(["analyse", "report", "sample"] * 2), []
        deadline = time.monotonic() + 60
        while names != wanted and time.monotonic() < deadline:
            time.sleep(0.5)
            tasks = httpx.post(f"{url}/task_runs/filter", json={}, timeout=10).json()
            names = sorted(t["name"].rsplit("-", 1)[0] for t in tasks)
        assert names == wanted
    finally:
        stop = subprocess.run(
            [sys.executable, "-m", "prefect", "server", "stop"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert stop.returncode == 0, stop.stderr
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=2)

    # none kept any more: the stale record goes, and Prefect's temporary API serves the run
    third = _run(tmp_path, env, *night)
    assert third.returncode == 0, third.stderr
    assert "Prefect starts a temporary API in this process" in third.stderr
    assert not (home / STATE_FILE).exists()
