"""The Prefect wiring: deployments load, and the nightly flow really runs (one session harness)."""

from __future__ import annotations

import importlib
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from simulator.server import SimulatorServer
from tests.support.simulator import sim_environ

ROOT = Path(__file__).resolve().parent.parent


def test_every_deployment_entrypoint_is_a_flow() -> None:
    from prefect import Flow

    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert config["deployments"], "no deployments declared"
    for deployment in config["deployments"]:
        path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        assert isinstance(flow, Flow), deployment["entrypoint"]
        assert deployment["description"] == flow.description  # says what the flow does
        for schedule in deployment["schedules"]:
            assert schedule["cron"]
            assert schedule["timezone"]


def test_the_nightly_flow_collects_analyses_and_alerts(
    prefect_api: None, sim: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client

    from flows.nightly import nightly

    for name, value in sim_environ(sim).items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "audience.toml"
    config.write_text(
        '[[accounts]]\nplatform = "github"\nhandle = "octo-org/widget"\n'
        '[[accounts]]\nplatform = "bluesky"\nhandle = "newsroom.bsky.social"\n'
        '[[accounts]]\nplatform = "x"\nhandle = "nobody_at_all"\n'
        f'[alerts]\nrecipients = ["ops@example.org"]\noutbox = "{tmp_path / "outbox"}"\n'
        f'[report]\npath = "{tmp_path / "report.html"}"\n'
    )
    warehouse = tmp_path / "w.duckdb"
    state = nightly(
        as_of=date(2024, 12, 31), warehouse=str(warehouse), config=str(config), return_state=True
    )
    summary = state.result()
    assert summary.collection is not None
    assert summary.collection.outcomes == {"ok": 2, "not_found": 1}
    assert summary.analysis.accounts == 2
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT platform, source FROM snapshots ORDER BY 1").fetchall() == [
            ("bluesky", "api:bluesky"),
            ("github", "api:github"),
        ]
        assert con.execute("SELECT kind, status FROM runs ORDER BY started_at").fetchall() == [
            ("collect", "ok"),
            ("analyze", "ok"),
        ]

    async def artifact() -> str:
        async with get_client() as client:
            found = await client.read_latest_artifacts()
            return next(a.data for a in found if a.key == "nightly-summary")

    async def collect_runs() -> set[str]:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
                )
            )
            return {r.name for r in runs if r.name.startswith("collect")}

    import asyncio

    # one collection task run per platform, named after its platform
    assert asyncio.run(collect_runs()) == {"collect-bluesky", "collect-github", "collect-x"}
    markdown = asyncio.run(artifact())
    assert "| not_found | 1 |" in markdown
    assert f"Report: [{summary.report}]" in markdown
    assert Path(summary.report).read_text(encoding="utf-8").startswith("<!doctype html>")
    assert "x:nobody_at_all: " not in markdown  # not_found is information, not a failure


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        ("busy", True),
        ("network", True),
        ("config", False),
        ("bug", False),
    ],
)
def test_tasks_retry_transient_failures_only(error: str, retried: bool) -> None:
    import httpx
    from prefect.states import Failed

    from core.errors import ConfigError, WarehouseBusy
    from flows.nightly import transient_only

    exception = {
        "busy": WarehouseBusy("busy"),
        "network": httpx.ConnectError("reset"),
        "config": ConfigError("bad"),
        "bug": KeyError("x"),
    }[error]
    assert transient_only(None, None, Failed(data=exception)) is retried
