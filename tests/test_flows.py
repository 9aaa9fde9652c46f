"""The Prefect wiring loads: every prefect.yaml entrypoint imports and names a flow."""

from __future__ import annotations

import importlib
from datetime import date
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_every_deployment_entrypoint_is_a_flow() -> None:
    from prefect import Flow

    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert config["deployments"], "no deployments declared"
    for deployment in config["deployments"]:
        path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert isinstance(getattr(module, name), Flow), deployment["entrypoint"]
        for schedule in deployment["schedules"]:
            assert schedule["cron"]
            assert schedule["timezone"]


def test_the_analyse_task_runs_without_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.logging import disable_run_logger

    from audience.cli import SAMPLE
    from audience.ingest import import_history
    from flows.nightly import analyse

    monkeypatch.chdir(tmp_path)
    warehouse = tmp_path / "w.duckdb"
    import_history([SAMPLE], warehouse, date(2026, 11, 22))
    with disable_run_logger():
        result = analyse.fn(str(warehouse), None, None, False)
    assert (result["mode"], result["accounts"], result["suspected_purchases"]) == ("full", 14, 3)
